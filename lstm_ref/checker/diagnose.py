"""Diagnosis: which named mistake explains a failing implementation?

Each hypothesis (lstm_ref.layouts.hypotheses) re-runs the exact reference with one
mistake of docs/design.md's list (a permuted gate order, a forget bias added, a bias
dropped, ...) and asks whether the implementation's outputs lie within the profile's
bound of that mistaken reference, on every output of the case. The mistakes anyone can
make are written here; the known deviations of a framework's implementations, and the
names of the frameworks' gate orders, come from the records of
lstm_ref.layouts.conventions. :func:`diagnose` is the one rule that names mistakes, for
`check`, `check_results` and the pytest plugin alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from lstm_ref.checker.bounds import trajectory
from lstm_ref.checker.profiles import Profile
from lstm_ref.golden.load import GoldenCase
from lstm_ref.inputs import Inputs
from lstm_ref.layouts.conventions import CANONICAL_ORDER, CONVENTIONS, known_orders
from lstm_ref.layouts.hypotheses import (
    Arrays,
    Change,
    Evaluation,
    Hypothesis,
    InputChange,
    Mistaken,
    ModelChange,
    OutputRearrangement,
    full_lengths,
    ordered,
)
from lstm_ref.spec import Spec

DIAGNOSIS_CASES = 4  # a mistake must explain this many of the failing cases it applies to (or all)

Changed = tuple[Spec, Arrays] | None


def _permutation(order: tuple[str, ...], gates: tuple[str, ...]) -> Change:
    """The weights hold the gate blocks in `order` where `gates` was meant."""

    def apply(spec: Spec, params: Arrays) -> Changed:
        if spec.cell != ("lstm" if len(gates) == 4 else "gru") or spec.input_forget:
            return None
        moved = dict(params)
        for name in params:
            for src, dst in zip(order, gates, strict=True):
                if name.endswith(f"[{dst}]") and "." in name and name.split(".")[-1][0] in "Wb":
                    moved[name] = params[name[:-3] + f"[{src}]"]
        return spec, moved

    return apply


def _gate_hypotheses() -> list[Hypothesis]:
    """Every permutation of LSTM's and GRU's gate blocks; a framework's order, named
    after it (lstm_ref.layouts.conventions.known_orders)."""
    out: list[Hypothesis] = []
    for cell in ("lstm", "gru"):
        gates = CANONICAL_ORDER[cell]
        known = known_orders(cell)
        for order in itertools.permutations(gates):
            if order == gates:
                continue
            out.append(
                ModelChange(
                    f"gate blocks permuted: the weights hold {','.join(order)} where "
                    f"{','.join(gates)} was meant"
                    + (f" ({known[order]} read as canonical)" if order in known else ""),
                    _permutation(order, gates),
                )
            )
    return out


def _add_forget_bias(spec: Spec, params: Arrays) -> Changed:
    if spec.cell != "lstm" or spec.input_forget:
        return None
    if spec.forget_bias:
        return spec.replace(forget_bias=0), params
    return spec.replace(forget_bias=1), params


def _drop(kind: str) -> Change:
    def apply(spec: Spec, params: Arrays) -> Changed:
        if not spec.bias:
            return None
        return spec, {n: 0 * v if f".{kind}" in n else v for n, v in params.items()}

    return apply


def _transpose(spec: Spec, params: Arrays) -> Changed:
    if spec.h_out != spec.hidden_size:
        return None
    return spec, {n: v.T if ".W_h" in n else v for n, v in params.items()}


def _hard_sigmoid(spec: Spec, params: Arrays) -> Changed:
    first = spec.activations[0]
    if first.name != "HardSigmoid":
        return None
    other = Fraction(1, 6) if first.alpha == Fraction(1, 5) else Fraction(1, 5)
    acts = (replace(first, alpha=other), *spec.activations[1:])
    return spec.replace(activations=tuple(str(a) for a in acts)), params


def _no_cell_tanh(spec: Spec, params: Arrays) -> Changed:
    if spec.cell != "lstm" or spec.activations[2].name != "Tanh":
        return None
    acts = [str(a) for a in spec.activations[:2]] + ["Affine(1, 0)"]
    return spec.replace(activations=tuple(acts)), params


def _flip_reset(spec: Spec, params: Arrays) -> Changed:
    if spec.cell != "gru":
        return None
    return spec.replace(gru_reset="before" if spec.gru_reset == "after" else "after"), params


def _invert_update(spec: Spec, params: Arrays) -> Changed:
    if spec.cell != "gru":
        return None  # sigma(-a) = 1 - sigma(a): h = z n + (1 - z) h_prev
    return spec, {n: -v if n.endswith("[z]") else v for n, v in params.items()}


def _reverse_order(spec: Spec, inputs: Inputs, reference: Evaluation) -> Mistaken | None:
    """The backward direction's outputs left in the order it ran, each sequence's valid
    steps reversed."""
    if (
        spec.direction != "bidirectional"
        or spec.merge not in ("concat", "none")
        or (spec.num_layers > 1)
    ):  # below the top, the misaligned half feeds the next layer
        return None
    y = reference.outputs["y"].copy()
    half = (
        (slice(None), slice(None), 1)
        if spec.merge == "none"
        else (slice(None), slice(None), slice(spec.h_out, None))
    )
    backward = y[half]
    for b, n in enumerate(inputs.seq_lens):
        backward[:n, b] = backward[:n, b][::-1].copy()
    y[half] = backward
    return dict(reference.outputs, y=y), reference.bounds


def _swap_states(spec: Spec, inputs: Inputs, reference: Evaluation) -> Mistaken | None:
    if spec.cell != "lstm" or spec.proj_size:
        return None
    outputs, bounds = reference.outputs, reference.bounds
    return (
        dict(outputs, h_n=outputs["c_n"], c_n=outputs["h_n"]),
        dict(bounds, h_n=bounds["c_n"], c_n=bounds["h_n"]),
    )


GENERAL: tuple[Hypothesis, ...] = (
    *_gate_hypotheses(),
    ModelChange(
        "forget bias: 1 added to the forget gate at run time (or left out where the spec adds it)",
        _add_forget_bias,
    ),
    ModelChange("input-side bias b_x dropped", _drop("b_x")),
    ModelChange("recurrent-side bias b_h dropped", _drop("b_h")),
    ModelChange("recurrent weights W_h transposed", _transpose),
    ModelChange("hard sigmoid slope: 0.2 and 1/6 confused", _hard_sigmoid),
    ModelChange("no tanh on the cell output: h_t = o_t * C_t", _no_cell_tanh),
    ModelChange("GRU reset gate applied on the wrong side of the recurrent matmul", _flip_reset),
    ModelChange("GRU update gate inverted: h_t = z n + (1 - z) h_{t-1}", _invert_update),
    InputChange(
        "padding consumed: states run through the padded steps", full_lengths, keep_padding=True
    ),
    OutputRearrangement("backward direction not re-aligned in time", _reverse_order),
    OutputRearrangement("state order swapped: h_n and c_n exchanged", _swap_states),
)
"""The mistakes anyone can make."""

HYPOTHESES: tuple[Hypothesis, ...] = ordered(
    (*GENERAL, *(h for record in CONVENTIONS for h in record.deviations))
)
"""Every hypothesis, in the order they are tried and named: by kind (model, inputs,
outputs, profile), the general ones first within a kind, then the records' deviations."""


@dataclass(frozen=True)
class Failure:
    """A failing case: the implementation's outputs (canonical names, float64) and the
    case's reference."""

    case: GoldenCase
    actual: Mapping[str, np.ndarray]
    reference: Evaluation


@dataclass
class Diagnosis:
    """The named mistakes, and for each failing case the ones that explain it."""

    names: list[str] = field(default_factory=list)
    by_case: dict[str, list[str]] = field(default_factory=dict)


def explains(hypothesis: Hypothesis, failure: Failure, profile: Profile) -> bool | None:
    """Whether the mistake explains every output of the case; None if it does not apply."""
    mistaken = hypothesis.mistaken(failure.case, failure.reference, profile, trajectory)
    if mistaken is None:
        return None
    outputs, bounds = mistaken
    for name, value in failure.actual.items():
        if name not in outputs or outputs[name].shape != value.shape:
            return False
        if np.any(~(np.abs(value - outputs[name]) <= bounds[name])):
            return False
    return True


def diagnose(
    failures: Sequence[Failure], profile: Profile, hypotheses: Sequence[Hypothesis] = HYPOTHESES
) -> Diagnosis:
    """The one rule that names mistakes: a mistake is named when it explains every failing
    case it applies to (checked on up to DIAGNOSIS_CASES of them, in order) and applies to
    at least one. A named mistake is then listed for each failing case it explains.
    Names follow the order of `hypotheses`."""
    diagnosis = Diagnosis()
    for hypothesis in hypotheses:
        verdicts: list[tuple[str, bool]] = []
        for failure in failures:
            verdict = explains(hypothesis, failure, profile)
            if verdict is not None:
                verdicts.append((failure.case.id, verdict))
                if not verdict or len(verdicts) == DIAGNOSIS_CASES:
                    break
        if not verdicts or not all(verdict for _, verdict in verdicts):
            continue
        diagnosis.names.append(hypothesis.name)
        checked = {case_id for case_id, _ in verdicts}
        # the other failing cases it applies to are named where it explains them
        verdicts += [
            (f.case.id, explains(hypothesis, f, profile) is True)
            for f in failures
            if f.case.id not in checked
        ]
        for case_id, verdict in verdicts:
            if verdict:
                diagnosis.by_case.setdefault(case_id, []).append(hypothesis.name)
    return diagnosis
