"""Keras 3's layout: LSTM, GRU and SimpleRNN weights (docs/frameworks.md).

Kernels are (in, G*H) (the canonical blocks transposed), in Keras's gate order
(`KERAS.gate_order`, lstm_ref.layouts.conventions): LSTM i, f, c, o; GRU z, r, h. LSTM
and SimpleRNN have one bias (b_x + b_h); GRU with reset_after (reset "after") has a
bias (2, 3H): input side, then recurrent side; GRU with reset "before" has one bias
(3H,) (b_x + b_h: every bias sits outside r there). Names are
"layer{k}/{forward|backward}/{kernel|recurrent_kernel|bias}". This module needs numpy
only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstm_ref.golden.load import GoldenCase
from lstm_ref.layouts.blocks import to_layout
from lstm_ref.layouts.contract import Layout, batch_major_read
from lstm_ref.layouts.conventions import KERAS
from lstm_ref.params import Params
from lstm_ref.spec import Spec


def activations(spec: Spec) -> dict[str, str]:
    """Keras's `recurrent_activation` and `activation` for the spec."""
    names = KERAS.functions
    if spec.cell == "rnn":
        return {"activation": names[spec.activations[0]]}
    return {
        "recurrent_activation": names[spec.activations[0]],
        "activation": names[spec.activations[1]],
    }


def to_keras(spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """The weights of each layer and direction, named "layer{k}/{direction}/{weight}"."""
    return to_layout(KERAS, spec, params)


def _refusals(case: GoldenCase) -> list[str]:
    spec, lens = case.spec, case.inputs.seq_lens
    found = KERAS.refusals(spec)
    if np.any(lens == 0):
        found.append("seq_lens with 0 (Keras backends disagree on fully masked sequences)")
    elif (
        np.any(lens < case.inputs.x.shape[0])
        and spec.direction != "bidirectional"
        and (spec.padded_outputs == "zero")
    ):
        found.append("padded_outputs='zero' (a masked Keras RNN carries its last output)")
    return found


def _config(case: GoldenCase) -> dict[str, Any]:
    spec = case.spec
    return {
        "cell": spec.cell,
        "units": spec.hidden_size,
        "num_layers": spec.num_layers,
        "bidirectional": spec.direction == "bidirectional",
        "merge_mode": spec.merge,
        "use_bias": spec.bias,
        "reset_after": spec.gru_reset == "after",
        **activations(spec),
    }


LAYOUT = Layout(
    "keras",
    _refusals,
    lambda case: to_keras(case.spec, case.params),
    _config,
    batch_major_read,
    batch_major=True,
    convention=KERAS,
)
