"""Framework conventions as data: one record per framework.

A record (:class:`Convention`) says how a framework lays out and parameterises its
recurrent layers: the order of the gate blocks in its weights, how it splits the
biases, the orientation of its weights, the names of its parameters, where its GRU
applies the reset gate, the spec options it cannot express (with the reason) and its
known deviations (as diagnosis hypotheses, :mod:`lstm_ref.layouts.hypotheses`). Gate
names are the canonical ones: LSTM i, f, g (the candidate, C-tilde), o; GRU r, z, n;
the Elman cell has one block, "".

The mappings (:mod:`lstm_ref.layouts.torch`, `onnx`, `keras`, `flax`, `equinox`, most
through :mod:`lstm_ref.layouts.blocks`) and their layouts' refusals read these records,
and so does the diagnosis (the gate orders it names, the deviations it tries). TF1 and
cuDNN are records of known conventions only: no layout speaks them, but the diagnosis
names their gate orders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from lstm_ref.layouts.hypotheses import (
    Arrays,
    Hypothesis,
    InputChange,
    ModelChange,
    ProfileShortfall,
    full_lengths,
)
from lstm_ref.params import parameter_layout
from lstm_ref.spec import Activation, Spec, show_value

if TYPE_CHECKING:  # for the annotations only
    from lstm_ref.checker.profiles import Profile

CANONICAL_ORDER = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ("",)}

# How a framework holds the input-side and recurrent-side biases b_x and b_h.
TWO = "two"  # both, apart: "b_x" and "b_h"
SUMMED = "summed"  # one bias "b" = b_x + b_h
STACKED = "stacked"  # one bias "b" of shape (2, G*H): the row of b_x, then the row of b_h
# GRU with b_h[n] inside r * (...): "b" = b_x + b_h for r and z and b_x alone for n,
# "b_hn" = b_h[n]
N_INSIDE = "n-inside"

# The orientation of a weight block: (out, in) as the canonical W_x[q] (H, I), blocks
# stacked one under the other; (in, out) transposed, blocks side by side.
OUT_IN = "(out, in)"
IN_OUT = "(in, out)"


@dataclass(frozen=True)
class Refusal:
    """A spec option the framework cannot express: `refused(spec, record)` says when (from
    the spec and the framework's record), `reason` why. It is shown as `option=value`."""

    option: str
    refused: Callable[[Spec, Convention], bool]
    reason: str

    def shown(self, spec: Spec) -> str:
        return f"{self.option}={show_value(getattr(spec, self.option))}"


@dataclass(frozen=True)
class Convention:
    """How one framework lays out and parameterises recurrent layers.

    - `gate_order`: per cell, the order of the gate blocks in its weights;
      `gate_letters`: its own letter for a gate where it differs (ONNX's c for g).
    - `biases`: per cell, how it holds b_x and b_h (:data:`TWO`, :data:`SUMMED`,
      :data:`STACKED`, :data:`N_INSIDE`); a key "gru/before" holds the split of a GRU
      with the reset gate before the recurrent matmul, where that differs.
    - `orientation`: :data:`OUT_IN` or :data:`IN_OUT`.
    - `names`: the name of each kind of parameter: "W_x", "W_h", the biases of its split
      ("b_x", "b_h" or "b", "b_hn"), "p" (peepholes), "W_hr" (projection). Placeholders:
      {layer}, {direction} (its name in `directions`), {gate} (one array per gate, not
      stacked). A key "lstm.b" overrides "b" for one cell. Kinds that share a name are
      concatenated along the first axis, in that order (ONNX's B, TF1's kernel).
    - `stack_directions`: the directions' arrays stacked on a leading axis (ONNX's D).
    - `zero_blocks`: blocks a spec does not have are sent as zeros (ONNX's forget-gate
      blocks of a coupled LSTM); `peephole_order`: the order of its peephole vectors.
    - `gru_resets`: where its GRU can apply the reset gate ("after" and/or "before" the
      recurrent matmul).
    - `refuses`: the spec options it cannot express, in the order they are reported.
    - `functions`: the activations it computes, by its own names.
    - `deviations`: mistakes its implementations are known to make, tried by the
      diagnosis with the general ones.
    """

    name: str
    gate_order: Mapping[str, tuple[str, ...]]
    biases: Mapping[str, str]
    gru_resets: tuple[str, ...]
    orientation: str = OUT_IN
    names: Mapping[str, str] = field(default_factory=dict)
    directions: Mapping[str, str] = field(
        default_factory=lambda: {"forward": "forward", "reverse": "backward"}
    )
    gate_letters: Mapping[str, str] = field(default_factory=dict)
    stack_directions: bool = False
    zero_blocks: bool = False
    peephole_order: tuple[str, ...] = ()
    refuses: tuple[Refusal, ...] = ()
    functions: Mapping[Activation, str] = field(default_factory=dict)
    deviations: tuple[Hypothesis, ...] = ()

    def refusals(self, spec: Spec) -> list[str]:
        """The spec options this framework cannot express, as `name=value` strings."""
        return [r.shown(spec) for r in self.refuses if r.refused(spec, self)]

    def bias_split(self, spec: Spec) -> str:
        """How the framework holds the biases of `spec`'s cell."""
        if spec.cell == "gru":
            return self.biases.get(f"gru/{spec.gru_reset}", self.biases["gru"])
        return self.biases[spec.cell]

    def name_of(self, kind: str, cell: str) -> str:
        """The name (pattern) of a kind of parameter in `cell`."""
        return self.names.get(f"{cell}.{kind}", self.names[kind])

    def shown_order(self, cell: str) -> str:
        """The gate order in the framework's own letters: "i,o,f,c"."""
        return ",".join(self.gate_letters.get(q, q) for q in self.gate_order[cell])


def known_orders(cell: str) -> dict[tuple[str, ...], str]:
    """The gate orders of `cell` that the diagnosis names: each non-canonical order that
    exactly one record has, as "ONNX i,o,f,c" (an order several records share, GRU's
    z,r,n of ONNX and Keras, is not named after one of them)."""
    holders = [
        c
        for c in CONVENTIONS
        if cell in c.gate_order and c.gate_order[cell] != CANONICAL_ORDER[cell]
    ]
    counts = Counter(c.gate_order[cell] for c in holders)
    return {
        c.gate_order[cell]: f"{c.name} {c.shown_order(cell)}"
        for c in holders
        if counts[c.gate_order[cell]] == 1
    }


# ---- refusals ----------------------------------------------------------------------


def _unlike_default(option: str) -> Callable[[Spec, Convention], bool]:
    """Whether the spec's `option` differs from its default for the same cell and sizes."""

    def refused(spec: Spec, record: Convention) -> bool:
        default = Spec(spec.cell, spec.input_size, spec.hidden_size)
        return bool(getattr(spec, option) != getattr(default, option))

    return refused


def _activations(*allowed: tuple[str, ...]) -> frozenset[tuple[Activation, ...]]:
    return frozenset(tuple(Activation(a) for a in acts) for acts in allowed)


# What the recurrent layers of Keras 3 (and the cells of Flax and Equinox, which share
# their equations) cannot express.
LAYER_REFUSALS = (
    Refusal("proj_size", lambda s, _: bool(s.proj_size), "no projection of h"),
    Refusal("peepholes", lambda s, _: s.peepholes, "no peephole connections"),
    Refusal(
        "input_forget", lambda s, _: s.input_forget, "no coupling of the input and forget gates"
    ),
    Refusal("cell_clip", lambda s, _: s.cell_clip is not None, "no clipping of C_t"),
    Refusal(
        "activation_clip",
        lambda s, _: s.activation_clip is not None,
        "no clipping of the activations' inputs",
    ),
    Refusal(
        "forget_bias",
        lambda s, _: s.forget_bias != 0,
        "no forget bias added at run time (only an initialiser of the bias)",
    ),
    Refusal("output_size", lambda s, _: s.output_size is not None, "no output layer"),
)

# Keras's activations that compute what ONNX's of the same meaning do, by Keras's names
# (Flax and JAX export the same names).
KERAS_FUNCTIONS = {
    Activation("Sigmoid"): "sigmoid",
    Activation("Tanh"): "tanh",
    Activation("Relu"): "relu",
    Activation("HardSigmoid", Fraction(1, 6), Fraction(1, 2)): "hard_sigmoid",
    Activation("Elu"): "elu",
    Activation("Softsign"): "softsign",
    Activation("Softplus"): "softplus",
    Activation("Affine", Fraction(1), Fraction(0)): "linear",
}


def _not_by_name(spec: Spec, record: Convention) -> bool:
    """Activations the record's `functions` do not name, or an LSTM whose candidate and
    cell-output functions differ (Keras and Flax have one `activation` for both)."""
    acts = spec.activations
    return any(a not in record.functions for a in acts) or (
        spec.cell == "lstm" and acts[1] != acts[2]
    )


def _reset_elsewhere(spec: Spec, record: Convention) -> bool:
    """A GRU whose reset gate sits where the record's GRU cannot put it."""
    return spec.cell == "gru" and spec.gru_reset not in record.gru_resets


# ---- deviations: mistakes an implementation of a convention is known to make ---------


def _unclipped_cell_output(spec: Spec, params: Arrays) -> tuple[Spec, Arrays] | None:
    if spec.cell != "lstm" or spec.activation_clip is None or not spec.clip_cell_output:
        return None
    return spec.replace(clip_cell_output=False), params


def omitted_defaults(spec: Spec) -> set[str]:
    """Which of "alpha", "beta" the onnx layout leaves out of the attributes, as an
    exporter does: those that every activation has at ONNX's default (or that no
    activation takes)."""
    acts = spec.activations
    return {
        arg
        for arg in ("alpha", "beta")
        if all(getattr(a, arg) == getattr(Activation(a.name), arg) for a in acts)
    }


# ONNX Runtime's defaults for alpha and beta left out (rnn_helpers.cc, NameToArgDefaultsMap):
# LeakyRelu, HardSigmoid and Elu have ONNX's; every other function gets 0.
ORT_ZERO_DEFAULTS = ("Affine", "ScaledTanh", "ThresholdedRelu")


def _zeroed(act: Activation, left_out: set[str]) -> Activation:
    """The activation with the alpha and beta in `left_out` (those it takes) read as 0."""
    if act.name not in ORT_ZERO_DEFAULTS:
        return act
    zero = Fraction(0)
    return replace(
        act,
        alpha=zero if "alpha" in left_out and act.alpha is not None else act.alpha,
        beta=zero if "beta" in left_out and act.beta is not None else act.beta,
    )


def _zero_default_alphas(spec: Spec, params: Arrays) -> tuple[Spec, Arrays] | None:
    left_out = omitted_defaults(spec)
    acts = tuple(_zeroed(a, left_out) for a in spec.activations)
    if acts == spec.activations:
        return None
    return spec.replace(activations=acts), params


def _clip_ignored(spec: Spec, params: Arrays) -> tuple[Spec, Arrays] | None:
    if spec.activation_clip is None:
        return None
    return spec.replace(activation_clip=None, clip_cell_output=True), params


def _coupling_ignored(spec: Spec, params: Arrays) -> tuple[Spec, Arrays] | None:
    """f computed from the forget gate's own parameters, which a coupled LSTM does not have:
    zero, as the onnx layout sends them, so f = f(0) (1/2 for Sigmoid)."""
    if not spec.input_forget:
        return None
    uncoupled = spec.replace(input_forget=False)
    return uncoupled, {
        name: params[name] if name in params else np.zeros(shape)
        for name, (shape, _) in parameter_layout(uncoupled).items()
    }


def _activations_ignored(spec: Spec, params: Arrays) -> tuple[Spec, Arrays] | None:
    defaults = spec.replace(activations=None, nonlinearity=None)
    if defaults.activations == spec.activations:
        return None
    return defaults, params


def _float32_activations(profile: Profile) -> Profile | None:
    if profile.compute != "float64":
        return None
    return replace(profile, activation_ulps=profile.activation_ulps * 2.0**29)


# ---- the records --------------------------------------------------------------------

TORCH = Convention(
    name="PyTorch",
    gate_order=CANONICAL_ORDER,
    biases={"lstm": TWO, "gru": TWO, "rnn": TWO},
    gru_resets=("after",),
    names={
        "W_x": "weight_ih_l{layer}{direction}",
        "W_h": "weight_hh_l{layer}{direction}",
        "b_x": "bias_ih_l{layer}{direction}",
        "b_h": "bias_hh_l{layer}{direction}",
        "W_hr": "weight_hr_l{layer}{direction}",
    },
    directions={"forward": "", "reverse": "_reverse"},
    refuses=(
        Refusal("peepholes", _unlike_default("peepholes"), "no peephole connections"),
        Refusal(
            "input_forget",
            _unlike_default("input_forget"),
            "no coupling of the input and forget gates",
        ),
        Refusal("cell_clip", _unlike_default("cell_clip"), "no clipping of C_t"),
        Refusal(
            "activation_clip",
            _unlike_default("activation_clip"),
            "no clipping of the activations' inputs",
        ),
        Refusal("forget_bias", _unlike_default("forget_bias"), "no forget bias added at run time"),
        Refusal("output_size", _unlike_default("output_size"), "no output layer"),
        Refusal(
            "padded_outputs",
            _unlike_default("padded_outputs"),
            "a packed sequence's outputs past its length are zero",
        ),
        Refusal(
            "gru_reset",
            _reset_elsewhere,
            "nn.GRU applies the reset gate after the recurrent matmul",
        ),
        Refusal(
            "direction",
            lambda s, _: s.direction not in ("forward", "bidirectional"),
            "a layer runs forward, or both ways (bidirectional=True)",
        ),
        Refusal(
            "merge",
            lambda s, _: s.merge not in (None, "concat"),
            "a bidirectional layer concatenates the two directions' outputs",
        ),
        Refusal(
            "activations",
            lambda s, _: (
                s.activations
                not in {
                    "lstm": _activations(("Sigmoid", "Tanh", "Tanh")),
                    "gru": _activations(("Sigmoid", "Tanh")),
                    "rnn": _activations(("Tanh",), ("Relu",)),
                }[s.cell]
            ),
            "sigmoid and tanh are fixed; nn.RNN's nonlinearity is tanh or relu",
        ),
    ),
    functions={
        Activation("Sigmoid"): "sigmoid",
        Activation("Tanh"): "tanh",
        Activation("Relu"): "relu",
    },
)
"""PyTorch: `torch.nn.LSTM/GRU/RNN.state_dict()`, gate blocks stacked row-wise."""

ONNX = Convention(
    name="ONNX",
    gate_order={"lstm": ("i", "o", "f", "g"), "gru": ("z", "r", "n"), "rnn": ("",)},
    gate_letters={"g": "c", "n": "h"},
    biases={"lstm": TWO, "gru": TWO, "rnn": TWO},
    gru_resets=("after", "before"),  # linear_before_reset 1 and 0
    names={"W_x": "W", "W_h": "R", "b_x": "B", "b_h": "B", "p": "P"},
    stack_directions=True,
    zero_blocks=True,
    peephole_order=("i", "o", "f"),
    refuses=(
        Refusal("num_layers", lambda s, _: s.num_layers != 1, "one operator is one layer"),
        Refusal("proj_size", lambda s, _: bool(s.proj_size), "no projection of h"),
        Refusal(
            "cell_clip",
            lambda s, _: s.cell_clip is not None,
            "`clip` bounds the activations' inputs, not C_t",
        ),
        Refusal("forget_bias", lambda s, _: s.forget_bias != 0, "no forget bias added at run time"),
        Refusal("output_size", lambda s, _: s.output_size is not None, "no output layer"),
        Refusal(
            "padded_outputs",
            lambda s, _: s.padded_outputs != "zero",
            "Y past a sequence's length is zero",
        ),
        Refusal(
            "merge",
            lambda s, _: s.merge not in (None, "concat", "none"),
            "Y keeps the two directions apart",
        ),
        Refusal(
            "clip_cell_output",
            lambda s, _: not s.clip_cell_output,
            "`clip` applies to every activation's input, the cell output's included",
        ),
    ),
    deviations=(
        ModelChange(
            "activation clip not applied to C_t before the cell-output activation "
            "(ONNX Runtime's LSTM)",
            _unclipped_cell_output,
        ),
        ModelChange(
            "activation alpha/beta left out of the attributes read as 0, not ONNX's "
            "defaults (ONNX Runtime's Affine, ScaledTanh, ThresholdedRelu)",
            _zero_default_alphas,
        ),
        ModelChange("activation clip ignored (ONNX's reference evaluator)", _clip_ignored),
        ModelChange(
            "input_forget ignored: f_t from the forget gate's own (zero) parameters, "
            "not 1 - i_t (ONNX's reference evaluator)",
            _coupling_ignored,
        ),
        ModelChange(
            "activations ignored: the cell's default functions used (ONNX's "
            "reference evaluator's LSTM and GRU)",
            _activations_ignored,
        ),
        InputChange(
            "sequence lengths ignored: every sequence runs all T steps, outputs past "
            "its length not zeroed (ONNX's reference evaluator)",
            full_lengths,
        ),
    ),
)
"""ONNX: the LSTM, GRU and RNN operators' W, R, B, P, stacked over directions (D)."""

KERAS = Convention(
    name="Keras 3",
    gate_order={"lstm": ("i", "f", "g", "o"), "gru": ("z", "r", "n"), "rnn": ("",)},
    gate_letters={"g": "c", "n": "h"},
    biases={"lstm": SUMMED, "gru": STACKED, "gru/before": SUMMED, "rnn": SUMMED},
    gru_resets=("after", "before"),  # reset_after True and False
    orientation=IN_OUT,
    names={
        "W_x": "layer{layer}/{direction}/kernel",
        "W_h": "layer{layer}/{direction}/recurrent_kernel",
        "b": "layer{layer}/{direction}/bias",
    },
    refuses=(
        *LAYER_REFUSALS,
        Refusal(
            "direction",
            lambda s, _: s.direction == "reverse",
            "a reverse-only layer (go_backwards) returns its outputs reversed in time",
        ),
        Refusal(
            "activations",
            _not_by_name,
            "activations by name, one `activation` for LSTM's candidate and cell output",
        ),
    ),
    functions=KERAS_FUNCTIONS,
    deviations=(
        ProfileShortfall(
            "activations only float32-accurate in a float64 computation (Keras 3 "
            "on JAX: keras.ops.tanh returns float32 for float64 input)",
            _float32_activations,
        ),
    ),
)
"""Keras 3: LSTM, GRU and SimpleRNN kernels (in, G*H), per layer and direction."""

FLAX = Convention(
    name="Flax linen",
    gate_order=CANONICAL_ORDER,
    biases={"lstm": SUMMED, "gru": N_INSIDE, "rnn": SUMMED},
    gru_resets=("after",),
    orientation=IN_OUT,
    names={
        "W_x": "layer{layer}/{direction}/i{gate}/kernel",
        "W_h": "layer{layer}/{direction}/h{gate}/kernel",
        "b": "layer{layer}/{direction}/i{gate}/bias",
        "lstm.b": "layer{layer}/{direction}/h{gate}/bias",
        "b_hn": "layer{layer}/{direction}/h{gate}/bias",
    },
    refuses=(
        *LAYER_REFUSALS,
        Refusal(
            "gru_reset",
            _reset_elsewhere,
            "GRUCell applies the reset gate after the recurrent matmul",
        ),
        Refusal(
            "merge",
            lambda s, _: s.merge == "none",
            "nn.Bidirectional merges the two directions' outputs",
        ),
        Refusal(
            "activations",
            _not_by_name,
            "gate_fn and activation_fn, one function for LSTM's candidate and cell output",
        ),
    ),
    functions=KERAS_FUNCTIONS,
)
"""Flax linen: one Dense module per gate and side, kernels (in, H)."""

EQUINOX = Convention(
    name="Equinox",
    gate_order={"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")},
    biases={"lstm": SUMMED, "gru": N_INSIDE},
    gru_resets=("after",),
    names={"W_x": "weight_ih", "W_h": "weight_hh", "b": "bias", "b_hn": "bias_n"},
    refuses=(
        *LAYER_REFUSALS,
        Refusal("cell", lambda s, _: s.cell == "rnn", "no Elman cell"),
        Refusal("num_layers", lambda s, _: s.num_layers > 1, "a cell is one layer"),
        Refusal("direction", lambda s, _: s.direction != "forward", "a cell scanned forward"),
        Refusal(
            "gru_reset",
            _reset_elsewhere,
            "GRUCell applies the reset gate after the recurrent matmul",
        ),
        Refusal(
            "activations",
            lambda s, _: (
                _not_by_name(s, KERAS)
                or s.activations
                != {
                    "lstm": (Activation("Sigmoid"), Activation("Tanh"), Activation("Tanh")),
                    "gru": (Activation("Sigmoid"), Activation("Tanh")),
                }.get(s.cell, s.activations)
            ),
            "sigmoid and tanh are fixed",
        ),
    ),
    functions={Activation("Sigmoid"): "sigmoid", Activation("Tanh"): "tanh"},
)
"""Equinox: one `eqx.nn.LSTMCell` or `GRUCell`, PyTorch's (out, in) blocks."""

TF1 = Convention(
    name="TF1",
    gate_order={"lstm": ("i", "g", "f", "o"), "gru": ("r", "z", "n"), "rnn": ("",)},
    gate_letters={"g": "c"},
    biases={"lstm": SUMMED, "gru": SUMMED, "rnn": SUMMED},
    gru_resets=("before",),
    orientation=IN_OUT,
)
"""TensorFlow 1's LSTMCell (kernel (in + H, 4H): i, c (its j), f, o, forget_bias 1 added
at run time) and GRUCell (reset before the matmul): a known convention, no layout."""

CUDNN = Convention(
    name="cuDNN",
    gate_order=CANONICAL_ORDER,
    biases={"lstm": TWO, "gru": TWO, "rnn": TWO},
    gru_resets=("after",),
)
"""cuDNN's linear layers (LSTM i, f, c, o; GRU r, z, n; an input-side and a recurrent
bias each; GRU reset after the matmul, as PyTorch took it): a known convention, no layout."""

CONVENTIONS: tuple[Convention, ...] = (TORCH, ONNX, KERAS, FLAX, EQUINOX, TF1, CUDNN)
