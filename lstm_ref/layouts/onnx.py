"""ONNX's layout: the LSTM, GRU and RNN operators' inputs and attributes (docs/frameworks.md).

One operator is one layer: W [D, G*H, I], R [D, G*H, H] and B [D, 2*G*H] (input-side
biases, then recurrent-side), P [D, 3H] (peepholes i, o, f), with gate blocks in
ONNX's order: LSTM i, o, f, c; GRU z, r, h. Weights keep the canonical (out, in)
orientation. Direction 0 is the forward-running one. This module needs numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstm_ref.params import Params, layer_prefix
from lstm_ref.spec import Activation, Spec, show_value

GATES = {"lstm": ("i", "o", "f", "g"), "gru": ("z", "r", "n"), "rnn": ("",)}
PEEPHOLES = ("i", "o", "f")
OPERATORS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def refusals(spec: Spec) -> list[str]:
    """The spec options one ONNX operator cannot express."""
    found = []
    checks = {
        "num_layers": spec.num_layers != 1, "proj_size": bool(spec.proj_size),
        "cell_clip": spec.cell_clip is not None, "forget_bias": spec.forget_bias != 0,
        "output_size": spec.output_size is not None, "padded_outputs": spec.padded_outputs != "zero",
        "merge": spec.merge not in (None, "concat", "none"),
        "clip_cell_output": not spec.clip_cell_output,  # ONNX clips every activation input
    }
    for name, refused in checks.items():
        if refused:
            found.append(f"{name}={show_value(getattr(spec, name))}")
    return found


def _block(gate: str, kind: str) -> str:
    return f"{kind}[{gate}]" if gate else kind


def to_onnx(spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """The operator's W, R, B (if bias) and P (if peepholes), stacked over directions.

    A coupled LSTM (input_forget) still takes forget-gate blocks; they are zero and unused.
    """
    order = GATES[spec.cell]
    size = spec.hidden_size
    stacks: dict[str, list[np.ndarray]] = {"W": [], "R": [], "B": [], "P": []}
    for direction in spec.directions:
        mine = params.of(layer_prefix(0, direction))

        def block(gate: str, kind: str, shape: tuple[int, ...]) -> np.ndarray:
            return mine.get(_block(gate, kind), np.zeros(shape))

        stacks["W"].append(np.concatenate([block(q, "W_x", (size, spec.input_size)) for q in order]))
        stacks["R"].append(np.concatenate([block(q, "W_h", (size, size)) for q in order]))
        stacks["B"].append(np.concatenate([block(q, kind, (size,)) for kind in ("b_x", "b_h")
                                           for q in order]))
        stacks["P"].append(np.concatenate([block(q, "p", (size,)) for q in PEEPHOLES]))
    out = {"W": np.stack(stacks["W"]), "R": np.stack(stacks["R"])}
    if spec.bias:
        out["B"] = np.stack(stacks["B"])
    if spec.peepholes:
        out["P"] = np.stack(stacks["P"])
    return out


def attributes(spec: Spec) -> dict[str, Any]:
    """The operator's attributes, with activations repeated for each direction.

    `activation_alpha` (`activation_beta`) is written as an exporter writes it: only when
    some function's alpha (beta) differs from ONNX's default, and then in full, packed
    (only the functions that take one consume an entry). So the golden cases with
    default-valued Affine, ScaledTanh, ThresholdedRelu, ... test the defaults too.
    """
    acts = list(spec.activations) * spec.num_directions
    attrs: dict[str, Any] = {
        "op": OPERATORS[spec.cell],
        "hidden_size": spec.hidden_size,
        "direction": spec.direction,
        "activations": [a.name for a in acts],
        "layout": 0,
    }
    for arg in omitted_defaults(spec) ^ {"alpha", "beta"}:
        attrs[f"activation_{arg}"] = [float(getattr(a, arg)) for a in acts
                                      if getattr(a, arg) is not None]
    if spec.activation_clip is not None:
        attrs["clip"] = float(spec.activation_clip)
    if spec.cell == "lstm":
        attrs["input_forget"] = int(spec.input_forget)
    if spec.cell == "gru":
        attrs["linear_before_reset"] = int(spec.gru_reset == "after")
    return attrs


def omitted_defaults(spec: Spec) -> set[str]:
    """Which of "alpha", "beta" :func:`attributes` leaves out: those that every activation
    has at ONNX's default (or that no activation takes)."""
    acts = spec.activations
    return {arg for arg in ("alpha", "beta")
            if all(getattr(a, arg) == getattr(Activation(a.name), arg) for a in acts)}
