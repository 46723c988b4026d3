"""The steps of a daily run, one module each, each a function of typed inputs returning a
typed output (`runs.Done`); `pipeline.daily` wires them in plain code."""
