"""The release model trains while the audit's shadows train in other processes: the same release
as one after the other, errors from either side stop the other, and the shadows' warnings reach
the caller's thread."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from synthguard.cli._common import run_estimate
from synthguard.errors import SynthguardError, SynthguardWarning
from synthguard.parallel import _Rewarn, holding_warnings, in_this_process
from synthguard.release import _beside_audit, release
from synthguard.synthesizer import Synthesizer

from .conftest import LENIENT_UTILITY_POLICY, SMALL_AUDIT, TINY


def test_in_this_process_only_with_one_local_worker() -> None:
    assert in_this_process("local", 1, 4)
    assert in_this_process("local", None, 1)
    assert not in_this_process("local", 2, 4) and not in_this_process("dask", 1, 4)


def test_held_warnings_are_kept_for_the_caller_not_raised(recwarn) -> None:
    # what a worker's recorded warnings become in the process that ran the tasks (no pool needed:
    # tests/test_hardening_files.py runs the workers themselves)
    caught = [("synthguard.errors", "SynthguardWarning", f"shadow {i % 2} says so") for i in range(4)]
    with holding_warnings() as held:
        _Rewarn()(caught)
    assert not [w for w in recwarn if issubclass(w.category, SynthguardWarning)]
    assert sorted(message for _, message in held) == ["shadow 0 says so", "shadow 1 says so"]
    assert {category for category, _ in held} == {SynthguardWarning}
    _Rewarn()(caught)  # outside the block: raised as before
    assert len([w for w in recwarn if issubclass(w.category, SynthguardWarning)]) == 2


def test_an_audit_error_stops_the_fit_at_its_next_epoch() -> None:
    epochs_run: list[int] = []

    def failing_audit(cancelled):
        raise SynthguardError("a shadow failed")

    def fit(on_epoch, threads):
        for epoch in range(1, 1_000_000):
            epochs_run.append(epoch)
            on_epoch(epoch, {})
        return "fitted"

    with pytest.raises(SynthguardError, match="a shadow failed"):
        _beside_audit(fit, failing_audit, None, None)
    assert len(epochs_run) < 1_000_000 - 1


def test_a_fit_error_cancels_the_audit_and_is_raised() -> None:
    seen: dict[str, bool] = {}

    def audit_until_cancelled(cancelled):
        for _ in range(500):  # looks at the cancel flag between rounds
            if cancelled():
                seen["cancelled"] = True
                return "stopped"
            time.sleep(0.01)
        return "finished"

    def fit(on_epoch, threads):
        raise ValueError("the fit failed")

    with pytest.raises(ValueError, match="the fit failed"):
        _beside_audit(fit, audit_until_cancelled, None, None)
    deadline = time.monotonic() + 5
    while "cancelled" not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == {"cancelled": True}


def test_the_fit_gets_one_thread_unless_the_recipe_names_its_threads() -> None:
    def fit(on_epoch, threads):
        return threads

    assert _beside_audit(fit, lambda cancelled: "audit", None, None) == (1, "audit")
    assert _beside_audit(fit, lambda cancelled: "audit", None, 3) == (3, "audit")


def test_both_threads_hold_one_blas_thread_while_they_work() -> None:
    # a BLAS library's thread count is process-wide: a limit set and restored in one thread (as
    # scikit-learn's nearest-neighbour search does) changed it under the other, and OpenBLAS warned
    # of an OpenMP loop "that may hang". While the fit and the audit share the process it stays 1
    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):   # as on a 2-core machine without OMP_NUM_THREADS
        assert blas_threads() == {2}
        assert _beside_audit(lambda on_epoch, threads: blas_threads(), lambda cancelled: blas_threads(),
                             None, None) == ({1}, {1})
        assert blas_threads() == {2}                       # and the caller's count afterwards


def test_a_release_beside_its_audit_equals_one_after_the_other(tmp_path, released, ofp_full, ofp_schema) -> None:
    # `released` (conftest) is this release with one worker: fit, then audit, in this process
    recipe = Synthesizer(ofp_schema, **{**TINY, "epochs": 8})
    beside = release(ofp_full.iloc[:400], ofp_schema, tmp_path / "rel", policy=LENIENT_UTILITY_POLICY, recipe=recipe,
                     audit_options={**SMALL_AUDIT, "workers": 2}, seed=1)
    assert SMALL_AUDIT["workers"] == 1 and released.passed and beside.passed, beside.verdict.summary()
    for name, attack in released.audit.attacks.items():
        np.testing.assert_array_equal(attack.scores, beside.audit.attacks[name].scores)
    assert [c.measured for c in released.verdict.checks] == [c.measured for c in beside.verdict.checks]
    pd.testing.assert_frame_equal(pd.read_parquet(released.out_dir / "synthetic.parquet"),
                                  pd.read_parquet(tmp_path / "rel" / "synthetic.parquet"))


def test_the_estimate_of_a_fit_beside_its_shadows() -> None:
    # 2 s/epoch x 10 epochs x (1 + 16 shadows x 0.5) / (2 workers + the fit) = 60 s
    assert "1m00s" in run_estimate(2.0, 10, shadows=16, workers=2, beside=True)
    # from the first round of 4 (the fit's own 20 s: it cannot end sooner) to all 16
    assert "20s to 1m00s" in run_estimate(2.0, 10, shadows=16, workers=2, first_round=4, beside=True)
