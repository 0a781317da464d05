"""The release passport: what `synthguard.release.release` records in ``release.json``, typed.

    passport = Passport.load("release/release.json")
    passport.decision, passport.output.sha256, [c.name for c in passport.failed]
    passport.to_dict()                      # the file's content (plain JSON types)

`Passport` is the one definition of the file's fields: `release()` builds one, `to_dict` writes
it, `from_dict` / `load` read it back (plain JSON, never pickle) and check that it holds together
(the decision is the verdict of its checks; a refused release records no output).
`synthguard.report` renders one, or a loaded ``release.json``, as HTML.

The typed parts are the ones a reader acts on: the inputs and output with their SHA-256, seeds,
split, the policy, the audit that ran beside the one the policy requires, the lead's privacy lines
and every gate check (`synthguard.gate.Check`). The recipe, the audit's measurements, the utility
metrics, the error rates and the library versions are kept as the JSON their owners write
(`Synthesizer.get_params`, `AuditResult.to_dict`, `utility.evaluate`, `verdict_rates.error_rates`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from .errors import InputError, SynthguardError
from .gate import Check, Verdict
from .policy import Policy

#: the version of the passport's layout; `from_dict` reads this version only
FORMAT_VERSION = 1

__all__ = ["AuditSetting", "AuditSize", "FORMAT_VERSION", "FileDigest", "OutputFile", "Passport", "PrivacyLine",
           "Seeds", "Split", "Tuning", "TuningCandidate"]


class _Reader:
    """Typed look-ups in a JSON mapping; a missing or mistyped field is an InputError naming its path."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(f"{where or 'the passport'} must be a JSON object, got {type(data).__name__}")
        self.data, self.where = data, where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kinds: type | tuple[type, ...], *, optional: bool = False) -> Any:
        if key not in self.data:
            if optional:
                return None
            raise InputError(f"the passport has no {self._name(key)!r}")
        value = self.data[key]
        if value is None and optional:
            return None
        wanted = kinds if isinstance(kinds, tuple) else (kinds,)
        # a whole number stands for a float in JSON; a bool never stands for a number
        ok = isinstance(value, wanted) and not (isinstance(value, bool) and bool not in wanted)
        if not ok and float in wanted and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            names = " or ".join(k.__name__ for k in wanted)
            raise InputError(f"the passport's {self._name(key)!r} must be {names}, got {value!r}")
        return value

    def sub(self, key: str) -> _Reader:
        return _Reader(self.get(key, Mapping), self._name(key))

    def mapping(self, key: str) -> dict[str, Any]:
        return dict(self.get(key, Mapping))


@dataclass(frozen=True)
class FileDigest:
    """An input by its SHA-256: a file's bytes, or (`path` None) the text of what was passed in memory."""

    path: str | None
    sha256: str
    rows: int | None = None   # data only

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "sha256": self.sha256}
        if self.rows is not None:
            out["rows"] = self.rows
        return out

    @classmethod
    def _read(cls, r: _Reader) -> FileDigest:
        return cls(r.get("path", str, optional=True), r.get("sha256", str), r.get("rows", int, optional=True))


@dataclass(frozen=True)
class OutputFile:
    """The synthetic rows a passing release wrote, by name inside the release folder."""

    path: str
    sha256: str
    rows: int
    format: str    # parquet | csv | npz

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "rows": self.rows, "format": self.format}

    @classmethod
    def _read(cls, r: _Reader) -> OutputFile:
        return cls(r.get("path", str), r.get("sha256", str), r.get("rows", int), r.get("format", str))


@dataclass(frozen=True)
class Seeds:
    release: int
    audit: int
    split: int

    def to_dict(self) -> dict[str, Any]:
        return {"release": self.release, "audit": self.audit, "split": self.split}

    @classmethod
    def _read(cls, r: _Reader) -> Seeds:
        return cls(r.get("release", int), r.get("audit", int), r.get("split", int))


@dataclass(frozen=True)
class Split:
    """Rows the release model trained on, and rows held out for utility only; with an entity
    column, whole persons were held out (`holdout_share` of the persons) and their counts."""

    train_rows: int
    holdout_rows: int
    holdout_share: float
    entity: str | None = None
    train_entities: int | None = None
    holdout_entities: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"train_rows": self.train_rows, "holdout_rows": self.holdout_rows,
                               "holdout_share": self.holdout_share}
        if self.entity is not None:
            out.update(entity=self.entity, train_entities=self.train_entities, holdout_entities=self.holdout_entities)
        return out

    @classmethod
    def _read(cls, r: _Reader) -> Split:
        return cls(r.get("train_rows", int), r.get("holdout_rows", int), r.get("holdout_share", float),
                   r.get("entity", str, optional=True), r.get("train_entities", int, optional=True),
                   r.get("holdout_entities", int, optional=True))


@dataclass(frozen=True)
class AuditSetting:
    """An audit's size: shadow models, audited records, threat model and attack families; `details`
    holds what else the audit records about itself (a sequential audit's looks, its most shadows)."""

    shadows: int
    targets: int
    threat_model: str
    attacks: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)

    _CORE: ClassVar[tuple[str, ...]] = ("shadows", "targets", "threat_model", "attacks")

    def to_dict(self) -> dict[str, Any]:
        return {"shadows": self.shadows, "targets": self.targets, "threat_model": self.threat_model,
                "attacks": list(self.attacks), **{k: v for k, v in self.details.items() if k not in self._CORE}}

    @classmethod
    def _read(cls, r: _Reader) -> AuditSetting:
        return cls(r.get("shadows", int), r.get("targets", int), r.get("threat_model", str),
                   tuple(str(a) for a in r.get("attacks", list)),
                   {k: v for k, v in r.data.items() if k not in cls._CORE})


@dataclass(frozen=True)
class AuditSize:
    """The audit the policy requires (a floor), the one that ran, and the sizing plan behind it."""

    required_by_policy: AuditSetting
    ran: AuditSetting
    plan: dict[str, Any] = field(default_factory=dict)   # `synthguard.sizing.AuditPlan.to_dict`

    def to_dict(self) -> dict[str, Any]:
        return {"required_by_policy": self.required_by_policy.to_dict(), "ran": self.ran.to_dict(),
                "plan": dict(self.plan)}

    @classmethod
    def _read(cls, r: _Reader) -> AuditSize:
        return cls(AuditSetting._read(r.sub("required_by_policy")), AuditSetting._read(r.sub("ran")), r.mapping("plan"))


@dataclass(frozen=True)
class PrivacyLine:
    """The verdict's lead for one threat model: its strongest attack (`synthguard.gate.privacy_lines`)."""

    threat_model: str
    attack: str
    line: str
    passed: bool | None      # every check of that attack passed; None without a verdict
    auc: float
    auc_ci: tuple[float, float]
    tpr_at_1pct: float
    tpr_at_1pct_ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"threat_model": self.threat_model, "attack": self.attack, "line": self.line, "passed": self.passed,
                "auc": self.auc, "auc_ci": list(self.auc_ci), "tpr_at_1pct": self.tpr_at_1pct,
                "tpr_at_1pct_ci": list(self.tpr_at_1pct_ci)}

    @classmethod
    def _read(cls, r: _Reader) -> PrivacyLine:
        def pair(key: str) -> tuple[float, float]:
            value = r.get(key, list)
            if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise InputError(f"the passport's {r._name(key)!r} must be two numbers, got {value!r}")
            return float(value[0]), float(value[1])

        return cls(r.get("threat_model", str), r.get("attack", str), r.get("line", str),
                   r.get("passed", bool, optional=True), r.get("auc", float), pair("auc_ci"),
                   r.get("tpr_at_1pct", float), pair("tpr_at_1pct_ci"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PrivacyLine:
        return cls._read(_Reader(data, "privacy_summary[]"))


def _check(data: Any, where: str) -> Check:
    r = _Reader(data, where)
    known = {f.name: f for f in fields(Check)}
    unknown = sorted(set(r.data) - set(known))
    if unknown:
        raise InputError(f"the passport's {where} has unknown field {unknown[0]!r}")
    values = {name: r.data[name] for name in known if name in r.data}
    try:
        return Check(**values)
    except TypeError as err:  # a required field is missing
        raise InputError(f"the passport's {where} is incomplete: {err}") from None


@dataclass(frozen=True)
class TuningCandidate:
    """One candidate of a tuned release: a defence setting at a checkpoint, every check of the gate
    there, its privacy state under the fixed-sequence test (passed, failed, not tested), its
    primary utility value and its strongest attack (`synthguard.gate.privacy_lines`' first line)."""

    defense: str
    alpha: float | None
    epochs: int
    privacy: str                    # passed | failed | not tested
    passed: bool                    # every enforced check passed
    utility: float | None           # the primary metric (None: not measured)
    strongest: PrivacyLine
    checks: tuple[Check, ...]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.enforced and not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"defense": self.defense, "alpha": self.alpha, "epochs": self.epochs, "privacy": self.privacy,
                "passed": self.passed, "utility": self.utility, "strongest": self.strongest.to_dict(),
                "failed": [c.name for c in self.failed], "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def _read(cls, r: _Reader) -> TuningCandidate:
        checks = tuple(_check(c, f"{r.where}.checks[{i}]") for i, c in enumerate(r.get("checks", list)))
        candidate = cls(r.get("defense", str), r.get("alpha", float, optional=True), r.get("epochs", int),
                        r.get("privacy", str), r.get("passed", bool), r.get("utility", float, optional=True),
                        PrivacyLine._read(r.sub("strongest")), checks)
        if candidate.passed != (not candidate.failed):
            raise InputError(f"the passport's {r.where} says passed={candidate.passed}, but its checks disagree")
        return candidate


@dataclass(frozen=True)
class Tuning:
    """What a tuned release compared and chose (`synthguard.tuning`): the primary metric, how the
    choice keeps the error rate of one verdict (`method`), each defence setting's audit (its
    shadows, looks and share of the error), every candidate, and the index of the one written
    (`chosen`, None when none passed) or, for a refusal, of the closest one."""

    metric: str
    metric_description: str
    higher_is_better: bool
    method: str
    settings: tuple[dict[str, Any], ...]
    candidates: tuple[TuningCandidate, ...]
    chosen: int | None
    closest: int | None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "metric_description": self.metric_description,
                "higher_is_better": self.higher_is_better, "method": self.method,
                "settings": [dict(x) for x in self.settings], "chosen": self.chosen, "closest": self.closest,
                "seconds": self.seconds, "candidates": [c.to_dict() for c in self.candidates]}

    @classmethod
    def _read(cls, r: _Reader) -> Tuning:
        candidates = tuple(TuningCandidate._read(_Reader(c, f"tuning.candidates[{i}]"))
                           for i, c in enumerate(r.get("candidates", list)))
        tuning = cls(r.get("metric", str), r.get("metric_description", str), r.get("higher_is_better", bool),
                     r.get("method", str), tuple(dict(x) for x in r.get("settings", list)), candidates,
                     r.get("chosen", int, optional=True), r.get("closest", int, optional=True),
                     r.get("seconds", float, optional=True))
        for key in ("chosen", "closest"):
            index = getattr(tuning, key)
            if index is not None and not 0 <= index < len(candidates):
                raise InputError(f"the passport's tuning.{key} ({index}) names no candidate")
        if tuning.chosen is not None and not candidates[tuning.chosen].passed:
            raise InputError("the passport's tuning.chosen names a candidate that did not pass")
        return tuning


@dataclass(frozen=True)
class Passport:
    """Everything a release decided and why, with the hashes that tie it to its inputs and output.

    The decision is not stored apart from the checks: `decision` is the verdict of `verdict.checks`
    (every enforced check passed: "released"), so the two cannot disagree."""

    synthguard_version: str
    started: str                        # UTC, ISO 8601
    inputs: dict[str, FileDigest]       # data, schema, policy
    recipe: dict[str, Any]              # `Synthesizer.get_params()` of the release model
    defense: dict[str, Any]             # `Synthesizer.describe_defense()`
    seeds: Seeds
    split: Split
    policy: Policy
    audit_size: AuditSize
    verdict: Verdict                    # every gate check, in the gate's order
    privacy_summary: tuple[PrivacyLine, ...] = ()
    error_rates: dict[str, Any] = field(default_factory=dict)   # `verdict_rates.error_rates`
    audit: dict[str, Any] = field(default_factory=dict)         # `AuditResult.to_dict(include_scores=False)`
    utility: dict[str, Any] = field(default_factory=dict)       # `utility.evaluate(...).to_dict()`, or images'
    versions: dict[str, str] = field(default_factory=dict)      # `versions.library_versions()` and `.machine()`
    output: OutputFile | None = None    # None: nothing written (a refusal, or not written yet)
    finished: str | None = None
    seconds: float | None = None
    figures: dict[str, str] = field(default_factory=dict)       # figure key -> PNG file name in the folder
    tuning: Tuning | None = None        # a tuned release: every candidate and the choice

    # ---- derived ---------------------------------------------------------------------------------
    @property
    def passed(self) -> bool:
        return self.verdict.passed

    @property
    def decision(self) -> str:
        return "released" if self.verdict.passed else "refused"

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks

    @property
    def failed(self) -> list[Check]:
        return self.verdict.failed

    # ---- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The content of ``release.json``: plain JSON types, in reading order."""
        verdict = {k: v for k, v in self.verdict.to_dict().items() if k != "checks"}  # the checks are listed once
        return {
            "format_version": FORMAT_VERSION, "synthguard_version": self.synthguard_version,
            "decision": self.decision, "started": self.started, "finished": self.finished, "seconds": self.seconds,
            "inputs": {role: item.to_dict() for role, item in self.inputs.items()},
            "output": None if self.output is None else self.output.to_dict(),
            "recipe": dict(self.recipe), "defense": dict(self.defense), "seeds": self.seeds.to_dict(),
            "split": self.split.to_dict(), "policy": self.policy.to_dict(), "audit_size": self.audit_size.to_dict(),
            "error_rates": dict(self.error_rates), "privacy_summary": [x.to_dict() for x in self.privacy_summary],
            "checks": [c.to_dict() for c in self.checks], "verdict": verdict, "audit": dict(self.audit),
            "utility": dict(self.utility), "versions": dict(self.versions), "figures": dict(self.figures),
            "tuning": None if self.tuning is None else self.tuning.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: Any) -> Passport:
        """Read a passport from its `to_dict` form (a parsed ``release.json``); an InputError names the
        first field that is missing, mistyped or inconsistent."""
        r = _Reader(data, "")
        version = r.get("format_version", int)
        if version != FORMAT_VERSION:
            raise InputError(f"passport format_version {version!r} is not supported (this synthguard reads "
                             f"{FORMAT_VERSION})")
        checks = r.get("checks", list)
        verdict = Verdict(tuple(_check(c, f"checks[{i}]") for i, c in enumerate(checks)))
        inputs = r.sub("inputs")
        output = r.get("output", Mapping, optional=True)
        try:
            policy = Policy.from_dict(dict(r.get("policy", Mapping)), source="the passport's policy")
        except SynthguardError as err:
            raise InputError(str(err)) from None
        passport = cls(
            synthguard_version=r.get("synthguard_version", str), started=r.get("started", str),
            inputs={role: FileDigest._read(inputs.sub(role)) for role in inputs.data},
            recipe=r.mapping("recipe"), defense=r.mapping("defense"), seeds=Seeds._read(r.sub("seeds")),
            split=Split._read(r.sub("split")), policy=policy, audit_size=AuditSize._read(r.sub("audit_size")),
            verdict=verdict,
            privacy_summary=tuple(PrivacyLine._read(_Reader(x, f"privacy_summary[{i}]"))
                                  for i, x in enumerate(r.get("privacy_summary", list))),
            error_rates=r.mapping("error_rates"), audit=r.mapping("audit"), utility=r.mapping("utility"),
            versions=r.mapping("versions"),
            output=None if output is None else OutputFile._read(_Reader(output, "output")),
            finished=r.get("finished", str, optional=True), seconds=r.get("seconds", float, optional=True),
            figures={str(k): str(v) for k, v in (r.get("figures", Mapping, optional=True) or {}).items()},
            tuning=None if r.get("tuning", Mapping, optional=True) is None else Tuning._read(r.sub("tuning")),
        )
        recorded = r.get("decision", str)
        if recorded != passport.decision:
            raise InputError(f"the passport says {recorded!r}, but its checks say {passport.decision!r}")
        if passport.tuning is not None and (passport.tuning.chosen is not None) != passport.passed:
            raise InputError("the passport's tuning choice does not match its decision")
        if passport.output is not None and not passport.passed:
            raise InputError("the passport records an output file for a refused release")
        stated = r.sub("verdict").get("failed", list, optional=True)
        if stated is not None and stated != [c.name for c in passport.failed]:
            raise InputError("the passport's verdict.failed does not match its failed checks")
        return passport

    @classmethod
    def load(cls, path: str | Path) -> Passport:
        """Read ``release.json`` (or any file `to_json` wrote)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise InputError(f"{path}: cannot read the passport ({err.strerror or err})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(f"{path}: not a passport (not JSON: {err})") from None
        try:
            return cls.from_dict(data)
        except InputError as err:
            raise InputError(f"{path}: {err}") from None
