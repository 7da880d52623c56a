"""Results computed elsewhere (a C++ or CUDA harness that read the golden files).

A results file is JSON:

    {
     "format": "lstm-ref-results",
     "formatVersion": 1,
     "suite": "standard",                 (a suite name or directory; optional)
     "dtype": "float32",                  (float64, float32, float16 or bfloat16)
     "profile": "fp32",                   (optional; the dtype's default)
     "results": {
      "lstm-basic": {"y": {"shape": [5, 3, 4], "values": [...]}, "h_n": {...}, "c_n": {...}},
      "lstm-peepholes": {"unsupported": "no peepholes in this kernel"}
     }
    }

Outputs are in the canonical layout (the golden files' own), keyed by the case `id`;
values are JSON numbers or hex-float strings, row-major. Gradients are not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lstm_ref.golden.format import GoldenFormatError, read_json

FORMAT = "lstm-ref-results"
VERSIONS = (1,)


def read_results(path: Path) -> dict[str, Any]:
    """Parse and check a results file; outputs become float64 arrays."""
    document = read_json(path)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise GoldenFormatError(f"{path}: not a {FORMAT} file (`format` must be {FORMAT!r})")
    if document.get("formatVersion") not in VERSIONS:
        raise GoldenFormatError(
            f"{path}: `formatVersion` {document.get('formatVersion')!r} is "
            f"not supported; this lstm_ref reads {VERSIONS[0]}"
        )
    results = document.get("results")
    if not isinstance(results, dict) or not results:
        raise GoldenFormatError(f"{path}: `results` must map case ids to outputs")
    parsed: dict[str, dict[str, Any]] = {}
    for case_id, outputs in results.items():
        if not isinstance(outputs, dict):
            raise GoldenFormatError(f"{path}: results[{case_id!r}] must be an object")
        if "unsupported" in outputs:
            parsed[case_id] = {"unsupported": str(outputs["unsupported"])}
            continue
        parsed[case_id] = {
            name: _array(value, f"{path}: results[{case_id!r}][{name!r}]")
            for name, value in outputs.items()
        }
    return {**document, "results": parsed}


def _array(obj: Any, where: str) -> np.ndarray:
    if not isinstance(obj, dict) or "shape" not in obj or "values" not in obj:
        raise GoldenFormatError(f'{where}: expected {{"shape": [...], "values": [...]}}')
    try:
        values = [float.fromhex(v) if isinstance(v, str) else float(v) for v in obj["values"]]
        return np.array(values, dtype=np.float64).reshape(obj["shape"])
    except (TypeError, ValueError) as error:
        raise GoldenFormatError(f"{where}: {error}") from None
