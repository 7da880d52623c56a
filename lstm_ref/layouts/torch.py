"""PyTorch's layout: `torch.nn.LSTM/GRU/RNN.state_dict()` names and stacked gate blocks.

PyTorch stacks the gate blocks of each layer and direction row-wise:
weight_ih_l{k} (G*H, I_k), weight_hh_l{k} (G*H, H_out), bias_ih_l{k} and bias_hh_l{k}
(G*H,), weight_hr_l{k} (H_out, H), with the suffix `_reverse` for the backward
direction; the blocks follow `TORCH.gate_order` (lstm_ref.layouts.conventions). This
module needs numpy only: tensors are recognised by their methods, not imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lstm_ref.golden.load import GoldenCase
from lstm_ref.layouts.blocks import from_layout, to_layout
from lstm_ref.layouts.contract import Layout
from lstm_ref.layouts.conventions import TORCH
from lstm_ref.params import Params
from lstm_ref.spec import Spec


def check_expressible(spec: Spec) -> None:
    """Refuse, naming them, the options torch.nn.LSTM/GRU/RNN cannot express."""
    refused = TORCH.refusals(spec)
    if refused:
        raise ValueError(
            f"{TORCH.name}'s nn.{spec.cell.upper()} cannot express {', '.join(refused)}"
        )


def to_torch(spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """Canonical parameters as a PyTorch state_dict (numpy arrays, float64).

    >>> from lstm_ref import random_params
    >>> spec = Spec("gru", input_size=3, hidden_size=2, bias=False)
    >>> sorted((k, v.shape) for k, v in to_torch(spec, random_params(spec)).items())
    [('weight_hh_l0', (6, 2)), ('weight_ih_l0', (6, 3))]
    """
    check_expressible(spec)
    return to_layout(TORCH, spec, params)


def from_torch(spec: Spec, state: Mapping[str, object]) -> Params:
    """A PyTorch state_dict (tensors or arrays) as canonical parameters; with the
    gradients of a state_dict, the gradients of the canonical parameters."""
    check_expressible(spec)
    return from_layout(TORCH, spec, {name: as_array(value) for name, value in state.items()})


def as_array(value: Any) -> Any:
    """A tensor as a numpy array (bfloat16 and float16 through float32, which holds them
    exactly); anything else as it is."""
    if not hasattr(value, "detach"):
        return value
    value = value.detach().cpu()
    if str(getattr(value, "dtype", "")) in ("torch.bfloat16", "torch.float16"):
        value = value.float()
    return value.numpy()


def _refusals(case: GoldenCase) -> list[str]:
    found = TORCH.refusals(case.spec)
    if np.any(case.inputs.seq_lens == 0):
        found.append("seq_lens with 0 (PyTorch's packed sequences need lengths >= 1)")
    return found


def _config(case: GoldenCase) -> dict[str, Any]:
    spec = case.spec
    return {
        "cell": spec.cell,
        "input_size": spec.input_size,
        "hidden_size": spec.hidden_size,
        "num_layers": spec.num_layers,
        "bidirectional": spec.direction == "bidirectional",
        "proj_size": spec.proj_size,
        "nonlinearity": spec.nonlinearity,
        "bias": spec.bias,
    }


LAYOUT = Layout(
    "torch",
    _refusals,
    lambda case: to_torch(case.spec, case.params),
    _config,
    as_array=as_array,
    read_gradients=from_torch,
    convention=TORCH,
)
