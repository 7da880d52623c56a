"""Correct rounding of exact (mpf) values to IEEE binary formats, directly, never through
float64.

Round to nearest, ties to even, with the format's subnormals and overflow to
infinity; bfloat16 values are returned in float32 arrays (numpy has no bfloat16).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mpmath
import numpy as np
from mpmath.libmp import from_float, from_int, from_man_exp, mpf_add, mpf_neg

if TYPE_CHECKING:
    from flint import arb


@dataclass(frozen=True)
class Format:
    """A binary floating-point format: `precision` bits incl. the hidden one, exponents."""

    name: str
    precision: int
    emin: int
    emax: int
    numpy_dtype: type

    @property
    def largest(self) -> float:
        return math.ldexp(2 - 2.0 ** (1 - self.precision), self.emax)

    @property
    def unit(self) -> float:
        """u = 2^-p: the largest relative error of rounding to nearest (for error bounds)."""
        return 2.0**-self.precision

    def tiny(self, flush: bool) -> float:
        """The largest absolute error of rounding near zero (half the subnormal spacing,
        or the smallest normal number when subnormals are flushed)."""
        return 2.0**self.emin if flush else 2.0 ** (self.emin - self.precision)


# round_floats clamps magnitudes to this before rounding to a narrower format: above
# the largest finite value of every format narrower than float64 (below 2^128), so a
# clamped value still overflows to infinity; and far enough below float64's 2^1024 that
# no step of the rounding overflows (numpy would warn, and pytest takes warnings as errors).
NARROWER_CLAMP = 2.0**1000

FORMATS = {
    f.name: f
    for f in (
        Format("float64", 53, -1022, 1023, np.float64),
        Format("float32", 24, -126, 127, np.float32),
        Format("float16", 11, -14, 15, np.float16),
        Format("bfloat16", 8, -126, 127, np.float32),
    )
}


def round_to(value: mpmath.mpf, fmt: Format) -> float:
    """`value` correctly rounded to `fmt`, returned as a Python float (exact).

    An arb ball rounds to the value both its ends round to, or to NaN where they
    differ (the ball does not decide the rounding).

    >>> round_to(mpmath.mpf(1) / 3, FORMATS["bfloat16"])
    0.333984375
    >>> round_to(mpmath.mpf(70000), FORMATS["float16"])
    inf
    """
    if hasattr(value, "rad") and hasattr(value, "mid"):
        lower, upper = (round_to(end, fmt) for end in ball_ends(value))
        return lower if lower == upper else math.nan
    return round_raw(_raw(value), fmt)


def round_raw(value: tuple, fmt: Format) -> float:
    """A raw mpf tuple (sign, mantissa, exponent, bits) correctly rounded to `fmt`."""
    sign, man, exp, bc = value
    if not man:
        if exp != 0 or bc != 0:  # mpmath's inf and nan carry no mantissa either
            return float(mpmath.mp.make_mpf((sign, man, exp, bc)))
        return -0.0 if sign else 0.0
    top = exp + bc - 1  # 2^top <= |value| < 2^(top+1)
    quantum = max(top, fmt.emin) - fmt.precision + 1
    if exp >= quantum:
        rounded = man << (exp - quantum)
    else:
        shift = quantum - exp
        rounded, rest = man >> shift, man & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if rest > half or (rest == half and rounded & 1):
            rounded += 1
    result = math.ldexp(rounded, quantum) if rounded.bit_length() + quantum <= 1024 else math.inf
    if result > fmt.largest:
        result = math.inf
    return -result if sign else result


def round_floats(values: np.ndarray, fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    """float64 values correctly rounded to a narrower `fmt` with numpy (ties to even,
    subnormals, overflow to infinity), and the mask of the values that lie exactly on
    a rounding boundary: halfway between two neighbours, or at the overflow threshold.

    Every step is exact in float64: a scaling by a power of two, np.rint (ties to
    even), the scaling back.

    >>> rounded, tie = round_floats(np.array([1 + 2.0**-11, 1 + 3 * 2.0**-11, 65519.0, 65520.0,
    ...                                       -1e-9]), FORMATS["float16"])
    >>> rounded.tolist(), tie.tolist()
    ([1.0, 1.001953125, 65504.0, inf, -0.0], [True, True, False, True, False])
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    magnitude = np.minimum(np.abs(np.where(finite, v, 0.0)), NARROWER_CLAMP)
    _, exponent = np.frexp(magnitude)  # 2^(exponent - 1) <= magnitude < 2^exponent
    quantum = np.maximum(exponent - 1, fmt.emin) - fmt.precision + 1
    scaled = np.ldexp(magnitude, -quantum)
    rounded = np.ldexp(np.rint(scaled), quantum)
    rounded = np.where(rounded > fmt.largest, np.inf, rounded)
    tie = finite & (scaled - np.floor(scaled) == 0.5)
    return np.where(finite, np.copysign(rounded, v), v), tie


def _raw(value: mpmath.mpf | int | float) -> tuple[int, int, int, int]:
    """The exact (sign, mantissa, exponent, bits) of an mpf, int or float: never through
    mpmath.mpf(), which would first round to the caller's working precision."""
    if isinstance(value, mpmath.mpf):
        return value._mpf_
    if isinstance(value, int):
        return from_int(value)
    return from_float(float(value))


def ball_ends(ball: arb) -> tuple[mpmath.mpf, mpmath.mpf]:
    """The exact ends mid - rad and mid + rad of an arb ball, as mpf (no rounding)."""
    if ball.is_nan():
        return mpmath.mpf("nan"), mpmath.mpf("nan")
    mid, rad = (exact_value(part) for part in (ball.mid(), ball.rad()))
    return (
        mpmath.mp.make_mpf(mpf_add(mid._mpf_, mpf_neg(rad._mpf_), 0)),
        mpmath.mp.make_mpf(mpf_add(mid._mpf_, rad._mpf_, 0)),
    )


def exact_value(value: arb) -> mpmath.mpf:
    """An exact arb value (a midpoint or a radius) as an mpf, without rounding."""
    man, exp = value.man_exp()
    return mpmath.mp.make_mpf(from_man_exp(int(man), int(exp)))


def round_array(values: np.ndarray, dtype: str) -> np.ndarray:
    """An object array of mpf rounded elementwise to `dtype` ("float64", ..., "bfloat16")."""
    if dtype not in FORMATS:
        raise ValueError(f"`dtype` must be one of {', '.join(FORMATS)}; got {dtype!r}")
    fmt = FORMATS[dtype]
    flat = [round_to(v, fmt) for v in values.flat]
    return np.array(flat, dtype=np.float64).astype(fmt.numpy_dtype).reshape(values.shape)


def representable(values: np.ndarray, dtype: str) -> np.ndarray:
    """Elementwise: does `dtype` hold the float64 value exactly?"""
    fmt = FORMATS[dtype]
    flat = [round_to(float(v), fmt) == v for v in np.ravel(values)]
    return np.array(flat, dtype=bool).reshape(np.shape(values))
