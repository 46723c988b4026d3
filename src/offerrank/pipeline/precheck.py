"""Before any step of a run: the store's input tables must meet the data contract.

A step that ran on bad data would write wrong recommendations that look right, so a
violation stops the run before its first step, with the message an import gives. Only
the rows not checked by an earlier run or import are read (`store.check.incremental`);
the failure is recorded as the run's `contract` step, and nothing else is written.
"""

from __future__ import annotations

from offerrank.pipeline.context import Run
from offerrank.pipeline.runs import StepLog
from offerrank.store.check.incremental import StoreCheck, check_store
from offerrank.store.check.violations import raise_on_violations

STEP = "contract"


def check_contract(run: Run, log: StepLog) -> StoreCheck:
    """Check the unchecked rows of the store; on a violation record a failed step and raise.

    Success leaves no pipeline_runs row (the run's steps are the ones that produce
    outputs); its summary becomes a run note.
    """
    try:
        result = check_store(run.store, run.settings.db_path)
        raise_on_violations(result.violations)
    except Exception as exc:
        log.fail(STEP, exc)
        raise
    run.notes.append(result.summary())
    return result
