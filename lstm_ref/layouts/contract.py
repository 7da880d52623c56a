"""The layout contract: how a golden case is handed to an implementation and its outputs
read back.

Every layout calls `impl(x, params, h0, c0, seq_lens=None, config=None)` (the
:class:`Implementation` protocol) and reads back `(y, h_n, c_n)` (c_n None for GRU and
RNN):

- `canonical`: lstm_ref's own names (docs/conventions.md); `config` is the spec as
  JSON (`Spec.to_json()`); with an Elman output layer it returns `(y, h_n, c_n, y_out)`;
  gradients are named like the parameters.
- `torch`: `params` named like `torch.nn.LSTM/GRU/RNN.state_dict()`; `config` has
  cell, input_size, hidden_size, num_layers, bidirectional, proj_size, nonlinearity,
  bias; `seq_lens` has packed-sequence semantics (padded outputs zero); tensors it
  returns are read as numpy arrays, and gradients read back (lstm_ref.layouts.torch).
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
  recurrence over the padding); the flax runner zeroes them (`padded_outputs="zero"`).
  Not sent: a length 0 (Flax's carry is then the state after all T padded steps) and
  `padded_outputs="carry"`.
- `equinox`: one eqx.nn.LSTMCell or GRUCell scanned over time (one layer, forward):
  x time-major (T, B, I) as in canonical; `params` weight_ih, weight_hh, bias and
  (GRU) bias_n (lstm_ref.layouts.equinox); h0, c0 (1, B, H); `config` has cell,
  input_size, hidden_size, use_bias; only full-length sequences are sent; gradients
  are read back (a summed bias's gradient is both b_x's and b_h's).

Arrays are numpy arrays in the requested dtype (bfloat16 values travel in float32
arrays). `seq_lens` is None when every sequence has full length. Cases a layout
cannot express are not sent: `refusals` says why. A layout that can read gradients back
(`read_gradients`) also checks an implementation's :class:`VectorJacobianProduct`.

Each layout is defined next to its mapping (lstm_ref.layouts.canonical, torch, onnx,
keras, flax, equinox) and listed in :data:`lstm_ref.layouts.LAYOUTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from lstm_ref.exact.rounding import FORMATS, representable
from lstm_ref.golden.load import GoldenCase
from lstm_ref.layouts.conventions import Convention
from lstm_ref.params import Params
from lstm_ref.spec import Spec

T = TypeVar("T")


class Implementation(Protocol):
    """What the checker checks: `impl(x, params, h0, c0, seq_lens=None, config=None)`
    returns the outputs `(y, h_n, c_n)` (with an output layer, in the canonical layout,
    `(y, h_n, c_n, y_out)`), arrays in the layout's shapes."""

    def __call__(
        self,
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        /,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
    ) -> tuple[Any, ...]: ...


class VectorJacobianProduct(Protocol):
    """An implementation's vector-Jacobian product: called like it, plus `cotangents`
    ("y", "h_n" and for LSTM "c_n", shaped like those outputs), it returns
    `(grad_x, grad_params, grad_h0, grad_c0)`, `grad_params` named like `params`."""

    def __call__(
        self,
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        /,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
        cotangents: dict[str, np.ndarray] | None = None,
    ) -> tuple[Any, Mapping[str, Any], Any, Any]: ...


def as_returned(case: GoldenCase, out: Any) -> Any:
    """The implementation's result as it is."""
    return out


def as_it_is(value: Any) -> Any:
    """A returned value as it is (numpy reads it)."""
    return value


def layer_outputs(case: GoldenCase) -> tuple[str, ...]:
    """The outputs of a layer stack: y, h_n, c_n."""
    return ("y", "h_n", "c_n")


@dataclass(frozen=True)
class Layout:
    """How one layout passes a case in and reads the outputs back.

    - `refusals(case)`: why the layout cannot express the case (empty: it can);
    - `params(case)`, `config(case)`: what the implementation receives;
    - `read(case, returned)`: the returned tuple as canonical (T, B, ...) outputs;
      `batch_major` layouts receive x as (B, T, I) and return y as (B, T, ...);
    - `as_array(value)`: one returned value (an output or a gradient) as something
      numpy.array reads (a framework's tensor as a numpy array);
    - `read_gradients(spec, grads)`: gradients named like `params` as canonical ones;
      None where the layout does not read gradients back;
    - `output_names(case)`: the names of the returned outputs, in order;
    - `convention`: the framework's record, where the layout follows one.
    """

    name: str
    refusals: Callable[[GoldenCase], list[str]]
    params: Callable[[GoldenCase], dict[str, np.ndarray]]
    config: Callable[[GoldenCase], dict[str, Any]]
    read: Callable[[GoldenCase, Any], Any] = as_returned
    batch_major: bool = False
    as_array: Callable[[Any], Any] = as_it_is
    read_gradients: Callable[[Spec, Mapping[str, Any]], Params] | None = None
    output_names: Callable[[GoldenCase], tuple[str, ...]] = layer_outputs
    convention: Convention | None = None

    def arguments(self, case: GoldenCase, dtype: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Fresh copies of everything the implementation receives."""
        kind = FORMATS[dtype].numpy_dtype
        x, h0, c0 = case.inputs_as(dtype)
        if self.batch_major:
            x = np.ascontiguousarray(x.transpose(1, 0, 2))
        params: dict[str, np.ndarray] = {
            k: np.array(v, dtype=kind) for k, v in self.params(case).items()
        }
        full = bool(np.all(case.inputs.seq_lens == case.inputs.x.shape[0]))
        lens = None if full else case.inputs.seq_lens.copy()
        return (x, params, h0, c0), {"seq_lens": lens, "config": self.config(case)}

    def inexact(self, case: GoldenCase, dtype: str) -> list[str]:
        """Mapped parameters the dtype cannot hold exactly (a summed bias in bfloat16)."""
        return [
            f"{name} (a sum of two grid values) is not exact in {dtype}"
            for name, value in self.params(case).items()
            if not representable(np.asarray(value), dtype).all()
        ]


def batch_major_read(case: GoldenCase, out: Any) -> Any:
    """A batch-major y (B, T, ...) as the canonical (T, B, ...)."""
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        return out
    y = np.asarray(out[0])
    return (np.swapaxes(y, 0, 1) if y.ndim >= 2 else y), out[1], out[2]


def given(value: T | None, name: str) -> T:
    """A keyword argument the checker always passes (`config`, `cotangents`): an
    implementation's signature has it default to None, this says it is not."""
    if value is None:
        raise TypeError(f"`{name}` is None: the checker passes it for every case")
    return value
