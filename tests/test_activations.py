"""The mpmath implementations behind SymPy's sigmoid and softplus equal their defining
formulas, evaluated independently at a much higher precision."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp

from lstm_ref.equations.activations import MPMATH_FUNCTIONS, sigmoid, softplus

POINTS = ["-1000", "-60.5", "-1", "-1e-30", "0", "1e-30", "0.75", "30", "1000"]


@pytest.mark.parametrize("function", [sigmoid, softplus], ids=["sigmoid", "softplus"])
@pytest.mark.parametrize("point", POINTS)
def test_stable_implementation_matches_definition(function, point):
    u = sp.Symbol("u", real=True)
    definition = sp.lambdify(u, function(u).rewrite(sp.exp), modules="mpmath")
    with mpmath.workdps(60):
        mine = MPMATH_FUNCTIONS[function.__name__](mpmath.mpf(point))
    with mpmath.workdps(1500):  # enough digits that 1 + e^-1000 does not round to 1
        truth = definition(mpmath.mpf(point))
        assert abs(mine - truth) <= abs(truth) * mpmath.mpf(10) ** -58


def test_derivatives_read_in_forward_quantities():
    u = sp.Symbol("u", real=True)
    assert sp.diff(sigmoid(u), u) == sigmoid(u) * (1 - sigmoid(u))
    assert sp.diff(softplus(u), u) == sigmoid(u)
    raw = sp.diff(sigmoid(u).rewrite(sp.exp), u)
    assert sp.simplify(raw - (sigmoid(u) * (1 - sigmoid(u))).rewrite(sp.exp)) == 0
    raw = sp.diff(softplus(u).rewrite(sp.exp), u)
    assert sp.simplify(raw - sigmoid(u).rewrite(sp.exp)) == 0
