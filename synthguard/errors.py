"""Exceptions and warnings raised by synthguard.

* SynthguardError                    - anything the user can fix; the CLI prints it on one line, exit 1
  + InputError                       - a data, schema or policy file is missing, unreadable or malformed
  + SchemaError                      - the schema itself is invalid
  + DataValidationError              - the data does not match the schema; ``.problems`` lists every one
  + ModelFileError                   - a model file is not ours, truncated or altered
  + OutputExistsError (InputError)   - an output file exists; the caller may allow replacing it
  + PolicyError (InputError)         - the policy is invalid, or settings beside it would weaken its audit
  + SettingError (also ValueError)   - a setting or argument of a call is unknown, malformed or out of range
                                       (a defence setting, a target column, an image size)
* ReleaseRefused                     - the gate refused a release (CLI exit 3); not a SynthguardError
* SynthguardWarning (UserWarning)    - things the user should know but that do not stop the run

Messages speak of the library's own settings (``size``, ``run_dir``), never of command-line flags.
An error may name the setting that would fix it in ``.setting`` (a parameter name of the call), so
that a front end can point at its own spelling of it (the CLI adds ``--size``, ``--run-dir``).

The public entry points (``synthguard.api``, ``release``) do not let a lower layer's bare
``ValueError`` or ``KeyError`` escape: `mapped_errors` turns them into a ``SettingError`` (or the
error class the entry point names), with the original chained as the cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class SynthguardError(Exception):
    """A problem the user can fix: bad input, a bad file, an impossible request.

    ``setting``: the name of the call's parameter that would fix it (``"size"``, ``"run_dir"``), or
    None; front ends use it to point at their own option."""

    def __init__(self, *args: object, setting: str | None = None) -> None:
        self.setting = setting
        super().__init__(*args)


class InputError(SynthguardError):
    """A file is missing, empty, not UTF-8, or not a table/schema/policy."""


class PolicyError(InputError):
    """The release policy is invalid, or the settings beside it would weaken its audit.

    ``problems`` holds every problem found, one sentence each."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [message])
        super().__init__(message)


class SchemaError(SynthguardError):
    """The schema is invalid (unknown key or type, contradictory settings)."""


class SettingError(SynthguardError, ValueError):
    """A setting or argument is unknown, malformed or out of range: a defence setting the defence
    does not take, a target column that is not modelled, an image size outside the supported range.

    Also a ``ValueError``, so that code catching the built-in error for a bad argument still does."""


class DataValidationError(SynthguardError):
    """The data does not match the schema.

    ``problems`` holds every problem found, one human-readable string each; the message shows the
    first one and how many more there are, so that a CLI error stays on one line.
    """

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        more = f" (and {len(problems) - 1} more problem(s); `synthguard schema check` lists all)" if len(problems) > 1 else ""
        super().__init__(f"{where}{problems[0]}{more}")


class ModelFileError(SynthguardError):
    """A model file is not a synthguard model, or it was truncated or altered."""


class OutputExistsError(InputError):
    """An output file already exists; replacing it was not asked for (never raised for an input)."""


class ReleaseRefused(Exception):
    """The release gate refused to release; carries the verdict."""

    def __init__(self, verdict: object, message: str) -> None:
        self.verdict = verdict
        super().__init__(message)


class SynthguardWarning(UserWarning):
    """Something the user should know that does not stop the run."""


@contextmanager
def mapped_errors(kind: type[SynthguardError] = SettingError, where: str | None = None) -> Iterator[None]:
    """Re-raise a lower layer's ``ValueError`` or ``KeyError`` as `kind` (one line, the original
    chained as its cause); synthguard's own errors pass unchanged. `where` prefixes the message
    (a file name, say)."""
    try:
        yield
    except SynthguardError:
        raise
    except KeyError as err:
        key = err.args[0] if err.args else "?"
        raise kind(f"{where + ': ' if where else ''}no entry {key!r}") from err
    except ValueError as err:
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise kind(f"{where + ': ' if where else ''}{text}") from err
