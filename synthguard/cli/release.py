"""`synthguard release`: fit, audit, evaluate and gate; the synthetic data is written only if the
policy passes (else exit 3, with the passport and the report saying why).

    synthguard release mimic.csv --schema mimic.yaml --policy policy.yaml -o release/
    synthguard release digits -o release-digits/ --shadows 16
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ReleaseRefused
from ._common import (
    check_output_folder,
    collect_warnings,
    epoch_progress,
    handle_errors,
    out,
    print_audit,
    print_resumed,
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
    WorkersOpt,
)


@handle_errors
def release(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Release folder to create (must be new or empty).")],
    schema: SchemaOpt = None,
    policy: Annotated[Optional[Path], typer.Option("--policy", "-p", help="Policy YAML (default: the documented "
                      "defaults in schemas/policy.default.yaml).")] = None,
    defense: DefenseOpt = "mixup",
    alpha: AlphaOpt = 1.0,
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
    quiet: QuietOpt = False,
) -> None:
    """Fit, audit, evaluate and gate: write the synthetic data only if the policy passes (else exit 3)."""
    from .. import api
    from ..parallel import default_workers
    from ..policy import Policy
    from ..release import release as run_release

    check_output_folder(output, [data, schema, policy, run_dir])
    pol = Policy.load(policy) if policy is not None else Policy()
    with collect_warnings(quiet):
        loaded = api.load_input(data, schema, size=size, stream=False)
        recipe = api.make_recipe(loaded.schema, defense=defense, alpha=alpha, defense_settings=defense_param,
                                 device=device, seed=seed, epochs=epochs, batch_size=batch_size)
        overrides = {"n_shadows": shadows, "n_targets": targets, "threat_model": threat_model, "workers": workers,
                     "backend": backend, "scheduler": scheduler, "run_dir": None if run_dir is None else str(run_dir)}
        n_shadows = shadows if shadows is not None else pol.audit.shadows
        local = backend == "local"  # a cluster's pace is unknown here: the estimate covers the model fit
        progress = epoch_progress(recipe.config.epochs, quiet, shadows=n_shadows if local else 0,
                                  workers=workers or default_workers(n_shadows),
                                  first_round=pol.audit.shadows_per_round)
        with progress as on_epoch, shadow_progress(quiet) as on_shadow:
            outcome = run_release(loaded.frame, loaded.schema, output, policy=pol, recipe=recipe, fmt=fmt,
                                  schema_path=schema, policy_path=policy, data_path=data, audit_options=overrides,
                                  seed=seed, on_stage=stage_printer(quiet), on_epoch=on_epoch, on_shadow=on_shadow)
    verdict = outcome.verdict
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
