"""Whether a retrained model replaces the active one: only if it is not worse on the same
validation impressions.

Both models score the new model's validation days (never seen by either in training:
the active model trained on older days). The difference of their AUCs comes with a
paired customer bootstrap interval; the new model is refused when its AUC is below the
active one's by more than `promotion_tolerance`. A single noisy retrain can therefore
not replace a better model silently, and every decision is recorded with both figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from offerrank.config import Settings
from offerrank.monitoring.metrics_bootstrap import paired_auc_difference
from offerrank.monitoring.metrics_rank import auc
from offerrank.training.dataset import LabelledSet
from offerrank.training.registry import ActiveModel, columns_of
from offerrank.training.train import TrainResult


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    incumbent: str | None = None
    candidate_auc: float | None = None
    incumbent_auc: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    def metrics(self) -> dict[str, float | None]:
        return {
            "promoted": int(self.promote),
            "val_auc_incumbent": self.incumbent_auc,
            "promotion_delta": self.delta,
            "promotion_delta_ci_low": self.ci_low,
            "promotion_delta_ci_high": self.ci_high,
        }

    def describe(self) -> str:
        if self.delta is None:
            return self.reason
        ci = (
            f", 95% CI [{self.ci_low:+.4f}, {self.ci_high:+.4f}]"
            if self.ci_low is not None and self.ci_high is not None
            else ""
        )
        return (
            f"{self.reason}: validation AUC {self.candidate_auc:.4f} against"
            f" {self.incumbent_auc:.4f} of {self.incumbent} (difference {self.delta:+.4f}{ci})"
        )


def decide(result: TrainResult, incumbent: ActiveModel | None, settings: Settings) -> Decision:
    """Promote the new model unless the active one is better on its validation days."""
    if incumbent is None:
        return Decision(True, "promoted: no active model")
    if incumbent.version == result.version:
        return Decision(True, "promoted: the same version retrained (a rerun of its date)")
    # The incumbent is judged on the same rows through its own columns, which the new
    # model's validation set holds when the new set only adds features.
    columns = result.data.feature_set.columns
    own = columns_of(incumbent.sidecar)
    if not set(own) <= set(columns):
        return Decision(
            True, f"promoted: {incumbent.version} uses other features and cannot be compared"
        )
    validation: LabelledSet = result.data.validation
    new = result.model.predict_proba(validation.X)
    old = incumbent.model.predict_proba(validation.X[:, [columns.index(c) for c in own]])
    customers = validation.keys.column("customer_id").to_numpy()
    diff = paired_auc_difference(
        customers, validation.y, new, old, n=settings.bootstrap_samples, seed=settings.seed
    )
    if diff is None:
        return Decision(True, "promoted: the validation days have one class, no comparison")
    delta, low, high = diff
    old_auc = auc(validation.y, old)
    assert old_auc is not None, "a difference exists only with both classes"
    promote = delta >= -settings.promotion_tolerance
    return Decision(
        promote,
        "promoted" if promote else f"refused (tolerance {settings.promotion_tolerance})",
        incumbent.version,
        old_auc + delta,
        old_auc,
        delta,
        low,
        high,
    )
