"""Exact gradients against central finite differences (mpmath, 90 digits)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import finite_differences
from lstm_ref import Spec, backward, forward, random_inputs, random_params
from test_forward_textbook import CASES


def small_spec(options):
    """T=3, B=3, I=3 and H=2 (H=4 where a projection needs room)."""
    return Spec(input_size=3, hidden_size=4 if "proj_size" in options else 2, **options)


FD_CASES = {
    name: options
    for name, options in CASES.items()
    if "act-" not in name or options["cell"] == "rnn"
}
# With H=2 and these seeds every pre-activation stays below 1/16: a threshold of -1/4
# puts both branches of ThresholdedRelu within reach.
FD_CASES["rnn-act-ThresholdedRelu(1/16)"] = dict(cell="rnn", activations=("ThresholdedRelu(-1/4)",))
FD_CASES |= {
    "lstm-act-mix": dict(
        cell="lstm", activations=("HardSigmoid(1/6, 1/2)", "Elu(0.75)", "Softsign")
    ),
    "lstm-act-mix2": dict(cell="lstm", activations=("Sigmoid", "LeakyRelu(0.1)", "Softplus")),
    "gru-act-mix": dict(cell="gru", activations=("ScaledTanh(1.5, 0.5)", "Affine(0.5, 0.25)")),
    "lstm-bi-2-layers-varied": dict(
        cell="lstm",
        num_layers=2,
        direction="bidirectional",
        merge="mul",
        peepholes=True,
        input_forget=True,
    ),
}
SLOW = {"lstm-all-variants", "gru-three-layers", "lstm-bi-2-layers-varied"}


def cotangents_for(result, seed):
    rng = np.random.default_rng(seed)
    outputs = {"y": result.y, "h_n": result.h_n, "c_n": result.c_n, "y_out": result.y_out}
    return {k: rng.standard_normal(v.shape) for k, v in outputs.items() if v is not None}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(FD_CASES)]
)
def test_gradients_match_finite_differences(name):
    spec = small_spec(FD_CASES[name])
    params = random_params(spec, seed=2, scale=0.5)
    inputs = random_inputs(spec, steps=3, batch=3, seed=2, seq_lens=np.array([3, 0, 2]))
    args = (spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens)
    cot = cotangents_for(forward(*args), seed=2)
    exact = backward(*args, cotangents=cot, digits=60)
    numeric = finite_differences.gradient(*args, cot)
    mine = {"x": exact.x, "h0": exact.h0, "c0": exact.c0, **exact.params}
    assert set(numeric) == {k for k, v in mine.items() if v is not None}
    with mpmath.workdps(60):
        for key, fd in numeric.items():
            for index, (a, b) in enumerate(zip(mine[key].values.flat, fd.flat, strict=True)):
                # >= 20 significant digits; exact zeros (padding) agree absolutely
                assert abs(a - b) <= mpmath.mpf(10) ** -20 * max(abs(b), mpmath.mpf(10) ** -10), (
                    key,
                    index,
                    a,
                    b,
                )
        assert any(v != 0 for g in exact.params.values() for v in g.values.flat)


def test_length_zero_passes_state_cotangents_through():
    spec = Spec("lstm", 3, 2)
    params = random_params(spec)
    inputs = random_inputs(spec, steps=2, batch=1, seed=0, seq_lens=np.array([0]))
    cot = {
        "h_n": np.array([[[1.5, -2.0]]]),
        "c_n": np.array([[[0.25, 4.0]]]),
        "y": np.ones((2, 1, 2)),
    }
    grads = backward(spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens, cotangents=cot)
    np.testing.assert_array_equal(grads.h0.float64, cot["h_n"])
    np.testing.assert_array_equal(grads.c0.float64, cot["c_n"])
    assert not grads.x.float64.any()
    assert all(not g.float64.any() for g in grads.params.values())


def test_cotangent_errors():
    spec = Spec("gru", 2, 2)
    params = random_params(spec)
    x = np.ones((3, 1, 2))
    with pytest.raises(
        ValueError,
        match=r"^`cotangents` has no output 'c_n' for this spec; "
        r"available: \['y', 'h_n'\]$",
    ):
        backward(spec, params, x, cotangents={"c_n": np.ones((1, 1, 2))})
    with pytest.raises(
        ValueError,
        match=r"^`cotangents\['y'\]` must have the shape of y, "
        r"\(3, 1, 2\); got \(3, 2\)$",
    ):
        backward(spec, params, x, cotangents={"y": np.ones((3, 2))})
