"""The paired difference of two recipes' leakage (`compare_matrices`): exact points, intervals
that cover a known difference by simulation, and the pairing that makes them narrow."""

from __future__ import annotations

import numpy as np
import pytest

from synthguard.attacks.roc import compare_matrices, summarize_matrix
from synthguard.attacks.simulate import ScoreModel, balanced_design, difference_coverage, draw_paired

# records clustered (a shared level, a few vulnerable records) and victims that overfit unequally
CLUSTERED = ScoreModel(vulnerable_share=0.05, vulnerable_shift=2.5, record_var=0.6, model_var=0.2,
                       model_leak_sd=0.6)


def test_the_points_are_each_recipes_own_figures_and_a_recipe_minus_itself_is_exactly_zero():
    rng = np.random.default_rng(3)
    member = balanced_design(8, 120, rng)
    a, b = draw_paired(CLUSTERED.with_auc(0.7), CLUSTERED.with_auc(0.6), member, rng)
    d = compare_matrices(a, b, member, fprs=(0.05,), n_bootstrap=200)
    sa, sb = (summarize_matrix(x, member, fprs=(0.05,), n_bootstrap=2) for x in (a, b))
    assert d.auc_a == pytest.approx(sa.auc) and d.auc_b == pytest.approx(sb.auc)
    assert d.auc == pytest.approx(sa.auc - sb.auc) and d.tpr_at[0.05] == pytest.approx(sa.tpr_at[0.05] - sb.tpr_at[0.05])
    assert d.auc_ci[0] < d.auc < d.auc_ci[1] and d.n_models == 8 and d.n_records == 120
    same = compare_matrices(a, a, member, fprs=(0.05,), n_bootstrap=50)
    assert same.auc == 0.0 and same.auc_ci == (0.0, 0.0) and same.tpr_ci[0.05] == (0.0, 0.0)


def test_paired_intervals_cover_a_known_difference_where_records_alone_do_not():
    a, b = CLUSTERED.with_auc(0.65), CLUSTERED.with_auc(0.62)
    crossed = difference_coverage(a, b, 8, 150, n_audits=80, fprs=(0.05,), n_bootstrap=100)
    records = difference_coverage(a, b, 8, 150, n_audits=80, resampling="records", fprs=(0.05,), n_bootstrap=100)
    # 80 pairs of audits: a binomial sd of about 0.024 at the nominal 0.95
    assert crossed.auc >= 0.87 and crossed.tpr[0.05] >= 0.87, crossed
    assert crossed.auc_below <= 0.07, crossed  # recipe A's extra leakage missed
    # the two recipes' victims are different models: resampling records alone misses their spread
    assert records.auc < 0.8, records


def test_pairing_makes_the_difference_narrower_than_two_separate_intervals():
    # a record's level and vulnerability dominate its scores, the victims vary little
    shared = ScoreModel(vulnerable_share=0.1, vulnerable_shift=1.5, record_var=0.7, model_var=0.02,
                        model_leak_sd=0.1)
    rng = np.random.default_rng(5)
    member = balanced_design(16, 150, rng)
    a, b = draw_paired(shared.with_auc(0.66), shared.with_auc(0.6), member, rng)
    d = compare_matrices(a, b, member, fprs=(0.05,), n_bootstrap=300)
    sa, sb = (summarize_matrix(x, member, fprs=(0.05,), n_bootstrap=300) for x in (a, b))
    # the records' shared part cancels in the difference; independent intervals would add it twice
    unpaired = np.hypot(sa.auc_ci[1] - sa.auc_ci[0], sb.auc_ci[1] - sb.auc_ci[0])
    assert d.auc_ci[1] - d.auc_ci[0] < 0.85 * unpaired
    assert d.auc_ci[0] > 0  # a difference of 0.06 in AUC is resolved by 16 victims x 150 records


def test_bad_inputs_are_refused():
    member = balanced_design(4, 10, np.random.default_rng(0))
    scores = np.zeros(member.shape)
    with pytest.raises(ValueError, match="one shape"):
        compare_matrices(scores, scores[:, :5], member)
    with pytest.raises(ValueError, match="unknown resampling"):
        compare_matrices(scores, scores, member, resampling="stratified")
    with pytest.raises(ValueError, match="n_bootstrap"):
        compare_matrices(scores, scores, member, n_bootstrap=0)
