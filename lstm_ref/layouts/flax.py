"""Flax linen's layout: LSTMCell / OptimizedLSTMCell, GRUCell and SimpleCell parameters
(docs/frameworks.md).

Every sub-module is a Dense with an (in, out) kernel (the canonical block transposed),
named in `FLAX.names` (lstm_ref.layouts.conventions): LSTM "ii", "if", "ig", "io" (no
bias) and "hi", "hf", "hg", "ho" (bias b_x + b_h); GRU "ir", "iz", "in" (biases
b_x[r] + b_h[r], b_x[z] + b_h[z], b_x[n]), "hr", "hz" (no bias) and "hn" (bias b_h[n],
inside r * (...)); SimpleCell "i" (bias b_x + b_h) and "h" (no bias). Names are
"layer{k}/{forward|backward}/{module}/{kernel|bias}". A spec without biases maps to zero
biases (Flax's cells always have them). Numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstm_ref.golden.load import GoldenCase
from lstm_ref.layouts.blocks import block
from lstm_ref.layouts.contract import Layout, batch_major_read
from lstm_ref.layouts.conventions import FLAX, N_INSIDE
from lstm_ref.params import Params, layer_prefix
from lstm_ref.spec import Spec


def functions(spec: Spec) -> dict[str, str]:
    """The cell's `gate_fn` and `activation_fn`, by their Keras/JAX names."""
    names = FLAX.functions
    if spec.cell == "rnn":
        return {"activation_fn": names[spec.activations[0]]}
    return {"gate_fn": names[spec.activations[0]], "activation_fn": names[spec.activations[1]]}


def to_flax(spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """Every Dense kernel and bias, named "layer{k}/{forward|backward}/{module}/{kernel|bias}"."""
    out: dict[str, np.ndarray] = {}
    for layer in range(spec.num_layers):
        for direction in spec.directions:
            where = {"layer": layer, "direction": FLAX.directions[direction]}
            out |= _modules(spec, params.of(layer_prefix(layer, direction)), where)
    return out


def _modules(spec: Spec, p: dict[str, np.ndarray], where: dict[str, Any]) -> dict[str, np.ndarray]:
    """One layer and direction's kernels and biases, in Flax's module order."""
    order = FLAX.gate_order[spec.cell]

    def name(kind: str, gate: str) -> str:
        return FLAX.name_of(kind, spec.cell).format(gate=gate, **where)

    def bias(*keys: str) -> np.ndarray:
        return sum((p[k] for k in keys if k in p), np.zeros(spec.hidden_size))

    out = {}
    if spec.cell == "lstm":
        for q in order:
            out[name("W_x", q)] = p[block(q, "W_x")].T
            out[name("W_h", q)] = p[block(q, "W_h")].T
            out[name("b", q)] = bias(block(q, "b_x"), block(q, "b_h"))
    elif spec.cell == "gru":
        for q in order:
            out[name("W_x", q)] = p[block(q, "W_x")].T
            out[name("W_h", q)] = p[block(q, "W_h")].T
        for q in order:
            if FLAX.bias_split(spec) == N_INSIDE and q == "n":
                out[name("b", q)] = bias(block(q, "b_x"))
                out[name("b_hn", q)] = bias(block(q, "b_h"))
            else:
                out[name("b", q)] = bias(block(q, "b_x"), block(q, "b_h"))
    else:
        out[name("W_x", "")] = p["W_x"].T
        out[name("b", "")] = bias("b_x", "b_h")
        out[name("W_h", "")] = p["W_h"].T
    return out


def _refusals(case: GoldenCase) -> list[str]:
    lens = case.inputs.seq_lens
    found = FLAX.refusals(case.spec)
    if np.any(lens == 0):
        found.append(
            "seq_lens with 0 (Flax's final carry for length 0 is the state after all "
            "T padded steps, not h0)"
        )
    if np.any(lens < case.inputs.x.shape[0]) and case.spec.padded_outputs == "carry":
        found.append(
            "padded_outputs='carry' (the flax layout's outputs past a length are "
            "zero: Flax does not define them)"
        )
    return found


def _config(case: GoldenCase) -> dict[str, Any]:
    spec = case.spec
    return {
        "cell": spec.cell,
        "features": spec.hidden_size,
        "num_layers": spec.num_layers,
        "direction": spec.direction,
        "merge": spec.merge,
        **functions(spec),
    }


LAYOUT = Layout(
    "flax",
    _refusals,
    lambda case: to_flax(case.spec, case.params),
    _config,
    batch_major_read,
    batch_major=True,
    convention=FLAX,
)
