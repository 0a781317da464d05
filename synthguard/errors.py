"""Exceptions and warnings raised by synthguard.

* SynthguardError                    - anything the user can fix; the CLI prints it on one line, exit 1
  + InputError                       - a data, schema or policy file is missing, unreadable or malformed
  + SchemaError                      - the schema itself is invalid
  + DataValidationError              - the data does not match the schema; ``.problems`` lists every one
  + ModelFileError                   - a model file is not ours, truncated or altered
  + OutputExistsError (InputError)   - an output file exists; the caller may allow replacing it
  + PolicyError (InputError)         - the policy is invalid, or settings beside it would weaken its audit
* ReleaseRefused                     - the gate refused a release (CLI exit 3); not a SynthguardError
* SynthguardWarning (UserWarning)    - things the user should know but that do not stop the run
"""

from __future__ import annotations


class SynthguardError(Exception):
    """A problem the user can fix: bad input, a bad file, an impossible request."""


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
