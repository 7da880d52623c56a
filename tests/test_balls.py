"""Ball matrix products (lstm_ref.exact.balls) against exact interval arithmetic.

For each output entry the exact range of sum_j a_ij b_jk over every point of the input
balls is computed with Fractions (each term's range from its four corners); the
output ball must contain both ends of that range. Radii include zero, tiny ones
(whose float64 products underflow) and ordinary ones; midpoints span many binades.
"""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest

from lstm_ref.exact import balls

flint = pytest.importorskip("flint", reason="ball products are the arb backend's (python-flint)")


def exact(value) -> Fraction:
    """An exact arb midpoint or radius as a Fraction."""
    man, exp = value.man_exp()
    return Fraction(int(man)) * Fraction(2) ** int(exp)


def contains(ball, value: Fraction) -> bool:
    mid, rad = exact(ball.mid()), exact(ball.rad())
    return mid - rad <= value <= mid + rad


def random_balls(rng: random.Random, rows: int, cols: int, radii: bool):
    """Balls with random 100-bit midpoints over many binades, and radii of every kind."""
    out = np.empty((rows, cols), dtype=object)
    box = np.empty((rows, cols), dtype=object)
    for index in np.ndindex(rows, cols):
        mid = (rng.randint(-(1 << 100), 1 << 100), rng.randint(-160, -60))
        rad = 0
        if radii:
            rad = rng.choice(
                [
                    0,
                    (1, rng.randint(-1090, -1040)),
                    (rng.randint(1, 1 << 29), rng.randint(-200, -100)),
                ]
            )
        ball = flint.arb(mid) if not rad else flint.arb(mid) + flint.arb(0, 1) * flint.arb(rad)
        out[index] = ball
        m, r = exact(ball.mid()), exact(ball.rad())
        box[index] = (m - r, m + r)
    return out, box


def exact_range(a_box, b_box, i, k):
    low = high = Fraction(0)
    for j in range(a_box.shape[1]):
        (a0, a1), (b0, b1) = a_box[i, j], b_box[j, k]
        corners = [a0 * b0, a0 * b1, a1 * b0, a1 * b1]
        low, high = low + min(corners), high + max(corners)
    return low, high


@pytest.mark.parametrize("b_radii", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_products_enclose_every_point_of_the_input_balls(seed, b_radii):
    rng = random.Random(seed)
    saved = flint.ctx.prec
    flint.ctx.prec = 64
    try:
        a, a_box = random_balls(rng, 3, 7, radii=True)
        if b_radii:
            b, b_box = random_balls(rng, 7, 4, radii=True)
            b_matrix = balls.ball_matrix(b)
        else:
            values = np.array(
                [
                    [
                        rng.choice([0.0, 1.0]) * rng.uniform(-4, 4) * 2.0 ** rng.randint(-20, 10)
                        for _ in range(4)
                    ]
                    for _ in range(7)
                ]
            )
            b_box = np.empty(values.shape, dtype=object)
            for index, v in np.ndenumerate(values):
                b_box[index] = (Fraction(v), Fraction(v))
            b_matrix = balls.exact_matrix(values)
        product = balls.to_balls(flint, balls.matmul(balls.ball_matrix(a), b_matrix))
        for i, k in np.ndindex(product.shape):
            low, high = exact_range(a_box, b_box, i, k)
            assert contains(product[i, k], low) and contains(product[i, k], high), (i, k)
    finally:
        flint.ctx.prec = saved


def test_exact_inputs_give_the_correctly_rounded_midpoint_and_its_error():
    # Exact balls in, one rounding out: the midpoint is the exact sum rounded to the
    # working precision (bias included), and the ball contains the exact sum.
    saved = flint.ctx.prec
    flint.ctx.prec = 53
    try:
        a = np.array([[1 / 3, 2.0**-40], [5.0, -7.25]])
        w = np.array([[3.0, 1.0], [2.0**30, -1.0]])
        bias = balls.to_fixed(np.array([2.0**-60, 1.0]))
        product = balls.to_balls(
            flint, balls.matmul(balls.exact_matrix(a), balls.exact_matrix(w)), [bias]
        )
        for i, k in np.ndindex(2, 2):
            want = sum(Fraction(a[i, j]) * Fraction(w[j, k]) for j in range(2)) + Fraction(
                float([2.0**-60, 1.0][k])
            )
            assert contains(product[i, k], want)
            assert abs(exact(product[i, k].mid()) - want) <= abs(want) * Fraction(1, 2**52)
    finally:
        flint.ctx.prec = saved


def test_a_nan_ball_is_refused():
    with pytest.raises(ArithmeticError, match="NaN"):
        balls.ball_matrix(np.array([[flint.arb("nan")]], dtype=object))
