"""The model file: one zip of JSON, YAML and safetensors parts, checked before anything is parsed.

Layout of a `.sgm` file::

    manifest.json          format, format_version, kind, parameters, SHA-256 of every other part
    schema.yaml            the schema the model was fitted with
    encoder.json           the encoder's fitted state (plain JSON)
    generator.safetensors  generator weights
    critic.safetensors     critic weights (internal: white-box audits need it; never released)

Loading never runs code: JSON and YAML are parsed with safe loaders, tensors with safetensors, and
only after the manifest's hashes match. Anything else in the zip, a missing part, a changed byte or
a newer format version is refused with ModelFileError.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from .errors import ModelFileError
from .io import write_bytes

FORMAT = "synthguard-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_FIXED_DATE = (2020, 1, 1, 0, 0, 0)  # fixed zip timestamps: same model, same bytes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_model_file(path: str | Path, manifest: dict[str, Any], parts: dict[str, bytes]) -> None:
    """Write the parts and a manifest holding their hashes, atomically."""
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest,
                "files": {name: sha256(data) for name, data in parts.items()}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in [(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode()), *parts.items()]:
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    write_bytes(path, buffer.getvalue())


def read_model_file(path: str | Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Return (manifest, parts) after checking that the file is ours and unaltered."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if MANIFEST not in names:
                raise ModelFileError(f"{path}: not a synthguard model file (no manifest)")
            manifest = json.loads(zf.read(MANIFEST))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ModelFileError(f"{path}: not a synthguard model file")
            version = manifest.get("format_version")
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise ModelFileError(f"{path}: model format version {version} is newer than this synthguard reads "
                                     f"({FORMAT_VERSION}); upgrade synthguard")
            expected = manifest.get("files")
            if not isinstance(expected, dict):
                raise ModelFileError(f"{path}: the manifest lists no parts")
            extra = sorted(set(names) - set(expected) - {MANIFEST})
            missing = sorted(set(expected) - set(names))
            if extra or missing:
                what = f"unexpected part {extra[0]!r}" if extra else f"missing part {missing[0]!r}"
                raise ModelFileError(f"{path}: {what}; the file was altered")
            parts = {name: zf.read(name) for name in expected}
    except zipfile.BadZipFile:
        raise ModelFileError(f"{path}: not a synthguard model file (not a zip archive, or truncated)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelFileError(f"{path}: the manifest is not valid JSON; the file was altered") from None
    except (zipfile.LargeZipFile, OSError, EOFError) as err:
        raise ModelFileError(f"{path}: cannot read the model file ({err})") from None
    for name, data in parts.items():
        if sha256(data) != expected[name]:
            raise ModelFileError(f"{path}: part {name!r} does not match its hash; the file was altered")
    return manifest, parts
