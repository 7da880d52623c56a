"""Verify golden suites: manifest checksums, schema, and recomputation at higher precision.

    lstm-ref golden verify golden/standard
    lstm-ref golden verify golden              # every suite in the folder, one report each

A suite is a folder holding a manifest.json; a folder of suites holds suites as
subfolders (and any subfolder holding JSON files is checked as a suite, so that a suite
that lost its manifest is reported, not skipped).

Every stored value is recomputed 64 bits above the highest precision its test was
certified at (with arb balls for arb-certified files, when python-flint is installed);
the recomputed value must lie in the stored enclosure (compared as exact rationals) and
round to every stored float64, float32, float16 and bfloat16 value; each radius must be
narrower than the stated digits, and null roundings must be exactly the undecided ones.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import mpmath

from lstm_ref.exact.rounding import FORMATS, ball_ends, round_to
from lstm_ref.golden.format import MANIFEST, GoldenFormatError, hex_float
from lstm_ref.golden.generate import values_at
from lstm_ref.golden.load import GoldenCase, load_file, read_manifest, resolve

MAX_PROBLEMS_PER_TEST = 5
SHOWN_ENTRIES = 8  # of a folder that is not a suite, in its error


def suite_directories(argument: str | Path) -> list[Path]:
    """The suites an argument names: a suite (a folder with a manifest.json, or a suite
    name, :func:`~lstm_ref.golden.load.resolve`), or every suite of a folder of suites.

    >>> import shutil, tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("standard", "smoke"):
    ...     (root / name).mkdir()
    ...     _ = (root / name / MANIFEST).write_text("{}")
    >>> [path.name for path in suite_directories(root)]
    ['smoke', 'standard']
    >>> suite_directories(root / "smoke") == [root / "smoke"]
    True
    >>> shutil.rmtree(root)

    Anything else is a GoldenFormatError naming the argument, what was expected and what
    was found; a name or path that does not exist, resolve's FileNotFoundError.
    """
    path = Path(argument)
    if not path.exists():
        return [resolve(argument)]
    if path.is_dir() and (path / MANIFEST).is_file():
        return [path]
    if path.is_dir():
        folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        if any((folder / MANIFEST).is_file() for folder in folders):
            return [
                folder
                for folder in folders
                if (folder / MANIFEST).is_file() or any(folder.glob("*.json"))
            ]
    raise _not_a_suite(path)


def _not_a_suite(path: Path) -> GoldenFormatError:
    """The error for a path that is neither a suite nor a folder of suites: the path,
    what was expected, and what it holds."""
    return GoldenFormatError(
        f"{str(path)!r}: expected a golden suite (a folder with "
        f"{MANIFEST}) or a folder of suites; found {_found(path)}"
    )


def _found(path: Path) -> str:
    """What a path that is neither a suite nor a folder of suites holds, in words."""
    if not path.is_dir():
        return "a file"
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    if not entries:
        return "an empty folder"
    shown = ", ".join(entries[:SHOWN_ENTRIES])
    more = f" and {len(entries) - SHOWN_ENTRIES} more" if len(entries) > SHOWN_ENTRIES else ""
    return f"a folder without {MANIFEST} and without suites, holding {shown}{more}"


def verify(
    suite: str | Path,
    recompute: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[str]:
    """Every problem found in a suite, or in every suite of a folder of suites
    (:func:`suite_directories`), one line each naming file, case and value."""
    try:
        directories = suite_directories(suite)
    except (GoldenFormatError, FileNotFoundError) as error:
        return [str(error)]
    problems = []
    for directory in directories:
        problems += _verify_suite(directory, recompute, progress)
    return problems


def _verify_suite(
    directory: Path, recompute: bool, progress: Callable[[int, int, str], None] | None
) -> list[str]:
    """Every problem found in one suite directory."""
    if not (directory / MANIFEST).is_file():  # a folder of suites' subfolder with JSON files
        return [str(_not_a_suite(directory))]
    try:
        files = read_manifest(directory)
    except GoldenFormatError as error:
        return [str(error)]
    problems = []
    unlisted = sorted(
        p.name for p in directory.glob("*.json") if p.name != MANIFEST and p.name not in files
    )
    if unlisted:
        problems.append(f"{directory}: files not in the manifest: {unlisted}")
    cases: list[GoldenCase] = []
    for name in files:
        try:
            cases += load_file(directory / name)
        except GoldenFormatError as error:
            problems.append(str(error))
    if recompute:
        for done, case in enumerate(cases):
            if progress:
                progress(done, len(cases), case.id)
            problems += verify_case(case)
        if progress:
            progress(len(cases), len(cases), "done")
    return problems


def _fraction(value: mpmath.mpf) -> Fraction:
    sign, man, exp, _ = value._mpf_
    exact = Fraction(man) * (Fraction(2) ** exp)
    return -exact if sign else exact


def verify_case(case: GoldenCase) -> list[str]:
    """Recompute one case and compare every stored enclosure and rounding.

    Files certified with arb are recomputed with arb where python-flint is installed:
    the recomputed ball must lie inside the stored enclosure and both its ends round to
    every stored value. Otherwise mpmath recomputes the value 64 bits higher.
    """
    bits = max(case.certification["precisions"]) + 64
    where = f"{case.file}: test {case.id!r}"
    arithmetic = "arb" if case.certification["method"] == "arb" and _has_flint() else "mpmath"
    values = values_at(case.spec, case.params, case.inputs, case.cotangents, bits, arithmetic)
    if set(values) != set(case.stored):
        return [f"{where}: stores {sorted(case.stored)}; the spec computes {sorted(values)}"]
    problems: list[str] = []
    width = Fraction(1, 10 ** (case.digits - 1))
    for name, array in values.items():
        entry = case.stored[name]
        undecided = set(case.certification["undecided"].get(name, []))
        for index, value in enumerate(array.flat):
            if len(problems) >= MAX_PROBLEMS_PER_TEST:
                return problems + [f"{where}: more problems not listed"]
            label = f"{where}: {name}[{index}]"
            roundings = [entry[fmt][index] for fmt in FORMATS]
            if (index in undecided) != all(r is None for r in roundings) or (
                index not in undecided and None in roundings
            ):
                problems.append(
                    f"{label}: roundings {roundings} disagree with the test's `undecided` list"
                )
                continue
            # Exact rational comparisons: the decimal strings and the dyadic value (or ball).
            mid, rad = Fraction(entry["mid"][index]), Fraction(entry["rad"][index])
            if index not in undecided and rad > width * abs(mid):
                problems.append(
                    f"{label}: radius {entry['rad'][index]} is wider than "
                    f"{case.digits} digits of {entry['mid'][index]}"
                )
                continue
            low, high = _ends(value)
            if low < mid - rad or high > mid + rad:
                problems.append(
                    f"{label} = {_show(value)} lies outside the stored enclosure "
                    f"{entry['mid'][index]} +- {entry['rad'][index]}"
                )
                continue
            for fmt, rounding in FORMATS.items():
                stored, actual = entry[fmt][index], round_to(value, rounding)
                if stored is not None and (math.isnan(actual) or stored != hex_float(actual)):
                    problems.append(
                        f"{label} {fmt}: stored {stored}, but the value "
                        f"{_show(value)} rounds to {hex_float(actual)}"
                    )
    return problems


def _has_flint() -> bool:
    return importlib.util.find_spec("flint") is not None


def _ends(value: Any) -> tuple[Fraction, Fraction]:
    """The exact ends of a ball, or an mpf value twice."""
    if hasattr(value, "rad"):
        low, high = ball_ends(value)
        return _fraction(low), _fraction(high)
    exact = _fraction(value)
    return exact, exact


def _show(value: object) -> str:
    return str(value) if hasattr(value, "rad") else mpmath.nstr(value, 30)
