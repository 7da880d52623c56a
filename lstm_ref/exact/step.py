"""A step program made executable in one backend: affine equations as matrix products
(exact integers with mpmath, balls with arb), elementwise equations compiled from their
SymPy expressions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from lstm_ref.equations.program import Program
from lstm_ref.exact.backends import AffineCache, backend, compile_expression


class CompiledStep:
    """`program` bound to the parameters of one layer and direction, in one backend.

    `params` maps the program's parameter names to float64 arrays; they become the
    backend's weights (for matrix products) and vectors (for elementwise use) once.
    """

    def __init__(
        self, program: Program, params: Mapping[str, np.ndarray], arithmetic: str = "mpmath"
    ) -> None:
        self.program = program
        self.backend = backend(arithmetic)
        self.params = params
        self.weights = {n: self.backend.weight(np.asarray(params[n])) for n in program.parameters}
        self._vectors: dict[str, np.ndarray] = {}

    def vector(self, name: str) -> np.ndarray:
        """A parameter used elementwise (a peephole), converted on first use."""
        if name not in self._vectors:
            self._vectors[name] = self.backend.vector(np.asarray(self.params[name]))
        return self._vectors[name]

    def evaluate(
        self,
        expr: sp.Expr,
        values: Mapping[str, np.ndarray],
        scale: np.ndarray | None = None,
        total: np.ndarray | None = None,
    ) -> np.ndarray:
        """An elementwise expression on a batch, its operands looked up by name; with
        `scale`, scale * expr, and with `total` too, total + scale * expr, each in one
        call per element (the backward pass's adjoint terms)."""
        form = "value" if scale is None else "scaled" if total is None else "accumulated"
        function, names = compile_expression(expr, self.backend.name, form=form)
        operands = [values[n] if n in values else self.vector(n) for n in names]
        leading = [] if scale is None else [scale] if total is None else [total, scale]
        return function(*leading, *operands)

    def __call__(self, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Evaluate every equation on a batch: `values` maps input names to (B, n) arrays."""
        values = dict(values)
        cache: AffineCache = {}
        for eq in self.program.equations:
            if eq.is_affine:
                products, biases = eq.affine_terms()
                values[eq.target] = self.backend.affine(
                    [(values[v], self.weights[w]) for w, v in products],
                    [self.weights[b] for b in biases],
                    cache,
                )
            else:
                values[eq.target] = np.asarray(self.evaluate(eq.rhs, values), dtype=object)
        return values
