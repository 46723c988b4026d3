"""Headless Chromium for tests that check what a person would see in a browser."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def need_chromium() -> None:
    """Skip without Chromium locally; under CI its absence fails (`make test` installs it)."""
    if chromium() is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("chromium is not installed: `make test` installs it (apt-get)")
        pytest.skip("chromium not installed (install it: apt-get install -y chromium)")


def browser(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra,
    ]  # fmt: skip
    exe = chromium()
    assert exe is not None
    return subprocess.run(
        [exe, *args, url], capture_output=True, text=True, timeout=90, check=False
    )
