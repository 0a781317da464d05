"""synthguard: synthetic data that is attacked before it is released.

Public API (imported lazily, so that `synthguard --help` stays quick):
    Schema, Column          the table schema (synthguard.schema)
    Synthesizer             fit / sample / save / load (synthguard.synthesizer)
    Policy                  the release policy: audit size, privacy and utility limits (synthguard.policy)
    read_table, write_table CSV and parquet with clear errors and atomic writes (synthguard.io)
    evaluate                utility metrics of a synthetic table (synthguard.utility)
    load_input, make_recipe, evaluate_files
                            the entry points the CLI calls: any input (table, frame, `digits`, image
                            folder) with its schema, a recipe with the modality's training defaults,
                            utility from files (synthguard.api; also fit, sample_to_path)
    register_defense        add a training defence to the open registry (synthguard.gan.defenses)
    register_attack, Attack add a membership-inference attack: one scorer, one registration
                            (synthguard.attacks.registry; RMIA in synthguard.attacks.rmia is an example)
    register_check, GateCheck
                            add a release-gate check beside the metric it reads (synthguard.checks)
    SamplesAccess, GeneratorAccess, CriticAccess
                            what the audit needs of a model under each threat model
                            (synthguard.attacks.access): any generator that has them can be audited
    AuditConfig             audit settings, sequential rounds included (synthguard.audit)
    Passport                the typed release.json a release writes (synthguard.passport)
    SynthguardError         the root of synthguard's errors (synthguard.errors)

The gated path and the audit are functions of their modules, whose names they share:
`from synthguard.release import release` and `from synthguard.audit import audit`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Schema": "synthguard.schema", "Column": "synthguard.schema",
    "Synthesizer": "synthguard.synthesizer",
    "Policy": "synthguard.policy",
    "read_table": "synthguard.io", "write_table": "synthguard.io",
    "evaluate": "synthguard.utility",
    "load_input": "synthguard.api", "make_recipe": "synthguard.api", "evaluate_files": "synthguard.api",
    "register_defense": "synthguard.gan.defenses",
    "register_attack": "synthguard.attacks.registry", "Attack": "synthguard.attacks.registry",
    "register_check": "synthguard.checks", "GateCheck": "synthguard.checks",
    "SamplesAccess": "synthguard.attacks.access", "GeneratorAccess": "synthguard.attacks.access",
    "CriticAccess": "synthguard.attacks.access",
    "AuditConfig": "synthguard.audit", "Passport": "synthguard.passport",
    "SynthguardError": "synthguard.errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'synthguard' has no attribute {name!r}")
