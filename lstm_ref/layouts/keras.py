"""Keras 3's layout: LSTM, GRU and SimpleRNN weights (docs/frameworks.md).

Kernels are (in, G*H) (the canonical blocks transposed), in Keras's gate order:
LSTM i, f, c, o; GRU z, r, h. LSTM and SimpleRNN have one bias (b_x + b_h); GRU with
reset_after (reset "after") has a bias (2, 3H): input side, then recurrent side; GRU
with reset "before" has one bias (3H,) (b_x + b_h: every bias sits outside r there).
Names are "layer{k}/{forward|backward}/{kernel|recurrent_kernel|bias}". This module
needs numpy only.
"""

from __future__ import annotations

import numpy as np

from lstm_ref.params import Params, layer_prefix
from lstm_ref.spec import Activation, Spec, show_value

GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("z", "r", "n"), "rnn": ("",)}
# ONNX-named activations that Keras 3 computes the same way, and Keras's names for them.
ACTIVATIONS = {
    Activation("Sigmoid"): "sigmoid", Activation("Tanh"): "tanh", Activation("Relu"): "relu",
    Activation("HardSigmoid", "1/6", "1/2"): "hard_sigmoid", Activation("Elu"): "elu",
    Activation("Softsign"): "softsign", Activation("Softplus"): "softplus",
    Activation("Affine", 1, 0): "linear",
}


def refusals(spec: Spec, extra: dict[str, bool] | None = None) -> list[str]:
    """The spec options Keras's recurrent layers cannot express (and `extra` ones, for
    the frameworks with the same cells, such as Flax)."""
    found = []
    checks = {
        "proj_size": bool(spec.proj_size), "peepholes": spec.peepholes,
        "input_forget": spec.input_forget, "cell_clip": spec.cell_clip is not None,
        "activation_clip": spec.activation_clip is not None,
        "forget_bias": spec.forget_bias != 0, "output_size": spec.output_size is not None,
    }
    checks |= {"direction": spec.direction == "reverse"} if extra is None else extra
    for name, refused in checks.items():
        if refused:
            found.append(f"{name}={show_value(getattr(spec, name))}")
    if any(a not in ACTIVATIONS for a in spec.activations) or (
            spec.cell == "lstm" and spec.activations[1] != spec.activations[2]):
        found.append(f"activations={show_value(spec.activations)}")
    return found


def activations(spec: Spec) -> dict[str, str]:
    """Keras's `recurrent_activation` and `activation` for the spec."""
    if spec.cell == "rnn":
        return {"activation": ACTIVATIONS[spec.activations[0]]}
    return {"recurrent_activation": ACTIVATIONS[spec.activations[0]],
            "activation": ACTIVATIONS[spec.activations[1]]}


def _block(gate: str, kind: str) -> str:
    return f"{kind}[{gate}]" if gate else kind


def to_keras(spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """The weights of each layer and direction, named "layer{k}/{direction}/{weight}"."""
    order = GATES[spec.cell]
    out = {}
    for layer in range(spec.num_layers):
        for direction in spec.directions:
            mine = params.of(layer_prefix(layer, direction))
            name = f"layer{layer}/{'backward' if direction == 'reverse' else 'forward'}"
            out[f"{name}/kernel"] = np.concatenate([mine[_block(q, "W_x")].T for q in order], axis=1)
            out[f"{name}/recurrent_kernel"] = np.concatenate(
                [mine[_block(q, "W_h")].T for q in order], axis=1)
            if not spec.bias:
                continue
            b_x = np.concatenate([mine[_block(q, "b_x")] for q in order])
            b_h = np.concatenate([mine[_block(q, "b_h")] for q in order])
            split = spec.cell == "gru" and spec.gru_reset == "after"
            out[f"{name}/bias"] = np.stack([b_x, b_h]) if split else b_x + b_h
    return out
