"""The verdict's error rates, defined, bounded and measured by simulation with a known truth.

Two ways a privacy verdict can be wrong:

* **false release**: the recipe's true leakage is at or above a limit (a true AUC, or a true TPR at
  an FPR, equal to the policy's limit), and the release passes;
* **false refusal**: the recipe is at chance (its models hold nothing about membership: AUC 0.5,
  TPR at FPR f equal to f), and the release is refused on privacy.

Every privacy check passes only when the upper end of its 95% interval is under its limit, so the
verdict is an intersection-union test: a recipe at one limit passes only if that one check's upper
bound falls below the truth, which a valid interval allows in 2.5% of audits whatever the number of
checks. False refusals grow with the number of checks and shrink with the audit's size; the
sizing rule (`synthguard.sizing`) keeps each check's share small. `simulate_error_rates` measures
both with `synthguard.attacks.simulate`'s scores (records and victims as in a real audit), and
`benchmarks/verdict_calibration.py` stores the figures for the default policy and audit in
`synthguard/data/verdict_rates.json`, which every passport quotes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.stats import beta

from .attacks.roc import summarize_matrix
from .attacks.simulate import ScoreModel, balanced_design
from .policy import Policy
from .sizing import nonmembers_needed, privacy_limits

__all__ = ["ErrorRate", "error_rates", "simulate_error_rates", "simulate_tuning", "simulated_attack"]

CONFIDENCE = 0.95
#: the share of audits whose upper bound may lie below a true value at the limit, by construction
FALSE_RELEASE_BOUND = round((1 - CONFIDENCE) / 2, 6)


@dataclass(frozen=True)
class ErrorRate:
    """A rate measured over simulated audits, with its 95% Clopper-Pearson interval."""

    events: int
    trials: int

    @property
    def rate(self) -> float:
        return self.events / self.trials

    @property
    def interval(self) -> tuple[float, float]:
        k, n = self.events, self.trials
        low = 0.0 if k == 0 else float(beta.ppf(0.025, k, n - k + 1))
        high = 1.0 if k == n else float(beta.ppf(0.975, k + 1, n - k))
        return low, high

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval
        return {"rate": self.rate, "ci95": [low, high], "events": self.events, "trials": self.trials}


def pair_design(n_models: int, n_targets: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(both IN, counts) per (model, pair) for disjoint random pairs of balanced-mask targets: a pair
    counts for the models holding both records or neither, as the mixed-record query."""
    member = balanced_design(n_models, n_targets, rng)
    order = rng.permutation(n_targets)
    a, b = order[0 : n_targets // 2 * 2 : 2], order[1 : n_targets // 2 * 2 : 2]
    both, neither = member[:, a] & member[:, b], ~member[:, a] & ~member[:, b]
    return both, both | neither


def simulated_attack(model: ScoreModel, n_models: int, n_targets: int, pairs: bool, rng: np.random.Generator,
                     n_bootstrap: int, seed: int) -> Any:
    """One simulated attack's RocSummary, on single records or on mixed-record pairs."""
    if pairs:
        member, valid = pair_design(n_models, n_targets, rng)
    else:
        member = balanced_design(n_models, n_targets, rng)
        valid = np.ones_like(member)
    scores = model.draw(member, rng)
    return summarize_matrix(scores, member, valid=valid, n_bootstrap=n_bootstrap, seed=seed)


def _fails(summary: Any, policy: Policy) -> list[bool]:
    p = policy.privacy
    out = []
    for _, limit, fpr in privacy_limits(p.max_auc, p.max_tpr_at_1pct_fpr, p.max_tpr_at_01pct_fpr):
        upper = summary.auc_ci[1] if fpr is None else summary.tpr_ci[fpr][1]
        out.append(summary.n_nonmembers < nonmembers_needed(limit, fpr) or upper > limit)
    return out


def at_limit(limit: float, fpr: float | None, base: ScoreModel) -> ScoreModel:
    """A score model whose true AUC (fpr None) or true TPR at `fpr` equals `limit`."""
    if fpr is None:
        return base.with_auc(limit)
    return replace(base, shift=float(brentq(lambda s: replace(base, shift=s).true_tpr(fpr) - limit, 0.0, 10.0)))


def simulate_error_rates(policy: Policy, n_shadows: int, n_targets: int, n_record_attacks: int,
                         n_pair_attacks: int, n_audits: int = 1000, n_bootstrap: int = 300, seed: int = 0,
                         base: ScoreModel | None = None) -> dict[str, Any]:
    """Both error rates of the privacy verdict at one policy and audit size.

    False refusal: per simulated audit, one attack on single records (and one on pairs) at chance;
    the verdict's rate assumes the policy's `n_record_attacks` (`n_pair_attacks`) attacks fail
    independently, which overstates it (a real audit's attacks share their shadows, and their
    failures move together). False release: one attack whose true value sits exactly at each limit;
    its check passes with the rate given."""
    base = base or ScoreModel()
    rng = np.random.default_rng(seed)
    kinds = [False] + ([True] if n_pair_attacks else [])
    refusals = {pairs: 0 for pairs in kinds}
    per_check = {pairs: [0, 0, 0] for pairs in kinds}
    for i in range(n_audits):
        for pairs in kinds:
            fails = _fails(simulated_attack(base, n_shadows, n_targets, pairs, rng, n_bootstrap, seed=i), policy)
            refusals[pairs] += any(fails)
            for j, f in enumerate(fails):
                per_check[pairs][j] += f
    attack_rates = {pairs: ErrorRate(refusals[pairs], n_audits) for pairs in kinds}
    verdict = 1.0 - (1.0 - attack_rates[False].rate) ** n_record_attacks * (
        (1.0 - attack_rates[True].rate) ** n_pair_attacks if n_pair_attacks else 1.0)
    verdict_high = 1.0 - (1.0 - attack_rates[False].interval[1]) ** n_record_attacks * (
        (1.0 - attack_rates[True].interval[1]) ** n_pair_attacks if n_pair_attacks else 1.0)
    p = policy.privacy
    releases = {}
    for label, limit, fpr in privacy_limits(p.max_auc, p.max_tpr_at_1pct_fpr, p.max_tpr_at_01pct_fpr):
        model = at_limit(limit, fpr, base)
        passed = 0
        for i in range(n_audits):
            summary = simulated_attack(model, n_shadows, n_targets, False, rng, n_bootstrap, seed=i)
            upper = summary.auc_ci[1] if fpr is None else summary.tpr_ci[fpr][1]
            passed += bool(upper <= limit and summary.n_nonmembers >= nonmembers_needed(limit, fpr))
        releases[label] = ErrorRate(passed, n_audits).to_dict()
    labels = [label for label, _, _ in privacy_limits(p.max_auc, p.max_tpr_at_1pct_fpr, p.max_tpr_at_01pct_fpr)]
    return {
        "n_shadows": n_shadows, "n_targets": n_targets, "n_audits": n_audits, "n_bootstrap": n_bootstrap,
        "n_record_attacks": n_record_attacks, "n_pair_attacks": n_pair_attacks, "score_model": base.__dict__,
        "false_refusal": {
            "per_attack": {("pairs" if k else "records"): v.to_dict() for k, v in attack_rates.items()},
            "per_check": {("pairs" if k else "records"): dict(zip(labels, [c / n_audits for c in v], strict=True))
                          for k, v in per_check.items()},
            "verdict_if_independent": verdict, "verdict_upper_95": verdict_high},
        "false_release_at_limit": releases,
    }


def _look_state(summary: Any, policy: Policy) -> str:
    """One attack at one look of a sequential audit, by the gate's rule (`gate.check_states`)."""
    from .gate import check_states  # the gate's own rule; imported here, as the gate imports the audit

    states = check_states(summary, policy)
    return "failed" if "failed" in states else "passed" if all(x == "passed" for x in states) else "open"


def simulate_sequential(policy: Policy, model: ScoreModel, looks: list[tuple[int, float]], n_targets: int,
                        n_audits: int = 500, n_bootstrap: int = 300, seed: int = 0) -> dict[str, Any]:
    """A sequential audit of one attack on single records, simulated `n_audits` times with a known
    truth: each round's shadows balanced on their own (as `audit.design_masks`), a look after each
    round at its confidence, stopping as the gate stops. Returns how often the recipe passed, and
    the shadows the audits trained (mean and by look)."""
    rng = np.random.default_rng(seed)
    sizes = [k for k, _ in looks]
    steps = np.diff([0, *sizes])
    passed, stopped_at = 0, []
    for i in range(n_audits):
        member = np.vstack([balanced_design(int(step), n_targets, rng) for step in steps])
        scores = model.draw(member, rng)
        for j, (k, confidence) in enumerate(looks):
            summary = summarize_matrix(scores[:k], member[:k], n_bootstrap=n_bootstrap, confidence=confidence,
                                       seed=i)
            state = _look_state(summary, policy)
            if state != "open" or j == len(looks) - 1:
                passed += state == "passed"
                stopped_at.append(k)
                break
    return {"n_audits": n_audits, "n_targets": n_targets, "looks": [list(look) for look in looks],
            "passed": ErrorRate(passed, n_audits).to_dict(), "mean_shadows": float(np.mean(stopped_at)),
            "stopped_at": {str(k): int(np.sum(np.array(stopped_at) == k)) for k in sizes},
            "true_auc": model.true_auc(), "true_tpr": {"0.01": model.true_tpr(0.01), "0.001": model.true_tpr(0.001)}}


def simulate_tuning(limit: float, truths: list[list[float]], n_shadows: int, n_targets: int, n_audits: int = 500,
                    n_bootstrap: int = 200, seed: int = 0, base: ScoreModel | None = None) -> dict[str, Any]:
    """A tuned release's false releases, simulated with a known truth: one AUC limit, D defence
    settings whose checkpoints have the true AUCs `truths[d]` (in order of training length), every
    candidate audited by `n_shadows` x `n_targets` scores of its own.

    Two rules: `tuned` (the release's: each setting at 1/D of the error, checkpoints in a fixed
    sequence, none after the first failure) and `naive` (every candidate at the single verdict's
    95%, any that passes may be chosen). A false release is a trial in which some candidate whose
    true AUC is at or over the limit passes: whatever the utility, the choice could then fall on
    it, so its rate bounds the chosen candidate's. Candidates' scores are drawn independently,
    which is the naive rule's worst case; a real audit scores every checkpoint on the same shadows,
    whose results move together. The tuned rule's bound does not depend on that."""
    base = base or ScoreModel()
    rng = np.random.default_rng(seed)
    n_settings = len(truths)
    levels = {"tuned": 1.0 - (1.0 - CONFIDENCE) / n_settings, "naive": CONFIDENCE}
    needed = nonmembers_needed(limit, None)
    events = {rule: 0 for rule in levels}
    for i in range(n_audits):
        unsafe_passed = dict.fromkeys(levels, False)
        for setting in truths:
            walking = True  # the tuned rule's fixed sequence: still testing
            for auc in setting:
                unsafe = auc >= limit
                if not (walking or unsafe):
                    continue  # neither rule can release an unsafe candidate here
                member = balanced_design(n_shadows, n_targets, rng)
                scores = base.with_auc(auc).draw(member, rng)
                for rule, level in levels.items():
                    if rule == "tuned" and not walking:
                        continue
                    summary = summarize_matrix(scores, member, n_bootstrap=n_bootstrap, confidence=level, seed=i)
                    passed = summary.auc_ci[1] <= limit and summary.n_nonmembers >= needed
                    unsafe_passed[rule] |= passed and unsafe
                    if rule == "tuned":
                        walking = passed
        for rule in levels:
            events[rule] += unsafe_passed[rule]
    return {"limit": limit, "truths": truths, "n_shadows": n_shadows, "n_targets": n_targets, "n_audits": n_audits,
            "n_bootstrap": n_bootstrap, "levels": levels, "bound": FALSE_RELEASE_BOUND,
            "false_release": {rule: ErrorRate(events[rule], n_audits).to_dict() for rule in levels}}


def _stored(name: str = "verdict_rates.json") -> dict[str, Any] | None:
    try:
        text = resources.files("synthguard").joinpath(f"data/{name}").read_text()
    except (FileNotFoundError, OSError):
        return None
    return json.loads(text)


def _nearest_design(measured: dict[str, Any], n_targets: int) -> dict[str, Any]:
    """The simulated sequential design to quote for an audit of `n_targets` records: the one with
    the most targets not over it (fewer records refuse at chance more often, so its false refusal
    rate bounds this audit's), else the smallest; the others are left out."""
    base = {k: v for k, v in measured.items() if k != "by_targets"}
    designs = [base, *measured.get("by_targets", [])]
    below = [d for d in designs if d.get("targets", 0) <= n_targets]
    quoted = max(below, key=lambda d: d["targets"]) if below else min(designs, key=lambda d: d.get("targets", 0))
    # a larger design's entry holds every rate and its targets; the looks and the source are the base's
    return {**base, **quoted, "applies_to_this_audit": quoted.get("targets") == n_targets}


def error_rates(policy: Policy, n_shadows: int, n_targets: int,
                looks: list[dict[str, Any]] | None = None, tuning: str | None = None,
                most_shadows: int | None = None) -> dict[str, Any]:
    """What a passport says about the verdict's error rates at this policy and audit size; `tuning`
    is a tuned release's account of how its choice keeps them (`release.TUNING_METHOD`). An audit
    is sequential when its first look came before `most_shadows` (its looks then sit at a higher
    confidence than a single look's, the 5% being shared among them)."""
    out: dict[str, Any] = {
        "definitions": {
            "false_release": "a recipe whose true leakage is at or above a privacy limit passes",
            "false_refusal": "a recipe whose models hold nothing about membership (every attack at chance) is "
                             "refused on privacy"},
        "false_release_bound": FALSE_RELEASE_BOUND,
        "false_release_how": "every privacy check passes only if the upper end of its 95% interval (records and "
                             "victim models resampled) is under its limit: at a limit, at most 2.5% of audits pass, "
                             "however many checks there are",
        "false_refusal_how": "each privacy limit is resolved by the audit's non-member scores (synthguard.sizing), "
                             "so an attack at chance rarely crosses it",
    }
    stored = _stored()
    if stored is not None:
        same = (stored.get("policy") == policy.to_dict() and stored.get("n_shadows") == n_shadows
                and stored.get("n_targets") == n_targets)
        out["measured"] = {**stored, "applies_to_this_audit": same}
    if looks and most_shadows is not None and looks[0].get("shadows", most_shadows) < most_shadows:
        out["sequential"] = {
            "looks": looks,
            "how": "the shadows were trained in rounds and the verdict looked at after each; each look's intervals "
                   "are at the level its share of the 5% error allows (a Bonferroni split over the looks), so the "
                   "chance that a recipe at a limit passes at some look stays within 2.5%; the audit stopped once "
                   "one check had surely failed (its lower bound over the limit) or every check had surely passed",
        }
        measured = _stored("sequential_rates.json")
        if measured is not None:
            out["sequential"]["measured"] = _nearest_design(measured, n_targets)
    if tuning is not None:
        out["tuning"] = {"how": tuning}
        measured = _stored("tuning_rates.json")
        if measured is not None:
            out["tuning"]["measured"] = measured
    return out
