"""The arb backend: its balls enclose the mpmath values; undecidable comparisons raise."""

from __future__ import annotations

import sys

import mpmath
import numpy as np
import pytest
import sympy as sp

from lstm_ref import Spec, backward, forward, random_inputs, random_params
from lstm_ref.exact.backends import ArbBackend, ArbWeight, Undecidable, backend, compile_expression
from test_forward_textbook import CASES

flint = pytest.importorskip("flint", reason="the arb backend is the `flint` extra (python-flint)")


def contains(ball, value):
    """Exact containment of an mpf in an arb ball."""
    sign, man, exp, _ = value._mpf_
    saved = flint.ctx.prec
    flint.ctx.prec = max(saved, 2 * int(value._mpf_[3]) + 64)
    try:
        exact = flint.arb(flint.fmpz(int(-man if sign else man))) * flint.arb(2) ** exp
        return ball.contains(exact)
    finally:
        flint.ctx.prec = saved


@pytest.mark.parametrize("path", ["arb_mat", "exact midpoints"])
@pytest.mark.parametrize("name", sorted(n for n in CASES if "act-" not in n or "lstm" in n))
def test_balls_enclose_the_mpmath_values(name, path, monkeypatch):
    # Small weights use arb_mat products; large ones (here: every one) the exact
    # midpoint products of lstm_ref.exact.balls.
    if path == "exact midpoints":
        monkeypatch.setattr(ArbWeight, "LARGE", 0)
    spec = Spec(input_size=3, hidden_size=4, **CASES[name])
    params = random_params(spec, seed=6, scale=0.5)
    inputs = random_inputs(spec, steps=4, batch=3, seed=6, seq_lens=np.array([4, 0, 2]))
    args = (spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens)
    rng = np.random.default_rng(6)
    outputs = forward(*args, bits=64)
    cot = {
        k: rng.standard_normal(v.shape)
        for k, v in {"y": outputs.y, "h_n": outputs.h_n, "y_out": outputs.y_out}.items()
        if v is not None
    }
    balls = backward(*args, cotangents=cot, bits=128, arithmetic="arb")
    truth = backward(*args, cotangents=cot, bits=400)
    pairs = [(balls.forward.y, truth.forward.y), (balls.h0, truth.h0), (balls.x, truth.x)]
    pairs += [(balls.params[k], truth.params[k]) for k in truth.params]
    for mine, reference in pairs:
        for ball, value in zip(mine.values.flat, reference.values.flat, strict=True):
            assert contains(ball, value), (ball, value)
            assert float(ball.rad()) <= 1e-25 * max(1.0, abs(float(value)))


def test_undecidable_comparison_raises():
    u = sp.Symbol("u", real=True)
    relu, _ = compile_expression(sp.Piecewise((u, u > 0), (0, True)), "arb")
    straddling = flint.arb("0 +/- 1e-20")
    with pytest.raises(Undecidable, match="cannot decide .* > 0: the ball straddles the kink"):
        relu(straddling)
    assert relu(flint.arb(0)) == 0  # an exact zero is decided: relu'(0) branch
    assert relu(flint.arb("0.5")) == flint.arb("0.5")


def test_backend_errors(monkeypatch):
    with pytest.raises(ValueError, match="`backend` must be one of 'mpmath', 'arb'; got 'gmp'"):
        backend("gmp")
    monkeypatch.setitem(sys.modules, "flint", None)
    with pytest.raises(ImportError, match=r"pip install 'lstm-ref\[flint\]'"):
        ArbBackend()


def test_arb_precision_is_restored():
    spec = Spec("gru", 2, 2)
    before = flint.ctx.prec
    forward(spec, random_params(spec), np.ones((2, 1, 2)), bits=300, arithmetic="arb")
    assert flint.ctx.prec == before and mpmath.mp.prec == 53


def test_constant_partials_follow_the_working_precision():
    """d/du of Affine(1/3, 0) is the constant 1/3: it must not keep a precision it was
    first evaluated at (a cache of the compiled expression once did)."""
    spec = Spec("rnn", 2, 2, activations=("Affine(1/3, 0)",))
    params, inputs = random_params(spec, seed=1), random_inputs(spec, steps=2, batch=1, seed=1)
    cot = {"y": np.ones((2, 1, 2))}
    backward(spec, params, inputs.x, inputs.h0, cotangents=cot, bits=64)
    high = backward(spec, params, inputs.x, inputs.h0, cotangents=cot, bits=400)
    with mpmath.workprec(2000):
        exact = backward(spec, params, inputs.x, inputs.h0, cotangents=cot, bits=2000)
        error = abs(high.params["layer0.b_x"].values[0] - exact.params["layer0.b_x"].values[0])
        assert error < mpmath.mpf(2) ** -390


def test_rounding_a_ball_needs_both_ends():
    from lstm_ref.exact.result import MPArray

    saved = flint.ctx.prec
    flint.ctx.prec = 200
    tie = flint.arb(259) / 256  # exactly between two bfloat16 values
    straddling = tie + flint.arb("0 +/- 1e-30")
    flint.ctx.prec = saved
    values = MPArray(np.array([tie, straddling], dtype=object)).to("bfloat16")
    assert values[0] == float.fromhex("0x1.04p+0") and np.isnan(values[1])  # ties to even
