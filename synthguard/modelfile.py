"""The model file: one zip of JSON, YAML and safetensors parts, checked before anything is parsed.

Layout of a `.sgm` file::

    manifest.json          format, format_version, kind, parameters, SHA-256 of every other part
    schema.yaml            the schema the model was fitted with
    encoder.json           the encoder's fitted state (plain JSON)
    generator.safetensors  generator weights
    critic.safetensors     critic weights (internal: white-box audits need it; never released)

Loading never runs code: JSON and YAML are parsed with safe loaders (YAML without aliases), tensors
with safetensors, and only after the manifest's hashes match. Because hashes can be recomputed by
whoever forges a file, every part is then checked for what it claims to be: JSON parts parse, YAML
parts parse without aliases, and each safetensors part has a well-formed header whose tensors
exactly tile the data and hold finite numbers. Anything else in the zip, a missing part, a changed
byte, a malformed part or a newer format version is refused with ModelFileError, on one line.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, ModelFileError
from .io import safe_load_yaml_text, write_bytes

FORMAT = "synthguard-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_FIXED_DATE = (2020, 1, 1, 0, 0, 0)  # fixed zip timestamps: same model, same bytes
#: bytes per element of each safetensors dtype
_DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
                "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_FLOAT_DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}
_MAX_HEADER = 100 * 2**20


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
        if not isinstance(expected[name], str) or sha256(data) != expected[name]:
            raise ModelFileError(f"{path}: part {name!r} does not match its hash; the file was altered")
    for name, data in parts.items():
        try:
            check_part(name, data)
        except ModelFileError as err:
            raise ModelFileError(f"{path}: part {name!r}: {err}; the file was altered or forged") from None
    return manifest, parts


def check_part(name: str, data: bytes) -> None:
    """Check that a part is what its name says (ModelFileError saying what is wrong otherwise)."""
    try:
        if name.endswith(".json"):
            json.loads(data)
        elif name.endswith(".yaml"):
            safe_load_yaml_text(data.decode("utf-8"), name)
        elif name.endswith(".safetensors"):
            check_safetensors(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ModelFileError("not valid JSON" if name.endswith(".json") else "not UTF-8 text") from None
    except InputError as err:
        raise ModelFileError(str(err).removeprefix(f"{name}: ")) from None  # YAML: aliases, nesting, syntax


def check_safetensors(data: bytes) -> None:
    """A safetensors buffer: an 8-byte little-endian header length, a JSON header mapping each tensor
    to dtype, shape and [begin, end) offsets, then the data, which the tensors tile exactly. Float
    tensors must be finite. Raises ModelFileError naming the first problem."""
    if len(data) < 8:
        raise ModelFileError("not a safetensors buffer (too short)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(_MAX_HEADER, len(data) - 8):
        raise ModelFileError("not a safetensors buffer (bad header length)")
    try:
        header = json.loads(data[8:8 + size])
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ModelFileError("not a safetensors buffer (header is not JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError("not a safetensors buffer (header is not a mapping)")
    body = memoryview(data)[8 + size:]
    spans: list[tuple[int, int]] = []
    for key, info in header.items():
        if key == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise ModelFileError("has malformed safetensors metadata")
            continue
        if not isinstance(info, dict):
            raise ModelFileError(f"tensor {key!r} has no description")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in _DTYPE_SIZES:
            raise ModelFileError(f"tensor {key!r} has unknown dtype {dtype!r}")
        if (not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                   for d in shape)):
            raise ModelFileError(f"tensor {key!r} has a malformed shape")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= len(body)):
            raise ModelFileError(f"tensor {key!r} has offsets outside the data")
        if offsets[1] - offsets[0] != math.prod(shape) * _DTYPE_SIZES[dtype]:
            raise ModelFileError(f"tensor {key!r}: its shape does not match its bytes")
        spans.append((offsets[0], offsets[1]))
        if dtype in _FLOAT_DTYPES and not np.isfinite(np.frombuffer(body[offsets[0]:offsets[1]],
                                                                    dtype=_FLOAT_DTYPES[dtype])).all():
            raise ModelFileError(f"tensor {key!r} holds non-finite weights")
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise ModelFileError("has tensors that overlap or leave gaps")
        position = end
    if position != len(body):
        raise ModelFileError("has bytes that belong to no tensor")
