"""Local partial derivatives of each elementwise equation, in forward quantities, with proofs.

For an equation target = rhs(operands), SymPy differentiates rhs with respect to
each operand. The *presented* form then names forward quantities where it can:
an activation F(u) that rhs is an affine function of, with constant coefficients,
is replaced by the target it determines (sigma(a_i) -> i_t, tanh(a_g) -> g_t), so
that i_t (1 - i_t) and 1 - g_t^2 appear instead of exponentials.

Each presented form is proved equal to SymPy's *raw* derivative, that of rhs with
every activation rewritten through exponentials: symbolically when cancellation
decides it, otherwise by evaluation at random high-precision points (the proof says
which).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import sympy as sp

from lstm_ref.equations.activations import MPMATH_FUNCTIONS, sigmoid, softplus
from lstm_ref.equations.program import Equation

NUMERIC_POINTS = 24
NUMERIC_DIGITS = 50


@dataclass(frozen=True)
class Partial:
    """d(target)/d(operand) for one elementwise equation."""

    target: str
    operand: str
    presented: sp.Expr
    raw: sp.Expr
    proof: str


def _named_activations(eq: Equation) -> dict[sp.Expr, sp.Expr]:
    """Activation calls F(u) in rhs that the target determines: F(u) -> (target - c) / k."""
    target = sp.Symbol(eq.target, real=True)
    found = {}
    for call in eq.rhs.atoms(sigmoid, softplus, sp.tanh):
        slot = sp.Dummy("F")
        linear = eq.rhs.subs(call, slot)
        k, c = sp.diff(linear, slot), linear.subs(slot, 0)
        if (
            k != 0
            and not k.free_symbols
            and linear == sp.expand(k * slot + c, deep=False)
            or (k.is_number and k != 0 and sp.simplify(linear - (k * slot + c)) == 0)
        ):
            found[call] = (target - c) / k
    return found


def _prove(presented: sp.Expr, raw: sp.Expr, eq: Equation, operands: list[sp.Symbol]) -> str:
    target = sp.Symbol(eq.target, real=True)
    in_operands = presented.subs(target, eq.rhs).rewrite(sp.exp)
    difference = in_operands - raw
    if difference == 0 or sp.cancel(sp.powsimp(difference)) == 0:
        return "symbolic"
    # Piecewise and mixed exponentials: compare at random points, at high precision.
    rng = random.Random(f"{eq.target}:{presented}")
    left = sp.lambdify(operands, in_operands, modules=[MPMATH_FUNCTIONS, "mpmath"])
    right = sp.lambdify(operands, raw, modules=[MPMATH_FUNCTIONS, "mpmath"])
    with mpmath.workdps(NUMERIC_DIGITS + 10):
        for _ in range(NUMERIC_POINTS):
            point = [mpmath.mpf(rng.uniform(-3, 3)) for _ in operands]
            a, b = mpmath.mpf(left(*point)), mpmath.mpf(right(*point))
            if abs(a - b) > mpmath.mpf(10) ** -NUMERIC_DIGITS * max(1, abs(b)):
                raise AssertionError(
                    f"d{eq.target}/d{operands}: presented form {presented} differs from "
                    f"SymPy's derivative {raw} at {point}: {a} != {b}"
                )
    return f"numeric ({NUMERIC_POINTS} random points, {NUMERIC_DIGITS} digits)"


@lru_cache(maxsize=4096)
def partials(eq: Equation) -> tuple[Partial, ...]:
    """The partial derivatives of an elementwise equation with respect to each operand.

    >>> from lstm_ref.equations import step_program
    >>> from lstm_ref.spec import Spec
    >>> eq = step_program(Spec("lstm", 3, 2)).equations[4]
    >>> [(p.operand, p.presented, p.proof) for p in partials(eq)]
    [('a[i]', i*(1 - i), 'symbolic')]
    """
    if eq.is_affine:
        raise ValueError(f"`{eq.target}` is affine: its partials are its weight matrices")
    operands = sorted(eq.rhs.free_symbols, key=lambda s: s.name)
    names = _named_activations(eq)
    expanded = eq.rhs.rewrite(sp.exp)
    result = []
    for operand in operands:
        derivative = sp.diff(eq.rhs, operand)
        presented = derivative.subs(names) if names else derivative
        presented = sp.factor_terms(presented)
        raw = sp.diff(expanded, operand)
        result.append(
            Partial(eq.target, operand.name, presented, raw, _prove(presented, raw, eq, operands))
        )
    return tuple(result)
