"""Step programs: a cell's equations for one time step, as an ordered list of SymPy equations.

Each equation assigns one named vector. Its right-hand side is either

- an *affine* matrix expression, W_1 v_1 + W_2 v_2 + b_1 + ..., in `MatrixSymbol`s:
  the matrix products, which the exact evaluator computes with integers; or
- an *elementwise* scalar expression in `Symbol`s, applied to each element of
  its vector operands alike: the gates, activations and state updates.

A vector is named the same in both worlds: the `MatrixSymbol` "h_prev" (n x 1)
and the `Symbol` "h_prev" are the same quantity. The cell modules build these
programs; the evaluator, the printer and the gradient code only read them.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import MatrixExpr


@dataclass(frozen=True)
class Equation:
    """`target` := `rhs`, with a one-line `meaning` for the printed derivation."""

    target: str
    rhs: sp.Basic
    meaning: str

    @property
    def is_affine(self) -> bool:
        return isinstance(self.rhs, MatrixExpr)

    def affine_terms(self) -> tuple[list[tuple[str, str]], list[str]]:
        """For an affine equation: the (weight, vector) products and the bias names."""
        products: list[tuple[str, str]] = []
        biases: list[str] = []
        for term in self.rhs.args if isinstance(self.rhs, sp.MatAdd) else (self.rhs,):
            if isinstance(term, sp.MatMul):
                weight, vector = term.args
                products.append((weight.name, vector.name))
            else:
                biases.append(term.name)
        return products, biases


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: programs are cached
class Program:
    """The equations of one step of one cell (or a merge, or an output layer).

    `inputs` are the vectors read from outside (x, previous states) with their sizes;
    `states` pairs each previous-state input with the equation target that replaces
    it after the step; `output` names the per-step output; `parameters` gives the
    shape of every parameter the equations use, in the order they are listed, and
    `dims` its shape in named dimensions; `sizes` gives every vector's length.
    """

    equations: tuple[Equation, ...]
    inputs: dict[str, int]
    states: tuple[tuple[str, str], ...]
    output: str
    parameters: dict[str, tuple[int, ...]]
    dims: dict[str, str]
    sizes: dict[str, int]


class ProgramBuilder:
    """Collects the symbols and equations of one program while a cell module writes it."""

    def __init__(self, inputs: dict[str, int]) -> None:
        self.inputs = dict(inputs)
        self.sizes = dict(inputs)
        self.parameters: dict[str, tuple[int, ...]] = {}
        self.dims: dict[str, str] = {}
        self.equations: list[Equation] = []

    def vector(self, name: str) -> sp.MatrixSymbol:
        """A known vector (input or earlier target) as a matrix operand."""
        return sp.MatrixSymbol(name, self.sizes[name], 1)

    def scalar(self, name: str) -> sp.Symbol:
        """A known vector, or an elementwise parameter, as a scalar operand."""
        if name not in self.sizes and name not in self.parameters:
            raise KeyError(f"{name!r} is not defined yet; known: {sorted(self.sizes)}")
        return sp.Symbol(name, real=True)

    def weight(self, name: str, rows: int, cols: int, dims: str) -> sp.MatrixSymbol:
        self.parameters[name] = (rows, cols)
        self.dims[name] = dims
        return sp.MatrixSymbol(name, rows, cols)

    def bias(self, name: str, size: int, dims: str) -> sp.MatrixSymbol:
        self.parameters[name] = (size,)
        self.dims[name] = dims
        return sp.MatrixSymbol(name, size, 1)

    def elementwise_parameter(self, name: str, size: int, dims: str) -> sp.Symbol:
        self.parameters[name] = (size,)
        self.dims[name] = dims
        return sp.Symbol(name, real=True)

    def affine(self, target: str, rhs: sp.MatrixExpr, meaning: str) -> sp.MatrixSymbol:
        self.sizes[target] = rhs.shape[0]
        self.equations.append(Equation(target, rhs, meaning))
        return sp.MatrixSymbol(target, rhs.shape[0], 1)

    def elementwise(self, target: str, rhs: sp.Expr, size: int, meaning: str) -> sp.Symbol:
        self.sizes[target] = size
        self.equations.append(Equation(target, rhs, meaning))
        return sp.Symbol(target, real=True)

    def build(self, states: tuple[tuple[str, str], ...], output: str) -> Program:
        return Program(
            tuple(self.equations),
            self.inputs,
            states,
            output,
            self.parameters,
            self.dims,
            self.sizes,
        )
