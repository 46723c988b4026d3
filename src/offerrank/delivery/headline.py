"""The headline metrics of a run, in the order people read them (CLI summary and API)."""

from __future__ import annotations

HEADLINE = (
    "active_offers",
    "eligible_customers",
    "candidate_pool_size",
    "candidate_recall",
    "recommendations_written",
    "customers_with_recommendations",
    "val_auc_lr",
    "val_auc_lgbm",
    "auc",
    "oracle_auc",
    "precision_at_k",
    "recall_at_k",
    "margin_lift_at_k",
    "coverage",
    "diversity",
    "brier",
    "drift_share",
)
