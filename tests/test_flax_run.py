"""Flax linen, run by the built-in adapter (lstm_ref.adapters.flax_run) on the golden
cases: every case the flax layout expresses passes, with nn.LSTMCell and with
nn.OptimizedLSTMCell, in float32 and float64; a wrong gate order is caught and named."""

from __future__ import annotations

import functools

import numpy as np
import pytest

pytest.importorskip("flax", reason="Flax is the `jax` extra")

from lstm_ref import check  # noqa: E402
from lstm_ref.adapters import flax_run  # noqa: E402
from lstm_ref.adapters.flax import to_flax  # noqa: E402
from lstm_ref.golden.load import load_suite  # noqa: E402

PASSES = {"lstm": 13, "gru": 3, "rnn": 8}


@functools.cache
def implementation(dtype, lstm_cell="LSTMCell"):
    return flax_run.implementation(dtype, lstm_cell=lstm_cell)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cell, lstm_cell", [("lstm", "LSTMCell"), ("lstm", "OptimizedLSTMCell"),
                                             ("gru", None), ("rnn", None)])
def test_flax_passes_every_expressible_case(cell, lstm_cell, dtype):
    impl = implementation(dtype, lstm_cell or "LSTMCell")
    report = check(impl, cell=cell, layout="flax", dtype=dtype)
    assert report.passed, str(report)
    assert report.counts()["pass"] == PASSES[cell]
    assert all(c.reason for c in report.cases if c.status == "unsupported")


def test_flax_gru_built_from_canonical_params_reproduces_golden():
    """The mapping against Flax itself: nn.RNN(nn.GRUCell) holding to_flax's Dense
    kernels and biases (b_h[n] in `hn`, inside r * (...)) gives the golden float32 values."""
    import flax.linen as nn
    case = next(c for c in load_suite("standard") if c.id == "gru-long")
    mapped = to_flax(case.spec, case.params)
    tree: dict = {}
    for name, value in mapped.items():
        _, _, module, leaf = name.split("/")
        tree.setdefault(module, {})[leaf] = value.astype(np.float32)
    x, h0, _ = case.inputs_as("float32")
    rnn = nn.RNN(nn.GRUCell(case.spec.hidden_size))
    h_n, y = rnn.apply({"params": {"cell": tree}}, x.transpose(1, 0, 2), initial_carry=h0[0],
                       return_carry=True)
    expected = case.expected("float32")
    np.testing.assert_allclose(np.asarray(y).transpose(1, 0, 2), expected["y"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h_n), expected["h_n"][0], rtol=0, atol=1e-5)


def test_flax_wrong_gate_order_fails_and_is_named():
    """The r and z modules exchanged before Flax sees them: caught, and named."""
    def swapped(x, params, h0, c0, seq_lens=None, config=None):
        moved = {}
        for name, value in params.items():
            for a, b in (("/ir/", "/iz/"), ("/iz/", "/ir/"), ("/hr/", "/hz/"), ("/hz/", "/hr/")):
                if a in name:
                    name = name.replace(a, b)
                    break
            moved[name] = value
        return implementation("float32")(x, moved, h0, c0, seq_lens=seq_lens, config=config)

    report = check(swapped, cell="gru", layout="flax", dtype="float32")
    assert not report.passed
    assert report.diagnoses == ["gate blocks permuted: the weights hold z,r,n where r,z,n "
                                "was meant"], report.diagnoses
