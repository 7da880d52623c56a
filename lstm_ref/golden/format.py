"""The golden file format: JSON modelled on Project Wycheproof's test vectors.

Exact inputs are hex floats (C99 `strtod`, Python `float.fromhex`); expected values
are decimal midpoints with radii, and hex floats of each correctly rounded format.
Arrays are `{"shape": [...], "values": [...]}` in row-major order. Files are written
deterministically (no timestamps, fixed key order) and atomically; a manifest holds
the sha256 of every file of a suite.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lstm_ref.files import sha256, write_atomically

FORMAT_NAME = "lstm-ref-golden"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
SCHEMA_NAME = "golden-v1.schema.json"
MANIFEST = "manifest.json"


class GoldenFormatError(ValueError):
    """A golden file or directory does not follow the format; the message says where."""


def hex_float(value: float) -> str:
    """The shortest exact hex float: float.hex() without trailing zeros ("0x1.8p-1").

    >>> hex_float(0.75), hex_float(-2.0), hex_float(float("inf")), hex_float(0.0)
    ('0x1.8p-1', '-0x1p+1', 'inf', '0x0p+0')
    """
    text = float(value).hex()
    if "p" not in text:
        return text
    mantissa, exponent = text.split("p")
    return mantissa.rstrip("0").rstrip(".") + "p" + exponent


def encode_exact(array: np.ndarray) -> dict[str, Any]:
    """A float64 array as exact hex floats."""
    return {"shape": list(array.shape), "values": [hex_float(v) for v in np.ravel(array)]}


def decode_exact(obj: Any, where: str) -> np.ndarray:
    """The inverse of :func:`encode_exact`, with the location in every error."""
    if not isinstance(obj, dict) or set(obj) != {"shape", "values"}:
        raise GoldenFormatError(f"{where}: expected an object with `shape` and `values`")
    shape, values = obj["shape"], obj["values"]
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise GoldenFormatError(
            f"{where}.shape: expected a list of non-negative integers; got {shape!r}"
        )
    if not isinstance(values, list) or len(values) != int(np.prod(shape, dtype=np.int64)):
        raise GoldenFormatError(
            f"{where}.values: expected {int(np.prod(shape, dtype=np.int64))} values for shape "
            f"{shape}; got {len(values) if isinstance(values, list) else type(values).__name__}"
        )
    try:
        return np.array([float.fromhex(v) for v in values], dtype=np.float64).reshape(shape)
    except (TypeError, ValueError):
        bad = next(v for v in values if not _is_hex(v))
        raise GoldenFormatError(f"{where}.values: {bad!r} is not a hex float") from None


def _is_hex(value: Any) -> bool:
    try:
        float.fromhex(value)
    except (TypeError, ValueError):
        return False
    return True


def dumps(document: Any) -> str:
    """Deterministic JSON: objects indented one key a line, arrays of scalars on one line."""
    return _dump(document, 0) + "\n"


def _dump(value: Any, depth: int) -> str:
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {_dump(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + _dump(v, depth + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, separators=(", ", ": "))


def write_manifest(directory: Path, files: list[Path], suite: str) -> Path:
    """manifest.json: the format, the suite and the sha256 of every file, sorted by name."""
    manifest = {
        "format": FORMAT_NAME,
        "formatVersion": FORMAT_VERSION,
        "suite": suite,
        "files": {p.name: sha256(p) for p in sorted(files, key=lambda p: p.name)},
    }
    path = directory / MANIFEST
    write_atomically(path, dumps(manifest))
    return path


def read_json(path: Path) -> Any:
    """Parse a JSON file; a truncated or malformed file is a GoldenFormatError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GoldenFormatError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise GoldenFormatError(
            f"{path}: not valid JSON ({error}); the file may be truncated: "
            "regenerate it with `lstm-ref golden generate`"
        ) from None


def check_version(document: Any, where: str) -> None:
    """Refuse unknown formats and versions, naming the supported ones."""
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        found = document.get("format") if isinstance(document, dict) else None
        raise GoldenFormatError(f"{where}: not an {FORMAT_NAME} file (`format` is {found!r})")
    version = document.get("formatVersion")
    if version not in SUPPORTED_VERSIONS:
        raise GoldenFormatError(
            f"{where}: `formatVersion` {version!r} is not supported; this lstm_ref reads "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}: upgrade lstm_ref or regenerate the file"
        )
