"""`synthguard audit`: attack the training procedure with shadow models; print AUC and TPR at low FPR.

    synthguard audit mimic.csv --schema mimic.yaml --shadows 16 --targets 500 -o audit.json --plots plots/
    synthguard audit mimic.csv --schema mimic.yaml --run-dir runs/mimic      # a rerun resumes from it
    synthguard audit mimic.csv --schema mimic.yaml --checkpoints 10,20,40 --epochs 80   # leakage over training
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..io import write_text
from ._common import (
    check_output,
    check_plots_dir,
    collect_warnings,
    handle_errors,
    print_audit,
    print_curve,
    print_resumed,
    recipe_with_checkpoints,
    shadow_progress,
    wrote,
)
from ._options import (
    AlphaOpt,
    AttacksOpt,
    AuditCheckpointsOpt,
    BackendOpt,
    BatchOpt,
    DataArg,
    DefenseOpt,
    DefenseParamOpt,
    DeviceOpt,
    EpochsOpt,
    OverwriteOpt,
    QuietOpt,
    RunDirOpt,
    SchedulerOpt,
    SchemaOpt,
    SeedOpt,
    ShadowsOpt,
    SizeOpt,
    TargetsOpt,
    ThreatOpt,
    WorkersOpt,
    parse_checkpoints,
)


def audit_config(shadows: int, targets: int, attacks: str, threat_model: str, seed: int, workers: int | None,
                 backend: str, scheduler: str | None, run_dir: Path | None = None) -> Any:
    """The options as an `AuditConfig` (which checks them); `attacks` is comma-separated."""
    from ..audit import AuditConfig

    families = tuple(a.strip() for a in attacks.split(",") if a.strip())
    return AuditConfig(n_shadows=shadows, n_targets=targets, attacks=families, threat_model=threat_model, seed=seed,
                       workers=workers, backend=backend, scheduler=scheduler,
                       run_dir=None if run_dir is None else str(run_dir))


@handle_errors
def audit(
    data: DataArg,
    schema: SchemaOpt = None,
    defense: DefenseOpt = "mixup",
    alpha: AlphaOpt = None,
    defense_param: DefenseParamOpt = None,
    device: DeviceOpt = "cpu",
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    shadows: ShadowsOpt = 16,
    targets: TargetsOpt = 500,
    attacks: AttacksOpt = "lira,rmia,logan,ganleaks,domias",
    threat_model: ThreatOpt = "critic",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the audit as JSON here "
                                                   "(default: print only).")] = None,
    plots: Annotated[Optional[Path], typer.Option("--plots", help="Write log-log ROC plots into this folder "
                                                  "(default: no plots).")] = None,
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    backend: BackendOpt = "local",
    scheduler: SchedulerOpt = None,
    run_dir: RunDirOpt = None,
    size: SizeOpt = None,
    checkpoints: AuditCheckpointsOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Attack the training procedure on DATA with shadow models; print AUC and TPR at low FPR.
    With --checkpoints, also at those epochs of training (the leakage curve)."""
    import json

    from .. import api
    from ..audit import audit as run_audit

    epochs_kept = parse_checkpoints(checkpoints)
    inputs = [data, schema, run_dir]
    if output is not None:
        check_output(output, inputs, overwrite, quiet)
    check_plots_dir(plots, ("roc.png",), inputs, overwrite, output)
    config = audit_config(shadows, targets, attacks, threat_model, seed, workers, backend, scheduler, run_dir)
    with collect_warnings(quiet):
        loaded = api.load_input(data, schema, size=size, stream=False)
        recipe = api.make_recipe(loaded.schema, defense=defense, alpha=alpha, defense_settings=defense_param,
                                 device=device, seed=seed, epochs=epochs, batch_size=batch_size)
        recipe = recipe_with_checkpoints(recipe, epochs_kept)
        with shadow_progress(quiet) as on_shadow:
            result = run_audit(loaded.frame, recipe, loaded.schema, config, on_shadow=on_shadow)
    print_audit(result)
    if epochs_kept is not None:
        print_curve(result)
    if not quiet:
        print_resumed(result)
    if output is not None:
        write_text(output, json.dumps(result.to_dict(), indent=1))
        wrote(f"wrote {output}")
    if plots is not None:
        plots.mkdir(exist_ok=True)
        path = result.write_roc_plot(plots / "roc.png")
        wrote(f"wrote {path}")
