"""fit -> audit -> evaluate -> gate -> write: the one path by which synthetic rows leave.

    outcome = release("ofp.csv", Schema.load("ofp.yaml"), "out/ofp", policy=Policy())

The real rows are split into a training part and a held-out part (for utility only). The release
model is fitted on the training part; the audit trains shadow models with the same recipe on
halves of it; utility is measured against the held-out rows; the policy's gate decides.

Everything is written into a hidden staging folder beside the output folder and renamed into
place at the end, so an interrupted run leaves no partial release. A refused release writes its
passport (`release.json`) and `report.html`, and no synthetic row anywhere.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .api import load_input, make_recipe
from .audit import AuditConfig, AuditResult, audit
from .errors import InputError, PolicyError
from .gate import Verdict, judge, privacy_decided, privacy_lines
from .io import check_new_dir, staged_dir, write_table, write_text
from .passport import AuditSetting, AuditSize, FileDigest, OutputFile, Passport, PrivacyLine, Seeds, Split
from .policy import Policy
from .schema import Schema
from .sizing import AuditPlan, plan_audit, privacy_limits
from .synthesizer import Synthesizer
from .verdict_rates import error_rates
from .versions import library_versions

Stage = Callable[[str], None]


@dataclass
class ReleaseOutcome:
    passed: bool
    out_dir: Path
    passport: Passport
    verdict: Verdict
    audit: AuditResult


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")



def split_holdout(n: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, holdout) row indices; the holdout is never trained on."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    order = rng.permutation(n)
    n_holdout = max(1, int(round(n * share)))
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])


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


def plan_release_audit(policy: Policy, config: AuditConfig, recipe: Any, n_train: int) -> AuditPlan:
    """Targets raised to what the policy's limits need; PolicyError before any training when the
    table cannot give enough with these shadows (`synthguard.sizing`).

    A sequential audit gets the targets its FIRST look needs (as many as the table allows), so that
    a recipe far from every limit is decided after one round; it is refused only when even its
    last look could not resolve the limits."""
    with_pairs = config.scores_pairs(recipe)
    epochs = getattr(getattr(recipe, "config", None), "epochs", None)
    limits = privacy_limits(policy.privacy.max_auc, policy.privacy.max_tpr_at_1pct_fpr,
                            policy.privacy.max_tpr_at_01pct_fpr)
    rows = n_train - config.n_population_rows(n_train)  # RMIA's population rows are never targets

    def plan_for(shadows: int) -> AuditPlan:
        return plan_audit(limits, shadows, config.n_targets, rows, with_pairs, epochs=epochs,
                          workers=config.workers or 2)

    plan = last = plan_for(config.n_shadows)
    first = config.looks()[0][0]
    if first < config.n_shadows:
        plan = plan_for(first)
        plan.problems = last.problems
    if plan.problems and policy.privacy.enforce:
        raise PolicyError(f"the policy's privacy limits cannot be resolved on {n_train:,} training rows: "
                          + "; ".join(dict.fromkeys(plan.problems)), plan.problems)
    return plan


def release(data: str | Path | pd.DataFrame, schema: Schema | str | Path | None, out_dir: str | Path, *,
            policy: Policy | None = None,
            recipe: Synthesizer | None = None, fmt: str = "parquet", n_rows: int | None = None,
            schema_path: str | Path | None = None, policy_path: str | Path | None = None,
            size: int | tuple[int, int] | None = None, data_path: str | Path | None = None,
            audit_options: dict[str, Any] | None = None, seed: int = 0,
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
    train_idx, holdout_idx = split_holdout(len(parsed), policy.holdout_share, seed)
    train_raw = frame.iloc[train_idx].reset_index(drop=True)
    train, holdout = parsed.iloc[train_idx].reset_index(drop=True), parsed.iloc[holdout_idx].reset_index(drop=True)
    recipe = (recipe or make_recipe(schema)).clone(seed=seed)
    recipe.schema = schema
    plan = plan_release_audit(policy, config, recipe, len(train))
    if plan.raised:
        stage(f"auditing {plan.n_targets} records instead of {config.n_targets}: the policy's limits need that many "
              "non-member scores")
    config.n_targets = plan.n_targets

    stage(f"fitting the release model on {len(train)} rows ({len(holdout)} held out)")
    model = recipe.clone().fit_parsed(train, resolved, on_epoch=on_epoch)
    synthetic = model.sample(n_rows or len(train), seed=seed, typed=True)

    if config.shadows_per_round:
        stage(f"auditing: up to {config.n_shadows} shadow models in rounds of {config.shadows_per_round}, each on "
              "half of the training rows, until the privacy verdict is decided")
    else:
        stage(f"auditing: {config.n_shadows} shadow models, each on half of the training rows")
    audited = audit(train_raw, recipe, schema, config, on_shadow=on_shadow,
                    stop=lambda look: privacy_decided(policy, look))
    audited.row_numbers = train_idx + 1  # exposed records are named by their row in the input

    stage("measuring utility against the held-out rows")
    utility, utility_dict = measure_utility(train, holdout, synthetic, resolved, seed)
    verdict = judge(policy, audited, utility_dict, model.smallest_category_count())

    stage("writing " + ("the release" if verdict.passed else "the refusal (no synthetic rows)"))
    passport = Passport(
        synthguard_version=__version__, started=started,
        inputs={role: FileDigest(item["path"], item["sha256"], item.get("rows"))
                for role, item in _inputs(data_path, frame, schema, schema_path, policy, policy_path).items()},
        recipe=model.get_params(), defense=model.describe_defense(),
        seeds=Seeds(release=seed, audit=config.seed, split=seed),
        split=Split(train_rows=len(train), holdout_rows=len(holdout), holdout_share=policy.holdout_share),
        policy=policy,
        audit_size=AuditSize(
            required_by_policy=AuditSetting(policy.audit.shadows, policy.audit.targets, policy.audit.threat_model,
                                            tuple(policy.audit.attacks)),
            ran=AuditSetting(audited.n_shadows, len(audited.targets), config.threat_model, tuple(config.attacks),
                             {"most_shadows": config.n_shadows, "looks": audited.looks}),
            plan=plan.to_dict()),
        verdict=verdict, privacy_summary=tuple(PrivacyLine.from_dict(x) for x in privacy_lines(audited, verdict)),
        error_rates=error_rates(policy, audited.n_shadows, len(audited.targets)),
        audit=audited.to_dict(include_scores=False), utility=utility_dict, versions=library_versions())
    passport = _write(out_dir, passport, audited, utility, model.schema_.format(synthetic), resolved, fmt, clock)
    return ReleaseOutcome(verdict.passed, out_dir, passport, verdict, audited)


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
    from .plots import plot_dwp, plot_dwpre
    from .report import write_report

    passed = passport.passed
    with staged_dir(out_dir) as staging:
        images = schema.modality == "image"
        figures = {"roc": audited.write_roc_plot(staging / "roc.png")}
        if not images:
            figures["dwp"] = plot_dwp(utility, staging / "dwp.png")
            figures["dwpre"] = plot_dwpre(utility, staging / "dwpre.png")
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
