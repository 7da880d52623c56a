"""PyTorch's layout: `torch.nn.LSTM/GRU/RNN.state_dict()` names and stacked gate blocks.

PyTorch stacks the gate blocks of each layer and direction row-wise:
weight_ih_l{k} (G*H, I_k), weight_hh_l{k} (G*H, H_out), bias_ih_l{k} and bias_hh_l{k}
(G*H,), weight_hr_l{k} (H_out, H), with the suffix `_reverse` for the backward
direction; the blocks follow `TORCH.gate_order`. This module needs numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lstm_ref.layouts.conventions import TORCH
from lstm_ref.params import Params, layer_prefix
from lstm_ref.spec import Spec

# canonical parameter -> PyTorch name stem (before _l{k}); gate blocks are stacked
_STACKED = {"W_x": "weight_ih", "W_h": "weight_hh", "b_x": "bias_ih", "b_h": "bias_hh"}


def check_expressible(spec: Spec) -> None:
    """Refuse, naming them, the options torch.nn.LSTM/GRU/RNN cannot express."""
    refused = TORCH.refusals(spec)
    if refused:
        raise ValueError(f"PyTorch's nn.{spec.cell.upper()} cannot express {', '.join(refused)}")


def _block(gate: str, kind: str) -> str:
    return f"{kind}[{gate}]" if gate else kind


def to_torch(spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """Canonical parameters as a PyTorch state_dict (numpy arrays, float64).

    >>> from lstm_ref import random_params
    >>> spec = Spec("gru", input_size=3, hidden_size=2, bias=False)
    >>> sorted((k, v.shape) for k, v in to_torch(spec, random_params(spec)).items())
    [('weight_hh_l0', (6, 2)), ('weight_ih_l0', (6, 3))]
    """
    check_expressible(spec)
    order = TORCH.gate_order[spec.cell]
    state: dict[str, np.ndarray] = {}
    for layer in range(spec.num_layers):
        for direction in spec.directions:
            mine = params.of(layer_prefix(layer, direction))
            suffix = f"_l{layer}" + ("_reverse" if direction == "reverse" else "")
            for kind, stem in _STACKED.items():
                if _block(order[0], kind) in mine:
                    state[stem + suffix] = np.concatenate([mine[_block(q, kind)] for q in order])
            if "W_hr" in mine:
                state["weight_hr" + suffix] = mine["W_hr"].copy()
    return state


def from_torch(spec: Spec, state: Mapping[str, object]) -> Params:
    """A PyTorch state_dict (tensors or arrays) as canonical parameters."""
    check_expressible(spec)
    order = TORCH.gate_order[spec.cell]
    size = spec.hidden_size
    arrays: dict[str, np.ndarray] = {}
    expected = set()
    for layer in range(spec.num_layers):
        for direction in spec.directions:
            prefix = layer_prefix(layer, direction)
            suffix = f"_l{layer}" + ("_reverse" if direction == "reverse" else "")
            for kind, stem in _STACKED.items():
                if not spec.bias and kind.startswith("b"):
                    continue
                name = stem + suffix
                expected.add(name)
                stacked = _numpy(state, name)
                if stacked.shape[0] != len(order) * size:
                    raise ValueError(
                        f"`{name}` must have {len(order)}*H = {len(order) * size} rows; "
                        f"got shape {stacked.shape}"
                    )
                for g, q in enumerate(order):
                    arrays[f"{prefix}.{_block(q, kind)}"] = stacked[g * size:(g + 1) * size]
            if spec.proj_size:
                expected.add("weight_hr" + suffix)
                arrays[f"{prefix}.W_hr"] = _numpy(state, "weight_hr" + suffix)
    unexpected = sorted(set(state) - expected)
    if unexpected:
        raise ValueError(f"`state` has entries this spec does not use: {unexpected}")
    return Params(spec, arrays)


def _numpy(state: Mapping[str, object], name: str) -> np.ndarray:
    if name not in state:
        raise KeyError(f"`state` has no {name!r}; available: {sorted(state)}")
    value = state[name]
    if hasattr(value, "detach"):
        value = value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)
