"""Exact arithmetic on dyadic rationals: matrix products with Python integers.

Inputs, weights and every mpf value are dyadic rationals m * 2^e. An array of them
is stored as one integer array and one common exponent (:class:`Fixed`); a matrix
product is then an exact integer product, and an affine sum W_1 v_1 + W_2 v_2 + b
is exact until it is rounded once, to the working precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
from mpmath.libmp import from_man_exp, round_nearest


@dataclass(frozen=True)
class Fixed:
    """An exact array: `ints * 2**exp`, `ints` an object array of Python ints."""

    ints: np.ndarray
    exp: int


def to_mpf(values: np.ndarray) -> np.ndarray:
    """A float array as an object array of mpf, exactly (the working precision is >= 53 bits).

    An object array (of mpf already) is copied as it is, without rounding.
    """
    if values.dtype == object:
        return values.copy()
    out = np.empty(values.shape, dtype=object)
    out.flat = [mpmath.mpf(float(v)) for v in values.flat]
    return out


def to_fixed(values: np.ndarray) -> Fixed:
    """An object array of mpf (or a float array) as exact integers with one common exponent."""
    if values.dtype != object:
        return _floats_to_fixed(np.asarray(values, dtype=np.float64))
    parts = [mpmath.mpf(v)._mpf_ for v in values.flat]
    exps = [exp for _, man, exp, _ in parts if man]
    low = min(exps, default=0)
    ints = np.empty(values.shape, dtype=object)
    ints.flat = [(-man if sign else man) << (exp - low) for sign, man, exp, _ in parts]
    return Fixed(ints, low)


def _floats_to_fixed(values: np.ndarray) -> Fixed:
    """A float64 array as exact integers with one common exponent, computed with numpy:
    each value is its 53-bit mantissa times a power of two, trailing zero bits removed."""
    if not np.all(np.isfinite(values)):
        raise ValueError("only finite values have an exact integer form")
    fraction, exponent = np.frexp(values)
    mantissa = (fraction * 2.0**53).astype(np.int64)  # exact: |fraction| < 1
    exponent = exponent.astype(np.int64) - 53
    nonzero = mantissa != 0
    if not nonzero.any():
        return Fixed(np.zeros(values.shape, dtype=object), 0)
    low_bit = mantissa & -mantissa  # the lowest set bit: 2^(trailing zeros)
    zeros = np.where(nonzero, np.log2(np.where(nonzero, low_bit, 1)).round().astype(np.int64), 0)
    mantissa >>= zeros
    exponent += zeros
    low = int(exponent[nonzero].min())
    shift = np.where(nonzero, exponent - low, 0)
    ints = mantissa.astype(object) * (2 ** shift.astype(object))  # Python ints: no overflow
    return Fixed(np.asarray(ints, dtype=object).reshape(values.shape), low)


def affine(products: list[tuple[Fixed, Fixed]], biases: list[Fixed]) -> np.ndarray:
    """Sum of V_k @ W_k.T plus biases, exact, then rounded once to the working precision.

    Each product pairs a batch of vectors (B, K) with a weight matrix (N, K); biases
    have shape (N,). Returns an object array (B, N) of mpf.
    """
    terms = [Fixed(np.dot(v.ints, w.ints.T), v.exp + w.exp) for v, w in products] + biases
    low = min(t.exp for t in terms)
    total = sum(t.ints * (1 << (t.exp - low)) for t in terms)
    total = np.broadcast_to(total, (products[0][0].ints.shape[0], terms[0].ints.shape[-1]))
    prec = mpmath.mp.prec
    out = np.empty(total.shape, dtype=object)
    out.flat = [mpmath.mp.make_mpf(from_man_exp(int(m), low, prec, round_nearest)) for m in total.flat]
    return out


class ExactSum:
    """A running sum of dyadic arrays, kept exact (Python integers), rounded once at the end."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.ints = np.zeros(shape, dtype=object)
        self.ints.fill(0)
        self.exp: int | None = None

    def add(self, term: Fixed) -> None:
        if self.exp is None:
            self.ints, self.exp = self.ints + term.ints, term.exp
        elif term.exp >= self.exp:
            self.ints = self.ints + term.ints * (1 << (term.exp - self.exp))
        else:
            self.ints = self.ints * (1 << (self.exp - term.exp)) + term.ints
            self.exp = term.exp

    def add_outer(self, dt: np.ndarray, v: np.ndarray) -> None:
        """Add dt^T v for a batch of rows: dt (R, N), v (R, K) object arrays of mpf."""
        a, b = to_fixed(dt), to_fixed(v)
        self.add(Fixed(np.dot(a.ints.T, b.ints), a.exp + b.exp))

    def add_rows(self, values: np.ndarray) -> None:
        """Add the sum over rows of `values` (R, N), an object array of mpf."""
        fixed = to_fixed(values)
        self.add(Fixed(fixed.ints.sum(axis=0), fixed.exp))

    def value(self) -> np.ndarray:
        """The sum, rounded once to the working precision."""
        prec, exp = mpmath.mp.prec, self.exp or 0
        out = np.empty(self.ints.shape, dtype=object)
        out.flat = [mpmath.mp.make_mpf(from_man_exp(int(m), exp, prec, round_nearest))
                    for m in self.ints.flat]
        return out
