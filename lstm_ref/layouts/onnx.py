"""ONNX's layout: the LSTM, GRU and RNN operators' inputs and attributes (docs/frameworks.md).

One operator is one layer: W [D, G*H, I], R [D, G*H, H] and B [D, 2*G*H] (input-side
biases, then recurrent-side), P [D, 3H] (peepholes i, o, f), with gate blocks in
ONNX's order (`ONNX.gate_order`, lstm_ref.layouts.conventions): LSTM i, o, f, c; GRU
z, r, h. Weights keep the canonical (out, in) orientation. Direction 0 is the
forward-running one. This module needs numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstm_ref.golden.load import GoldenCase
from lstm_ref.layouts.blocks import to_layout
from lstm_ref.layouts.contract import Layout
from lstm_ref.layouts.conventions import ONNX, omitted_defaults
from lstm_ref.params import Params
from lstm_ref.spec import Spec

OPERATORS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def to_onnx(spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """The operator's W, R, B (if bias) and P (if peepholes), stacked over directions.

    A coupled LSTM (input_forget) still takes forget-gate blocks; they are zero and unused.
    """
    return to_layout(ONNX, spec, params)


def attributes(spec: Spec) -> dict[str, Any]:
    """The operator's attributes, with activations repeated for each direction.

    `activation_alpha` (`activation_beta`) is written as an exporter writes it: only when
    some function's alpha (beta) differs from ONNX's default, and then in full, packed
    (only the functions that take one consume an entry; :func:`omitted_defaults` says
    which are left out). So the golden cases with default-valued Affine, ScaledTanh,
    ThresholdedRelu, ... test the defaults too.
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
        attrs[f"activation_{arg}"] = [
            float(getattr(a, arg)) for a in acts if getattr(a, arg) is not None
        ]
    if spec.activation_clip is not None:
        attrs["clip"] = float(spec.activation_clip)
    if spec.cell == "lstm":
        attrs["input_forget"] = int(spec.input_forget)
    if spec.cell == "gru":
        attrs["linear_before_reset"] = int(spec.gru_reset == "after")
    return attrs


def _refusals(case: GoldenCase) -> list[str]:
    found = ONNX.refusals(case.spec)
    if np.any(case.inputs.seq_lens == 0):
        found.append("seq_lens with 0 (the ONNX specification leaves length 0 undefined)")
    return found


def _read(case: GoldenCase, out: Any) -> Any:
    """ONNX's Y (T, D, B, H) as the canonical y; Y_h and Y_c are already (D, B, H)."""
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        return out
    y, h_n, c_n = out
    y = np.asarray(y)
    if y.ndim == 4:
        y = y.transpose(0, 2, 1, 3)
        if case.spec.merge != "none":
            y = y.reshape(y.shape[0], y.shape[1], -1)
    return y, h_n, c_n


LAYOUT = Layout(
    "onnx",
    _refusals,
    lambda case: to_onnx(case.spec, case.params),
    lambda case: attributes(case.spec),
    _read,
    convention=ONNX,
)
