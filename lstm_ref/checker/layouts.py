"""Layouts: how a golden case is handed to an implementation and its outputs read back.

Every layout calls `impl(x, params, h0, c0, seq_lens=None, config=None)` and reads
back `(y, h_n, c_n)` (c_n None for GRU and RNN):

- `canonical`: lstm_ref's own names (docs/conventions.md); `config` is the spec as
  JSON (`Spec.to_json()`); with an Elman output layer it returns `(y, h_n, c_n, y_out)`.
- `torch`: `params` named like `torch.nn.LSTM/GRU/RNN.state_dict()`; `config` has
  cell, input_size, hidden_size, num_layers, bidirectional, proj_size, nonlinearity,
  bias; `seq_lens` has packed-sequence semantics (padded outputs zero).

Arrays are numpy arrays in the requested dtype (bfloat16 values travel in float32
arrays). `seq_lens` is None when every sequence has full length. Cases a layout
cannot express are not sent: `refusals` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_ref.adapters.conventions import TORCH
from lstm_ref.adapters.torch import to_torch
from lstm_ref.exact.rounding import FORMATS
from lstm_ref.golden.load import GoldenCase

OUTPUTS = ("y", "h_n", "c_n", "y_out")


@dataclass(frozen=True)
class Layout:
    """How one layout passes a case in and reads the outputs back."""

    name: str
    refusals: Callable[[GoldenCase], list[str]]
    params: Callable[[GoldenCase], dict[str, np.ndarray]]
    config: Callable[[GoldenCase], dict[str, Any]]

    def arguments(self, case: GoldenCase, dtype: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Fresh copies of everything the implementation receives."""
        kind = FORMATS[dtype].numpy_dtype
        x, h0, c0 = case.inputs_as(dtype)
        params = {k: np.array(v, dtype=kind) for k, v in self.params(case).items()}
        full = bool(np.all(case.inputs.seq_lens == case.inputs.x.shape[0]))
        lens = None if full else case.inputs.seq_lens.copy()
        return (x, params, h0, c0), {"seq_lens": lens, "config": self.config(case)}

    def expected_outputs(self, case: GoldenCase) -> tuple[str, ...]:
        names = ["y", "h_n", "c_n"]
        if self.name == "canonical" and case.spec.output_size is not None:
            names.append("y_out")
        return tuple(names)


def _torch_refusals(case: GoldenCase) -> list[str]:
    found = TORCH.refusals(case.spec)
    if np.any(case.inputs.seq_lens == 0):
        found.append("seq_lens with 0 (PyTorch's packed sequences need lengths >= 1)")
    return found


def _torch_config(case: GoldenCase) -> dict[str, Any]:
    spec = case.spec
    return {
        "cell": spec.cell, "input_size": spec.input_size, "hidden_size": spec.hidden_size,
        "num_layers": spec.num_layers, "bidirectional": spec.direction == "bidirectional",
        "proj_size": spec.proj_size, "nonlinearity": spec.nonlinearity, "bias": spec.bias,
    }


LAYOUTS = {
    "canonical": Layout("canonical", lambda case: [], lambda case: dict(case.params),
                        lambda case: case.spec.to_json()),
    "torch": Layout("torch", _torch_refusals, lambda case: to_torch(case.spec, case.params),
                    _torch_config),
}
PLANNED = ("keras", "onnx", "flax")


def layout(name: str) -> Layout:
    """The layout of that name; the planned ones are refused by name."""
    if name in PLANNED:
        raise NotImplementedError(
            f"layout {name!r} is not implemented yet: use one of {', '.join(LAYOUTS)} "
            f"(map your parameters with lstm_ref.adapters, or wrap your implementation)"
        )
    if name not in LAYOUTS:
        raise ValueError(f"`layout` must be one of {', '.join(LAYOUTS)}; got {name!r}")
    return LAYOUTS[name]
