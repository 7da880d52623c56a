"""Correct rounding of high-precision values, checked against an exact rational reference
and, for float64 inputs, against numpy's own conversions."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from lstm_ref.exact.rounding import FORMATS, round_array, round_to

LAYOUT = {
    "float64": (53, -1022, 1023),
    "float32": (24, -126, 127),
    "float16": (11, -14, 15),
    "bfloat16": (8, -126, 127),
}


def nearest(value: Fraction, precision: int, emin: int, emax: int) -> float:
    """Round-to-nearest-even by exact rational search (independent of round_to)."""
    if value == 0:
        return 0.0
    magnitude = abs(value)
    top = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    while Fraction(2) ** top > magnitude:
        top -= 1
    while Fraction(2) ** (top + 1) <= magnitude:
        top += 1
    quantum = Fraction(2) ** (max(top, emin) - precision + 1)
    low = math.floor(magnitude / quantum)
    below, above = low * quantum, (low + 1) * quantum
    if magnitude - below < above - magnitude or (
        magnitude - below == above - magnitude and low % 2 == 0
    ):
        chosen = below
    else:
        chosen = above
    largest = (2 - Fraction(2) ** (1 - precision)) * Fraction(2) ** emax
    result = math.inf if chosen > largest else float(chosen)
    return math.copysign(result, value)


@pytest.mark.parametrize("name", list(FORMATS))
def test_matches_exact_rational_reference(name):
    rng = random.Random(name)
    with mpmath.workprec(300):
        for _ in range(3000):
            man = rng.getrandbits(rng.choice([9, 25, 54, 120, 200])) | 1
            exp = rng.randint(-160, 40) - man.bit_length()
            if name == "float16":
                exp = rng.randint(-40, 18) - man.bit_length()
            value = Fraction(man) * Fraction(2) ** exp * rng.choice([-1, 1])
            got = round_to(mpmath.mpf(value.numerator) / value.denominator, FORMATS[name])
            assert got == nearest(value, *LAYOUT[name]), (value, name)


def test_ties_and_boundaries():
    half = FORMATS["float16"]
    with mpmath.workprec(200):
        assert round_to(mpmath.mpf(65519), half) == 65504.0
        assert round_to(mpmath.mpf(65520), half) == math.inf
        assert round_to(mpmath.mpf(2) ** -25, half) == 0.0  # tie with zero: even
        assert round_to(mpmath.mpf(3) * mpmath.mpf(2) ** -26, half) == 2.0**-24
        assert round_to(1 + mpmath.mpf(2) ** -24 + mpmath.mpf(2) ** -80, FORMATS["float32"]) == (
            1 + 2.0**-23
        )  # float64 would first round this to a tie, then to 1 (double rounding)


def test_float64_inputs_match_numpy_casts():
    rng = np.random.default_rng(1)
    values = rng.standard_normal(5000) * 2.0 ** rng.integers(-150, 130, 5000)
    with mpmath.workprec(80):
        exact = np.array([mpmath.mpf(float(v)) for v in values], dtype=object)
        for name in ("float64", "float32", "float16"):
            with np.errstate(over="ignore"):
                expected = values.astype(FORMATS[name].numpy_dtype)
            np.testing.assert_array_equal(round_array(exact, name), expected)


def test_special_values_and_bad_dtype():
    with mpmath.workprec(80):
        values = np.array([mpmath.mpf("nan"), mpmath.mpf("-inf"), mpmath.mpf(0)], dtype=object)
        out = round_array(values, "float32")
    assert np.isnan(out[0]) and out[1] == -np.inf and out[2] == 0
    with pytest.raises(
        ValueError, match="`dtype` must be one of float64, float32, float16, bfloat16; got 'int8'"
    ):
        round_array(values, "int8")


def test_no_double_rounding_outside_a_precision_context():
    """A value computed at 200 bits keeps all its bits when rounded at mpmath's default
    precision (53 bits): 1 + 2^-24 + 2^-80 is just above a float32 tie."""
    with mpmath.workprec(200):
        value = 1 + mpmath.mpf(2) ** -24 + mpmath.mpf(2) ** -80
    assert mpmath.mp.prec == 53
    assert round_to(value, FORMATS["float32"]) == 1 + 2.0**-23
    assert round_array(np.array([value], dtype=object), "float32")[0] == np.float32(1 + 2.0**-23)


@pytest.mark.parametrize("name", ["float32", "float16", "bfloat16"])
def test_numpy_rounding_of_doubles_equals_exact_rounding(name):
    # round_floats (numpy, used by the certifier in bulk) against round_raw (exact
    # integers), on random doubles, every tie and its neighbours, the subnormals,
    # the overflow threshold and values past it.
    from lstm_ref.exact.rounding import round_floats, round_raw

    fmt = FORMATS[name]
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(4000) * 2.0 ** rng.integers(-150, 140, 4000)]
    quanta = [fmt.emin - fmt.precision + 1 + k for k in range(0, 2 * fmt.precision)]
    for q in quanta + [fmt.emax - fmt.precision + 1]:
        base = rng.integers(1, 2**fmt.precision, 200).astype(np.float64)
        ties = np.ldexp(base + 0.5, q)
        values += [ties, np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf), -ties]
    largest = fmt.largest
    threshold = largest + np.ldexp(1.0, fmt.emax - fmt.precision)  # halfway to 2^(emax+1)
    values.append(
        np.array(
            [
                largest,
                threshold,
                np.nextafter(threshold, 0),
                2 * threshold,
                0.0,
                -0.0,
                np.inf,
                -np.inf,
                5e-324,
                1e308,
                -1e308,
            ]
        )
    )
    doubles = np.concatenate(values)
    got, tie = round_floats(doubles, fmt)
    for value, rounded, is_tie in zip(doubles.tolist(), got.tolist(), tie.tolist(), strict=True):
        # mpmath has no negative zero: the raw tuple keeps the sign.
        if value == 0:
            exact = (int(math.copysign(1, value) < 0), 0, 0, 0)
        else:
            exact = mpmath.mpf(value)._mpf_
        want = round_raw(exact, fmt)
        assert rounded == want and str(rounded) == str(want), value
        scaled = exact_halfway(value, fmt)
        assert is_tie == scaled, value


def exact_halfway(value: float, fmt) -> bool:
    """Is `value` exactly halfway between two neighbours of `fmt` (or at its overflow
    threshold)? With Fractions: its distance to the format's grid at its binade."""
    import math
    from fractions import Fraction

    if not math.isfinite(value) or value == 0:
        return False
    magnitude = Fraction(abs(value))
    top = math.frexp(abs(value))[1] - 1
    quantum = Fraction(2) ** (max(top, fmt.emin) - fmt.precision + 1)
    return (magnitude / quantum) % 1 == Fraction(1, 2) and abs(value) < 2.0**1000
