"""Certification: an enclosure of every computed value, and its correctly rounded values.

:func:`certify` evaluates one case at rising precision until every value is decided,
by one of two methods; the golden file records which, and the precisions it took.

- ``arb``: ball arithmetic with python-flint. One evaluation on arb balls, each of
  which provably encloses the exact value: a rigorous certificate. A comparison that a
  ball cannot decide (at the kink of a piecewise activation) raises
  :class:`~lstm_ref.exact.backends.Undecidable`; the case is evaluated again at twice
  the precision, and the error is raised once `max_bits` is reached.
- ``ziv-mpmath``: Ziv's strategy, with mpmath alone. Each value is evaluated at a
  precision p and at p + 64 bits; the midpoint is the second value, the radius the
  distance between the two plus 2^-(p+56) of the midpoint (8 bits of slack below the
  higher precision). The slack is needed because two precisions can agree on a rounded
  value (tanh(128) is 1 at both), so agreement alone proves nothing. A heuristic
  certificate, not a proof; the file says so.

A value is decided when its enclosure [mid - rad, mid + rad] is narrower than the
requested digits (rad <= 10^-digits |mid|) and both its ends round to the same value in
every format (float64, float32, float16, bfloat16; round to nearest, ties to even).
Each stored rounding is therefore the rounding of the enclosure itself, never of a
float64 value rounded again: a narrower format is rounded from the float64 result only
where that provably gives the same answer, and where the float64 result is a rounding
boundary of that format, both ends are rounded exactly. Most arb balls are decided from
float64 bounds alone (`_Enclosures.fast`); the rest exactly.

The first precision is ceil(digits * log2(10)) + 64 bits. While a value is undecided the
precision at least doubles, and rises further when the undecided values' radii show more
bits missing (long recurrences lose bits to ball arithmetic's wrapping effect), up to
`max_bits` (default 8 times the first). Values still undecided there are listed and get
no rounding: never guessed.

The stored midpoints are decimal strings of `digits` significant digits; each stored
radius is the binary radius plus the exact distance from the decimal midpoint to the
binary one, rounded up (:func:`decimal_radius`), so the decimal enclosure contains the
binary one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import mpmath
import numpy as np
from mpmath.libmp import mpf_add, mpf_neg, to_str

from lstm_ref.exact.backends import Undecidable
from lstm_ref.exact.rounding import FORMATS, exact_value, round_floats, round_raw

if TYPE_CHECKING:
    from flint import arb

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

# _Enclosures.fast decides a ball from float64 bounds only when its midpoint's magnitude
# lies between these, far from float64's ends (2^-1022 and 2^1024): there the spacing of
# the doubles around the midpoint is a normal number, and no bound, scaled by the slack,
# overflows. Its tolerance, 10^-digits times that magnitude, must also stay above
# FAST_MIN_TOLERANCE: a normal number, with room for the slack (it underflows for 200
# digits at 2^-700). Other balls are decided exactly.
FAST_MIN_MAGNITUDE = 2.0**-800
FAST_MAX_MAGNITUDE = 2.0**1000
FAST_MIN_TOLERANCE = 2.0**-1000

# log10(2) to five digits, as the fraction 30103 / 100000 for integer arithmetic:
# _round_up_ratio makes a first guess of a decimal exponent from a difference of bit
# lengths with it, and its loop then corrects the guess, so the digits only save steps.
LOG10_2_NUMERATOR, LOG10_2_DENOMINATOR = 30103, 100000


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


def certify(
    evaluate: Callable[[int, str], dict[str, np.ndarray]],
    digits: int,
    method: str = "ziv-mpmath",
    max_bits: int | None = None,
) -> Certified:
    """Evaluate at rising precision until every value is decided, or `max_bits` is reached.

    The precision at least doubles each time, and rises further when the undecided
    values' radii show more bits are missing (:func:`_missing_bits`).

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
                if bits >= max_bits:
                    raise
                bits = min(max_bits, 2 * bits)
                continue
            enclosures = {
                name: _Enclosures(balls=list(array.flat)) for name, array in balls.items()
            }
            shapes = {name: array.shape for name, array in balls.items()}
        else:
            low, high = evaluate(bits, "mpmath"), evaluate(bits + STEP_BITS, "mpmath")
            precisions += [bits, bits + STEP_BITS]
            enclosures = {
                name: _Enclosures(
                    pairs=[
                        _ziv(a, b, bits + STEP_BITS)
                        for a, b in zip(low[name].flat, array.flat, strict=True)
                    ]
                )
                for name, array in high.items()
            }
            shapes = {name: array.shape for name, array in high.items()}
        with mpmath.workprec(2 * bits + 2 * STEP_BITS):
            result, all_decided = _decide(enclosures, shapes, digits)
            if all_decided or bits >= max_bits:
                _write_decimals(result, enclosures, digits)  # only for the precision kept
                result.precisions = precisions
                return result
            bits = min(max_bits, max(2 * bits, bits + _missing_bits(result, enclosures, digits)))
        del enclosures  # the balls of a large case take gigabytes: free them before the next


def _ziv(low: mpmath.mpf, high: mpmath.mpf, bits: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(midpoint, radius) from two evaluations, the second at `bits`.

    The radius always keeps a relative slack of 2^-(bits-8): two precisions can agree
    on a rounded value (tanh(128) is 1 at both), so agreement alone proves nothing.
    """
    mid = high  # kept as computed: converting it here would round it to the caller's precision
    with mpmath.workprec(2 * bits):
        return mid, abs(mid - low) + abs(mid) * mpmath.ldexp(1, UNIT_SLACK_BITS - bits)


def _ball(ball: arb) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(midpoint, radius) of an arb ball, both exactly as mpf."""
    return exact_value(ball.mid()), exact_value(ball.rad())


class _Enclosures:
    """The enclosures of one output, in row-major order: arb balls (method arb) or
    (midpoint, radius) pairs of mpf (method ziv-mpmath). A ball becomes an exact pair
    only when one is needed: most are decided from float64 bounds (:meth:`fast`)."""

    def __init__(
        self,
        balls: list[arb] | None = None,
        pairs: list[tuple[mpmath.mpf, mpmath.mpf]] | None = None,
    ) -> None:
        self.balls, self._pairs = balls, pairs
        given = balls if balls is not None else pairs
        assert given is not None, "balls or pairs"
        self.size = len(given)
        # float64 bounds of |midpoint| and of the radius, from fast()
        self.mid: np.ndarray | None = None
        self.rad: np.ndarray | None = None

    def pair(self, index: int) -> tuple[mpmath.mpf, mpmath.mpf]:
        if self._pairs is not None:
            return self._pairs[index]
        assert self.balls is not None
        return _ball(self.balls[index])

    def fast(self, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
        """For balls: the float64 rounding of the values decided from float64 bounds
        alone (NaN elsewhere), and the mask of those found undecided.

        With m the float64 near the midpoint, |mid - m| and the radius bounded above
        (each one ulp up), every point of the ball rounds to m when their sum stays
        below half the spacing of the doubles around m; the tolerance is met or missed
        when the radius is clearly (by 2^-40 relative) below or above it. The rest is
        left to the exact decision.
        """
        flint = _flint()
        assert self.balls is not None, "only balls have float64 bounds"
        mids = [ball.mid() for ball in self.balls]
        m = np.array([float(x) for x in mids])
        gap = np.array(
            [float((x - flint.arb(v)).abs_upper()) for x, v in zip(mids, m.tolist(), strict=True)]
        )
        rad = np.array([float(ball.rad()) for ball in self.balls])
        gap, rad = np.nextafter(gap, np.inf), np.nextafter(rad, np.inf)
        size = np.abs(m)
        usable = (
            np.isfinite(m)
            & (np.abs(m) > FAST_MIN_MAGNITUDE)
            & (np.abs(m) < FAST_MAX_MAGNITUDE)
            & np.isfinite(rad)
            & (tolerance * size > FAST_MIN_TOLERANCE)
        )
        half = np.minimum(np.spacing(size), size - np.nextafter(size, 0)) / 2
        slack = 1 + 2.0**-40
        rounds = usable & ((gap + rad) * slack < half)
        met = usable & (rad * slack <= tolerance * size / slack)
        missed = usable & (rad / slack > tolerance * size * slack)
        self.mid, self.rad = np.where(usable, size, np.nan), rad
        return np.where(rounds & met, m, np.nan), missed

    def log2_ratio(self, index: int) -> float:
        """log2(radius / |midpoint|), roughly (for choosing the next precision)."""
        if (
            self.mid is not None
            and self.rad is not None
            and np.isfinite(self.mid[index])
            and self.rad[index] > 0
        ):
            return math.log2(self.rad[index] / self.mid[index])
        mid, radius = self.pair(index)
        return float(mpmath.log(radius / abs(mid), 2)) if mid and radius else 0.0


def _flint() -> ModuleType:
    import flint

    return flint


def _decide(
    enclosures: dict[str, _Enclosures], shapes: dict[str, tuple[int, ...]], digits: int
) -> tuple[Certified, bool]:
    """Which values the enclosures decide, and their roundings in every format."""
    out = Certified({}, {}, {}, {}, {}, [])
    all_decided = True
    tolerance = mpmath.mpf(10) ** -digits
    double, narrower = FORMATS["float64"], [f for f in FORMATS.values() if f.name != "float64"]
    for name, values in enclosures.items():
        r64 = np.full(values.size, math.nan)
        pending = np.ones(values.size, dtype=bool)
        if values.balls is not None:
            r64, missed = values.fast(10.0**-digits)
            pending &= np.isnan(r64) & ~missed
        ends: dict[int, tuple[tuple, tuple]] = {}
        for index in np.flatnonzero(pending).tolist():
            mid, radius = values.pair(index)
            lower, upper = _ends(values, ends, index)
            low, high = round_raw(lower, double), round_raw(upper, double)
            # Decided: the binary enclosure is narrower than the digits asked for, and
            # both its ends round alike in every format (NaN ends differ).
            if low == high and radius <= tolerance * abs(mid):
                r64[index] = low
        # Both ends round to the same float64 r: then no rounding boundary of a narrower
        # format lies strictly between them unless r is one (boundaries are float64
        # values, and rounding is monotone), so both round like r, computed with numpy;
        # where r is a boundary, both ends are rounded exactly.
        decided = ~np.isnan(r64)
        rounded: dict[str, np.ndarray] = {double.name: r64}
        for fmt in narrower:
            rounding, tie = round_floats(r64, fmt)
            for index in np.flatnonzero(tie & decided).tolist():
                low, high = (round_raw(end, fmt) for end in _ends(values, ends, index))
                rounding[index] = low
                decided[index] = low == high
            rounded[fmt.name] = rounding
        undecided = np.flatnonzero(~decided).tolist()
        out.shapes[name] = shapes[name]
        out.rounded[name] = {
            fmt: [
                float(v) if ok else None for v, ok in zip(rounding.tolist(), decided, strict=True)
            ]
            for fmt, rounding in rounded.items()
        }
        if undecided:
            out.undecided[name] = undecided
            all_decided = False
    return out, all_decided


def _ends(
    values: _Enclosures, ends: dict[int, tuple[tuple, tuple]], index: int
) -> tuple[tuple, tuple]:
    """The exact ends (raw mpf) of one enclosure, computed once into `ends`."""
    if index not in ends:
        mid, radius = values.pair(index)
        ends[index] = (
            mpf_add(mid._mpf_, mpf_neg(radius._mpf_), 0),
            mpf_add(mid._mpf_, radius._mpf_, 0),
        )
    return ends[index]


def _missing_bits(result: Certified, enclosures: dict[str, _Enclosures], digits: int) -> int:
    """How many more bits the undecided values need, judged by their widest radius
    against the digits asked for, plus STEP_BITS of room. Long recurrences lose bits in
    proportion to their length (ball arithmetic's wrapping effect), often far more than
    doubling the precision restores; each evaluation costs about as much at any
    precision, so one larger step beats several doublings."""
    worst = 0
    for name, indices in result.undecided.items():
        for index in indices:
            worst = max(worst, int(enclosures[name].log2_ratio(index)) + 1)
    return worst + math.ceil(digits * math.log2(10)) + STEP_BITS


def _write_decimals(out: Certified, enclosures: dict[str, _Enclosures], digits: int) -> None:
    """The stored decimal enclosures: each midpoint to `digits` significant digits, and
    the binary radius plus the distance from the decimal midpoint to the binary one,
    exactly, rounded up."""
    for name, values in enclosures.items():
        mids, rads = [], []
        for index in range(values.size):
            mid, radius = values.pair(index)
            text = to_str(mid._mpf_, digits, strip_zeros=False) if mid else "0"
            mids.append(text)
            rads.append(decimal_radius(text, mid._mpf_, radius._mpf_))
        out.mid[name], out.rad[name] = mids, rads


def decimal_radius(text: str, mid: tuple, radius: tuple) -> str:
    """|text - mid| + radius, exactly (integers over 2^a 10^b), rounded up to two
    significant digits. `mid` and `radius` are raw mpf tuples; `text` a decimal string.

    >>> third = mpmath.mpf(1) / 3
    >>> decimal_radius("0.333", third._mpf_, mpmath.mpf(0)._mpf_)
    '34e-5'
    >>> decimal_radius("0.25", mpmath.mpf(0.25)._mpf_, mpmath.mpf(2.0**-70)._mpf_)
    '85e-23'
    """
    d, k = _decimal(text)
    sign, man, e, _ = mid
    m = -int(man) if sign else int(man)
    _, r, f, _ = radius
    r = int(r)
    a = max(0, -e if m else 0, -f if r else 0)
    b = max(0, -k)
    ten_b = 10**b
    numerator = abs(d * 10 ** (k + b) * (1 << a) - (m << (e + a) if m else 0) * ten_b)
    if r:
        numerator += (r << (f + a)) * ten_b
    return _round_up_ratio(numerator, (1 << a) * ten_b)


def _decimal(text: str) -> tuple[int, int]:
    """A decimal string ("-1.25e-5", "0.0031", "12.") as (d, k) with value d * 10^k.

    >>> _decimal("-1.25e-5"), _decimal("0.0031"), _decimal("12."), _decimal("0")
    ((-125, -7), (31, -4), (12, 0), (0, 0))
    """
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    return int(whole + fraction), int(exponent or 0) - len(fraction)


def _round_up_ratio(numerator: int, denominator: int) -> str:
    """numerator / denominator (>= 0) rounded up to two significant digits, "12e-45".

    >>> _round_up_ratio(1234, 10**40), _round_up_ratio(25, 10**32), _round_up_ratio(0, 1)
    ('13e-38', '25e-32', '0')
    >>> _round_up_ratio(995, 10)  # 99.5 rounds up to 100: written 10e+1
    '10e1'
    """
    if numerator == 0:
        return "0"

    def scaled(exponent: int) -> tuple[int, int]:  # the ratio / 10^exponent as n / d
        if exponent >= 0:
            return numerator, denominator * 10**exponent
        return numerator * 10**-exponent, denominator

    bits = numerator.bit_length() - denominator.bit_length()
    exponent = bits * LOG10_2_NUMERATOR // LOG10_2_DENOMINATOR - 2
    while True:  # the exponent with 10 <= ratio / 10^exponent < 100
        n, d = scaled(exponent)
        if n >= 100 * d:
            exponent += 1
        elif n < 10 * d:
            exponent -= 1
        else:
            break
    mantissa = -(-n // d)
    if mantissa == 100:
        mantissa, exponent = 10, exponent + 1
    return f"{mantissa}e{exponent}"
