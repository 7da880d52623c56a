"""ONNX's activation functions as SymPy expressions.

Sigmoid and Softplus are SymPy functions of their own so that their derivatives read
in forward quantities (sigma' = sigma (1 - sigma), softplus' = sigma) and so that the
evaluator can call a numerically stable mpmath implementation; `rewrite(sp.exp)` gives
their defining formula, and the tests prove each implementation equal to it.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath
import sympy as sp
from sympy.codegen.cfunctions import expm1

from lstm_ref.spec import Activation


class sigmoid(sp.Function):
    r"""The logistic function sigma(x) = 1 / (1 + e^{-x})."""

    is_real = True

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kwargs: Any) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))

    def _latex(self, printer: Any, exp: Any = None) -> str:
        body = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"


class softplus(sp.Function):
    r"""softplus(x) = log(1 + e^x)."""

    is_real = True

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.log(1 + sp.exp(x))


def _mp_sigmoid(x: mpmath.mpf) -> mpmath.mpf:
    # 1/(1 + e^-x) has no cancellation for any x; mpmath's exponent range has no overflow.
    return 1 / (1 + mpmath.exp(-x))


def _mp_softplus(x: mpmath.mpf) -> mpmath.mpf:
    # log1p keeps full relative accuracy where e^x is tiny; x + log1p(e^-x) where it is huge.
    return x + mpmath.log1p(mpmath.exp(-x)) if x > 0 else mpmath.log1p(mpmath.exp(x))


# What the evaluator's lambdify needs besides mpmath's own namespace.
MPMATH_FUNCTIONS = {"sigmoid": _mp_sigmoid, "softplus": _mp_softplus}


def clip(u: sp.Expr, bound: sp.Rational) -> sp.Expr:
    """u clipped to [-bound, bound]; its derivative is 1 on the closed interval (PyTorch's
    clamp)."""
    return sp.Piecewise((-bound, u < -bound), (bound, u > bound), (u, True))


def activation(act: Activation, u: sp.Expr, clip_bound: Fraction | None = None) -> sp.Expr:
    """`act` applied to `u`, with ONNX's `clip` on its input when `clip_bound` is set.

    The piecewise functions are written so that SymPy's derivative at each kink is
    the one PyTorch's autograd uses: Relu'(0) = 0, LeakyRelu'(0) = alpha,
    Elu'(0) = alpha, HardSigmoid' = 0 at both corners, clip' = 1 at both bounds.

    >>> from sympy import Symbol
    >>> activation(Activation("HardSigmoid"), Symbol("u"))
    Piecewise((0, u <= -5/2), (1, u >= 5/2), (u/5 + 1/2, True))
    """
    if clip_bound is not None:
        u = clip(u, sp.Rational(clip_bound))
    alpha = None if act.alpha is None else sp.Rational(act.alpha)
    beta = None if act.beta is None else sp.Rational(act.beta)

    def hard_sigmoid() -> sp.Expr:
        v = alpha * u + beta
        return sp.Piecewise((0, v <= 0), (1, v >= 1), (v, True))

    build = {
        "Sigmoid": lambda: sigmoid(u),
        "Tanh": lambda: sp.tanh(u),
        "Relu": lambda: sp.Piecewise((u, u > 0), (0, True)),
        "HardSigmoid": hard_sigmoid,
        "LeakyRelu": lambda: sp.Piecewise((u, u > 0), (alpha * u, True)),
        # ONNX's RNN operators define ThresholdedRelu(x) = x if x >= alpha else 0.
        "ThresholdedRelu": lambda: sp.Piecewise((u, u >= alpha), (0, True)),
        "ScaledTanh": lambda: alpha * sp.tanh(beta * u),
        "Affine": lambda: alpha * u + beta,
        "Elu": lambda: sp.Piecewise((u, u > 0), (alpha * expm1(u), True)),
        "Softsign": lambda: u / (1 + sp.Abs(u)),
        "Softplus": lambda: softplus(u),
    }
    return build[act.name]()
