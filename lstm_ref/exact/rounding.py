"""Correct rounding of exact (mpf) values to IEEE binary formats, directly, never through float64.

Round to nearest, ties to even, with the format's subnormals and overflow to
infinity; bfloat16 values are returned in float32 arrays (numpy has no bfloat16).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np


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

    >>> round_to(mpmath.mpf(1) / 3, FORMATS["bfloat16"])
    0.333984375
    >>> round_to(mpmath.mpf(70000), FORMATS["float16"])
    inf
    """
    sign, man, exp, bc = mpmath.mpf(value)._mpf_
    if not man:
        if exp != 0 or bc != 0:  # mpmath's inf and nan carry no mantissa either
            return float(mpmath.mpf(value))
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


def round_array(values: np.ndarray, dtype: str) -> np.ndarray:
    """An object array of mpf rounded elementwise to `dtype` ("float64", ..., "bfloat16")."""
    if dtype not in FORMATS:
        raise ValueError(f"`dtype` must be one of {', '.join(FORMATS)}; got {dtype!r}")
    fmt = FORMATS[dtype]
    flat = [round_to(v, fmt) for v in values.flat]
    return np.array(flat, dtype=np.float64).astype(fmt.numpy_dtype).reshape(values.shape)
