"""Drift, offline evaluation and explanations."""
