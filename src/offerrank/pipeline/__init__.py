"""The daily run: steps, pipeline_runs, retrain policy."""
