"""The `synthguard` command line: parses options, calls the Python API, prints, sets exit codes.

This module only assembles the app. Each command group lives in its own module and calls the
library (`synthguard.api`, `synthguard.release`, `synthguard.audit`, `synthguard.experiment`):

    schema.py       synthguard schema infer | check
    fit.py          synthguard fit, synthguard sample
    evaluate.py     synthguard evaluate
    audit.py        synthguard audit
    release.py      synthguard release
    experiment.py   synthguard experiment
    _options.py     the shared options (Annotated aliases) and their choices
    _common.py      errors as exit codes, warnings, progress, output-path checks, audit printing

Exit codes: 0 done, 1 error (one line on stderr; SYNTHGUARD_DEBUG=1 shows the traceback),
2 usage (Typer's own, also for a bad option value), 3 release refused by the gate, 130 interrupted.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from .. import __version__
from . import audit, evaluate, experiment, fit, release, schema
from ._common import run_estimate
from ._options import IMAGE_BATCH, IMAGE_EPOCHS, TABLE_BATCH, TABLE_EPOCHS, Backend, TableFormat, ThreatModel

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Synthetic data that is attacked before it is released.")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"synthguard {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_print_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    """Synthetic data that is attacked before it is released."""


app.add_typer(schema.app, name="schema")
app.command("fit")(fit.fit)
app.command("sample")(fit.sample)
app.command("evaluate")(evaluate.evaluate)
app.command("audit")(audit.audit)
app.command("release")(release.release)
app.command("experiment")(experiment.experiment)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: staging folders and temp files go


def main() -> None:
    """Console-script entry point."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    app()


__all__ = ["IMAGE_BATCH", "IMAGE_EPOCHS", "TABLE_BATCH", "TABLE_EPOCHS", "Backend", "TableFormat", "ThreatModel",
           "app", "main", "run_estimate"]
