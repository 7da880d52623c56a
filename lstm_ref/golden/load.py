"""Load golden suites as numpy arrays, in any of the four dtypes.

    >>> from lstm_ref.golden import load_suite
    >>> cases = load_suite("smoke")                          # doctest: +SKIP
    >>> case = cases[0]                                      # doctest: +SKIP
    >>> x, h0, c0 = case.inputs_as("float16")                # doctest: +SKIP
    >>> case.expected("float16")["y"]                        # doctest: +SKIP

Loading checks each file against the manifest's sha256 and the schema, and refuses
unknown format versions; a failure names the file and what to do.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mpmath
import numpy as np

from lstm_ref.exact.rounding import FORMATS
from lstm_ref.files import sha256
from lstm_ref.golden.format import (
    MANIFEST,
    GoldenFormatError,
    check_version,
    decode_exact,
    read_json,
)
from lstm_ref.golden.schema import validate
from lstm_ref.inputs import Inputs, validate_inputs
from lstm_ref.params import Params
from lstm_ref.spec import Spec, SpecError
from lstm_ref.version import __version__

ENVIRONMENT = "LSTM_REF_GOLDEN"


@dataclass(frozen=True)
class GoldenCase:
    """One golden test: its spec, exact inputs, and certified expected values.

    `params`, `inputs` and `cotangents` hold float64 arrays (exact). `expected(dtype)`
    gives the correctly rounded outputs (and gradients, "grad.*") in that dtype, NaN
    where the certification left a value undecided; `enclosure(name)` the midpoints
    and radii as mpmath numbers.
    """

    file: str
    tc_id: int
    id: str
    comment: str
    flags: tuple[str, ...]
    spec: Spec
    params: Params
    inputs: Inputs
    cotangents: dict[str, np.ndarray]
    stored: dict[str, Any]
    certification: dict[str, Any]
    digits: int

    @property
    def names(self) -> list[str]:
        """The stored expected values: outputs, then gradients."""
        return list(self.stored)

    def expected(self, dtype: str = "float64") -> dict[str, np.ndarray]:
        if dtype not in FORMATS:
            raise ValueError(f"`dtype` must be one of {', '.join(FORMATS)}; got {dtype!r}")
        out = {}
        for name, entry in self.stored.items():
            values = [np.nan if v is None else float.fromhex(v) for v in entry[dtype]]
            out[name] = np.array(values).astype(FORMATS[dtype].numpy_dtype).reshape(entry["shape"])
        return out

    def enclosure(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(mid, rad) of a stored value, object arrays of mpf at 4x the stored digits."""
        entry = self.stored[name]
        with mpmath.workdps(4 * max(len(m) for m in entry["mid"])):
            mid = np.array([mpmath.mpf(v) for v in entry["mid"]], dtype=object)
            rad = np.array([mpmath.mpf(v) for v in entry["rad"]], dtype=object)
        return mid.reshape(entry["shape"]), rad.reshape(entry["shape"])

    def inputs_as(self, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """x, h0, c0 in `dtype` (exact: every value lies on the shared grid)."""
        kind = FORMATS[dtype].numpy_dtype
        c0: np.ndarray | None = None if self.inputs.c0 is None else self.inputs.c0.astype(kind)
        return self.inputs.x.astype(kind), self.inputs.h0.astype(kind), c0

    def params_as(self, dtype: str) -> dict[str, np.ndarray]:
        kind = FORMATS[dtype].numpy_dtype
        return {name: value.astype(kind) for name, value in self.params.items()}


def resolve(suite: str | os.PathLike[str]) -> Path:
    """A suite directory: a path, or a suite name looked up in $LSTM_REF_GOLDEN, the
    `golden/` folder of the lstm_ref checkout, or the user's cache. A named suite found in
    none of them (an installed wheel carries no data) is generated into the cache once:
    the generator is deterministic, so it is the same suite."""
    path = Path(suite)
    if path.is_dir():
        return path
    roots = [Path(os.environ[ENVIRONMENT])] if ENVIRONMENT in os.environ else []
    roots += [Path(__file__).resolve().parents[2] / "golden", cache_root()]
    for root in roots:
        if (root / str(suite) / MANIFEST).is_file():
            return root / str(suite)
    from lstm_ref.golden.catalogue import SUITES  # the names the generator knows

    if str(suite) not in SUITES:
        raise FileNotFoundError(
            f"`suite` {str(suite)!r} is neither a directory nor a suite under "
            f"{', '.join(map(str, roots))}: pass a suite's directory, set ${ENVIRONMENT}, or "
            f"name one of {', '.join(SUITES)}"
        )
    from lstm_ref.golden.generate import generate

    method = "arb" if importlib.util.find_spec("flint") else "ziv-mpmath"
    target = cache_root() / str(suite)
    print(
        f"lstm_ref: generating the {suite!r} golden suite into {target} ({method}); "
        "this happens once",
        file=sys.stderr,
    )
    generate(str(suite), target, quiet=True, method=method)
    return target


def cache_root() -> Path:
    """Where generated suites are kept: $XDG_CACHE_HOME/lstm_ref/golden/<version>."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "lstm_ref" / "golden" / __version__


def read_manifest(directory: Path) -> dict[str, str]:
    """The manifest's {file name: sha256}, checked against the files on disk."""
    manifest = read_json(directory / MANIFEST)
    check_version(manifest, str(directory / MANIFEST))
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise GoldenFormatError(f"{directory / MANIFEST}: `files` must map file names to sha256")
    for name, digest in files.items():
        path = directory / name
        if not path.is_file():
            raise GoldenFormatError(f"{path}: listed in the manifest but missing")
        actual = sha256(path)
        if actual != digest:
            raise GoldenFormatError(
                f"{path}: sha256 {actual} differs from the manifest's {digest}: the file was "
                f"changed or corrupted; regenerate it with `lstm-ref golden generate`"
            )
    return files


def load_file(path: Path) -> list[GoldenCase]:
    """The cases of one golden file, after the version and schema checks."""
    document = read_json(path)
    check_version(document, str(path))
    validate(document, str(path))
    cases = []
    for g, group in enumerate(document["testGroups"]):
        try:
            spec = Spec.from_json(group["spec"], force=True)
        except (SpecError, TypeError) as error:
            raise GoldenFormatError(f"{path}: testGroups[{g}].spec: {error}") from None
        for test in group["tests"]:
            cases.append(_case(path, spec, test, document["certification"]["digits"]))
    if len(cases) != document["numberOfTests"]:
        raise GoldenFormatError(
            f"{path}: numberOfTests is {document['numberOfTests']}; the file holds {len(cases)}"
        )
    return cases


def _case(path: Path, spec: Spec, test: dict[str, Any], digits: int) -> GoldenCase:
    where = f"{path}: test {test['id']!r}"
    try:
        arrays = test["inputs"]
        x = decode_exact(arrays["x"], f"{where}.inputs.x")
        h0 = decode_exact(arrays["h0"], f"{where}.inputs.h0")
        c0 = decode_exact(arrays["c0"], f"{where}.inputs.c0") if "c0" in arrays else None
        inputs = validate_inputs(
            spec, x, h0, c0, np.array(arrays["seq_lens"], dtype=np.int64), force=True
        )
        params = Params(
            spec, {k: decode_exact(v, f"{where}.params[{k!r}]") for k, v in test["params"].items()}
        )
        cot = {
            k: decode_exact(v, f"{where}.cotangents[{k!r}]")
            for k, v in test.get("cotangents", {}).items()
        }
    except (ValueError, TypeError, KeyError) as error:
        if isinstance(error, GoldenFormatError):
            raise
        raise GoldenFormatError(f"{where}: {error}") from None
    for name, entry in test["expected"].items():
        size = int(np.prod(entry["shape"], dtype=np.int64))
        for field in ("mid", "rad", *FORMATS):
            if len(entry[field]) != size:
                raise GoldenFormatError(
                    f"{where}.expected[{name!r}].{field}: expected {size} "
                    f"values for shape {entry['shape']}; "
                    f"got {len(entry[field])}"
                )
    return GoldenCase(
        str(path),
        test["tcId"],
        test["id"],
        test["comment"],
        tuple(test["flags"]),
        spec,
        params,
        inputs,
        cot,
        test["expected"],
        test["certification"],
        digits,
    )


def load_suite(suite: str | os.PathLike[str] = "standard") -> list[GoldenCase]:
    """Every case of a suite directory (or suite name), checked against its manifest."""
    directory = resolve(suite)
    files = read_manifest(directory)
    return [case for name in files for case in load_file(directory / name)]
