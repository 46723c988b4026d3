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
    "n_positives",
    "auc",
    "oracle_auc",
    "precision_at_k",
    "precision_at_k_popularity",
    "precision_at_k_random",
    "recall_at_k",
    "margin_lift_at_k",
    "calibration_ratio",
    "ece",
    "coverage",
    "diversity",
    "brier",
    "drift_share",
)


def headline_value(metrics: dict[str, float], name: str) -> str:
    """A headline figure as people read it: thousands separated for counts, four decimals
    otherwise, and the bootstrap interval beside it when the run measured one."""
    v = metrics[name]
    text = f"{v:,.0f}" if float(v).is_integer() else f"{v:.4f}"
    low, high = metrics.get(f"{name}_ci_low"), metrics.get(f"{name}_ci_high")
    if low is not None and high is not None:
        text += f" [{low:.4f}, {high:.4f}]"
    return text
