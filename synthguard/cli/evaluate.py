"""`synthguard evaluate`: the utility of a synthetic table against the real one.

    synthguard evaluate train.csv synthetic.csv --schema mimic.yaml --holdout holdout.csv -o utility.json --plots plots/
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..io import write_text
from ._common import check_output, check_plots_dir, collect_warnings, handle_errors, out, wrote
from ._options import OverwriteOpt, RequiredSchemaOpt, SeedOpt


@handle_errors
def evaluate(
    real: Annotated[Path, typer.Argument(help="The real rows the generator was fitted on.", show_default=False)],
    synthetic: Annotated[Path, typer.Argument(help="The synthetic table.", show_default=False)],
    schema: RequiredSchemaOpt,
    holdout: Annotated[Optional[Path], typer.Option("--holdout", help="Real rows the generator never saw "
                       "(default: 20% of REAL, which the generator did see: optimistic).")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="Column for TSTR (default: the condition).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the metrics as JSON here "
                                                   "(default: print only).")] = None,
    plots: Annotated[Optional[Path], typer.Option("--plots", help="Write DWP and DWpre scatter plots into this folder "
                                                  "(default: no plots).")] = None,
    seed: SeedOpt = 0,
    overwrite: OverwriteOpt = False,
) -> None:
    """Utility of SYNTHETIC against REAL: quality, DWP, DWpre, TSTR, copies and distances."""
    import json

    from ..api import evaluate_files
    from ..plots import plot_dwp, plot_dwpre

    inputs = [real, synthetic, schema, holdout]
    if output is not None:
        check_output(output, inputs, overwrite)
    check_plots_dir(plots, ("dwp.png", "dwpre.png"), inputs, overwrite, output)
    with collect_warnings(quiet=False):  # e.g. no holdout: an optimistic estimate
        report = evaluate_files(real, synthetic, schema, holdout=holdout, target=target, seed=seed)
    print_utility(report.to_dict())
    if output is not None:
        write_text(output, json.dumps(report.to_dict(), indent=2))
        wrote(f"wrote {output}")
    if plots is not None:
        plots.mkdir(exist_ok=True)
        plot_dwp(report, plots / "dwp.png")
        plot_dwpre(report, plots / "dwpre.png")
        wrote(f"wrote {plots / 'dwp.png'} and {plots / 'dwpre.png'}")


def _fmt(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def print_utility(metrics: dict[str, Any]) -> None:
    """A short table of the utility metrics a steward reads first."""
    from rich.table import Table

    table = Table(title="utility", show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    q, dwp_, dwpre_, dist = metrics["quality"], metrics["dwp"], metrics["dwpre"], metrics["distance"]
    table.add_row("sdmetrics quality (shapes / pair trends)",
                  f"{_fmt(q['score'])} ({_fmt(q['column_shapes'])} / {_fmt(q['column_pair_trends'])})")
    table.add_row("DWP mean abs. difference (correlation)", f"{_fmt(dwp_['mae'])} ({_fmt(dwp_['correlation'])})")
    table.add_row("DWpre mean gap, real- vs synthetic-trained", _fmt(dwpre_["mean_abs_gap"]))
    down = metrics.get("downstream")
    if down is not None and down["task"] == "classification":
        table.add_row(f"TSTR {down['target']}: accuracy (real-trained)",
                      f"{_fmt(down['tstr']['accuracy'])} ({_fmt(down['trtr']['accuracy'])})")
        table.add_row(f"TSTR {down['target']}: ROC AUC (real-trained)",
                      f"{_fmt(down['tstr']['auc'])} ({_fmt(down['trtr']['auc'])})")
    elif down is not None:
        table.add_row(f"TSTR {down['target']}: R^2 (real-trained)", f"{_fmt(down['tstr']['r2'])} ({_fmt(down['trtr']['r2'])})")
    table.add_row("exact copies of training rows", f"{dist['exact_copy_rate']:.2%}")
    table.add_row("closest-record distance, synthetic vs holdout (median)",
                  f"{_fmt(dist['dcr_synthetic_median'])} vs {_fmt(dist['dcr_holdout_median'])}")
    out.print(table, width=max(out.width, 110))
