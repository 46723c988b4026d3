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
# name -> "module:function" checking, in a second or so, that the engine can start here
# (Spark: Java, its master, its settings, its input folder), so that a run on a machine
# set up wrongly stops with one line before it writes anything.
PREFLIGHT: dict[str, str] = {
    "spark": "offerrank.engines.spark.session:preflight",
}


def open_engine(settings: Settings) -> Engine:
    """A new engine of the configured kind, holding nothing yet (`Engine.load`), once its
    environment passed its preflight check."""
    if settings.engine in PREFLIGHT:
        module, _, function = PREFLIGHT[settings.engine].partition(":")
        getattr(import_module(module), function)(settings)
    module, _, cls = REGISTRY[settings.engine].partition(":")
    engine: Engine = getattr(import_module(module), cls)(settings)
    return engine
