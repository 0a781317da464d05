"""synthguard: synthetic data that is attacked before it is released.

Public API (imported lazily, so that `synthguard --help` stays quick):
    Schema, Column          the table schema (synthguard.schema)
    Synthesizer             fit / sample / save / load (synthguard.synthesizer)
    read_table, write_table CSV and parquet with clear errors and atomic writes (synthguard.io)
    evaluate                utility metrics of a synthetic table (synthguard.utility)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Schema": "synthguard.schema", "Column": "synthguard.schema",
    "Synthesizer": "synthguard.synthesizer",
    "read_table": "synthguard.io", "write_table": "synthguard.io",
    "evaluate": "synthguard.utility",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'synthguard' has no attribute {name!r}")
