"""An audit's run directory: every finished shadow is kept, so an interrupted audit resumes.

    DIR/run.json            what audit this is: a fingerprint of everything a shadow's result
                            depends on (recipe, schema, population, targets, masks, pairs, seeds,
                            threat model, versions)
    DIR/shadow-0003.sgm     shadow 3's model file, when the model has one (its `to_bytes`: the
                            worker sends the bytes back and this module only stores them)
    DIR/shadow-0003.npz     shadow 3's per-target statistics (written last: it marks the shadow done)

On a rerun with the same directory, shadows whose `.npz` is there are loaded, not retrained, and
the audit's results are those of an uninterrupted run (the statistics are stored exactly). A
directory made by a different audit is refused rather than mixed in. Every file is written
atomically; nothing is pickled (`.npz` of plain float arrays, read with allow_pickle=False; JSON).
What may change between runs: the attacks scored (unless that adds or drops the mixed-pair
query), the bootstrap, the workers and the backend.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, SynthguardError
from .io import atomic_path, write_text
from .versions import library_versions

FORMAT = "synthguard-audit-run"
FORMAT_VERSION = 1
MANIFEST = "run.json"
_INDEX, _DIGEST = "_shadow", "_fingerprint"  # bookkeeping arrays inside each .npz


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _array_sha256(array: np.ndarray | None) -> str | None:
    if array is None:
        return None
    array = np.ascontiguousarray(array)
    return _sha256(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())


#: another version of these may train or score differently: its shadows would not match this run's
_VERSIONED = ("synthguard", "torch", "numpy", "scikit-learn")


def _versions() -> dict[str, str]:
    found = library_versions()
    return {name: found[name] for name in _VERSIONED}


def fingerprint(*, recipe: Any, schema_yaml: str, population: pd.DataFrame, targets: np.ndarray,
                masks: np.ndarray, pairs: tuple[np.ndarray, np.ndarray] | None, shadow_seeds: list[int],
                settings: dict[str, Any]) -> dict[str, Any]:
    """Everything the shadows' statistics depend on, as plain JSON."""
    params = recipe.get_params() if hasattr(recipe, "get_params") else {}
    return json.loads(json.dumps({
        "recipe": {"type": type(recipe).__name__, **params},
        "schema_sha256": _sha256(schema_yaml.encode()),
        "population": {"rows": len(population), "sha256": _sha256(population.to_csv(index=False).encode())},
        "targets_sha256": _array_sha256(targets),
        "masks_sha256": _array_sha256(masks),
        "pairs_sha256": None if pairs is None else _array_sha256(np.stack(pairs)),
        "shadow_seeds": [int(s) for s in shadow_seeds],
        "settings": settings,
        "versions": _versions(),
    }, sort_keys=True, default=str))


#: what a person changed comes before what follows from it (a new seed draws new masks)
_CAUSES = ("recipe", "schema_sha256", "population", "settings", "versions")


def _first_difference(old: Any, new: Any, where: str = "") -> str:
    """The first key at which two fingerprints differ, for the error message."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new), key=lambda k: (_CAUSES.index(k) if k in _CAUSES else len(_CAUSES), k))
        for key in keys:
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{where}.{key}" if where else key)
    return where or "fingerprint"


class RunDirectory:
    """Keeps and finds one audit's finished shadows (see the module's docstring)."""

    def __init__(self, path: str | Path, audit_fingerprint: dict[str, Any]) -> None:
        self.path = Path(path)
        self.fingerprint = audit_fingerprint
        self.digest = _sha256(json.dumps(audit_fingerprint, sort_keys=True).encode())
        manifest = self.path / MANIFEST
        if not self.path.exists():
            if not self.path.parent.is_dir():
                raise InputError(f"run directory's parent does not exist: {self.path.parent}")
            self.path.mkdir()
        elif not self.path.is_dir():
            raise InputError(f"run directory is not a directory: {self.path}")
        if manifest.is_file():
            self._check(manifest)
        elif any(self.path.iterdir()):
            raise InputError(f"{self.path}: not a synthguard run directory (no {MANIFEST}) and not empty; "
                             "give a new or empty run directory", setting="run_dir")
        else:
            write_text(manifest, json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                                             "fingerprint": audit_fingerprint}, indent=1, sort_keys=True))

    def _check(self, manifest: Path) -> None:
        try:
            stored = json.loads(manifest.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InputError(f"{manifest}: not valid JSON; delete the run directory to start over") from None
        if not isinstance(stored, dict) or stored.get("format") != FORMAT:
            raise InputError(f"{manifest}: not a synthguard run directory")
        if stored.get("format_version") != FORMAT_VERSION:
            raise InputError(f"{manifest}: run directory format {stored.get('format_version')!r} is not "
                             f"the one this synthguard writes ({FORMAT_VERSION}); use a new run directory",
                             setting="run_dir")
        if stored.get("fingerprint") != self.fingerprint:
            what = _first_difference(stored.get("fingerprint"), self.fingerprint)
            raise SynthguardError(f"{self.path}: this run directory belongs to a different audit (its {what} "
                                  "differs); give a new run directory, or delete this one to start over",
                                  setting="run_dir")

    def stats_path(self, index: int) -> Path:
        return self.path / f"shadow-{index:04d}.npz"

    def model_path(self, index: int) -> Path:
        return self.path / f"shadow-{index:04d}.sgm"

    def save(self, index: int, stats: dict[str, np.ndarray], model_file: bytes | None = None) -> None:
        """Keep one finished shadow: its model file first, then its statistics (which mark it done)."""
        if model_file is not None:
            with atomic_path(self.model_path(index)) as tmp:
                tmp.write_bytes(model_file)
        arrays = {name: np.asarray(values, dtype=np.float64) for name, values in stats.items()}
        arrays[_INDEX] = np.asarray([index], dtype=np.int64)
        arrays[_DIGEST] = np.asarray([self.digest])  # a fixed-width text array: no pickle
        with atomic_path(self.stats_path(index)) as tmp, open(tmp, "wb") as handle:
            # a file handle: np.savez would add `.npz` to a path. The ignore: numpy's stub lets the
            # `**arrays` names collide with its keyword `allow_pickle: bool`, so mypy rejects any dict
            np.savez(handle, **arrays)  # type: ignore[arg-type]

    def load(self, index: int) -> dict[str, np.ndarray] | None:
        """Shadow `index`'s statistics if it finished in an earlier run, else None."""
        path = self.stats_path(index)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
            raise InputError(f"{path}: unreadable ({err}); delete it to retrain that shadow") from None
        index_ok = _INDEX in arrays and arrays.pop(_INDEX).tolist() == [index]
        digest_ok = _DIGEST in arrays and arrays.pop(_DIGEST).tolist() == [self.digest]
        if not (index_ok and digest_ok):
            raise InputError(f"{path}: not shadow {index} of this audit; delete it to retrain that shadow")
        for name, values in arrays.items():
            if values.dtype != np.float64 or values.ndim != 1:
                raise InputError(f"{path}: statistic {name!r} is not a float vector; delete it to retrain that shadow")
        return arrays


__all__ = ["RunDirectory", "fingerprint"]
