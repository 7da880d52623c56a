"""The backpropagation-through-time recurrences of a program, as data for the printer.

For every quantity v of one step, its adjoint dv = dL/dv collects one term per use:
an elementwise use t = F(..., v, ...) gives (dt/dv) * dt, an affine use
t = W v + ... gives W^T dt; state outputs (h_t, C_t) also receive what the next
step sends back to h_{t-1}, C_{t-1}, and the step's output receives dL/dy_t.
Parameters collect the same terms, summed over time (and the batch).
The exact backward pass (`lstm_ref.exact.backward`) evaluates exactly these terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from lstm_ref.derivation.partials import partials
from lstm_ref.equations.program import Program


@dataclass(frozen=True)
class Term:
    """One contribution to an adjoint: from the use of it in `target`'s equation.

    `weight` names the matrix for an affine use (the term is weight^T d target);
    otherwise `partial` is d target / d operand, in forward quantities.
    """

    target: str
    weight: str | None = None
    vector: str | None = None
    partial: sp.Expr | None = None


@dataclass(frozen=True)
class Adjoint:
    """The adjoint of one quantity or parameter and the terms it collects."""

    name: str
    terms: tuple[Term, ...]
    from_next_step: str | None  # the state input of step t+1 that sends to it, if any
    from_loss: bool  # the step's output also receives dL/dy_t
    is_parameter: bool


@lru_cache(maxsize=1024)
def adjoints(program: Program) -> tuple[Adjoint, ...]:
    """Every adjoint of one step, in an order that computes each after all its uses:
    the targets in reverse order of their equations, then the step's inputs, then
    the parameters.

    >>> from lstm_ref.equations import step_program
    >>> from lstm_ref.spec import Spec
    >>> [a.name for a in adjoints(step_program(Spec("rnn", 3, 2)))]
    ['h', 'a', 'x', 'h_prev', 'W_x', 'W_h', 'b_x', 'b_h']
    """
    order = [eq.target for eq in reversed(program.equations)]
    order += [*program.inputs, *program.parameters]
    terms: dict[str, list[Term]] = {name: [] for name in order}
    for eq in reversed(program.equations):
        if eq.is_affine:
            products, biases = eq.affine_terms()
            for weight, vector in products:
                terms[vector].append(Term(eq.target, weight=weight))
                terms[weight].append(Term(eq.target, vector=vector))
            for bias in biases:
                terms[bias].append(Term(eq.target))
        else:
            for p in partials(eq):
                terms[p.operand].append(Term(eq.target, partial=p.presented))
    next_step = {new: previous for previous, new in program.states}
    return tuple(
        Adjoint(
            name,
            tuple(terms[name]),
            next_step.get(name),
            name == program.output,
            name in program.parameters,
        )
        for name in order
    )
