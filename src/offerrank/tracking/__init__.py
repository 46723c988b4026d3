"""Experiment tracking of trainings (MLflow, optional: the `[mlflow]` extra)."""
