"""fit -> audit -> evaluate -> gate -> write: the one path by which synthetic rows leave.

    outcome = release("ofp.csv", Schema.load("ofp.yaml"), "out/ofp", policy=Policy())

The real rows are split into a training part and a held-out part (for utility only). The release
model is fitted on the training part; the audit trains shadow models with the same recipe on
halves of it (in other processes, while the release model trains: `_beside_audit`); utility is
measured against the held-out rows; the policy's gate decides.

Everything is written into a hidden staging folder beside the output folder and renamed into
place at the end, so an interrupted run leaves no partial release. A refused release writes its
passport (`release.json`) and `report.html`, and no synthetic row anywhere.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from . import __version__
from .api import load_input, make_recipe
from .audit import AuditConfig, AuditResult, audit
from .errors import InputError, PolicyError, SettingError, SynthguardError
from .gate import Verdict, judge, open_checks, privacy_decided, privacy_lines, sequence_check, sequence_states
from .io import check_new_dir, staged_dir, write_table, write_text
from .parallel import default_workers, holding_warnings, in_this_process
from .passport import (
    AuditSetting,
    AuditSize,
    FileDigest,
    OutputFile,
    Passport,
    PrivacyLine,
    Seeds,
    Split,
    Tuning,
    TuningCandidate,
)
from .policy import Policy
from .schema import Schema
from .sizing import DECISION_MARGIN, AuditPlan, plan_audit, privacy_limits
from .synthesizer import Synthesizer
from .tuning import TuneSettings, UtilityMetric, setting_label
from .verdict_rates import error_rates
from .versions import library_versions, machine

Stage = Callable[[str], None]


@dataclass
class ReleaseOutcome:
    passed: bool
    out_dir: Path
    passport: Passport
    verdict: Verdict
    audit: AuditResult
    #: a tuned release: each defence setting's audit (with its checkpoints' curve), in order
    audits: tuple[AuditResult, ...] = ()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")



def split_holdout(n: int, share: float, seed: int, entities: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, holdout) row indices; the holdout is never trained on. With `entities` (a
    person code per row, `Schema.entities`) whole persons are held out, `share` of the persons:
    a person's rows on both sides would let the real-data baseline recognise the person (its
    downstream accuracy then measures memory, which a private generator must not match)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    if entities is None:
        order = rng.permutation(n)
        n_holdout = max(1, int(round(n * share)))
        return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])
    n_entities = int(entities.max()) + 1 if len(entities) else 0
    held = rng.permutation(n_entities)[:max(1, int(round(n_entities * share)))]
    out = np.isin(entities, held)
    return np.flatnonzero(~out), np.flatnonzero(out)


def audit_settings(policy: Policy, audit_options: dict[str, Any] | None, seed: int) -> AuditConfig:
    """The audit a release runs: the policy's, strengthened (never weakened) by `audit_options`.

    Raises PolicyError, listing every way the options fall short of the policy, before any work."""
    config = AuditConfig(n_shadows=policy.audit.shadows, n_targets=policy.audit.targets,
                         attacks=tuple(policy.audit.attacks), threat_model=policy.audit.threat_model, seed=seed,
                         shadows_per_round=policy.audit.shadows_per_round)
    for key, value in (audit_options or {}).items():
        if value is None:
            continue
        if not hasattr(config, key):
            raise InputError(f"unknown audit setting {key!r}")
        setattr(config, key, tuple(value) if key == "attacks" else value)
    config.__post_init__()  # every setting checked again
    weaker = policy.weaker_audit(config.n_shadows, config.n_targets, config.threat_model, tuple(config.attacks))
    if weaker:
        raise PolicyError("the audit settings would weaken the policy's audit: " + "; ".join(weaker)
                          + " (the policy is a floor: raise the settings, or use a policy that asks for less)", weaker)
    return config


def plan_release_audit(policy: Policy, config: AuditConfig, recipe: Any, n_train: int,
                       n_entities: int | None = None) -> AuditPlan:
    """Targets raised to what the policy's limits need; PolicyError before any training when the
    table cannot give enough with these shadows (`synthguard.sizing`).

    A sequential audit gets the targets its FIRST look needs, with `sizing.DECISION_MARGIN` (as
    many as the table allows), so that a recipe clear of every limit is decided after one round;
    it is refused only when even its last look could not resolve the limits. With `n_entities` (the
    schema names an entity) the audit's records are persons."""
    with_pairs = config.scores_pairs(recipe)
    epochs = getattr(getattr(recipe, "config", None), "epochs", None)
    limits = privacy_limits(policy.privacy.max_auc, policy.privacy.max_tpr_at_1pct_fpr,
                            policy.privacy.max_tpr_at_01pct_fpr)
    if n_entities is not None and n_entities < 20:  # the audit's own floor, checked before any training
        raise InputError(f"the audit needs at least 20 persons in the training rows, got {n_entities}")
    units = n_train if n_entities is None else n_entities
    rows = units - config.n_population_rows(units)  # RMIA's population rows are never targets

    def plan_for(shadows: int, margin: float = 1.0) -> AuditPlan:
        return plan_audit(limits, shadows, config.n_targets, rows, with_pairs, epochs=epochs,
                          workers=config.workers or 2, margin=margin)

    plan = last = plan_for(config.n_shadows)
    first = config.looks()[0][0]
    if first < config.n_shadows:
        plan = plan_for(first, DECISION_MARGIN)
        plan.problems = last.problems
    if plan.problems and policy.privacy.enforce:
        where = f"{n_train:,} training rows" + ("" if n_entities is None else f" of {n_entities:,} persons")
        raise PolicyError(f"the policy's privacy limits cannot be resolved on {where}: "
                          + "; ".join(dict.fromkeys(plan.problems)), plan.problems)
    return plan


def release(data: str | Path | pd.DataFrame, schema: Schema | str | Path | None, out_dir: str | Path, *,
            policy: Policy | None = None,
            recipe: Synthesizer | None = None, fmt: str = "parquet", n_rows: int | None = None,
            schema_path: str | Path | None = None, policy_path: str | Path | None = None,
            size: int | tuple[int, int] | None = None, data_path: str | Path | None = None,
            audit_options: dict[str, Any] | None = None, seed: int = 0, tune: TuneSettings | None = None,
            on_stage: Stage | None = None, on_epoch: Callable[[int, dict[str, float]], None] | None = None,
            on_shadow: Callable[[int, int], None] | None = None) -> ReleaseOutcome:
    """Fit, audit, evaluate and gate; write the release (or the refusal) into `out_dir`.

    Every setting is checked before any training: the output folder, the format, the audit settings
    against the policy (a floor), and whether the table can give the audit the policy's limits
    need (targets are raised to it; too few rows for the shadows asked is a PolicyError).

    Args:
        data: a CSV/parquet path, a raw frame (then `data_path` may name the file it came from,
            for the passport), or an image collection: `digits`, a folder of class sub-folders, an
            .npz (`synthguard.api.load_input` reads them all; `size` resizes images).
        schema: a `Schema`, a schema YAML path (recorded as `schema_path`), or None: inferred from
            a table with a warning, read with an image collection.
        recipe: the training recipe (default: `synthguard.api.make_recipe(schema)`, a mixup
            `Synthesizer` with the modality's training defaults, image ones for images); its
            schema is replaced by the data's.
        audit_options: settings of the audit beyond the policy's (n_shadows, n_targets, workers,
            backend, scheduler, ...); they may strengthen the policy's audit, never weaken it.
        tune: compare checkpoints x defence settings (`synthguard.tuning`) and write the passing
            candidate with the best primary utility; each defence setting costs one fit and one
            audit. The recipe's defence is replaced by the settings'; its other settings stay.
    """
    stage = on_stage or (lambda _message: None)
    policy = policy or Policy()
    out_dir = Path(out_dir)
    if data_path is None and not isinstance(data, pd.DataFrame):
        data_path = data
    if schema_path is None and isinstance(schema, (str, Path)):
        schema_path = schema
    inputs = [p for p in (data_path, schema_path, policy_path, (audit_options or {}).get("run_dir")) if p is not None]
    check_new_dir(out_dir, inputs)
    if fmt not in ("parquet", "csv"):
        raise InputError(f"the release format must be parquet or csv, got {fmt!r}")
    config = audit_settings(policy, audit_options, seed)
    started = _now()
    clock = time.perf_counter()
    loaded = load_input(data, schema, size=size, stream=False)  # a table, a frame or an image collection
    frame, schema = loaded.frame, loaded.schema
    assert frame is not None  # never streamed here
    resolved = schema.resolve(list(frame.columns), str(data_path or "data"))
    parsed = schema.parse(frame, str(data_path or "data"))
    entities = resolved.entities(frame)
    train_idx, holdout_idx = split_holdout(len(parsed), policy.holdout_share, seed, entities)
    train_raw = frame.iloc[train_idx].reset_index(drop=True)
    train, holdout = parsed.iloc[train_idx].reset_index(drop=True), parsed.iloc[holdout_idx].reset_index(drop=True)
    split = Split(len(train_idx), len(holdout_idx), policy.holdout_share)
    if entities is not None:
        split = replace(split, entity=resolved.entity, train_entities=len(np.unique(entities[train_idx])),
                        holdout_entities=len(np.unique(entities[holdout_idx])))
    recipe = (recipe or make_recipe(schema)).clone(seed=seed)
    recipe.schema = schema
    if tune is not None:
        return _release_tuned(tune, recipe, policy, config, schema, resolved, train_raw, train, holdout, train_idx,
                              split, out_dir, fmt, n_rows, seed, started, clock, stage, on_epoch, on_shadow,
                              _inputs(data_path, frame, schema, schema_path, policy, policy_path))
    plan = plan_release_audit(policy, config, recipe, len(train), split.train_entities)
    if plan.raised:
        why = ("the first look is planned for twice the non-member scores that resolve the policy's limits, as far "
               "as the table allows" if config.looks()[0][0] < config.n_shadows
               else "the policy's limits need that many non-member scores")
        stage(f"auditing {plan.n_targets} records instead of {config.n_targets}: {why}")
    config.n_targets = plan.n_targets

    def run_audit(cancelled: Callable[[], bool]) -> AuditResult:
        rule = _GateRule(policy, cancelled)
        return rule.noted(audit(train_raw, recipe, schema, config, on_shadow=on_shadow, stop=rule))

    def fit_and_measure(on_epoch: Callable[[int, dict[str, float]], None] | None, threads: int | None
                        ) -> tuple[Synthesizer, pd.DataFrame, Any, dict[str, Any]]:
        model = recipe.clone(threads=threads).fit_parsed(train, resolved, on_epoch=on_epoch)
        synthetic = model.sample(n_rows or len(train), seed=seed, typed=True)
        stage("measuring utility against the held-out rows")
        return (model, synthetic, *measure_utility(train, holdout, synthetic, resolved, seed))

    round_size = config.shadows_per_round or config.n_shadows
    beside = not in_this_process(config.backend, config.workers, round_size)
    if beside and config.backend == "local":  # pinned, so that no round (a resumed one of one shadow
        config.workers = config.workers or default_workers(round_size)  # too) trains in this process
    fitting = f"fitting the release model on {_split_words(split)}"
    if beside:
        _stage_audit(stage, config, entity=split.entity)
        stage(fitting + ", beside the audit's shadow models")
        (model, synthetic, utility, utility_dict), audited = _beside_audit(fit_and_measure, run_audit, on_epoch,
                                                                           getattr(recipe, "threads", None))
    else:
        stage(fitting)
        model, synthetic, utility, utility_dict = fit_and_measure(on_epoch, getattr(recipe, "threads", None))
        _stage_audit(stage, config, entity=split.entity)
        audited = run_audit(lambda: False)
    audited.row_numbers = train_idx + 1  # exposed records are named by their row in the input
    verdict = judge(policy, audited, utility_dict, model.smallest_category_count())

    stage("writing " + ("the release" if verdict.passed else "the refusal (no synthetic rows)"))
    passport = _passport(started, _inputs(data_path, frame, schema, schema_path, policy, policy_path), policy, model,
                         seed, config, split, audited, plan, verdict, utility_dict)
    passport = _write(out_dir, passport, audited, utility, model.schema_.format(synthetic), resolved, fmt, clock)
    return ReleaseOutcome(verdict.passed, out_dir, passport, verdict, audited)


class _GateRule:
    """A sequential audit's stopping rule: the gate's (`privacy_decided`), or an outside `cancelled`.
    It notes the checks each look left open, and `noted` writes them into the audit's looks, so
    that the passport says why the audit went on after a look."""

    def __init__(self, policy: Policy, cancelled: Callable[[], bool] | None = None) -> None:
        self.policy = policy
        self.cancelled = cancelled
        self.undecided: list[list[str]] = []

    def __call__(self, look: AuditResult) -> bool:
        self.undecided.append(open_checks(self.policy, look))
        return (self.cancelled is not None and self.cancelled()) or privacy_decided(self.policy, look)

    def noted(self, result: AuditResult) -> AuditResult:
        for look, checks in zip(result.looks, self.undecided, strict=False):  # the last look has none
            look["open"] = checks
        return result


def _beside_audit(fit: Callable[[Callable[[int, dict[str, float]], None] | None, int | None], Any],
                  run_audit: Callable[[Callable[[], bool]], AuditResult],
                  on_epoch: Callable[[int, dict[str, float]], None] | None, threads: int | None
                  ) -> tuple[Any, AuditResult]:
    """`fit(on_epoch, threads)` here while `run_audit(cancelled)` runs in a thread of its own,
    its shadows training in other processes; returns (what the fit returned, the audit).

    On a machine of few cores the shadows' processes and the fit then share the cores from the
    start, instead of the fit first holding them all with threads that small batches use poorly,
    so the release takes about the CPU time of the fit and the shadows divided by the cores
    (benchmarks/audit_cost.py `--release`). The fit takes one torch thread unless the recipe names
    its threads: beside the shadows more would only contend. Seeds are per model, so neither
    changes the other's result. If the audit fails the fit stops at its next epoch with the
    audit's error; if the fit fails the audit stops after its current round."""
    cancelled = threading.Event()
    found: dict[str, Any] = {}

    def work() -> None:
        try:
            with holding_warnings() as held:
                found["warnings"] = held
                found["audit"] = run_audit(cancelled.is_set)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            found["error"] = exc

    def epoch(number: int, stats: dict[str, float]) -> None:
        if "error" in found:
            raise found["error"]
        if on_epoch is not None:
            on_epoch(number, stats)

    # one BLAS thread in this process while both threads work: a BLAS library's thread count is
    # process-wide, and a limit that scikit-learn sets and restores in one thread (around its
    # nearest-neighbour searches) changed it under the other, so that OpenBLAS warned of an OpenMP
    # loop "that may hang" and a sum's last bit depended on the timing. Under this limit every
    # nested one restores 1
    with threadpool_limits(limits=1, user_api="blas"):
        thread = threading.Thread(target=work, name="synthguard-audit", daemon=True)
        thread.start()
        try:
            fitted = fit(epoch, threads or 1)
            thread.join()
        except BaseException:
            cancelled.set()
            raise
    for category, message in found.get("warnings", []):  # the shadows' warnings, raised in the caller's thread
        warnings.warn(message, category, stacklevel=3)
    if "error" in found:
        raise found["error"]
    return fitted, found["audit"]


def _split_words(split: Split) -> str:
    """'3,520 rows (881 held out)', or with an entity '16,214 rows of 4,760 persons (... held out)'."""
    if split.entity is None:
        return f"{split.train_rows:,} rows ({split.holdout_rows:,} held out)"
    return (f"{split.train_rows:,} rows of {split.train_entities:,} persons ({split.holdout_rows:,} rows of "
            f"{split.holdout_entities:,} persons held out)")


def _stage_audit(stage: Stage, config: AuditConfig, what: str = "", entity: str | None = None) -> None:
    half = "half of the training rows" if entity is None else f"the rows of half of the training persons ({entity})"
    if config.shadows_per_round:
        stage(f"auditing{what}: up to {config.n_shadows} shadow models in rounds of {config.shadows_per_round}, each "
              f"on {half}, until the privacy verdict is decided")
    else:
        stage(f"auditing{what}: {config.n_shadows} shadow models, each on {half}")


def _passport(started: str, inputs: dict[str, Any], policy: Policy, model: Synthesizer, seed: int,
              config: AuditConfig, split: Split, audited: AuditResult, plan: AuditPlan,
              verdict: Verdict, utility_dict: dict[str, Any], tuning: Tuning | None = None) -> Passport:
    """The passport of a release (before writing: no output, figures or finish time yet)."""
    return Passport(
        synthguard_version=__version__, started=started,
        inputs={role: FileDigest(item["path"], item["sha256"], item.get("rows")) for role, item in inputs.items()},
        recipe=model.get_params(), defense=model.describe_defense(),
        seeds=Seeds(release=seed, audit=config.seed, split=seed),
        split=split,
        policy=policy,
        audit_size=AuditSize(
            required_by_policy=AuditSetting(policy.audit.shadows, policy.audit.targets, policy.audit.threat_model,
                                            tuple(policy.audit.attacks)),
            ran=AuditSetting(audited.n_shadows, len(audited.targets), config.threat_model, tuple(config.attacks),
                             {"most_shadows": config.n_shadows, "looks": audited.looks}),
            plan=plan.to_dict()),
        verdict=verdict, privacy_summary=tuple(PrivacyLine.from_dict(x) for x in privacy_lines(audited, verdict)),
        error_rates=error_rates(policy, audited.n_shadows, len(audited.targets), audited.looks,
                                None if tuning is None else tuning.method, most_shadows=config.n_shadows),
        audit=audited.to_dict(include_scores=False), utility=utility_dict, versions={**library_versions(), **machine()},
        tuning=tuning)


@dataclass
class _Setting:
    """One defence setting of a tuned release, as it runs: its recipe, audit and results."""

    defense: str
    alpha: float | None
    recipe: Synthesizer
    config: AuditConfig
    plan: AuditPlan
    model: Synthesizer | None = None
    audit: AuditResult | None = None
    utilities: dict[int, tuple[Any, dict[str, Any]]] | None = None


def _tuned_settings(tune: TuneSettings, recipe: Synthesizer, policy: Policy, config: AuditConfig, n_train: int,
                    n_entities: int | None = None) -> list[_Setting]:
    """Every defence setting's recipe (with the checkpoints), audit settings and plan, all checked
    before any training; each audit spends an equal share of the error."""
    settings = []
    problems = []
    for defense, alpha in tune.parsed_:
        try:
            own = recipe.clone(defense=defense, alpha=alpha, checkpoints=tune.schedule(recipe.config.epochs))
        except SynthguardError as err:
            problems.append(f"{setting_label(defense, alpha)}: {err}")
            continue
        # each setting's audit its own run directory (a folder inside the one given), as its shadows differ
        run_dir = None if config.run_dir is None else str(Path(config.run_dir) / _slug(defense, alpha))
        own_config = replace(config, error_share=1.0 / len(tune.parsed_), run_dir=run_dir)
        plan = plan_release_audit(policy, own_config, own, n_train, n_entities)
        own_config.n_targets = plan.n_targets
        settings.append(_Setting(defense, alpha, own, own_config, plan))
    if problems:
        raise SettingError("; ".join(problems), setting="tune")
    return settings


def _release_tuned(tune: TuneSettings, recipe: Synthesizer, policy: Policy, config: AuditConfig, schema: Schema,
                   resolved: Schema, train_raw: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame,
                   train_idx: np.ndarray, split: Split, out_dir: Path, fmt: str, n_rows: int | None, seed: int, started: str,
                   clock: float, stage: Stage, on_epoch: Callable[[int, dict[str, float]], None] | None,
                   on_shadow: Callable[[int, int], None] | None, inputs: dict[str, Any]) -> ReleaseOutcome:
    """`release` with `tune`: one fit and one audit per defence setting, every checkpoint judged,
    the best passing candidate written (`synthguard.tuning` says why the choice keeps the error)."""
    settings = _tuned_settings(tune, recipe, policy, config, len(train), split.train_entities)
    metric = tune.primary(resolved.condition is not None or schema.modality == "image")
    schedule = settings[0].recipe.checkpoint_epochs
    stage(f"tuning: {len(settings)} defence setting(s) x {len(schedule)} checkpoints (epochs "
          f"{', '.join(map(str, schedule))}); each setting costs one fit and one audit of up to "
          f"{config.n_shadows} shadow models; choosing by {metric.name} ({metric.description})")
    candidates: list[TuningCandidate] = []
    at: list[tuple[_Setting, int, AuditResult]] = []   # what each candidate was judged on
    for i, setting in enumerate(settings, 1):
        label = f"[{i}/{len(settings)}] {setting_label(setting.defense, setting.alpha)}"
        stage(f"{label}: fitting the release model on {_split_words(split)}, keeping "
              f"epochs {', '.join(map(str, schedule))}")
        setting.model = setting.recipe.clone().fit_parsed(train, resolved, on_epoch=on_epoch)
        stage(f"{label}: measuring utility at each checkpoint")
        setting.utilities = {}
        for epoch in schedule:
            model = setting.model.at_epoch(epoch)
            rows = model.sample(n_rows or len(train), seed=seed, typed=True)
            setting.utilities[epoch] = measure_utility(train, holdout, rows, resolved, seed)
        _stage_audit(stage, setting.config, f" {label}", split.entity)
        rule = _GateRule(policy)
        setting.audit = rule.noted(audit(train_raw, setting.recipe, schema, setting.config, on_shadow=on_shadow,
                                         stop=rule))
        for _epoch, result in setting.audit.curve():
            result.row_numbers = train_idx + 1
        states = dict(sequence_states(policy, setting.audit))
        failed_before = 0
        for at_epoch, result in setting.audit.curve():
            epoch = int(at_epoch or 0)  # a tuned recipe always says its epochs
            model = setting.model.at_epoch(epoch)
            verdict = judge(policy, result, setting.utilities[epoch][1], model.smallest_category_count())
            verdict = Verdict((*verdict.checks, sequence_check(failed_before, policy.privacy.enforce)))
            failed_before += states[epoch] != "passed"
            utility = metric.read(setting.utilities[epoch][1])
            line = PrivacyLine.from_dict(privacy_lines(result, verdict)[-1])
            candidates.append(TuningCandidate(setting.defense, setting.alpha, epoch, states[epoch], verdict.passed,
                                              utility, line, verdict.checks))
            at.append((setting, epoch, result))
    chosen, closest = choose(candidates, metric)
    pick = chosen if chosen is not None else closest
    assert pick is not None
    setting, epoch, audited = at[pick]
    assert setting.model is not None and setting.utilities is not None
    model = setting.model.at_epoch(epoch)
    candidate = candidates[pick]
    verdict = Verdict(candidate.checks)
    tuning = Tuning(metric.name, metric.description, metric.higher_is_better, TUNING_METHOD,
                    tuple(_setting_record(s) for s in settings), tuple(candidates), chosen,
                    None if chosen is not None else closest, round(time.perf_counter() - clock, 1))
    if chosen is None:
        stage("no candidate passes every check: refusing, with the closest candidate "
              f"({setting_label(candidate.defense, candidate.alpha)} at {candidate.epochs} epochs)")
    stage("writing " + ("the release" if verdict.passed else "the refusal (no synthetic rows)"))
    passport = _passport(started, inputs, policy, model, seed, setting.config, split, audited,
                         setting.plan, verdict, setting.utilities[epoch][1], tuning)
    synthetic = model.sample(n_rows or len(train), seed=seed, typed=True)
    passport = _write(out_dir, passport, audited, setting.utilities[epoch][0], model.schema_.format(synthetic),
                      resolved, fmt, clock)
    audits = tuple(s.audit for s in settings if s.audit is not None)
    return ReleaseOutcome(verdict.passed, out_dir, passport, verdict, audited, audits)


#: what a tuned release's passport says about how its choice keeps the error rate of one verdict
TUNING_METHOD = ("the candidates are every checkpoint of every defence setting; the error of a single verdict is "
                 "split evenly over the defence settings (each setting's audit spends 1/D of it, over its looks); "
                 "within a setting the checkpoints are tested in order of training length, each at that setting's "
                 "full share, and none after the first that fails a privacy check (a fixed-sequence test); so the "
                 "chance that any passing candidate is at or over a privacy limit stays within 2.5%, as for one "
                 "untuned release. The written candidate is the passing one with the best primary utility metric "
                 "(ties: the shorter training, then the earlier setting)")


def choose(candidates: list[TuningCandidate], metric: UtilityMetric) -> tuple[int | None, int | None]:
    """(the passing candidate with the best primary utility, the closest candidate): ties go to the
    shorter training, then the earlier defence setting; a candidate whose metric was not measured
    ranks last. The closest is the one with the fewest failed checks, then the best utility."""
    def utility_key(i: int) -> tuple[float, int, int]:
        value = candidates[i].utility
        rank = math.inf if value is None else (-value if metric.higher_is_better else value)
        return rank, candidates[i].epochs, i

    passing = [i for i, c in enumerate(candidates) if c.passed]
    if passing:
        return min(passing, key=utility_key), None
    if not candidates:
        return None, None
    return None, min(range(len(candidates)), key=lambda i: (len(candidates[i].failed), *utility_key(i)))


def _slug(defense: str, alpha: float | None) -> str:
    return defense if alpha is None else f"{defense}-alpha-{alpha:g}"


def _setting_record(setting: _Setting) -> dict[str, Any]:
    assert setting.audit is not None
    return {"defense": setting.defense, "alpha": setting.alpha, "label": setting_label(setting.defense, setting.alpha),
            "error_share": setting.config.error_share, "shadows": setting.audit.n_shadows,
            "most_shadows": setting.config.n_shadows, "targets": len(setting.audit.targets),
            "looks": setting.audit.looks, "audit_seconds": round(setting.audit.seconds, 1),
            "curve": [{"epoch": epoch, "worst_attack": result.worst.spec.name,
                       "auc": result.worst.summary.auc, "auc_ci": list(result.worst.summary.auc_ci)}
                      for epoch, result in setting.audit.curve()]}


def measure_utility(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
                    seed: int) -> tuple[Any, dict[str, Any]]:
    """Utility of synthetic rows against held-out real ones: (the report, its plain-JSON form).
    Tables get `utility.evaluate`'s report, images downstream accuracy and Frechet distance."""
    if schema.modality == "image":
        found = _image_utility(train, holdout, synthetic, schema, seed)
        return found, found
    from .utility import evaluate

    report = evaluate(train, holdout, synthetic, schema, seed=seed)
    return report, report.to_dict()


def _image_utility(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
                   seed: int) -> dict[str, Any]:
    """Downstream accuracy and Frechet distance, in the shape the gate reads (table metrics that
    do not apply to pixels are absent, not failed), plus the share of exact copies (8-bit pixels)."""
    from .images import frame_to_images, to_uint8
    from .utility.images import image_utility

    found = image_utility(train, holdout, synthetic, schema, seed=seed)
    train_bytes = {row.tobytes() for row in to_uint8(frame_to_images(train, schema)[0])}
    copies = sum(row.tobytes() in train_bytes for row in to_uint8(frame_to_images(synthetic, schema)[0]))
    return {**found, "n_synthetic": len(synthetic), "distance": {"exact_copy_rate": copies / len(synthetic)}}


def _inputs(data_path: Any, frame: pd.DataFrame, schema: Schema, schema_path: Any, policy: Policy,
            policy_path: Any) -> dict[str, Any]:
    def described(path: Any, text: str) -> dict[str, Any]:
        if path is not None:
            return {"path": str(path), "sha256": sha256_file(path)}
        return {"path": None, "sha256": hashlib.sha256(text.encode()).hexdigest()}

    data_info: dict[str, Any] = ({"path": str(data_path), "sha256": sha256_file(data_path)} if data_path is not None and
                 Path(data_path).is_file() else
                 {"path": None if data_path is None else str(data_path),
                  "sha256": hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()})
    data_info["rows"] = len(frame)
    return {"data": data_info, "schema": described(schema_path, schema.to_yaml()),
            "policy": described(policy_path, json.dumps(policy.to_dict(), sort_keys=True))}


def _write(out_dir: Path, passport: Passport, audited: AuditResult, utility: Any, synthetic: pd.DataFrame,
           schema: Schema, fmt: str, clock: float) -> Passport:
    """Stage every file, then rename the folder into place; synthetic rows only if the passport
    passed. Returns the passport as written (output, figures and times filled in)."""
    from .images import write_image_samples
    from .plots import plot_dwp, plot_dwpre, plot_frontier, plot_leakage_curve
    from .report import write_report

    passed = passport.passed
    with staged_dir(out_dir) as staging:
        images = schema.modality == "image"
        figures = {"roc": audited.write_roc_plot(staging / "roc.png")}
        if not images:
            figures["dwp"] = plot_dwp(utility, staging / "dwp.png")
            figures["dwpre"] = plot_dwpre(utility, staging / "dwpre.png")
        if passport.tuning is not None:  # the privacy-utility frontier and the leakage over training
            figures["frontier"] = plot_frontier(passport.tuning, passport.policy, staging / "frontier.png")
            figures["leakage_curve"] = plot_leakage_curve(passport.tuning, staging / "leakage_curve.png")
        output = None
        if passed and images:
            # an .npz of the images, and beside it one PNG grid per class, which the report shows
            data_path, *grids = write_image_samples(synthetic, schema, staging / "synthetic.npz")
            figures.update({f"samples {grid.stem.split('_class_')[-1]}": grid for grid in grids})
        elif passed:
            data_path = staging / f"synthetic.{fmt}"
            write_table(synthetic, data_path, fmt)
        if passed:
            output = OutputFile(path=data_path.name, sha256=sha256_file(data_path), rows=len(synthetic),
                                format=data_path.suffix.lstrip("."))
        passport = replace(passport, output=output, finished=_now(), seconds=round(time.perf_counter() - clock, 1),
                           figures={k: p.name for k, p in figures.items()})
        write_text(staging / "release.json", passport.to_json())
        write_report(passport, figures, staging / "report.html")
    return passport
