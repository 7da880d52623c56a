"""A step program made executable: affine equations as exact integer products,
elementwise equations lambdified from their SymPy expressions to mpmath."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from lstm_ref.equations.activations import MPMATH_FUNCTIONS
from lstm_ref.equations.program import Equation, Program
from lstm_ref.exact.arith import Fixed, affine, to_fixed, to_mpf


@lru_cache(maxsize=1024)
def _elementwise(eq: Equation) -> tuple[tuple[str, ...], Callable[..., object]]:
    operands = tuple(sorted(s.name for s in eq.rhs.free_symbols))
    symbols = [sp.Symbol(name, real=True) for name in operands]
    function = sp.lambdify(symbols, eq.rhs, modules=[MPMATH_FUNCTIONS, "mpmath"])
    return operands, np.frompyfunc(lambda *args: mpmath.mpf(function(*args)), len(operands), 1)


class CompiledStep:
    """`program` bound to the parameters of one layer and direction.

    `params` maps the program's parameter names to float64 arrays; weights become
    :class:`Fixed` integers once, elementwise parameters mpf vectors.
    """

    def __init__(self, program: Program, params: Mapping[str, np.ndarray]) -> None:
        self.program = program
        self.fixed = {name: to_fixed(np.asarray(params[name])) for name in program.parameters}
        self.vectors = {name: to_mpf(np.asarray(params[name])) for name in program.parameters}

    def __call__(self, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Evaluate every equation on a batch: `values` maps input names to (B, n) arrays."""
        values = dict(values)
        fixed: dict[str, Fixed] = {}
        for eq in self.program.equations:
            if eq.is_affine:
                products, biases = eq.affine_terms()
                for _, vector in products:
                    if vector not in fixed:
                        fixed[vector] = to_fixed(values[vector])
                values[eq.target] = affine(
                    [(fixed[v], self.fixed[w]) for w, v in products],
                    [self.fixed[b] for b in biases],
                )
            else:
                operands, function = _elementwise(eq)
                args = [values[n] if n in values else self.vectors[n] for n in operands]
                values[eq.target] = np.asarray(function(*args), dtype=object)
        return values
