"""`synthguard schema`: propose a schema for a table or images, or check a table against one.

    synthguard schema infer mimic.csv --condition mortality -o mimic.yaml
    synthguard schema infer digits
    synthguard schema check mimic.csv --schema mimic.yaml
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import DataValidationError
from ..io import read_table, write_text
from ._common import check_output, collect_warnings, err, handle_errors, out
from ._options import DataArg, OverwriteOpt, RequiredSchemaOpt

app = typer.Typer(no_args_is_help=True, help="Propose a schema for a table, or check a table against one.")


@app.command("infer")
@handle_errors
def schema_infer(
    data: DataArg,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the YAML here (default: print it).")] = None,
    condition: Annotated[Optional[str], typer.Option("--condition", help="Column to use as the GAN's label "
                                                     "(default: none, an unconditional model).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Schema name (default: the file's stem).")] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Propose a schema for DATA; domains learned from the data are marked `learned`."""
    from ..api import infer_schema

    if output is not None:
        check_output(output, [data], overwrite)
    with collect_warnings(False):  # what a steward must decide, one line each
        schema = infer_schema(data, name=name, condition=condition)
    text = schema.to_yaml()
    if output is None:
        out.print(text, end="", markup=False, highlight=False)
        return
    write_text(output, text)
    learned = sum(1 for c in schema.columns if c.learned)
    err.print(f"wrote {output} ({len(schema.columns)} columns; review the {learned} with domains learned from the data)")


@app.command("check")
@handle_errors
def schema_check(data: DataArg, schema: RequiredSchemaOpt) -> None:
    """Check DATA against a schema and list every problem (exit 1 if there is any)."""
    from ..schema import Schema

    sch = Schema.load(schema)
    frame = read_table(data)
    try:
        with collect_warnings(quiet=False):  # e.g. time zones converted to UTC: one line each
            parsed = sch.parse(frame, source=str(data), whole=True)  # the whole table: a 1-class condition fails
    except DataValidationError as exc:
        for problem in exc.problems:
            err.print(f"[red]-[/] {problem}", highlight=False)
        err.print(f"[bold red]error:[/] {data}: {len(exc.problems)} problem(s) against {schema}", highlight=False)
        raise typer.Exit(1) from None
    # valid, but worth a steward's decision: probable ids and codes, constant columns, rare
    # categories, columns that (nearly) determine the condition
    for finding in sch.review(frame):
        err.print(f"[yellow]warning:[/] {finding}", highlight=False)
    out.print(f"ok: {data} matches {schema} ({len(parsed)} rows, {len(parsed.columns)} modelled columns)", highlight=False)
