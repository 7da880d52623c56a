"""Exact arithmetic on dyadic rationals: matrix products with Python integers.

Inputs, weights and every mpf value are dyadic rationals m * 2^e. An array of them
is stored as one integer array and one common exponent (:class:`Fixed`); a matrix
product is then an exact integer product, and an affine sum W_1 v_1 + W_2 v_2 + b
is exact until it is rounded once, to the working precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np
from mpmath.libmp import from_man_exp, round_nearest


@dataclass(frozen=True)
class Fixed:
    """An exact array: `ints * 2**exp`, `ints` an object array of Python ints; `limbs`
    caches its int64 limbs for matrix products (:func:`int_matmul`)."""

    ints: np.ndarray
    exp: int
    limbs: dict[bool, np.ndarray] = field(default_factory=dict, compare=False, repr=False)


def to_mpf(values: np.ndarray) -> np.ndarray:
    """A float array as an object array of mpf, exactly (the working precision is >= 53 bits).

    An object array (of mpf already) is copied as it is, without rounding.
    """
    if values.dtype == object:
        return values.copy()
    out = np.empty(values.shape, dtype=object)
    out.flat[:] = [mpmath.mpf(float(v)) for v in values.flat]
    return out


def to_fixed(values: np.ndarray) -> Fixed:
    """An object array of mpf (or a float array) as exact integers with one common exponent."""
    if values.dtype != object:
        return _floats_to_fixed(np.asarray(values, dtype=np.float64))
    mpf = mpmath.mpf
    parts = [v._mpf_ if type(v) is mpf else mpf(v)._mpf_ for v in values.flat]
    exps = [exp for _, man, exp, _ in parts if man]
    low = min(exps, default=0)
    ints = np.empty(values.shape, dtype=object)
    ints.flat[:] = [(-man if sign else man) << (exp - low) for sign, man, exp, _ in parts]
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


LIMB_BITS = 16  # limb products < 2^32; sums over an inner dimension < 2^21 stay < 2^53


def _limbs(ints: np.ndarray) -> np.ndarray:
    """Signed 16-bit limbs of an integer array, as float64: ints = sum_k limbs[k] 2^(16 k),
    each limb holding 16 bits of the magnitude with the element's sign. Shape (count,
    *ints.shape)."""
    flat = [int(v) for v in ints.flat]
    widest = max((abs(v) for v in flat), default=0).bit_length()
    count = max(1, -(-widest // LIMB_BITS))
    if widest <= 62:  # int64 holds them: cut with numpy
        values = np.array(flat, dtype=np.int64)
        magnitude, sign = np.abs(values), np.where(values < 0, -1.0, 1.0)
        limbs = np.stack([(magnitude >> (LIMB_BITS * k)) & 0xFFFF for k in range(count)], axis=1)
    else:
        sign = np.array([-1.0 if v < 0 else 1.0 for v in flat])
        raw = b"".join(abs(v).to_bytes(2 * count, "little") for v in flat)
        limbs = np.frombuffer(raw, dtype="<u2").reshape(len(flat), count)
    limbs = limbs.astype(np.float64) * sign[:, None]
    return limbs.T.reshape(count, *ints.shape)


def limbs_of(fixed: Fixed, transpose: bool = False) -> np.ndarray:
    """The limbs of `fixed.ints` (or of its transpose), computed once per Fixed."""
    if transpose not in fixed.limbs:
        fixed.limbs[transpose] = _limbs(fixed.ints.T if transpose else fixed.ints)
    return fixed.limbs[transpose]


def _from_limbs(sums: np.ndarray) -> np.ndarray:
    """Python ints from int64 limb sums (count, M, N): value = sum_k sums[k] 2^(16 k).
    Carries are propagated in int64 (floor shifts), then each element's low limbs are
    read as bytes and its signed top limb added."""
    sums = sums.copy()
    for k in range(len(sums) - 1):
        carry = sums[k] >> LIMB_BITS
        sums[k] -= carry << LIMB_BITS
        sums[k + 1] += carry
    count, rows, cols = sums.shape
    low = np.ascontiguousarray(sums[:-1].transpose(1, 2, 0)).astype("<u2").tobytes()
    width = 2 * (count - 1)
    shift = LIMB_BITS * (count - 1)
    top = sums[-1].ravel().tolist()
    out = np.empty(rows * cols, dtype=object)
    out[:] = [
        int.from_bytes(low[i * width : (i + 1) * width], "little") + (t << shift)
        for i, t in enumerate(top)
    ]
    return out.reshape(rows, cols)


def int_matmul(a: Fixed, b: Fixed, transpose_a: bool = False, transpose_b: bool = False) -> Fixed:
    """The exact product a @ b (either transposed first), with float64 matrix products.

    Both are cut into signed 16-bit limbs (:func:`limbs_of`, kept for reuse: a weight
    matrix is cut once). Every limb product is an integer below 2^32 and every sum of
    them over an inner dimension below 2^21 is below 2^53, so one float64 matrix
    product of the stacked limbs (BLAS) is exact; the limb sums are carried back into
    Python ints. Larger inner dimensions use plain big-integer np.dot.
    """
    x = a.ints.T if transpose_a else a.ints
    y = b.ints.T if transpose_b else b.ints
    rows, inner, cols, exp = x.shape[0], x.shape[1], y.shape[1], a.exp + b.exp
    if inner == 0:
        return Fixed(np.zeros((rows, cols), dtype=object) * 0, exp)
    if inner >= 1 << 21:
        return Fixed(np.dot(x, y), exp)
    la, lb = limbs_of(a, transpose_a), limbs_of(b, transpose_b)
    if min(len(la), len(lb)) >= 1 << 10:  # limb sums could pass 2^63
        return Fixed(np.dot(x, y), exp)
    products = la.reshape(-1, inner) @ lb.transpose(1, 0, 2).reshape(inner, -1)
    products = products.reshape(len(la), rows, len(lb), cols).astype(np.int64)
    sums = np.zeros((len(la) + len(lb) - 1, rows, cols), dtype=np.int64)
    for i in range(len(la)):  # at most min(len(la), len(lb)) terms a sum: far below 2^10
        sums[i : i + len(lb)] += products[i].transpose(1, 0, 2)
    return Fixed(_from_limbs(sums), exp)


def affine(products: list[tuple[Fixed, Fixed]], biases: list[Fixed]) -> np.ndarray:
    """Sum of V_k @ W_k.T plus biases, exact, then rounded once to the working precision.

    Each product pairs a batch of vectors (B, K) with a weight matrix (N, K); biases
    have shape (N,). Returns an object array (B, N) of mpf.
    """
    terms = [int_matmul(v, w, transpose_b=True) for v, w in products] + biases
    low = min(t.exp for t in terms)
    total = sum(t.ints * (1 << (t.exp - low)) for t in terms)
    total = np.broadcast_to(total, (products[0][0].ints.shape[0], terms[0].ints.shape[-1]))
    return rounded(Fixed(total, low))


def rounded(fixed: Fixed) -> np.ndarray:
    """An exact array rounded, once per element, to the working precision (mpf objects)."""
    prec, low, make = mpmath.mp.prec, fixed.exp, mpmath.mp.make_mpf
    out = np.empty(fixed.ints.shape, dtype=object)
    out.flat[:] = [make(from_man_exp(int(m), low, prec, round_nearest)) for m in fixed.ints.flat]
    return out


class ExactSum:
    """A parameter gradient's sum over steps and rows: exact (Python integers), rounded
    once at the end.

    Terms are collected as they come and summed when the value is read: the outer
    products dt^T v of every step as one exact product of the stacked rows (a long inner
    dimension suits :func:`int_matmul`), the row sums as one sum.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.outer: list[tuple[np.ndarray, np.ndarray]] = []
        self.rows: list[np.ndarray] = []

    def add_outer(self, dt: np.ndarray, v: np.ndarray) -> None:
        """Add dt^T v for a batch of rows: dt (R, N), v (R, K) object arrays of mpf."""
        self.outer.append((dt, v))

    def add_rows(self, values: np.ndarray) -> None:
        """Add the sum over rows of `values` (R, N), an object array of mpf."""
        self.rows.append(values)

    def value(self) -> np.ndarray:
        """The sum, rounded once to the working precision."""
        terms = []
        if self.outer:
            dt = to_fixed(np.concatenate([d for d, _ in self.outer]))
            v = to_fixed(np.concatenate([w for _, w in self.outer]))
            terms.append(int_matmul(dt, v, transpose_a=True))
        if self.rows:
            fixed = to_fixed(np.concatenate(self.rows))
            terms.append(Fixed(fixed.ints.sum(axis=0), fixed.exp))
        if not terms:
            return rounded(Fixed(np.zeros(self.shape, dtype=object) * 0, 0))
        low = min(t.exp for t in terms)
        total = sum(t.ints * (1 << (t.exp - low)) for t in terms)
        return rounded(Fixed(np.asarray(total, dtype=object).reshape(self.shape), low))
