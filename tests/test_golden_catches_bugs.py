"""The standard suite catches every mistake of docs/design.md's list of real bugs.

Each mistake is injected into the independent float64 textbook implementation (by
changing what it is given, or through its `mistake=` hooks). A mistake is caught when,
on at least one case of the committed standard suite, some output misses the exact
answer by more than 10x the float32 tolerance of that case: the error of a correct
float32 run (the textbook in float32), at least one float32 unit of the output's
largest magnitude.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import textbook
from lstm_ref.golden import load_suite

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "standard"


def permute(order_from, order_to):
    """Blocks stored in `order_from` read as if they were in `order_to`."""

    def apply(spec, params):
        if spec.cell != "lstm" or spec.input_forget:
            return None
        moved = dict(params)
        for name in params:
            for kind in ("W_x", "W_h", "b_x", "b_h"):
                for src, dst in zip(order_from, order_to, strict=True):
                    if name.endswith(f".{kind}[{dst}]"):
                        moved[name] = params[name.replace(f"[{dst}]", f"[{src}]")]
        return spec, moved

    return apply


def gru_swap_r_z(spec, params):
    if spec.cell != "gru":
        return None
    swap = {"[r]": "[z]", "[z]": "[r]"}
    moved = {}
    for name, value in params.items():
        key = next((k for k in swap if name.endswith(k)), None)
        moved[name if key is None else name[:-3] + swap[key]] = value
    return spec, moved


def add_to(suffix, amount):
    def apply(spec, params):
        if not spec.bias or not any(n.endswith(suffix) for n in params):
            return None
        return spec, {n: v + amount if n.endswith(suffix) else v for n, v in params.items()}

    return apply


def drop(kind):
    def apply(spec, params):
        if not spec.bias:
            return None
        return spec, {n: 0 * v if f".{kind}" in n else v for n, v in params.items()}

    return apply


def transpose_recurrent(spec, params):
    if spec.h_out != spec.hidden_size:
        return None
    return spec, {n: v.T if ".W_h" in n else v for n, v in params.items()}


def negate_update_gate(spec, params):
    """sigma(-a) = 1 - sigma(a): the update gate inverted, h = z n + (1 - z) h_prev."""
    if spec.cell != "gru":
        return None
    return spec, {n: -v if n.endswith("[z]") else v for n, v in params.items()}


def hard_sigmoid_slope(spec, params):
    acts = spec.activations
    if acts[0].name != "HardSigmoid":
        return None
    other = "1/6" if acts[0].alpha == Fraction(1, 5) else "1/5"
    return spec.replace(activations=(f"HardSigmoid({other}, 1/2)", *map(str, acts[1:]))), params


def no_cell_tanh(spec, params):
    if spec.cell != "lstm" or spec.activations[2].name != "Tanh":
        return None
    return spec.replace(activations=(*map(str, spec.activations[:2]), "Affine(1, 0)")), params


def flip_reset(spec, params):
    if spec.cell != "gru":
        return None
    return spec.replace(gru_reset="before" if spec.gru_reset == "after" else "after"), params


def forget_bias_missing(spec, params):
    if spec.cell != "lstm" or not spec.forget_bias:
        return None
    return spec.replace(forget_bias=0), params


def cell_clip_missing(spec, params):
    if spec.cell != "lstm" or spec.cell_clip is None:
        return None
    return spec.replace(cell_clip=None), params


def cell_clip_added(spec, params):
    if spec.cell != "lstm" or spec.cell_clip is not None:
        return None
    return spec.replace(cell_clip=3), params


def mistake(name, condition=lambda spec: True):
    def apply(spec, params):
        return (spec, params, name) if condition(spec) else None

    return apply


MUTANTS = {
    "gate blocks permuted: ONNX i,o,f,c read as i,f,g,o": permute("iofg", "ifgo"),
    "gate blocks permuted: TF1 i,c,f,o read as i,f,g,o": permute("igfo", "ifgo"),
    "GRU gate blocks permuted: z,r,n read as r,z,n": gru_swap_r_z,
    "forget bias of 1 added at run time": add_to(".b_x[f]", 1.0),
    "forget bias of 1 missing": forget_bias_missing,
    "input-side bias dropped": drop("b_x"),
    "recurrent-side bias dropped": drop("b_h"),
    "recurrent weights transposed": transpose_recurrent,
    "hard sigmoid slope 0.2 versus 1/6": hard_sigmoid_slope,
    "no tanh on the cell output": no_cell_tanh,
    "GRU reset gate on the wrong side of the matmul": flip_reset,
    "GRU update gate inverted": negate_update_gate,
    "cell clip missing": cell_clip_missing,
    "cell clip of 3 added": cell_clip_added,
    "backward direction not re-aligned in time": mistake(
        "reverse_not_realigned", lambda s: s.direction != "forward"
    ),
    "padding consumed instead of masked": mistake("padding_consumed"),
    "peephole on the wrong cell state": mistake("peephole_on_previous_cell", lambda s: s.peepholes),
    "projection misapplied: output gate after the projection": mistake(
        "gate_after_projection", lambda s: bool(s.proj_size)
    ),
    "fp16 accumulation where fp32 was promised": mistake("fp16_accumulation"),
    "TF32 matrix products where fp32 was promised": mistake("tf32_matmul"),
    "state order swapped: h_n and c_n": "swap-states",
}


@lru_cache(maxsize=1)
def cases():
    """Each standard case with its exact outputs and float32 tolerances."""
    out = []
    for case in load_suite(GOLDEN):
        exact = case.expected("float64")
        args = (
            dict(case.params),
            case.inputs.x,
            case.inputs.h0,
            case.inputs.c0,
            case.inputs.seq_lens,
        )
        f32 = textbook.run(case.spec, *args, dtype=np.float32)
        tolerance = {}
        for name, value in zip(("y", "h_n", "c_n", "y_out"), f32, strict=True):
            if value is not None:
                scale = np.max(np.abs(exact[name]), initial=0.0)
                error = np.max(np.abs(value.astype(np.float64) - exact[name]), initial=0.0)
                tolerance[name] = max(error, scale * 2.0**-24, 2.0**-149)
        out.append((case, exact, args, tolerance))
    return out


def misses(outputs, exact, tolerance):
    """The largest error / (10 x tolerance) over the outputs; > 1 means caught."""
    worst = 0.0
    for name, value in zip(("y", "h_n", "c_n", "y_out"), outputs, strict=True):
        if value is None or name not in tolerance or value.shape != exact[name].shape:
            continue
        error = np.max(np.abs(value.astype(np.float64) - exact[name]), initial=0.0)
        worst = max(worst, error / (10 * tolerance[name]))
    return worst


@pytest.mark.slow
def test_correct_implementation_is_within_tolerance():
    """The yardstick itself: the correct float64 textbook is far inside 10x the tolerance."""
    for case, exact, args, tolerance in cases():
        outputs = textbook.run(case.spec, *args)
        assert misses(outputs, exact, tolerance) < 0.1, case.id


@pytest.mark.slow
@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_standard_suite_catches(mutant):
    apply = MUTANTS[mutant]
    applicable, caught = 0, []
    for case, exact, args, tolerance in cases():
        params, x, h0, c0, lens = args
        if apply == "swap-states":
            if case.spec.cell != "lstm" or case.spec.proj_size:
                continue
            y, h_n, c_n, y_out = textbook.run(case.spec, *args)
            outputs = (y, c_n, h_n, y_out)
        else:
            changed = apply(case.spec, params)
            if changed is None:
                continue
            spec, new_params, *name = changed
            outputs = textbook.run(
                spec, new_params, x, h0, c0, lens, mistake=name[0] if name else None
            )
        applicable += 1
        if misses(outputs, exact, tolerance) > 1:
            caught.append(case.id)
    assert applicable, f"no standard case exercises {mutant!r}"
    assert caught, f"{mutant!r} passes all {applicable} applicable standard cases"
