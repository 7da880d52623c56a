"""Ball matrix products for the arb backend: exact midpoints, rigorous radii.

A matrix of arb balls is split into its midpoints, which are dyadic and so exact
integers times one power of two (a :class:`~lstm_ref.exact.arith.Fixed`), and its radii
(float64 upper bounds). The product of two such matrices is

    mid = mid_A @ mid_B                        exactly (lstm_ref.exact.arith.int_matmul)
    rad >= |mid_A| @ rad_B + rad_A @ |mid_B| + rad_A @ rad_B

the radius computed in float64 and scaled up by a bound on its own rounding error.
Every product therefore encloses its exact value, and its midpoint is exact until the
caller adds the terms of an affine sum and rounds once. This is faster than arb_mat's
product for large weights: the weight matrix is cut into limbs once, not converted at
every step, and the integers are multiplied with float64 BLAS, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_ref.exact.arith import Fixed, int_matmul, to_fixed

# Every computed radius gets this added: it bounds what float64 underflow can lose in
# the products (at most 2^-1075 per product, for inner dimensions below 2^70). Values
# under about 2^-800 cannot then be decided to 30 digits; the certifier says so.
UNDERFLOW = 2.0**-1000

# The inner dimension from which _exact_product multiplies through float64 limbs
# (int_matmul) instead of with FLINT's integer product. Cutting into limbs and carrying
# the limb sums back into Python ints is paid per entry, whatever the inner dimension,
# so FLINT wins on short ones. On 128 x 128 products of 120-bit integers the two cross
# between 32 and 128; from 256 the limbs are clearly faster (1.4 times).
LIMB_PRODUCT_MIN_INNER = 256


@dataclass(frozen=True)
class BallMatrix:
    """Exact midpoints, |midpoints| rounded up and radii as float64 arrays; `radius` is
    None when every ball is exact, `magnitude` None on a product (which is only ever
    converted back to balls)."""

    mid: Fixed
    magnitude: np.ndarray | None
    radius: np.ndarray | None

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.mid.ints.shape
        return rows, cols

    def transpose(self) -> BallMatrix:
        return BallMatrix(
            Fixed(self.mid.ints.T, self.mid.exp),
            None if self.magnitude is None else self.magnitude.T,
            None if self.radius is None else self.radius.T,
        )


def _up(values: np.ndarray) -> np.ndarray:
    """Float64 values nudged up by one ulp: an upper bound of what they approximate to
    within half an ulp."""
    return np.nextafter(values, np.inf)


def exact_matrix(values: np.ndarray) -> BallMatrix:
    """A float64 matrix (a weight) as exact balls."""
    values = np.asarray(values, dtype=np.float64)
    return BallMatrix(to_fixed(values), np.abs(values), None)


def ball_matrix(balls: np.ndarray) -> BallMatrix:
    """A 2-D object array of arb balls (or of floats) as a BallMatrix."""
    if balls.dtype != object:
        return exact_matrix(balls)
    rows, cols = balls.shape
    mids, magnitudes, radii = [], [], []
    exact = True
    for ball in balls.flat:
        if ball.is_nan():
            raise ArithmeticError("a ball is NaN: the evaluation lost every digit")
        mid, rad = ball.mid(), ball.rad()
        mids.append(mid.man_exp())
        magnitudes.append(float(mid))
        radii.append(float(rad))  # may round a tiny radius to 0.0: _up restores a bound
        exact = exact and rad.is_zero()
    exps = [int(e) for m, e in mids if m != 0]
    low = min(exps, default=0)
    ints = np.empty(rows * cols, dtype=object)
    ints[:] = [int(m) << (int(e) - low) if m != 0 else 0 for m, e in mids]
    # float() rounds to nearest (within half an ulp, subnormals included): one ulp up
    # bounds the value; a ball too large for float64 gives inf.
    magnitude = _up(np.abs(np.array(magnitudes, dtype=np.float64))).reshape(rows, cols)
    radius = None if exact else _up(np.array(radii, dtype=np.float64).reshape(rows, cols))
    return BallMatrix(Fixed(ints.reshape(rows, cols), low), magnitude, radius)


def matmul(a: BallMatrix, b: BallMatrix) -> BallMatrix:
    """An enclosure of a @ b: the midpoint product exact, the radius rigorous."""
    mid = _exact_product(a.mid, b.mid)
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
    return BallMatrix(mid, None, radius)


def _exact_product(a: Fixed, b: Fixed) -> Fixed:
    """a @ b exactly: float64 limb products (int_matmul) for long inner dimensions, where
    the limbs' count is paid once per output; FLINT's integer product for short ones
    (a parameter gradient: a sum over a few steps' rows of a large outer product)."""
    rows, inner = a.ints.shape
    cols = b.ints.shape[1]
    if inner >= LIMB_PRODUCT_MIN_INNER:
        return int_matmul(a, b)
    import flint

    x = flint.fmpz_mat(rows, inner, [int(v) for v in a.ints.flat])
    y = flint.fmpz_mat(inner, cols, [int(v) for v in b.ints.flat])
    out = np.empty(rows * cols, dtype=object)
    out[:] = [int(v) for v in (x * y).entries()]
    return Fixed(out.reshape(rows, cols), a.exp + b.exp)


def add(terms: list[BallMatrix]) -> BallMatrix:
    """The exact sum of the midpoints (aligned to the lowest exponent), the radii added
    (rounded up)."""
    low = min(t.mid.exp for t in terms)
    ints = sum(
        t.mid.ints * (1 << (t.mid.exp - low)) if t.mid.exp != low else t.mid.ints for t in terms
    )
    radii = [t.radius for t in terms if t.radius is not None]
    radius = None
    if radii:
        radius = radii[0]
        for r in radii[1:]:
            radius = _up(radius + r)
    return BallMatrix(Fixed(np.asarray(ints, dtype=object), low), None, radius)


def to_balls(flint: Any, matrix: BallMatrix, bias: list[Fixed] | None = None) -> np.ndarray:
    """The balls of a BallMatrix, plus exact bias rows, each rounded once to the
    working precision (arb adds the rounding error to the radius)."""
    rows, cols = matrix.shape
    ints, exp = matrix.mid.ints, matrix.mid.exp
    if bias:
        low = min([exp] + [b.exp for b in bias])
        row = sum(b.ints * (1 << (b.exp - low)) for b in bias)
        ints, exp = ints * (1 << (exp - low)) + row, low
    ints = flint.fmpz_mat(rows, cols, [int(v) for v in np.asarray(ints).flat])
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
