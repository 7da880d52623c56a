"""Certification of computed values: enclosures and correctly rounded values per format.

Two methods (the file records which). With python-flint (`arb`), ball arithmetic: one
evaluation whose every value is a proven enclosure. With mpmath alone, Ziv's strategy: evaluate at a precision p and at p + 64 bits;
the radius is the distance between the two plus 2^-(p-8) relative: agreement of two
precisions alone proves nothing (tanh(128) rounds to 1 at both), so a tie that is
exactly met stays undecided under this method; arb decides it. Where the enclosure [mid - rad, mid + rad] does not decide every stored
rounding, or is wider than the requested digits, the evaluation is repeated at twice
the precision, up to a cap; values still undecided there are flagged, never guessed.
This is a heuristic certificate (two precisions agree), not a proof; the file says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
from mpmath.libmp import mpf_add, mpf_neg

from lstm_ref.exact.backends import Undecidable
from lstm_ref.exact.rounding import FORMATS, exact_value, round_to

METHODS = {
    "ziv-mpmath": (
        "Ziv's strategy with mpmath: each value was evaluated at the listed precisions; "
        "the radius bounds the distance between the last two, plus 2^-(p-8) relative at "
        "the last precision p, and the decimal rounding of the midpoint. Every stored "
        "rounding is the rounding of both ends of the enclosure. "
        "A heuristic certificate: two precisions agree."
    ),
    "arb": (
        "Ball arithmetic with python-flint's arb at the last listed precision: every "
        "operation, matrix product and activation encloses its exact result, so the "
        "radius (plus the decimal rounding of the midpoint) is a proof. Every stored "
        "rounding is the rounding of both ends of the ball. A rigorous certificate."
    ),
}
STEP_BITS = 64
UNIT_SLACK_BITS = 8


@dataclass
class Certified:
    """Certified values of one case, per output name (flattened row-major).

    `mid` holds decimal strings of `digits` significant digits; `rad` decimal strings
    rounded up; `rounded[fmt]` Python floats (None where undecided); `undecided` the
    flat indices that no precision up to the cap decided.
    """

    shapes: dict[str, tuple[int, ...]]
    mid: dict[str, list[str]]
    rad: dict[str, list[str]]
    rounded: dict[str, dict[str, list[float | None]]]
    undecided: dict[str, list[int]]
    precisions: list[int]


def certify(evaluate: Callable[[int, str], dict[str, np.ndarray]], digits: int,
            method: str = "ziv-mpmath", max_bits: int | None = None) -> Certified:
    """Evaluate at rising precision until every value is decided, or `max_bits` is passed.

    `evaluate(bits, arithmetic)` returns object arrays of mpf ("mpmath") or of arb
    balls ("arb") computed at that working precision.
    """
    if method not in METHODS:
        raise ValueError(f"`certify` must be one of {', '.join(METHODS)}; got {method!r}")
    bits = math.ceil(digits * math.log2(10)) + STEP_BITS
    max_bits = max_bits or 8 * bits
    precisions: list[int] = []
    while True:
        if method == "arb":
            precisions.append(bits)
            try:
                balls = evaluate(bits, "arb")
            except Undecidable:
                if 2 * bits > max_bits:
                    raise
                bits *= 2
                continue
            enclosures = {name: [_ball(b) for b in array.flat] for name, array in balls.items()}
            shapes = {name: array.shape for name, array in balls.items()}
        else:
            low, high = evaluate(bits, "mpmath"), evaluate(bits + STEP_BITS, "mpmath")
            precisions += [bits, bits + STEP_BITS]
            enclosures = {name: [_ziv(a, b, bits + STEP_BITS)
                                 for a, b in zip(low[name].flat, array.flat)]
                          for name, array in high.items()}
            shapes = {name: array.shape for name, array in high.items()}
        with mpmath.workprec(2 * bits + 2 * STEP_BITS):
            result, all_decided = _enclose(enclosures, shapes, digits)
        if all_decided or 2 * bits > max_bits:
            result.precisions = precisions
            return result
        bits *= 2


def _ziv(low: mpmath.mpf, high: mpmath.mpf, bits: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(midpoint, radius) from two evaluations, the second at `bits`.

    The radius always keeps a relative slack of 2^-(bits-8): two precisions can agree
    on a rounded value (tanh(128) is 1 at both), so agreement alone proves nothing.
    """
    mid = high  # kept as computed: converting it here would round it to the caller's precision
    with mpmath.workprec(2 * bits):
        return mid, abs(mid - low) + abs(mid) * mpmath.ldexp(1, UNIT_SLACK_BITS - bits)


def _ball(ball: object) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(midpoint, radius) of an arb ball, both exactly as mpf."""
    return exact_value(ball.mid()), exact_value(ball.rad())  # type: ignore[attr-defined]


def _enclose(enclosures: dict[str, list[tuple[mpmath.mpf, mpmath.mpf]]],
             shapes: dict[str, tuple[int, ...]], digits: int) -> tuple[Certified, bool]:
    out = Certified({}, {}, {}, {}, {}, [])
    all_decided = True
    tolerance = mpmath.mpf(10) ** -digits
    for name, pairs in enclosures.items():
        mids, rads, undecided = [], [], []
        rounded: dict[str, list[float | None]] = {fmt: [] for fmt in FORMATS}
        for index, (mid, radius) in enumerate(pairs):
            # Decided: the binary enclosure is narrower than the digits asked for, and
            # both its ends round alike in every format.
            lower = mpmath.mp.make_mpf(mpf_add(mid._mpf_, mpf_neg(radius._mpf_), 0))
            upper = mpmath.mp.make_mpf(mpf_add(mid._mpf_, radius._mpf_, 0))
            ends = [round_to(lower, f) for f in FORMATS.values()]
            decided = ends == [round_to(upper, f) for f in FORMATS.values()]
            decided = decided and radius <= tolerance * abs(mid)
            text = mpmath.nstr(mid, digits, strip_zeros=False) if mid else "0"
            # The stored, decimal enclosure, in exact rational arithmetic.
            stored_radius = _exact(radius) + abs(Fraction(text) - _exact(mid))
            if not decided:
                undecided.append(index)
                all_decided = False
            for fmt, value in zip(FORMATS, ends):
                rounded[fmt].append(value if decided else None)
            mids.append(text)
            rads.append(_round_up(stored_radius))
        out.shapes[name] = shapes[name]
        out.mid[name], out.rad[name], out.rounded[name] = mids, rads, rounded
        if undecided:
            out.undecided[name] = undecided
    return out, all_decided


def _exact(value: mpmath.mpf) -> Fraction:
    sign, man, exp, _ = value._mpf_
    magnitude = Fraction(man) * Fraction(2) ** exp
    return -magnitude if sign else magnitude


def _round_up(radius: Fraction) -> str:
    """`radius` rounded up to two significant decimal digits, as "12e-45" (exactly).

    >>> _round_up(Fraction(1234, 10**40)), _round_up(Fraction(25, 10**32)), _round_up(Fraction(0))
    ('13e-38', '25e-32', '0')
    """
    if radius == 0:
        return "0"
    exponent = len(str(radius.numerator)) - len(str(radius.denominator)) - 3
    while radius >= Fraction(100) * Fraction(10) ** exponent:
        exponent += 1
    while radius < Fraction(10) * Fraction(10) ** exponent:
        exponent -= 1
    mantissa = math.ceil(radius / Fraction(10) ** exponent)
    if mantissa == 100:
        mantissa, exponent = 10, exponent + 1
    return f"{mantissa}e{exponent}"
