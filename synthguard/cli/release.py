"""`synthguard release`: fit, audit, evaluate and gate; the synthetic data is written only if the
policy passes (else exit 3, with the passport and the report saying why).

    synthguard release mimic.csv --schema mimic.yaml --policy policy.yaml -o release/
    synthguard release digits -o release-digits/ --shadows 16
    synthguard release mimic.csv --schema mimic.yaml -o release/ --tune --tune-defenses none,mixup:1 \
        --checkpoints 50,100,200 --epochs 300      # the best passing candidate of 2 settings x 4 epochs
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ..errors import ReleaseRefused, SynthguardError
from ._common import (
    check_output_folder,
    collect_warnings,
    epoch_progress,
    given_options,
    handle_errors,
    out,
    print_audit,
    print_candidates,
    print_resumed,
    recipe_with_checkpoints,
    setting_text,
    shadow_progress,
    stage_printer,
)
from ._options import (
    AlphaOpt,
    BackendOpt,
    BatchOpt,
    DataArg,
    DefenseOpt,
    DefenseParamOpt,
    DeviceOpt,
    EpochsOpt,
    QuietOpt,
    RunDirOpt,
    SchedulerOpt,
    SchemaOpt,
    SeedOpt,
    SizeOpt,
    TableFormat,
    ThreatModel,
    TuneCheckpointsOpt,
    TuneDefensesOpt,
    TuneMetricOpt,
    TuneOpt,
    WorkersOpt,
    parse_checkpoints,
    split_list,
)

if TYPE_CHECKING:
    from ..tuning import TuneSettings


def tune_settings(ctx: typer.Context, tune: bool, defenses: str | None, checkpoints: str | None,
                  metric: str | None) -> TuneSettings | None:
    """The options of a tuned release as `TuneSettings` (None without --tune). Before any work, one
    line for: a tuning option without --tune, or --defense, --alpha or --defense-param beside it
    (the tuned defence settings replace them), or checkpoints that are not whole epochs."""
    if not tune:
        stray = [option for option, value in (("--tune-defenses", defenses), ("--checkpoints", checkpoints),
                                              ("--tune-metric", metric)) if value is not None]
        if stray:
            many = len(stray) > 1
            raise SynthguardError(f"{_listed(stray)} {'apply' if many else 'applies'} only to a tuned release: add "
                                  f"--tune, or leave {'them' if many else 'it'} out")
        return None
    clash = given_options(ctx, "defense", "alpha", "defense_param")
    if clash:
        raise SynthguardError(f"{_listed(clash)} cannot be combined with --tune: the tuned defence settings replace "
                              f"{'them' if len(clash) > 1 else 'it'}; list the settings to compare in "
                              "--tune-defenses (such as none,mixup:1,mixup:4)")
    from ..tuning import DEFAULT_DEFENSES, TuneSettings

    return TuneSettings(defenses=DEFAULT_DEFENSES if defenses is None else split_list(defenses),
                        checkpoints=parse_checkpoints(checkpoints), metric=metric)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@handle_errors
def release(
    ctx: typer.Context,
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Release folder to create (must be new or empty).")],
    schema: SchemaOpt = None,
    policy: Annotated[Optional[Path], typer.Option("--policy", "-p", help="Policy YAML (default: the documented "
                      "defaults in schemas/policy.default.yaml).")] = None,
    defense: DefenseOpt = "mixup",
    alpha: AlphaOpt = None,
    defense_param: DefenseParamOpt = None,
    device: DeviceOpt = "cpu",
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    shadows: Annotated[Optional[int], typer.Option("--shadows", min=4, help="Shadow models, overriding the policy "
                                                   "(default: the policy's; 16 in the default policy).")] = None,
    targets: Annotated[Optional[int], typer.Option("--targets", min=10, help="Audited records, overriding the policy "
                                                   "(default: the policy's; 500 in the default policy).")] = None,
    threat_model: Annotated[Optional[ThreatModel], typer.Option("--threat-model",
                            help="What an attacker holds: data, generator or critic, overriding the policy "
                            "(default: the policy's; critic in the default policy).")] = None,
    fmt: Annotated[TableFormat, typer.Option("--format", help="parquet or csv.")] = "parquet",
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    backend: BackendOpt = "local",
    scheduler: SchedulerOpt = None,
    run_dir: RunDirOpt = None,
    size: SizeOpt = None,
    tune: TuneOpt = False,
    tune_defenses: TuneDefensesOpt = None,
    checkpoints: TuneCheckpointsOpt = None,
    tune_metric: TuneMetricOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Fit, audit, evaluate and gate: write the synthetic data only if the policy passes (else exit 3).
    With --tune, compare defence settings x checkpoints and write the best passing candidate."""
    from .. import api
    from ..parallel import default_workers
    from ..policy import Policy
    from ..release import release as run_release

    tuned = tune_settings(ctx, tune, tune_defenses, checkpoints, tune_metric)
    check_output_folder(output, [data, schema, policy, run_dir])
    pol = Policy.load(policy) if policy is not None else Policy()
    with collect_warnings(quiet):
        loaded = api.load_input(data, schema, size=size, stream=False)
        recipe = api.make_recipe(loaded.schema, defense=defense, alpha=alpha, defense_settings=defense_param,
                                 device=device, seed=seed, epochs=epochs, batch_size=batch_size)
        if tuned is not None and tuned.checkpoints is not None:  # an epoch past the last: refused before training
            recipe_with_checkpoints(recipe, tuple(tuned.checkpoints))
        fits = 1 if tuned is None else len(tuned.defenses)
        overrides = {"n_shadows": shadows, "n_targets": targets, "threat_model": threat_model, "workers": workers,
                     "backend": backend, "scheduler": scheduler, "run_dir": None if run_dir is None else str(run_dir)}
        n_shadows = shadows if shadows is not None else pol.audit.shadows
        local = backend == "local"  # a cluster's pace is unknown here: the estimate covers the model fit
        n_workers = workers or default_workers(pol.audit.shadows_per_round or n_shadows)
        progress = epoch_progress(recipe.config.epochs, quiet, shadows=n_shadows if local else 0,
                                  workers=n_workers, first_round=pol.audit.shadows_per_round, fits=fits,
                                  beside=local and n_workers > 1 and tuned is None)
        with progress as on_epoch, shadow_progress(quiet, audits=fits) as on_shadow:
            outcome = run_release(loaded.frame, loaded.schema, output, policy=pol, recipe=recipe, fmt=fmt,
                                  schema_path=schema, policy_path=policy, data_path=data, audit_options=overrides,
                                  seed=seed, tune=tuned, on_stage=stage_printer(quiet), on_epoch=on_epoch,
                                  on_shadow=on_shadow)
    verdict = outcome.verdict
    tuning = outcome.passport.tuning
    if tuning is not None:
        print_candidates(tuning)
        pick = tuning.chosen if tuning.chosen is not None else tuning.closest
        if pick is not None:
            c = tuning.candidates[pick]
            out.print(f"the {'chosen' if tuning.chosen is not None else 'closest'} candidate, "
                      f"{setting_text(c.defense, c.alpha)} at {c.epochs} epochs:", highlight=False)
    print_audit(outcome.audit, verdict)
    if not quiet:
        print_resumed(outcome.audit)
    if not verdict.privacy_enforced:
        out.print("[bold red]the policy switched the privacy checks off: they were measured but did not decide[/]")
    privacy_failed = [c for c in verdict.failed if c.kind == "privacy"]
    if privacy_failed and outcome.audit.at_chance:
        out.print("Every AUC interval reaches 0.5, yet a privacy check failed: "
                  f"{privacy_failed[0].name} ({privacy_failed[0].advice.split(';')[0]}). An upper bound over its limit "
                  "means the audit cannot rule out leakage at that level.", highlight=False)
    out.print(f"verdict: {'RELEASED' if verdict.passed else 'REFUSED'} ({verdict.summary()})", highlight=False)
    written = outcome.passport.output.path if verdict.passed and outcome.passport.output else None
    out.print(f"files: {output / 'release.json'}, {output / 'report.html'}"
              + (f", {output / written}" if written else " (no synthetic rows written)"), highlight=False)
    if not verdict.passed:
        raise ReleaseRefused(verdict, f"the policy refused the release: {verdict.summary()}")
