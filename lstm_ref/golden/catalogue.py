"""The catalogue of golden cases: what each suite contains and which bug each case targets.

A case is data: a spec, sizes, seeds, scales, variable lengths and a few documented
transformations of the drawn values (constant biases, cancelling columns). Every value
stays on the bfloat16/float16 grid. `FLAGS` names the classes of bugs (the notes of
every file); each case lists the flags it is designed to expose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from lstm_ref.grid import on_grid
from lstm_ref.inputs import Inputs, random_inputs, validate_inputs
from lstm_ref.params import Params, random_params
from lstm_ref.spec import ACTIVATIONS, Spec

FLAGS = {
    "GateOrder": (
        "layout",
        "Gate blocks permuted when weights are ported (PyTorch i,f,g,o; "
        "Keras i,f,c,o; ONNX i,o,f,c; TF1 i,c,f,o). Random, non-uniform "
        "weights make every permutation visible.",
    ),
    "BiasSplit": ("layout", "One of the two biases dropped, or both added where one was meant."),
    "ForgetBias": (
        "layout",
        "A forget-gate bias of 1 added at run time (TF1) where the spec has none, or the reverse.",
    ),
    "Transposed": (
        "layout",
        "A weight matrix used transposed (square recurrent weights make this shape-compatible).",
    ),
    "StateOrder": ("layout", "h_n and c_n swapped, or the state axis in the wrong order."),
    "RecurrentWeights": ("coverage", "T >= 2, so the recurrent weights are exercised."),
    "InitialState": ("coverage", "Non-zero h0 (and c0), so their use is visible."),
    "Saturation": ("numerics", "Large pre-activations: gates saturate at 0 and 1."),
    "LargeCellState": (
        "numerics",
        "The cell state grows past 3 (where a cell clip, or a missing tanh on the cell, shows).",
    ),
    "LongHorizon": ("numerics", "T >= 64: errors accumulate through the recurrence."),
    "Cancellation": (
        "numerics",
        "Large terms cancel in the matrix products: low-precision "
        "accumulation (TF32, fp16) loses the small ones.",
    ),
    "Tiny": ("numerics", "Values near float16's subnormal range (2^-14)."),
    "VariableLength": (
        "semantics",
        "seq_lens with full, partial and zero lengths: padding must be masked, not consumed.",
    ),
    "LengthZero": ("semantics", "A sequence of length 0 keeps its initial state."),
    "ReverseAlignment": (
        "semantics",
        "The backward direction must run over the valid prefix "
        "and its outputs be re-aligned in time.",
    ),
    "Merge": ("semantics", "A bidirectional merge mode (concat, sum, ave, mul, none)."),
    "MultiLayer": ("semantics", "2 or 3 stacked layers."),
    "Projection": ("variant", "LSTM projection (proj_size): h_t = W_hr (o_t * tanh(C_t))."),
    "Peephole": ("variant", "Peepholes: i and f see C_{t-1}, o sees C_t."),
    "Coupled": ("variant", "Coupled input-forget gate, f = 1 - i."),
    "CellClip": ("variant", "The cell state is clipped."),
    "ActivationClip": ("variant", "ONNX's clip on the input of every activation."),
    "Activation": ("variant", "A non-default ONNX activation (with its alpha, beta)."),
    "HardSigmoid": (
        "variant",
        "HardSigmoid gates: slope 0.2 (ONNX, Keras 2) versus 1/6 (PyTorch, Keras 3) tells apart.",
    ),
    "CellActivation": ("variant", "The activation of the cell output (tanh on C_t)."),
    "ResetPlacement": ("variant", "GRU reset gate applied after or before the recurrent matmul."),
    "UpdateGate": ("variant", "GRU update gate: h_t = (1 - z) n + z h_{t-1}, not inverted."),
    "Nonlinearity": ("variant", "RNN tanh or relu."),
    "OutputLayer": ("variant", "The Elman output layer y_t = g(W_y h_t + b_y)."),
    "SingleStep": ("coverage", "T = 1: one cell step, for cell-level implementations."),
    "Gradients": ("coverage", "Gradients of every input and parameter are stored."),
}


@dataclass(frozen=True)
class Case:
    """One golden case. Transformations, applied in this order after drawing:

    - `biases`: (gate, value) pairs; b_x[gate] of every layer and direction is set to
      the constant value (for a spec with biases).
    - `cancel`: input feature 1 repeats feature 0 times 2^4, and column 1 of every
      W_x[q] of layer 0 is -2^-4 times column 0: those products cancel exactly.
    """

    id: str
    comment: str
    flags: tuple[str, ...]
    spec: Spec
    steps: int
    batch: int
    seed: int = 0
    weight_scale: float | None = None
    input_scale: float = 1.0
    seq_lens: tuple[int, ...] | None = None
    states: bool = True
    biases: tuple[tuple[str, float], ...] = ()
    cancel: bool = False
    gradients: bool = True
    suites: tuple[str, ...] = field(default=("standard",), compare=False)

    def draw(self) -> tuple[Params, Inputs]:
        """The case's parameters and inputs, on the grid."""
        params = dict(random_params(self.spec, seed=self.seed, scale=self.weight_scale))
        lens = None if self.seq_lens is None else np.array(self.seq_lens)
        inputs = random_inputs(
            self.spec,
            self.steps,
            self.batch,
            seed=self.seed,
            scale=self.input_scale,
            states=self.states,
            seq_lens=lens,
        )
        for gate, value in self.biases:
            for name in params:
                if name.endswith(f".b_x[{gate}]"):
                    params[name] = np.full_like(params[name], value)
        x = inputs.x
        if self.cancel:
            x = x.copy()
            x[..., 1] = x[..., 0] * 16
            for name in params:
                if name.startswith("layer0") and ".W_x" in name:
                    params[name] = params[name].copy()
                    params[name][:, 1] = -params[name][:, 0] / 16
        values = [x, *params.values()]
        assert all(on_grid(v).all() for v in values), self.id
        return Params(self.spec, params), validate_inputs(self.spec, x, inputs.h0, inputs.c0, lens)


def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(
        id: str,
        comment: str,
        flags: tuple[str, ...],
        spec: Spec,
        steps: int = 5,
        batch: int = 3,
        suites: tuple[str, ...] = ("standard",),
        **kw: Any,
    ) -> None:
        # `kw`: the rest of Case's options, checked by Case itself
        cases.append(Case(id, comment, flags, spec, steps, batch, suites=suites, **kw))

    both = ("smoke", "standard")
    core = (
        "GateOrder",
        "BiasSplit",
        "ForgetBias",
        "Transposed",
        "StateOrder",
        "RecurrentWeights",
        "InitialState",
        "Gradients",
    )  # LSTM
    core_gru = (
        "GateOrder",
        "BiasSplit",
        "Transposed",
        "RecurrentWeights",
        "InitialState",
        "Gradients",
    )
    core_rnn = ("BiasSplit", "Transposed", "RecurrentWeights", "InitialState", "Gradients")

    lstm = partial(Spec, "lstm", input_size=3, hidden_size=4)
    gru = partial(Spec, "gru", input_size=3, hidden_size=4)
    rnn = partial(Spec, "rnn", input_size=3, hidden_size=4)

    # The basic cases: random weights, non-zero states, T >= 2, variable lengths.
    lens = (5, 3, 0)
    add(
        "lstm-basic",
        "LSTM, random weights and states, lengths 5, 3 and 0.",
        core + ("VariableLength", "LengthZero"),
        lstm(),
        seq_lens=lens,
        suites=both,
    )
    add(
        "gru-basic",
        "GRU (reset after), random weights and states, lengths 5, 3 and 0.",
        core_gru + ("VariableLength", "LengthZero", "ResetPlacement", "UpdateGate"),
        gru(),
        seq_lens=lens,
        suites=both,
    )
    add(
        "gru-reset-before",
        "GRU with the reset gate before the recurrent matmul (ONNX default).",
        core_gru + ("ResetPlacement", "UpdateGate"),
        gru(gru_reset="before"),
        suites=both,
    )
    add("rnn-tanh", "Elman RNN, tanh.", core_rnn + ("Nonlinearity",), rnn(), suites=both)
    add(
        "rnn-relu",
        "Elman RNN, relu.",
        core_rnn + ("Nonlinearity",),
        rnn(nonlinearity="relu"),
        seq_lens=(5, 2, 4),
        suites=both,
    )
    add(
        "lstm-bi-concat",
        "Bidirectional LSTM, concatenated, variable lengths.",
        core + ("ReverseAlignment", "Merge", "VariableLength", "LengthZero"),
        lstm(direction="bidirectional"),
        seq_lens=(5, 2, 0),
        suites=both,
    )
    add(
        "lstm-single-step",
        "One LSTM cell step.",
        ("GateOrder", "BiasSplit", "ForgetBias", "InitialState", "SingleStep", "Gradients"),
        lstm(),
        steps=1,
        suites=both,
    )
    add(
        "gru-single-step",
        "One GRU cell step.",
        (
            "GateOrder",
            "BiasSplit",
            "InitialState",
            "SingleStep",
            "ResetPlacement",
            "UpdateGate",
            "Gradients",
        ),
        gru(),
        steps=1,
    )
    add(
        "rnn-single-step",
        "One RNN cell step.",
        ("BiasSplit", "InitialState", "SingleStep", "Gradients"),
        rnn(),
        steps=1,
    )

    # Directions, merges, layers.
    for merge in ("sum", "ave", "mul", "none"):
        add(
            f"lstm-bi-{merge}",
            f"Bidirectional LSTM merged by {merge}.",
            core + ("ReverseAlignment", "Merge", "VariableLength"),
            lstm(direction="bidirectional", merge=merge),
            seq_lens=(5, 4, 2),
        )
        add(
            f"gru-bi-{merge}",
            f"Bidirectional GRU merged by {merge}.",
            ("ReverseAlignment", "Merge", "VariableLength", "Gradients"),
            gru(direction="bidirectional", merge=merge),
            seq_lens=(5, 1, 3),
        )
    add(
        "lstm-reverse",
        "LSTM running backwards over the valid prefix.",
        core + ("ReverseAlignment", "VariableLength"),
        lstm(direction="reverse"),
        seq_lens=(5, 3, 1),
    )
    add(
        "lstm-2-layers",
        "Two stacked LSTM layers.",
        core + ("MultiLayer",),
        lstm(num_layers=2),
        seq_lens=(5, 4, 2),
    )
    add(
        "gru-3-layers-bi",
        "Three stacked bidirectional GRU layers.",
        ("MultiLayer", "ReverseAlignment", "Merge", "Gradients"),
        gru(num_layers=3, direction="bidirectional"),
        seq_lens=(5, 3, 2),
    )
    add(
        "rnn-2-layers-bi-relu",
        "Two bidirectional relu RNN layers.",
        ("MultiLayer", "ReverseAlignment", "Nonlinearity", "Gradients"),
        rnn(num_layers=2, direction="bidirectional", nonlinearity="relu"),
    )

    # LSTM variants.
    add(
        "lstm-projection",
        "LSTM with projection (proj_size 3).",
        core + ("Projection",),
        lstm(proj_size=3),
        seq_lens=(5, 2, 4),
    )
    add(
        "lstm-bi-2-layers-projection",
        "Two bidirectional LSTM layers with projection.",
        ("Projection", "MultiLayer", "ReverseAlignment", "Gradients"),
        lstm(num_layers=2, direction="bidirectional", proj_size=2),
    )
    add("lstm-peepholes", "LSTM with peepholes.", core + ("Peephole",), lstm(peepholes=True))
    add(
        "lstm-coupled",
        "LSTM with coupled input-forget gate.",
        ("Coupled", "GateOrder", "Gradients"),
        lstm(input_forget=True),
    )
    add(
        "lstm-forget-bias",
        "TF1's forget bias of 1 added at run time.",
        ("ForgetBias", "Gradients"),
        lstm(forget_bias=1),
    )
    add(
        "lstm-large-cell",
        "Gates biased open: the cell state grows to about 15.",
        ("LargeCellState", "CellActivation", "CellClip", "Gradients"),
        lstm(),
        steps=16,
        batch=2,
        biases=(("f", 4.0), ("i", 4.0), ("g", 2.0)),
    )
    add(
        "lstm-cell-clip",
        "The large cell state, clipped to 3 (TF1's raw op default).",
        ("CellClip", "LargeCellState", "Gradients"),
        lstm(cell_clip=3),
        steps=16,
        batch=2,
        biases=(("f", 4.0), ("i", 4.0), ("g", 2.0)),
    )
    add(
        "lstm-activation-clip",
        "ONNX's clip of 1 on every activation input.",
        ("ActivationClip", "Saturation", "Gradients"),
        lstm(activation_clip=1),
        weight_scale=2.0,
        input_scale=2.0,
    )
    add(
        "lstm-hard-sigmoid-0.2",
        "HardSigmoid gates with slope 0.2 (ONNX's default).",
        ("HardSigmoid", "Activation", "Gradients"),
        lstm(activations=("HardSigmoid", "Tanh", "Tanh")),
        weight_scale=2.0,
        input_scale=2.0,
    )
    add(
        "lstm-hard-sigmoid-1/6",
        "HardSigmoid gates with slope 1/6 (PyTorch, Keras 3).",
        ("HardSigmoid", "Activation", "Gradients"),
        lstm(activations=("HardSigmoid(1/6, 1/2)", "Tanh", "Tanh")),
        weight_scale=2.0,
        input_scale=2.0,
    )
    add(
        "lstm-saturated",
        "Large weights and inputs: pre-activations far past +-10.",
        ("Saturation", "Gradients"),
        lstm(),
        weight_scale=4.0,
        input_scale=4.0,
    )
    add(
        "lstm-long",
        "T = 64: a long horizon.",
        ("LongHorizon", "RecurrentWeights"),
        Spec("lstm", input_size=3, hidden_size=4),
        steps=64,
        batch=2,
        gradients=False,
    )
    add(
        "gru-long",
        "T = 64: a long horizon.",
        ("LongHorizon", "RecurrentWeights"),
        Spec("gru", input_size=3, hidden_size=4),
        steps=64,
        batch=2,
        gradients=False,
    )
    add(
        "lstm-cancellation",
        "Large products cancel exactly in W_x x.",
        ("Cancellation", "Gradients"),
        lstm(),
        input_scale=8.0,
    )
    add(
        "lstm-tiny",
        "Inputs, states and weights of 2^-6: products near 2^-14.",
        ("Tiny", "Gradients"),
        lstm(),
        weight_scale=2.0**-6,
        input_scale=2.0**-6,
    )
    add(
        "gru-tiny",
        "Inputs, states and weights of 2^-6.",
        ("Tiny", "Gradients"),
        gru(),
        weight_scale=2.0**-6,
        input_scale=2.0**-6,
    )
    for name in ACTIVATIONS:
        if name in ("Sigmoid", "Tanh"):
            continue
        add(
            f"lstm-act-{name}",
            f"LSTM with {name} as the candidate and cell activation.",
            ("Activation", "Gradients"),
            lstm(activations=("Sigmoid", name, name)),
            weight_scale=1.0,
        )
        add(
            f"rnn-act-{name}",
            f"RNN with {name}.",
            ("Activation", "Gradients"),
            rnn(activations=(name,)),
            weight_scale=1.0,
        )
    add(
        "gru-act-mix",
        "GRU with HardSigmoid gates and Softsign candidate.",
        ("Activation", "HardSigmoid", "Gradients"),
        gru(activations=("HardSigmoid", "Softsign")),
        weight_scale=2.0,
    )
    add(
        "rnn-output",
        "Elman RNN with an output layer (3 outputs, sigmoid).",
        ("OutputLayer", "Gradients"),
        rnn(output_size=3),
        seq_lens=(5, 3, 0),
        suites=both,
    )
    add(
        "rnn-bi-output-ave",
        "Bidirectional Elman RNN, averaged, with a softplus output layer.",
        ("OutputLayer", "Merge", "ReverseAlignment", "Gradients"),
        rnn(output_size=2, direction="bidirectional", merge="ave", output_activation="Softplus"),
    )
    add(
        "lstm-carry",
        "Keras-style padded outputs of a unidirectional layer: carried, not zeroed.",
        ("VariableLength", "Gradients"),
        lstm(padded_outputs="carry"),
        seq_lens=(5, 2, 0),
    )
    add(
        "lstm-zero-states",
        "Zero initial states (the frameworks' default).",
        ("GateOrder", "Gradients"),
        lstm(),
        states=False,
    )

    # Edge cases: the smallest sizes, the extremes of the grid, everything padded.
    edge = ("edge",)
    add(
        "lstm-h1",
        "I = H = B = 1.",
        ("SingleStep", "Gradients"),
        Spec("lstm", input_size=1, hidden_size=1),
        steps=3,
        batch=1,
        suites=edge,
    )
    add(
        "lstm-extreme",
        "Pre-activations in the hundreds: every gate rounds to 0 or 1.",
        ("Saturation", "Gradients"),
        lstm(),
        weight_scale=16.0,
        input_scale=16.0,
        suites=edge,
    )
    add(
        "gru-all-padded",
        "Every sequence has length 0: outputs zero, states unchanged.",
        ("LengthZero", "Gradients"),
        gru(direction="bidirectional"),
        seq_lens=(0, 0, 0),
        suites=edge,
    )
    add(
        "lstm-tiny-h1",
        "Weights and inputs of 2^-6 with one unit: values near 2^-12.",
        ("Tiny", "Gradients"),
        Spec("lstm", input_size=1, hidden_size=1),
        steps=4,
        batch=1,
        weight_scale=2.0**-6,
        input_scale=2.0**-6,
        suites=edge,
    )
    add(
        "lstm-3-layers-bi-peep-proj",
        "Three bidirectional layers with peepholes and projection.",
        ("MultiLayer", "Peephole", "Projection", "ReverseAlignment", "Gradients"),
        lstm(num_layers=3, direction="bidirectional", peepholes=True, proj_size=2),
        seq_lens=(5, 1, 3),
        suites=edge,
    )
    add(
        "rnn-long-256",
        "T = 256 relu RNN.",
        ("LongHorizon",),
        rnn(nonlinearity="relu"),
        steps=256,
        batch=1,
        gradients=False,
        suites=edge,
    )
    return cases


CATALOGUE: tuple[Case, ...] = tuple(_cases())
SUITES = ("smoke", "standard", "edge", "full")


def suite(name: str) -> tuple[Case, ...]:
    """The cases of a suite ("full" is every case of every suite).

    >>> [c.id for c in suite("smoke")][:3]
    ['lstm-basic', 'gru-basic', 'gru-reset-before']
    """
    if name not in SUITES:
        raise ValueError(f"`suite` must be one of {', '.join(SUITES)}; got {name!r}")
    return tuple(c for c in CATALOGUE if name == "full" or name in c.suites)
