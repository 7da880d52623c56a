"""Flax linen's layout: LSTMCell / OptimizedLSTMCell, GRUCell and SimpleCell parameters
(docs/frameworks.md).

Every sub-module is a Dense with an (in, out) kernel (the canonical block transposed):
LSTM "ii", "if", "ig", "io" (no bias) and "hi", "hf", "hg", "ho" (bias b_x + b_h);
GRU "ir", "iz", "in" (biases b_x[r] + b_h[r], b_x[z] + b_h[z], b_x[n]), "hr", "hz"
(no bias) and "hn" (bias b_h[n], inside r * (...)); SimpleCell "i" (bias b_x + b_h) and
"h" (no bias). Names are "layer{k}/{forward|backward}/{module}/{kernel|bias}". A spec
without biases maps to zero biases (Flax's cells always have them). Numpy only.
"""

from __future__ import annotations

import numpy as np

from lstm_ref.layouts import keras
from lstm_ref.layouts.keras import ACTIVATIONS
from lstm_ref.params import Params, layer_prefix
from lstm_ref.spec import Spec


def refusals(spec: Spec) -> list[str]:
    """The spec options Flax's cells and nn.RNN / nn.Bidirectional cannot express: those
    of Keras's layers (the same cells) but a reverse-only direction, plus these."""
    return keras.refusals(spec, {"gru_reset": spec.cell == "gru" and spec.gru_reset != "after",
                                 "merge": spec.merge == "none"})


def functions(spec: Spec) -> dict[str, str]:
    """The cell's `gate_fn` and `activation_fn`, by their Keras/JAX names."""
    if spec.cell == "rnn":
        return {"activation_fn": ACTIVATIONS[spec.activations[0]]}
    return {"gate_fn": ACTIVATIONS[spec.activations[0]],
            "activation_fn": ACTIVATIONS[spec.activations[1]]}


def to_flax(spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """Every Dense kernel and bias, named "layer{k}/{forward|backward}/{module}/{kernel|bias}"."""
    out: dict[str, np.ndarray] = {}
    for layer in range(spec.num_layers):
        for direction in spec.directions:
            p = params.of(layer_prefix(layer, direction))
            name = f"layer{layer}/{'backward' if direction == 'reverse' else 'forward'}"
            H = spec.hidden_size

            def bias(*keys: str) -> np.ndarray:
                return sum((p[k] for k in keys if k in p), np.zeros(H))

            if spec.cell == "lstm":
                for q in "ifgo":
                    out[f"{name}/i{q}/kernel"] = p[f"W_x[{q}]"].T
                    out[f"{name}/h{q}/kernel"] = p[f"W_h[{q}]"].T
                    out[f"{name}/h{q}/bias"] = bias(f"b_x[{q}]", f"b_h[{q}]")
            elif spec.cell == "gru":
                for q in "rzn":
                    out[f"{name}/i{q}/kernel"] = p[f"W_x[{q}]"].T
                    out[f"{name}/h{q}/kernel"] = p[f"W_h[{q}]"].T
                out[f"{name}/ir/bias"] = bias("b_x[r]", "b_h[r]")
                out[f"{name}/iz/bias"] = bias("b_x[z]", "b_h[z]")
                out[f"{name}/in/bias"] = bias("b_x[n]")
                out[f"{name}/hn/bias"] = bias("b_h[n]")
            else:
                out[f"{name}/i/kernel"] = p["W_x"].T
                out[f"{name}/i/bias"] = bias("b_x", "b_h")
                out[f"{name}/h/kernel"] = p["W_h"].T
    return out
