"""Equinox's layout: `eqx.nn.LSTMCell` and `eqx.nn.GRUCell` parameters (docs/frameworks.md).

Both cells keep PyTorch's orientation, weights (G*H, in) with the canonical blocks as
they are: LSTM `weight_ih` (4H, I) and `weight_hh` (4H, H) in the order i, f, g, o with
one `bias` (4H,) = b_x + b_h; GRU `weight_ih` (3H, I) and `weight_hh` (3H, H) in the
order r, z, n with `bias` (3H,) on the input side (b_x[r] + b_h[r], b_x[z] + b_h[z],
b_x[n]) and `bias_n` (H,) = b_h[n], added to W_h[n] h inside r * (...) (`EQUINOX`,
lstm_ref.layouts.conventions). A cell is one step of one layer in one direction, with
sigmoid and tanh fixed; Equinox has no Elman cell and no sequence lengths. Numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lstm_ref.golden.load import GoldenCase
from lstm_ref.layouts.blocks import from_layout, to_layout
from lstm_ref.layouts.contract import Layout
from lstm_ref.layouts.conventions import EQUINOX
from lstm_ref.params import Params
from lstm_ref.spec import Spec


def to_equinox(spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """The cell's `weight_ih`, `weight_hh`, `bias` and (GRU) `bias_n`; no biases when the
    spec has none (`use_bias=False`)."""
    return to_layout(EQUINOX, spec, params)


def read_gradients(spec: Spec, grads: Mapping[str, Any]) -> Params:
    """The gradients of `weight_ih`, `weight_hh`, `bias` (and `bias_n`) as those of the
    canonical parameters (the transpose of :func:`to_equinox`)."""
    return from_layout(EQUINOX, spec, grads)


def _refusals(case: GoldenCase) -> list[str]:
    found = EQUINOX.refusals(case.spec)
    if np.any(case.inputs.seq_lens < case.inputs.x.shape[0]):
        found.append(
            "seq_lens shorter than T (an Equinox cell scanned over time has no sequence lengths)"
        )
    return found


def _config(case: GoldenCase) -> dict[str, Any]:
    spec = case.spec
    return {
        "cell": spec.cell,
        "input_size": spec.input_size,
        "hidden_size": spec.hidden_size,
        "use_bias": spec.bias,
    }


LAYOUT = Layout(
    "equinox",
    _refusals,
    lambda case: to_equinox(case.spec, case.params),
    _config,
    read_gradients=read_gradients,
    convention=EQUINOX,
)
