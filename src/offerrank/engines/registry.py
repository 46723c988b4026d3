"""Compute engines, chosen by name: the daily run imports an engine only through here.

An engine implements `engines.base.Engine`. `duckdb` (embedded, the default) and `spark`
(scale-out, `offerrank[spark]`) are registered below by module path and imported only
when chosen, so a machine without PySpark never imports it.
"""

from __future__ import annotations

from importlib import import_module

from offerrank.config import ENGINE_NAMES, Settings
from offerrank.engines.base import Engine

# name -> "module:class"; the names are config.ENGINE_NAMES, which settings accept.
REGISTRY: dict[str, str] = {
    "duckdb": "offerrank.engines.duckdb.engine:DuckDBEngine",
    "spark": "offerrank.engines.spark.engine:SparkEngine",
}
assert tuple(REGISTRY) == ENGINE_NAMES, "every engine setting must name a registered engine"


def open_engine(settings: Settings) -> Engine:
    """A new engine of the configured kind, holding nothing yet (`Engine.load`)."""
    module, _, cls = REGISTRY[settings.engine].partition(":")
    engine: Engine = getattr(import_module(module), cls)(settings)
    return engine
