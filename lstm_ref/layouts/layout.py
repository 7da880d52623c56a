"""Layouts: how a golden case is handed to an implementation and its outputs read back.

Every layout calls `impl(x, params, h0, c0, seq_lens=None, config=None)` and reads
back `(y, h_n, c_n)` (c_n None for GRU and RNN):

- `canonical`: lstm_ref's own names (docs/conventions.md); `config` is the spec as
  JSON (`Spec.to_json()`); with an Elman output layer it returns `(y, h_n, c_n, y_out)`.
- `torch`: `params` named like `torch.nn.LSTM/GRU/RNN.state_dict()`; `config` has
  cell, input_size, hidden_size, num_layers, bidirectional, proj_size, nonlinearity,
  bias; `seq_lens` has packed-sequence semantics (padded outputs zero).
- `onnx`: one operator: `params` W, R, B, P (lstm_ref.layouts.onnx); h0, c0 are
  initial_h, initial_c (D, B, H); `config` the operator's attributes (layout 0); it
  returns (Y (T, D, B, H), Y_h, Y_c) with ONNX Runtime's variable-length semantics.
- `keras`: x and y batch-major (B, T, ...); `params` "layer{k}/{forward|backward}/
  {kernel|recurrent_kernel|bias}" (lstm_ref.layouts.keras); h0, c0 stacked like the
  canonical ones; `config` has cell, units, num_layers, bidirectional, merge_mode,
  use_bias, reset_after, activation, recurrent_activation; seq_lens is Keras's mask
  (step t of sequence b is valid when t < seq_lens[b]).
- `flax`: batch-major like keras; `params` "layer{k}/{forward|backward}/{module}/
  {kernel|bias}" with Flax's Dense modules (lstm_ref.layouts.flax); `config` has cell,
  features, num_layers, direction, merge, gate_fn, activation_fn; seq_lens is Flax's
  `seq_lengths` (lengths >= 1): h_n, c_n are Flax's final carry (the state after step
  seq_lens[b] - 1; the reverse direction runs x_{len-1} .. x_0 of each sequence), and y
  past a length is zero. Flax does not define those outputs (they continue the
  recurrence over the padding); the adapter zeroes them (`padded_outputs="zero"`).
  Not sent: a length 0 (Flax's carry is then the state after all T padded steps) and
  `padded_outputs="carry"`.
- `equinox`: one eqx.nn.LSTMCell or GRUCell scanned over time (one layer, forward):
  x time-major (T, B, I) as in canonical; `params` weight_ih, weight_hh, bias and
  (GRU) bias_n (lstm_ref.layouts.equinox); h0, c0 (1, B, H); `config` has cell,
  input_size, hidden_size, use_bias; only full-length sequences are sent.

Arrays are numpy arrays in the requested dtype (bfloat16 values travel in float32
arrays). `seq_lens` is None when every sequence has full length. Cases a layout
cannot express are not sent: `refusals` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_ref.layouts import equinox, flax, keras, onnx
from lstm_ref.layouts.conventions import TORCH
from lstm_ref.layouts.torch import to_torch
from lstm_ref.exact.rounding import FORMATS, representable
from lstm_ref.golden.load import GoldenCase

OUTPUTS = ("y", "h_n", "c_n", "y_out")


@dataclass(frozen=True)
class Layout:
    """How one layout passes a case in and reads the outputs back.

    `batch_major` layouts receive x as (B, T, I) and return y as (B, T, ...); `read`
    turns the returned tuple into canonical (T, B, ...) outputs.
    """

    name: str
    refusals: Callable[[GoldenCase], list[str]]
    params: Callable[[GoldenCase], dict[str, np.ndarray]]
    config: Callable[[GoldenCase], dict[str, Any]]
    read: Callable[[GoldenCase, tuple[Any, ...]], tuple[Any, ...]] = lambda case, out: out
    batch_major: bool = False

    def arguments(self, case: GoldenCase, dtype: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Fresh copies of everything the implementation receives."""
        kind = FORMATS[dtype].numpy_dtype
        x, h0, c0 = case.inputs_as(dtype)
        if self.batch_major:
            x = np.ascontiguousarray(x.transpose(1, 0, 2))
        params = {k: np.array(v, dtype=kind) for k, v in self.params(case).items()}
        full = bool(np.all(case.inputs.seq_lens == case.inputs.x.shape[0]))
        lens = None if full else case.inputs.seq_lens.copy()
        return (x, params, h0, c0), {"seq_lens": lens, "config": self.config(case)}

    def inexact(self, case: GoldenCase, dtype: str) -> list[str]:
        """Mapped parameters the dtype cannot hold exactly (a summed bias in bfloat16)."""
        return [f"{name} (a sum of two grid values) is not exact in {dtype}"
                for name, value in self.params(case).items()
                if not representable(np.asarray(value), dtype).all()]

    def expected_outputs(self, case: GoldenCase) -> tuple[str, ...]:
        names = ["y", "h_n", "c_n"]
        if self.name == "canonical" and case.spec.output_size is not None:
            names.append("y_out")
        return tuple(names)


def _torch_refusals(case: GoldenCase) -> list[str]:
    found = TORCH.refusals(case.spec)
    if np.any(case.inputs.seq_lens == 0):
        found.append("seq_lens with 0 (PyTorch's packed sequences need lengths >= 1)")
    return found


def _torch_config(case: GoldenCase) -> dict[str, Any]:
    spec = case.spec
    return {
        "cell": spec.cell, "input_size": spec.input_size, "hidden_size": spec.hidden_size,
        "num_layers": spec.num_layers, "bidirectional": spec.direction == "bidirectional",
        "proj_size": spec.proj_size, "nonlinearity": spec.nonlinearity, "bias": spec.bias,
    }


def _onnx_refusals(case: GoldenCase) -> list[str]:
    found = onnx.refusals(case.spec)
    if np.any(case.inputs.seq_lens == 0):
        found.append("seq_lens with 0 (the ONNX specification leaves length 0 undefined)")
    return found


def _onnx_read(case: GoldenCase, out: tuple[Any, ...]) -> tuple[Any, ...]:
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


def _keras_refusals(case: GoldenCase) -> list[str]:
    spec, lens = case.spec, case.inputs.seq_lens
    found = keras.refusals(spec)
    if np.any(lens == 0):
        found.append("seq_lens with 0 (Keras backends disagree on fully masked sequences)")
    elif np.any(lens < case.inputs.x.shape[0]) and spec.direction != "bidirectional" and (
            spec.padded_outputs == "zero"):
        found.append("padded_outputs='zero' (a masked Keras RNN carries its last output)")
    return found


def _keras_config(case: GoldenCase) -> dict[str, Any]:
    spec = case.spec
    return {
        "cell": spec.cell, "units": spec.hidden_size, "num_layers": spec.num_layers,
        "bidirectional": spec.direction == "bidirectional", "merge_mode": spec.merge,
        "use_bias": spec.bias, "reset_after": spec.gru_reset == "after",
        **keras.activations(spec),
    }


def _keras_read(case: GoldenCase, out: tuple[Any, ...]) -> tuple[Any, ...]:
    """Keras's batch-major y (B, T, ...) as the canonical (T, B, ...)."""
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        return out
    y = np.asarray(out[0])
    return (np.swapaxes(y, 0, 1) if y.ndim >= 2 else y), out[1], out[2]


def _flax_refusals(case: GoldenCase) -> list[str]:
    lens = case.inputs.seq_lens
    found = flax.refusals(case.spec)
    if np.any(lens == 0):
        found.append("seq_lens with 0 (Flax's final carry for length 0 is the state after all "
                     "T padded steps, not h0)")
    if np.any(lens < case.inputs.x.shape[0]) and case.spec.padded_outputs == "carry":
        found.append("padded_outputs='carry' (the flax layout's outputs past a length are "
                     "zero: Flax does not define them)")
    return found


def _flax_config(case: GoldenCase) -> dict[str, Any]:
    spec = case.spec
    return {"cell": spec.cell, "features": spec.hidden_size, "num_layers": spec.num_layers,
            "direction": spec.direction, "merge": spec.merge, **flax.functions(spec)}


def _equinox_refusals(case: GoldenCase) -> list[str]:
    found = equinox.refusals(case.spec)
    if np.any(case.inputs.seq_lens < case.inputs.x.shape[0]):
        found.append("seq_lens shorter than T (an Equinox cell scanned over time has no "
                     "sequence lengths)")
    return found


def _equinox_config(case: GoldenCase) -> dict[str, Any]:
    spec = case.spec
    return {"cell": spec.cell, "input_size": spec.input_size,
            "hidden_size": spec.hidden_size, "use_bias": spec.bias}


LAYOUTS = {
    "canonical": Layout("canonical", lambda case: [], lambda case: dict(case.params),
                        lambda case: case.spec.to_json()),
    "torch": Layout("torch", _torch_refusals, lambda case: to_torch(case.spec, case.params),
                    _torch_config),
    "onnx": Layout("onnx", _onnx_refusals, lambda case: onnx.to_onnx(case.spec, case.params),
                   lambda case: onnx.attributes(case.spec), _onnx_read),
    "keras": Layout("keras", _keras_refusals, lambda case: keras.to_keras(case.spec, case.params),
                    _keras_config, _keras_read, batch_major=True),
    "flax": Layout("flax", _flax_refusals, lambda case: flax.to_flax(case.spec, case.params),
                   _flax_config, _keras_read, batch_major=True),
    "equinox": Layout("equinox", _equinox_refusals,
                      lambda case: equinox.to_equinox(case.spec, case.params), _equinox_config),
}


def layout(name: str) -> Layout:
    """The layout of that name."""
    if name not in LAYOUTS:
        raise ValueError(f"`layout` must be one of {', '.join(LAYOUTS)}; got {name!r}")
    return LAYOUTS[name]
