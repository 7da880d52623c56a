"""Diagnosis: which named mistake explains a failing implementation?

Each hypothesis re-runs the exact reference with one mistake of docs/design.md's list
(a permuted gate order, a forget bias added, a bias dropped, ...) and asks whether
the implementation's outputs lie within the profile's bound of that mistaken
reference, on every output of the case.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from lstm_ref.layouts import onnx
from lstm_ref.checker.bounds import Trajectory, trajectory
from lstm_ref.checker.profiles import Profile
from lstm_ref.golden.load import GoldenCase
from lstm_ref.params import Params, parameter_layout
from lstm_ref.spec import Spec

Transform = Callable[[Spec, dict[str, np.ndarray]], tuple[Spec, dict[str, np.ndarray]] | None]

FRAMEWORK_ORDERS = {"iofg": "ONNX i,o,f,c", "igfo": "TF1 i,c,f,o"}


@dataclass(frozen=True)
class Hypothesis:
    """A named mistake, as a change of the spec and parameters, of the inputs, or of
    the outputs."""

    name: str
    model: Transform | None = None
    inputs: str | None = None
    outputs: str | None = None
    # a shortfall in accuracy: the profile the implementation really computes with
    profile: Callable[[Profile], Profile | None] | None = None


def _permutation(order: str, gates: str) -> Transform:
    def apply(spec: Spec, params: dict[str, np.ndarray]) -> tuple[Spec, dict[str, np.ndarray]] | None:
        if spec.cell != ("lstm" if len(gates) == 4 else "gru") or spec.input_forget:
            return None
        moved = dict(params)
        for name in params:
            for src, dst in zip(order, gates):
                if name.endswith(f"[{dst}]") and "." in name and name.split(".")[-1][0] in "Wb":
                    moved[name] = params[name[:-3] + f"[{src}]"]
        return spec, moved
    return apply


def _gate_hypotheses() -> list[Hypothesis]:
    out = []
    for gates in ("ifgo", "rzn"):
        for order in itertools.permutations(gates):
            order = "".join(order)
            if order == gates:
                continue
            known = FRAMEWORK_ORDERS.get(order, "")
            shown = ",".join(order)
            out.append(Hypothesis(
                f"gate blocks permuted: the weights hold {shown} where {','.join(gates)} was "
                f"meant" + (f" ({known} read as canonical)" if known else ""),
                _permutation(order, gates)))
    return out


def _add_forget_bias(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    if spec.cell != "lstm" or spec.input_forget:
        return None
    if spec.forget_bias:
        return spec.replace(forget_bias=0), params
    return spec.replace(forget_bias=1), params


def _drop(kind: str) -> Transform:
    def apply(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
        if not spec.bias:
            return None
        return spec, {n: 0 * v if f".{kind}" in n else v for n, v in params.items()}
    return apply


def _transpose(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    if spec.h_out != spec.hidden_size:
        return None
    return spec, {n: v.T if ".W_h" in n else v for n, v in params.items()}


def _hard_sigmoid(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    first = spec.activations[0]
    if first.name != "HardSigmoid":
        return None
    other = Fraction(1, 6) if first.alpha == Fraction(1, 5) else Fraction(1, 5)
    acts = (replace(first, alpha=other), *spec.activations[1:])
    return spec.replace(activations=tuple(str(a) for a in acts)), params


def _no_cell_tanh(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    if spec.cell != "lstm" or spec.activations[2].name != "Tanh":
        return None
    acts = [str(a) for a in spec.activations[:2]] + ["Affine(1, 0)"]
    return spec.replace(activations=tuple(acts)), params


def _flip_reset(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    if spec.cell != "gru":
        return None
    return spec.replace(gru_reset="before" if spec.gru_reset == "after" else "after"), params


def _invert_update(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    if spec.cell != "gru":
        return None  # sigma(-a) = 1 - sigma(a): h = z n + (1 - z) h_prev
    return spec, {n: -v if n.endswith("[z]") else v for n, v in params.items()}


def _unclipped_cell_output(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    if spec.cell != "lstm" or spec.activation_clip is None or not spec.clip_cell_output:
        return None
    return spec.replace(clip_cell_output=False), params


def _clip_ignored(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    if spec.activation_clip is None:
        return None
    return spec.replace(activation_clip=None, clip_cell_output=True), params


def _coupling_ignored(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    """f computed from the forget gate's own parameters, which a coupled LSTM does not have:
    zero, as the onnx layout sends them, so f = f(0) (1/2 for Sigmoid)."""
    if not spec.input_forget:
        return None
    uncoupled = spec.replace(input_forget=False)
    return uncoupled, {name: params[name] if name in params else np.zeros(shape)
                       for name, (shape, _) in parameter_layout(uncoupled).items()}


def _activations_ignored(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    defaults = spec.replace(activations=None, nonlinearity=None)
    if defaults.activations == spec.activations:
        return None
    return defaults, params


# ONNX Runtime's defaults for alpha and beta left out (rnn_helpers.cc, NameToArgDefaultsMap):
# LeakyRelu, HardSigmoid and Elu have ONNX's; every other function gets 0.
ORT_ZERO_DEFAULTS = ("Affine", "ScaledTanh", "ThresholdedRelu")


def _zero_default_alphas(spec: Spec, params: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    left_out = onnx.omitted_defaults(spec)
    acts = tuple(replace(a, **{arg: Fraction(0) for arg in left_out if getattr(a, arg) is not None})
                 if a.name in ORT_ZERO_DEFAULTS else a for a in spec.activations)
    if acts == spec.activations:
        return None
    return spec.replace(activations=acts), params


HYPOTHESES: tuple[Hypothesis, ...] = (
    *_gate_hypotheses(),
    Hypothesis("forget bias: 1 added to the forget gate at run time (or left out where the "
               "spec adds it)", _add_forget_bias),
    Hypothesis("input-side bias b_x dropped", _drop("b_x")),
    Hypothesis("recurrent-side bias b_h dropped", _drop("b_h")),
    Hypothesis("recurrent weights W_h transposed", _transpose),
    Hypothesis("hard sigmoid slope: 0.2 and 1/6 confused", _hard_sigmoid),
    Hypothesis("no tanh on the cell output: h_t = o_t * C_t", _no_cell_tanh),
    Hypothesis("GRU reset gate applied on the wrong side of the recurrent matmul", _flip_reset),
    Hypothesis("GRU update gate inverted: h_t = z n + (1 - z) h_{t-1}", _invert_update),
    Hypothesis("activation clip not applied to C_t before the cell-output activation "
               "(ONNX Runtime's LSTM)", _unclipped_cell_output),
    Hypothesis("activation alpha/beta left out of the attributes read as 0, not ONNX's "
               "defaults (ONNX Runtime's Affine, ScaledTanh, ThresholdedRelu)",
               _zero_default_alphas),
    Hypothesis("activation clip ignored (ONNX's reference evaluator)", _clip_ignored),
    Hypothesis("input_forget ignored: f_t from the forget gate's own (zero) parameters, "
               "not 1 - i_t (ONNX's reference evaluator)", _coupling_ignored),
    Hypothesis("activations ignored: the cell's default functions used (ONNX's reference "
               "evaluator's LSTM and GRU)", _activations_ignored),
    Hypothesis("padding consumed: states run through the padded steps", inputs="full-lengths"),
    Hypothesis("sequence lengths ignored: every sequence runs all T steps, outputs past its "
               "length not zeroed (ONNX's reference evaluator)", inputs="ignored-lengths"),
    Hypothesis("backward direction not re-aligned in time", outputs="reverse-order"),
    Hypothesis("state order swapped: h_n and c_n exchanged", outputs="swap-states"),
    Hypothesis("activations only float32-accurate in a float64 computation (Keras 3 on "
               "JAX: keras.ops.tanh returns float32 for float64 input)",
               profile=lambda p: replace(p, activation_ulps=p.activation_ulps * 2.0 ** 29)
               if p.compute == "float64" else None),
)


def explained(case: GoldenCase, actual: dict[str, np.ndarray], profile: Profile,
              hypothesis: Hypothesis, reference: Trajectory) -> bool | None:
    """Whether the mistake explains every output of the case; None if it does not apply."""
    spec, params, inputs = case.spec, dict(case.params), case.inputs
    if hypothesis.model is not None:
        changed = hypothesis.model(spec, params)
        if changed is None:
            return None
        spec, params = changed
        mistaken = trajectory(spec, Params(spec, params), inputs, profile)
        outputs, bounds = mistaken.outputs, mistaken.bounds
    elif hypothesis.inputs in ("full-lengths", "ignored-lengths"):
        lens = inputs.seq_lens
        if np.all(lens == inputs.steps):
            return None
        full = replace(inputs, seq_lens=np.full_like(lens, inputs.steps))
        mistaken = trajectory(spec, case.params, full, profile)
        outputs = {k: v.copy() for k, v in mistaken.outputs.items()}
        for name in ("y", "y_out"):
            if name in outputs and hypothesis.inputs == "full-lengths":
                for b, n in enumerate(lens):
                    outputs[name][n:, b] = 0.0
        bounds = mistaken.bounds
    elif hypothesis.profile is not None:
        shortfall = hypothesis.profile(profile)
        if shortfall is None:
            return None
        mistaken = trajectory(spec, case.params, inputs, shortfall)
        outputs, bounds = mistaken.outputs, mistaken.bounds
    elif hypothesis.outputs == "swap-states":
        if spec.cell != "lstm" or spec.proj_size:
            return None
        outputs = dict(reference.outputs, h_n=reference.outputs["c_n"], c_n=reference.outputs["h_n"])
        bounds = dict(reference.bounds, h_n=reference.bounds["c_n"], c_n=reference.bounds["h_n"])
    else:  # reverse-order
        if spec.direction != "bidirectional" or spec.merge not in ("concat", "none") or (
                spec.num_layers > 1):  # below the top, the misaligned half feeds the next layer
            return None
        y = reference.outputs["y"].copy()
        half = (slice(None), slice(None), 1) if spec.merge == "none" else (
            slice(None), slice(None), slice(spec.h_out, None))
        backward = y[half]
        for b, n in enumerate(inputs.seq_lens):
            backward[:n, b] = backward[:n, b][::-1].copy()
        y[half] = backward
        outputs, bounds = dict(reference.outputs, y=y), reference.bounds
    for name, value in actual.items():
        if name not in outputs or outputs[name].shape != value.shape:
            return False
        if np.any(~(np.abs(value - outputs[name]) <= bounds[name])):
            return False
    return True
