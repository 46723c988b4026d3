"""The Spark session the pipeline runs in: local[2] by default, a cluster under spark-submit.

Configuration, lowest to highest precedence: the defaults below (tuned for one small
machine: few shuffle partitions, quiet logs, no UI), then `OFFERRANK_SPARK_CONF`
(`key=value` pairs separated by `;`), then the `conf` argument. The master is
`OFFERRANK_SPARK_MASTER` or `local[2]`, except under spark-submit, whose `--master`
is left alone.

Before a new session starts, what it needs is checked (`environment`: Java, a standalone
master that answers; `parse_conf`: the settings), so that each problem is one line;
`preflight` adds the input folder and runs before a daily run writes anything.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING

from offerrank.config import Settings
from offerrank.engines.spark.environment import SparkUnavailable, check_master, java_command
from offerrank.engines.spark.inputs import check_input, spark_input
from offerrank.errors import UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER_ENV = "OFFERRANK_SPARK_MASTER"
CONF_ENV = "OFFERRANK_SPARK_CONF"
DEFAULT_MASTER = "local[2]"
APP_NAME = "offerrank"

# Small data on few cores: Spark's default of 200 shuffle partitions would mostly
# schedule empty tasks. Adaptive execution still coalesces or splits them as needed.
DEFAULTS: dict[str, str] = {
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
# Only for a local master: the driver is the only JVM and must use this interpreter.
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def parse_conf(text: str) -> dict[str, str]:
    """`a=1; b=2` as a dict; blank items are ignored. An item without `=`, or whose key is
    blank or holds a blank, is a UsageError naming the variable."""
    conf: dict[str, str] = {}
    for item in text.split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or len(key.split()) > 1:
            raise UsageError(
                f"${CONF_ENV}: expected key=value pairs separated by ';', got {item.strip()!r}"
            )
        conf[key.strip()] = value.strip()
    return conf


def under_spark_submit() -> bool:
    """spark-submit starts the JVM first and hands its gateway port to Python."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def local_driver_memory() -> str:
    """Half of this machine's memory, at least 4 GB: in local mode the driver is the only
    JVM, and with 4 GB the features of the `medium` world (1.9M pairs) ran out of heap."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(4, total // 2**31)}g"


def session_conf(master: str | None, conf: dict[str, str] | None = None) -> dict[str, str]:
    """The full configuration for a master (None: chosen by spark-submit)."""
    values = dict(DEFAULTS)
    if master is not None and master.startswith("local"):
        values.update(LOCAL_DEFAULTS)
        values["spark.driver.memory"] = local_driver_memory()
    values.update(parse_conf(os.environ.get(CONF_ENV, "")))
    values.update(conf or {})
    return values


def chosen_master() -> tuple[str | None, str]:
    """The master to start (None: spark-submit chose it) and where it came from."""
    if under_spark_submit():
        return None, "spark-submit"
    if os.environ.get(MASTER_ENV, "").strip():
        return os.environ[MASTER_ENV].strip(), f"${MASTER_ENV}"
    return DEFAULT_MASTER, "the default master"


def check_session(master: str | None, origin: str) -> None:
    """What a new session needs: parseable settings, then (unless spark-submit started the
    JVM) Java and a master that answers."""
    parse_conf(os.environ.get(CONF_ENV, ""))
    if master is None:
        return
    java_command()
    check_master(master, origin)


def preflight(settings: Settings) -> None:
    """Everything a Spark run needs, checked in about a second before it writes anything."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(
            "the Spark engine needs PySpark: pip install 'offerrank[spark]'"
        ) from None

    if SparkSession.getActiveSession() is None:
        check_session(*chosen_master())
    source = spark_input(settings)
    if source is not None:
        check_input(source)


def get_spark(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """The running session, or a new one; the pipeline's steps all share it.

    A session already running (a test fixture, spark-submit, a notebook) is reused as it
    is: Spark cannot change most settings of a running session anyway.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    origin = "the master asked for"
    if master is None:
        master, origin = chosen_master()
    check_session(master, origin)
    if master is not None and master.startswith("local"):
        # Local Python workers must run this interpreter (it has offerrank and LightGBM).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(APP_NAME)
    if master is not None:
        builder = builder.master(master)
    for key, value in session_conf(master, conf).items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        # PySpark warns about pandas 3 on import; the pipeline exchanges Arrow only.
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
