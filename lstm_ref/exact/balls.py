"""Ball matrix products for the arb backend: exact midpoints, rigorous radii.

A matrix of arb balls is split into its midpoints, which are dyadic and so exact
integers times one power of two (an fmpz_mat), and its radii (float64 upper bounds).
The product of two such matrices is

    mid = mid_A @ mid_B                        exactly, with FLINT's integer product
    rad >= |mid_A| @ rad_B + rad_A @ |mid_B| + rad_A @ rad_B

the radius computed in float64 and scaled up by a bound on its own rounding error.
Every product therefore encloses its exact value, and its midpoint is exact until the
caller adds the terms of an affine sum and rounds once. This is faster than arb_mat's
product when one side is exact (the weights): the weight matrix is converted once,
not at every step, and the integers are multiplied in C.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_ref.exact.arith import Fixed, to_fixed

# Every computed radius gets this added: it bounds what float64 underflow can lose in
# the products (at most 2^-1075 per product, for inner dimensions below 2^70). Values
# under about 2^-800 cannot then be decided to 30 digits; the certifier says so.
UNDERFLOW = 2.0**-1000


@dataclass(frozen=True)
class BallMatrix:
    """Midpoints `ints * 2**exp` (an fmpz_mat), |midpoints| rounded up and radii as
    float64 arrays; `radius` is None when every ball is exact, `magnitude` None on a
    product (which is only ever converted back to balls)."""

    ints: Any
    exp: int
    magnitude: np.ndarray | None
    radius: np.ndarray | None

    @property
    def shape(self) -> tuple[int, int]:
        return self.ints.nrows(), self.ints.ncols()

    def transpose(self) -> BallMatrix:
        return BallMatrix(self.ints.transpose(), self.exp,
                          None if self.magnitude is None else self.magnitude.T,
                          None if self.radius is None else self.radius.T)


def _up(values: np.ndarray) -> np.ndarray:
    """Float64 values nudged up by one ulp: an upper bound of what they approximate to
    within half an ulp."""
    return np.nextafter(values, np.inf)


def exact_matrix(flint: Any, values: np.ndarray) -> BallMatrix:
    """A float64 matrix (a weight) as exact balls."""
    fixed = to_fixed(np.asarray(values, dtype=np.float64))
    rows, cols = fixed.ints.shape
    ints = flint.fmpz_mat(rows, cols, [int(v) for v in fixed.ints.flat])
    return BallMatrix(ints, fixed.exp, np.abs(np.asarray(values, dtype=np.float64)), None)


def ball_matrix(flint: Any, balls: np.ndarray) -> BallMatrix:
    """A 2-D object array of arb balls (or of floats) as a BallMatrix."""
    if balls.dtype != object:
        return exact_matrix(flint, balls)
    rows, cols = balls.shape
    mids, magnitudes, radii = [], [], []
    for ball in balls.flat:
        if ball.is_nan():
            raise ArithmeticError("a ball is NaN: the evaluation lost every digit")
        mid = ball.mid()
        mids.append(mid.man_exp())
        magnitudes.append(float(mid))
        radii.append(float(ball.rad()))
    exps = [int(e) for m, e in mids if m != 0]
    low = min(exps, default=0)
    ints = flint.fmpz_mat(rows, cols, [int(m) << (int(e) - low) if m != 0 else 0 for m, e in mids])
    # float() rounds to nearest (within half an ulp, subnormals included): one ulp up
    # bounds the value; a ball too large for float64 gives inf.
    magnitude = _up(np.abs(np.array(magnitudes, dtype=np.float64))).reshape(rows, cols)
    radius = np.array(radii, dtype=np.float64).reshape(rows, cols)
    radius = _up(radius) if radius.any() else None
    return BallMatrix(ints, low, magnitude, radius)


def matmul(a: BallMatrix, b: BallMatrix) -> BallMatrix:
    """An enclosure of a @ b: the midpoint product exact, the radius rigorous."""
    ints = a.ints * b.ints
    terms = []
    if b.radius is not None:
        assert a.magnitude is not None
        terms.append(a.magnitude @ b.radius)
    if a.radius is not None:
        assert b.magnitude is not None
        terms.append(a.radius @ b.magnitude)
        if b.radius is not None:
            terms.append(a.radius @ b.radius)
    radius = None
    if terms:
        # Each float64 product term is within gamma_n = n u / (1 - n u) of its exact
        # value (u = 2^-53; sums of nonnegative terms, any order, FMA or not), and
        # adding up to three terms costs 2 u more: (n + 4) 2^-51 covers both for
        # n < 2^40. The multiplication is rounded up; UNDERFLOW covers the products
        # that fell below float64's range.
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        scale = 1.0 + (a.shape[1] + 4) * 2.0**-51
        radius = _up(_up(total * scale) + UNDERFLOW)
    return BallMatrix(ints, a.exp + b.exp, None, radius)


def add(terms: list[BallMatrix]) -> BallMatrix:
    """The exact sum of the midpoints (aligned to the lowest exponent), the radii added
    (rounded up)."""
    low = min(t.exp for t in terms)
    ints = None
    for t in terms:
        shifted = t.ints * (1 << (t.exp - low)) if t.exp != low else t.ints
        ints = shifted if ints is None else ints + shifted
    radii = [t.radius for t in terms if t.radius is not None]
    radius = None
    if radii:
        radius = radii[0]
        for r in radii[1:]:
            radius = _up(radius + r)
    return BallMatrix(ints, low, None, radius)


def to_balls(flint: Any, matrix: BallMatrix, bias: list[Fixed] | None = None) -> np.ndarray:
    """The balls of a BallMatrix, plus exact bias rows, each rounded once to the
    working precision (arb adds the rounding error to the radius)."""
    rows, cols = matrix.shape
    ints, exp = matrix.ints, matrix.exp
    if bias:
        low = min([exp] + [b.exp for b in bias])
        row = [0] * cols
        for b in bias:
            shift = b.exp - low
            row = [r + (int(v) << shift) for r, v in zip(row, b.ints.flat)]
        ints = ints * (1 << (exp - low)) + flint.fmpz_mat(rows, cols, row * rows)
        exp = low
    # The scaling by an exact power of two rounds each entry to the working precision.
    values = flint.arb_mat(ints) * flint.arb((1, exp))
    if matrix.radius is not None:
        # Radii as exact integers times a power of two, times the ball [0 +/- 1]: every
        # entry [0 +/- r], added to the midpoints in C.
        fixed = to_fixed(matrix.radius)
        radii = flint.fmpz_mat(rows, cols, [int(v) for v in fixed.ints.flat])
        values = values + flint.arb_mat(radii) * flint.arb(0, 1) * flint.arb((1, fixed.exp))
    out = np.empty(rows * cols, dtype=object)
    out[:] = values.entries()
    return out.reshape(rows, cols)
