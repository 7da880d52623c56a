"""The single source of truth: each cell's step equations as SymPy expressions.

One module per cell kind (`lstm`, `gru`, `rnn`) plus the bidirectional `merge`;
each builds a :class:`~lstm_ref.equations.program.Program` from a spec. The exact
evaluator, the derivation printer and the gradient code all read these programs.
"""

from __future__ import annotations

from functools import lru_cache

from lstm_ref.equations import gru, lstm, merge, rnn
from lstm_ref.equations.program import Equation, Program
from lstm_ref.spec import Spec

CELL_MODULES = {"lstm": lstm, "gru": gru, "rnn": rnn}


@lru_cache(maxsize=256)
def step_program(spec: Spec, layer: int = 0) -> Program:
    """The equations of one step of `layer` of `spec`.

    >>> p = step_program(Spec("gru", input_size=3, hidden_size=2))
    >>> [eq.target for eq in p.equations]
    ['a[r]', 'a[z]', 'r', 'z', 'a_x[n]', 'a_h[n]', 'n', 'h']
    """
    return CELL_MODULES[spec.cell].program(spec, layer)


@lru_cache(maxsize=256)
def merge_program(spec: Spec) -> Program | None:
    """The bidirectional merge (sum, ave, mul) as a program; None for concat and none."""
    return merge.program(spec)


@lru_cache(maxsize=256)
def output_program(spec: Spec) -> Program | None:
    """The Elman output layer, or None where the spec has none."""
    return None if spec.output_size is None else rnn.output_program(spec)


def gates(spec: Spec) -> tuple[str, ...]:
    """The gates owning parameters, in canonical order (LSTM i, f, g, o; GRU r, z, n)."""
    return CELL_MODULES[spec.cell].gates(spec)


__all__ = ["Equation", "Program", "gates", "merge_program", "output_program", "step_program"]
