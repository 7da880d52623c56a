"""Verify a golden suite: manifest checksums, schema, and recomputation at higher precision.

    lstm-ref golden verify golden/standard

Every stored value is recomputed 64 bits above the highest precision its test was
certified at; the recomputed value must lie in the stored enclosure (compared as exact
rationals) and round to every stored float64, float32, float16 and bfloat16 value.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import mpmath

from lstm_ref.exact.rounding import FORMATS, round_to
from lstm_ref.golden.format import MANIFEST, GoldenFormatError, hex_float
from lstm_ref.golden.generate import values_at
from lstm_ref.golden.load import GoldenCase, load_file, read_manifest, resolve

MAX_PROBLEMS_PER_TEST = 5


def verify(suite: str | Path, recompute: bool = True,
           progress: Callable[[int, int, str], None] | None = None) -> list[str]:
    """Every problem found in a suite directory, one line each naming file, case and value."""
    try:
        directory = resolve(suite)
        files = read_manifest(directory)
    except (GoldenFormatError, FileNotFoundError) as error:
        return [str(error)]
    problems = []
    unlisted = sorted(p.name for p in directory.glob("*.json")
                      if p.name != MANIFEST and p.name not in files)
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
            problems += check_case(case)
        if progress:
            progress(len(cases), len(cases), "done")
    return problems


def _fraction(value: mpmath.mpf) -> Fraction:
    sign, man, exp, _ = value._mpf_
    exact = Fraction(man) * (Fraction(2) ** exp)
    return -exact if sign else exact


def check_case(case: GoldenCase) -> list[str]:
    """Recompute one case and compare every stored enclosure and rounding."""
    bits = max(case.certification["precisions"]) + 64
    where = f"{case.file}: test {case.id!r}"
    values = values_at(case.spec, case.params, case.inputs, case.cotangents, bits)
    if set(values) != set(case.stored):
        return [f"{where}: stores {sorted(case.stored)}; the spec computes {sorted(values)}"]
    problems: list[str] = []
    for name, array in values.items():
        entry = case.stored[name]
        for index, value in enumerate(array.flat):
            if len(problems) >= MAX_PROBLEMS_PER_TEST:
                return problems + [f"{where}: more problems not listed"]
            # Exact rational comparison: the decimal strings and the dyadic value.
            mid, rad = Fraction(entry["mid"][index]), Fraction(entry["rad"][index])
            if abs(_fraction(value) - mid) > rad:
                problems.append(f"{where}: {name}[{index}] = {mpmath.nstr(value, 35)} lies "
                                f"outside the stored enclosure {entry['mid'][index]} +- "
                                f"{entry['rad'][index]}")
                continue
            for fmt, rounding in FORMATS.items():
                stored, actual = entry[fmt][index], hex_float(round_to(value, rounding))
                if stored is not None and stored != actual:
                    problems.append(f"{where}: {name}[{index}] {fmt}: stored {stored}, but the "
                                    f"value {mpmath.nstr(value, 25)} rounds to {actual}")
    return problems
