"""Equinox's layout: `eqx.nn.LSTMCell` and `eqx.nn.GRUCell` parameters (docs/frameworks.md).

Both cells keep PyTorch's orientation, weights (G*H, in) with the canonical blocks as
they are: LSTM `weight_ih` (4H, I) and `weight_hh` (4H, H) in the order i, f, g, o with
one `bias` (4H,) = b_x + b_h; GRU `weight_ih` (3H, I) and `weight_hh` (3H, H) in the
order r, z, n with `bias` (3H,) on the input side (b_x[r] + b_h[r], b_x[z] + b_h[z],
b_x[n]) and `bias_n` (H,) = b_h[n], added to W_h[n] h inside r * (...). A cell is one
step of one layer in one direction, with sigmoid and tanh fixed; Equinox has no Elman
cell and no sequence lengths. Numpy only.
"""

from __future__ import annotations

import numpy as np

from lstm_ref.layouts import keras
from lstm_ref.params import Params, layer_prefix
from lstm_ref.spec import Activation, Spec, show_value

GATES = {"lstm": "ifgo", "gru": "rzn"}
ACTIVATIONS = {"lstm": (Activation("Sigmoid"), Activation("Tanh"), Activation("Tanh")),
               "gru": (Activation("Sigmoid"), Activation("Tanh"))}


def refusals(spec: Spec) -> list[str]:
    """The spec options one Equinox cell, scanned over time, cannot express: those of
    Keras's layers, plus more than one layer, any direction but forward, the Elman cell,
    GRU reset 'before' and activations other than sigmoid and tanh."""
    found = keras.refusals(spec, {
        "cell": spec.cell == "rnn", "num_layers": spec.num_layers > 1,
        "direction": spec.direction != "forward",
        "gru_reset": spec.cell == "gru" and spec.gru_reset != "after"})
    if spec.cell in ACTIVATIONS and spec.activations != ACTIVATIONS[spec.cell] and not any(
            r.startswith("activations=") for r in found):
        found.append(f"activations={show_value(spec.activations)}")
    return found


def to_equinox(spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """The cell's `weight_ih`, `weight_hh`, `bias` and (GRU) `bias_n`; no biases when the
    spec has none (`use_bias=False`)."""
    p = params.of(layer_prefix(0, "forward"))
    order = GATES[spec.cell]
    out = {"weight_ih": np.concatenate([p[f"W_x[{q}]"] for q in order]),
           "weight_hh": np.concatenate([p[f"W_h[{q}]"] for q in order])}
    if not spec.bias:
        return out
    if spec.cell == "lstm":
        out["bias"] = np.concatenate([p[f"b_x[{q}]"] + p[f"b_h[{q}]"] for q in order])
    else:
        out["bias"] = np.concatenate([p["b_x[r]"] + p["b_h[r]"], p["b_x[z]"] + p["b_h[z]"],
                                      p["b_x[n]"]])
        out["bias_n"] = p["b_h[n]"]
    return out
