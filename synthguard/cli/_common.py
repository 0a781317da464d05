"""What every command shares: the consoles, errors as exit codes, warnings as one line each,
progress bars, output-path checks, and the printing of an audit.

Nothing here trains, scores or decides; it turns the library's results and errors into text.
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..errors import OutputExistsError, ReleaseRefused, SettingError, SynthguardError
from ..io import check_new_dir, check_output_file

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])

#: the option that sets each library setting an error can name (`SynthguardError.setting`)
OPTION_FOR_SETTING = {
    "size": "--size", "run_dir": "--run-dir", "target": "--target", "schema": "--schema", "holdout": "--holdout",
    "defense": "--defense", "defense_settings": "--defense-param", "condition": "--condition", "n": "-n",
    "checkpoints": "--checkpoints",
}


def error_hint(exc: SynthguardError) -> str:
    """What to add to a library error's line: the option that fixes it, in this CLI's spelling."""
    if isinstance(exc, OutputExistsError):
        return " (add --overwrite to replace it)"
    option = OPTION_FOR_SETTING.get(getattr(exc, "setting", None) or "")
    return f" (option {option})" if option else ""


def handle_errors(func: F) -> F:
    """Turn our errors into one line on stderr and exit code 1 (3 for a refused release, 130 for
    an interrupt); SYNTHGUARD_DEBUG=1 re-raises them with the traceback. Other errors propagate."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return func(*args, **kwargs)
        except ReleaseRefused as exc:
            if os.environ.get("SYNTHGUARD_DEBUG"):
                raise
            err.print(f"[bold red]refused:[/] {exc}", highlight=False)
            raise typer.Exit(3) from None
        except SynthguardError as exc:
            if os.environ.get("SYNTHGUARD_DEBUG"):
                raise
            err.print(f"[bold red]error:[/] {exc}{error_hint(exc)}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted; nothing was written")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def collect_warnings(quiet: bool) -> Iterator[None]:
    """Show our warnings as one line each (not Python's two-line format); none when quiet."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield
    if not quiet:
        for w in caught:
            if w.category.__module__.startswith("synthguard"):
                err.print(f"[yellow]warning:[/] {w.message}", highlight=False)


def stage_printer(quiet: bool) -> Callable[[str], None] | None:
    """The `on_stage` callback of a long run: one `> message` line per stage (None when quiet)."""
    return None if quiet else (lambda message: err.print(f"[bold]>[/] {message}", highlight=False))


def wrote(message: str) -> None:
    err.print(message, highlight=False)


def given_options(ctx: typer.Context, *names: str) -> list[str]:
    """Which of the command's parameters (by name) were given on the command line, as its options
    spell them: a default value given explicitly counts."""
    spelled = {p.name: p.opts[0] for p in ctx.command.params}
    given = []
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            given.append(spelled.get(name, name))
    return given


def recipe_with_checkpoints(recipe: Any, epochs: tuple[int, ...] | None) -> Any:
    """The recipe keeping its weights at `epochs` (None: unchanged); the recipe's refusal (an epoch
    past its last) names the `checkpoints` setting, so that the command names its option."""
    if epochs is None:
        return recipe
    try:
        return recipe.clone(checkpoints=epochs)
    except SynthguardError as exc:
        raise SettingError(str(exc), setting="checkpoints") from None


# ---- output paths: refused before hours of work, not after -------------------------------------
def check_output(path: Path, inputs: list[Path | None], overwrite: bool, quiet: bool = False) -> None:
    """The output's folder exists, it is no input of the command (never replaced), and it does not
    exist (replaced only with --overwrite). Debris that killed runs left for it is removed."""
    for removed in check_output_file(path, inputs, overwrite=overwrite):
        if not quiet:
            err.print(f"[yellow]note:[/] removed {removed.name}, left by an interrupted run", highlight=False)


def check_output_folder(path: Path, inputs: list[Path | None]) -> None:
    """A release or experiment folder: new or empty, and no input, inside one or holding one."""
    check_new_dir(path, inputs)


def check_plots_dir(plots: Path | None, names: tuple[str, ...], inputs: list[Path | None], overwrite: bool,
                    output: Path | None = None) -> None:
    """A plots folder (created when the plots are written): not a file, not an input nor inside
    one, and none of the plot files in it may exist unless --overwrite, nor be the -o output."""
    if plots is None:
        return
    if not plots.parent.exists():
        raise SynthguardError(f"output directory does not exist: {plots.parent}")
    if plots.exists() and not plots.is_dir():
        raise SynthguardError(f"{plots}: exists and is not a folder; choose a folder for the plots")
    from ..io import input_clash

    clash = input_clash(plots, inputs)
    if clash is not None:
        raise SynthguardError(f"{plots}: {clash[1]} the input {clash[0]}; choose another folder for the plots")
    for name in names:
        if output is not None and (plots / name).resolve() == output.resolve():
            raise SynthguardError(f"{output}: is both the -o output and a plot; choose another path")
        if plots.is_dir():
            check_output(plots / name, inputs, overwrite)


# ---- progress ----------------------------------------------------------------------------------
def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _losses(stats: dict[str, float]) -> str:
    """The losses an epoch reports; a loss the epoch did not measure (None) is left out."""
    shown = [(label, stats.get(key)) for label, key in (("D", "loss_d"), ("G", "loss_g"))]
    return "  ".join(f"{label} {value:+.3f}" for label, value in shown if isinstance(value, (int, float)))


def run_estimate(seconds_per_epoch: float, epochs: int, shadows: int = 0, workers: int = 1,
                 first_round: int | None = None, fits: int = 1, beside: bool = False) -> str:
    """The whole run's duration, from one epoch of the model fit. Each shadow trains the same
    recipe for the same epochs on half the rows, and `workers` of them run at once, so

        total = fits * seconds_per_epoch * epochs * (1 + shadows * 0.5 / workers)

    (attacks, utility and writing are minutes at most beside this). With `beside` the fit runs
    while the shadows train (`workers` + 1 processes, the epoch timed while they share the cores):

        total = seconds_per_epoch * epochs * max(1, (1 + shadows * 0.5) / (workers + 1))

    A sequential audit trains between its first round and all `shadows`: the estimate is then a
    range. A tuned release repeats the fit and the audit for each of its `fits` defence settings."""
    def total(k: int) -> float:
        if beside:
            return fits * seconds_per_epoch * epochs * max(1.0, (1 + k * 0.5) / (max(1, workers) + 1))
        return fits * seconds_per_epoch * epochs * (1 + k * 0.5 / max(1, workers))

    per_epoch = f"({seconds_per_epoch:.1f}s per epoch)"
    each = f"{fits} defence settings, each " if fits > 1 else ""
    fit = "a model fit" if fits > 1 else "the model fit"
    if not shadows:
        return f"estimated time: about {duration(total(0))} for {each}{fit} {per_epoch}"
    if first_round and first_round < shadows:
        return (f"estimated time: about {duration(total(first_round))} to {duration(total(shadows))} for {each}{fit} "
                f"and {first_round} to {shadows} shadow models on {workers} worker(s), as the sequential audit "
                f"stops early or not {per_epoch}")
    return (f"estimated time: about {duration(total(shadows))} for {each}{fit} and {shadows} shadow models on "
            f"{workers} worker(s) {per_epoch}")


@contextmanager
def epoch_progress(total: int, quiet: bool, label: str = "training", shadows: int = 0,
                   workers: int = 1, first_round: int | None = None, fits: int = 1, beside: bool = False
                   ) -> Iterator[Callable[[int, dict[str, float]], None] | None]:
    """Progress of an epoch loop: yields the `on_epoch` callback (None when quiet). On a terminal,
    a bar that appears at the first epoch, so that input errors found before training print alone;
    otherwise (a log file) a plain line every tenth of the epochs, with the time elapsed. After the
    second epoch, one line estimates the whole run, `shadows` shadow fits included (trained
    beside the fit with `beside`, see `run_estimate`).

    With `fits` > 1 (a tuned release: one fit per defence setting) the epochs restart at 1 for
    each fit: each is labelled `[i/fits] training` and the bar starts over; the estimate, from
    the first fit, covers them all."""
    if quiet:
        yield None
        return
    clock: dict[str, float] = {}
    run = {"fit": 0, "epoch": 0}

    def advance(epoch: int) -> tuple[str | None, str]:
        """(the estimate line, if now is its time; this fit's label), counting the fits."""
        if run["fit"] == 0 or epoch <= run["epoch"]:
            run["fit"] += 1
        run["epoch"] = epoch
        now = time.monotonic()
        clock.setdefault("start", now)
        line = None
        if run["fit"] == 1 and epoch == 1:
            clock["first"] = now
        elif run["fit"] == 1 and epoch == 2 and "first" in clock:
            line = run_estimate(now - clock["first"], total, shadows, workers, first_round, fits, beside)
        return line, (f"[{run['fit']}/{fits}] {label}" if fits > 1 else label)

    if not err.is_terminal:
        every = max(1, total // 10)

        def on_plain(epoch: int, stats: dict[str, float]) -> None:
            line, name = advance(epoch)
            if line:
                err.print(line, highlight=False)
            if epoch % every == 0 or epoch == total:
                err.print(f"{name}: epoch {epoch}/{total}  {_losses(stats)}  "
                          f"({duration(time.monotonic() - clock['start'])} elapsed)", highlight=False)

        yield on_plain
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[losses]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    bar = Progress(*columns, console=err, transient=False)
    task = bar.add_task(label, total=total, losses="")

    def on_epoch(epoch: int, stats: dict[str, float]) -> None:
        if not bar.live.is_started:
            bar.start()
        fit = run["fit"]
        line, name = advance(epoch)
        if run["fit"] != fit:  # a new fit: the bar starts over under its label
            bar.reset(task, total=total, description=name, losses="")
        if line:
            bar.console.print(line, highlight=False)
        bar.update(task, completed=epoch, losses=_losses(stats))

    try:
        yield on_epoch
    finally:
        bar.stop()


@contextmanager
def encoder_progress(quiet: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    """Progress of the encoder's fit, column by column (a wide table takes minutes, before the
    first epoch): yields the `on_column(done, total, column)` callback (None when quiet). On a
    terminal, a bar that appears at the first column and goes when the last is done; otherwise (a
    log file) a plain line `fitting the encoder: N/M columns` every tenth of the columns."""
    if quiet:
        yield None
        return
    start = time.monotonic()
    if not err.is_terminal:
        last = {"step": -1, "done": -1}

        def on_plain(done: int, total: int, column: str) -> None:
            step = done * 10 // max(1, total)  # tenths of the columns done
            if (step > last["step"] or done >= total) and done != last["done"]:
                last.update(step=step, done=done)
                err.print(f"fitting the encoder: {done}/{total} columns "
                          f"({duration(time.monotonic() - start)} elapsed)", highlight=False)

        yield on_plain
        return
    bar = Progress(TextColumn("fitting the encoder"), BarColumn(), MofNCompleteColumn(), TextColumn("columns"),
                   TimeElapsedColumn(), TextColumn("{task.fields[column]}"), console=err, transient=False)
    task = bar.add_task("encoder", total=None, column="")
    finished = {"yes": False}

    def on_column(done: int, total: int, column: str) -> None:
        if finished["yes"]:
            return
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total, column=column)
        if done >= total:
            finished["yes"] = True
            bar.stop()  # before the epochs' bar starts

    try:
        yield on_column
    finally:
        bar.stop()


@contextmanager
def shadow_progress(quiet: bool, audits: int = 1) -> Iterator[Callable[[int, int], None] | None]:
    """Shadow progress whose bar appears only when the first shadow finishes (after training).
    With `audits` > 1 (a tuned release: one audit per defence setting) the count restarts for
    each audit, labelled `[i/audits] shadow models`."""
    if quiet:
        yield None
        return
    run = {"audit": 0, "done": 0}

    def advance(done: int) -> str:
        if run["audit"] == 0 or done <= run["done"]:
            run["audit"] += 1
        run["done"] = done
        return f"[{run['audit']}/{audits}] shadow models" if audits > 1 else "shadow models"

    if not err.is_terminal:  # a log file: one plain line per finished shadow
        start = time.monotonic()

        def on_plain(done: int, total: int) -> None:
            err.print(f"{advance(done)}: {done}/{total} done ({duration(time.monotonic() - start)} elapsed)",
                      highlight=False)

        yield on_plain
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=err)
    task = bar.add_task("shadow models", total=None)

    def on_shadow(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        audit = run["audit"]
        name = advance(done)
        if run["audit"] != audit and audit:  # the next audit: the bar starts over
            bar.reset(task, total=total, description=name)
        bar.update(task, completed=done, total=total, description=name)

    try:
        yield on_shadow
    finally:
        bar.stop()


# ---- printing an audit (audit and release) -----------------------------------------------------
def print_resumed(result: Any) -> None:
    if result.config.run_dir is not None:
        err.print(f"run directory {result.config.run_dir}: {result.reused_shadows} of {result.config.n_shadows} "
                  f"shadows reused, {result.config.n_shadows - result.reused_shadows} trained", highlight=False)


def print_audit(result: Any, verdict: Any = None) -> None:
    """The privacy lead (one line per threat model), then every attack in a table that fits 80
    columns, then the most exposed records."""
    from rich.table import Table

    from ..audit import attack_table_rows
    from ..gate import privacy_lines

    for line in privacy_lines(result, verdict):
        mark = "" if line["passed"] is None else (" [green]pass[/]" if line["passed"] else " [bold red]FAIL[/]")
        out.print(f"privacy, {line['threat_model']} threat model:{mark} {line['line']}", highlight=False)
    worst = result.worst
    level = f"{100 * worst.summary.confidence:.4g}%"
    if len(result.looks) > 1 or result.n_shadows < result.config.n_shadows:
        out.print(f"sequential audit: {result.n_shadows} of at most {result.config.n_shadows} shadow models, "
                  f"{len(result.looks)} look(s); each look's intervals at {level}, so that the looks together keep "
                  "a single look's error", highlight=False)
    table = Table(title=f"{result.n_shadows} shadow models x {len(result.targets)} records; "
                        f"{worst.summary.n_nonmembers:,} non-member scores per attack; intervals {level}, "
                        f"resampled by {worst.summary.resampling}", header_style="bold", title_justify="left")
    for name, justify in (("attack", "left"), (f"AUC [{level} CI]", "right"), (f"TPR@1%FPR [{level} CI]", "right"),
                          ("TPR@0.1%FPR", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in attack_table_rows(result):
        table.add_row(*row)
    out.print(table, width=_table_width())
    if result.at_chance:
        out.print("No attack measurably beats chance: every AUC's interval reaches 0.5.")
    else:
        out.print(f"Strongest attack: {worst.spec.name} (AUC {worst.summary.auc:.3f}).")
    exposed = result.exposed_records(top=10)
    if exposed:
        rows = ", ".join(f"{r['row']}" for r in exposed)
        out.print(f"Most exposed records (rows of the input, by {exposed[0]['attack']}): {rows}", highlight=False)


def setting_text(defense: str, alpha: float | None) -> str:
    """A defence setting as --tune-defenses spells it: `none`, `mixup:1`."""
    return defense if alpha is None else f"{defense}:{alpha:g}"


def _table_width() -> int:
    return min(out.width, 80) if out.is_terminal else 80


def print_candidates(tuning: Any) -> None:
    """A tuned release's candidates (`passport.Tuning`), one row per defence setting x checkpoint:
    its privacy state under the fixed-sequence test, whether the gate passes it, the primary
    utility and its strongest attack's AUC with the interval; the chosen candidate is marked `*`,
    or, for a refusal, the closest one `~`. Then one line saying why it was picked."""
    from rich import box
    from rich.table import Table

    candidates = tuning.candidates
    pick = tuning.chosen if tuning.chosen is not None else tuning.closest
    mark = "*" if tuning.chosen is not None else "~"
    passing = sum(c.passed for c in candidates)
    better = "higher" if tuning.higher_is_better else "lower"
    epochs = len({c.epochs for c in candidates})
    table = Table(title=f"{len(candidates)} candidates ({len(tuning.settings)} defence setting(s) x {epochs} "
                        f"checkpoints), {passing} passing; utility: {tuning.metric}, {better} is better; the "
                        "strongest attack's AUC with its interval",
                  header_style="bold", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, padding=0)
    for name, justify in (("setting", "left"), ("epochs", "right"), ("privacy", "left"), ("gate", "left"),
                          ("utility", "right"), ("attack", "left"), ("AUC [CI]", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i, c in enumerate(candidates):
        s = c.strongest
        table.add_row(f"{mark if i == pick else ' '} {setting_text(c.defense, c.alpha)}", str(c.epochs), c.privacy,
                      "pass" if c.passed else f"{len(c.failed)} fail", "-" if c.utility is None else f"{c.utility:.3f}",
                      s.attack, f"{s.auc:.3f} [{s.auc_ci[0]:.3f},{s.auc_ci[1]:.3f}]",
                      style="bold" if i == pick else None)
    out.print(table, width=_table_width())
    if pick is None:
        return
    picked = candidates[pick]
    where = f"{setting_text(picked.defense, picked.alpha)} at {picked.epochs} epochs"
    if tuning.chosen is not None:
        out.print(f"* chosen: {where}, the passing candidate with the best {tuning.metric}", highlight=False)
    else:
        names = [c.name for c in picked.failed]
        failed = "; ".join(names[:3]) + (f"; and {len(names) - 3} more" if len(names) > 3 else "")
        out.print(f"~ closest: {where} (no candidate passes every check; it fails {len(names)}: {failed})",
                  highlight=False)


def print_curve(result: Any) -> None:
    """An audit with checkpoints: the leakage over training, one row per checkpoint (the last
    epoch last) with its strongest attack, AUC and TPR at 1% FPR with their intervals and the
    upper bound of TPR at 0.1% FPR."""
    from rich import box
    from rich.table import Table

    from ..audit import attack_table_rows

    level = f"{100 * result.worst.summary.confidence:.4g}%"
    table = Table(title=f"leakage over training: the strongest attack at each checkpoint (intervals {level}; the "
                        "same shadow models at each)", header_style="bold", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, padding=0)
    for name, justify in (("epochs", "right"), ("strongest attack", "left"), ("AUC [CI]", "right"),
                          ("TPR@1%FPR [CI]", "right"), ("TPR@0.1%FPR", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for epoch, at in result.curve():
        row = {r[0]: r for r in attack_table_rows(at)}[at.worst.spec.name]
        table.add_row("-" if epoch is None else str(epoch), *row)
    out.print(table, width=_table_width())
