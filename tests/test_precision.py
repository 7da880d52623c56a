"""The exact evaluator agrees with itself across precisions, and restores the precision."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from lstm_ref import Spec, forward, precision, random_inputs, random_params

CASES = {
    "lstm-bi-2-layers": dict(
        cell="lstm", num_layers=2, direction="bidirectional", proj_size=2, peepholes=True
    ),
    "gru-before": dict(cell="gru", gru_reset="before", direction="bidirectional", merge="mul"),
    "rnn-output": dict(cell="rnn", output_size=2, activations=("Softplus",)),
    "lstm-long": dict(cell="lstm", activations=("HardSigmoid", "Elu", "Softsign")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_precisions_agree_to_45_digits(name):
    spec = Spec(input_size=3, hidden_size=3, **CASES[name])
    params = random_params(spec, seed=5)
    steps = 24 if name == "lstm-long" else 4
    inputs = random_inputs(spec, steps=steps, batch=2, seed=5, seq_lens=np.array([steps, 2]))
    low = forward(spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens, digits=50)
    high = forward(spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens, digits=100)
    assert high.bits > low.bits
    with mpmath.workdps(120):
        for name_, a, b in [
            ("y", low.y, high.y),
            ("h_n", low.h_n, high.h_n),
            ("c_n", low.c_n, high.c_n),
            ("y_out", low.y_out, high.y_out),
        ]:
            if a is None:
                continue
            for u, v in zip(a.values.flat, b.values.flat, strict=True):
                # relative, with a floor for exact zeros (Relu, padding): 1e-75 absolute
                assert abs(u - v) <= mpmath.mpf(10) ** -45 * max(abs(v), mpmath.mpf(10) ** -30), (
                    name_,
                    u,
                    v,
                )
            assert any(v != 0 for v in b.values.flat)


def test_precision_is_restored_even_on_error():
    before = mpmath.mp.prec
    with pytest.raises(RuntimeError):
        with precision(digits=80) as bits:
            assert mpmath.mp.prec == bits == 270
            raise RuntimeError("inside")
    assert mpmath.mp.prec == before


def test_forward_restores_precision():
    spec = Spec("rnn", 2, 2)
    before = mpmath.mp.prec
    forward(spec, random_params(spec), np.ones((2, 1, 2)), digits=200)
    assert mpmath.mp.prec == before


def test_precision_arguments():
    both = "give `digits` or `bits`, not both; got digits=20, bits=100"
    with pytest.raises(ValueError, match=both):
        with precision(digits=20, bits=100):
            pass
