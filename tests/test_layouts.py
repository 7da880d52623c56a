"""The checker's onnx and keras layouts, against independent transcriptions of ONNX's and
Keras 3's own formulas (tests/framework_numpy.py)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from framework_numpy import flax_stack, keras_stack, onnx_op
from lstm_ref import check


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_onnx_layout_no_false_alarm(cell, dtype):
    impl = functools.partial(onnx_op, dtype=np.dtype(dtype).type)
    report = check(impl, cell=cell, layout="onnx", dtype=dtype)
    assert report.passed, str(report)
    assert report.counts()["pass"] >= {"lstm": 23, "gru": 6, "rnn": 12}[cell]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_keras_layout_no_false_alarm(cell, dtype):
    impl = functools.partial(keras_stack, dtype=np.dtype(dtype).type)
    report = check(impl, cell=cell, layout="keras", dtype=dtype)
    assert report.passed, str(report)
    assert report.counts()["pass"] >= {"lstm": 17, "gru": 9, "rnn": 8}[cell]


def test_onnx_gate_order_mistake_is_named():
    """Reading ONNX's blocks as i,f,o,c instead of i,o,f,c."""
    impl = functools.partial(onnx_op, gate_order="ifoc")
    report = check(impl, cell="lstm", layout="onnx", dtype="float32")
    assert not report.passed
    assert any(d.startswith("gate blocks permuted") for d in report.diagnoses), report.diagnoses


def test_keras_update_gate_mistake_is_named():
    impl = functools.partial(keras_stack, update_inverted=True)
    report = check(impl, cell="gru", layout="keras", dtype="float64")
    assert not report.passed
    assert report.diagnoses == ["GRU update gate inverted: h_t = z n + (1 - z) h_{t-1}"]


def test_keras_refusals_name_their_reason():
    impl = functools.partial(keras_stack, dtype=np.float32)
    report = check(impl, cell="lstm", layout="keras", dtype="bfloat16", diagnose=False)
    reasons = {c.id: c.reason for c in report.cases if c.status == "unsupported"}
    assert reasons["lstm-peepholes"] == "layout 'keras' cannot express peepholes=True"
    assert reasons["lstm-basic"].endswith(
        "seq_lens with 0 (Keras backends disagree on fully masked sequences)"
    )
    assert any("is not exact in bfloat16" in r for r in reasons.values())


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_flax_layout_no_false_alarm(cell, dtype):
    impl = functools.partial(flax_stack, dtype=np.dtype(dtype).type)
    report = check(impl, cell=cell, layout="flax", dtype=dtype)
    assert report.passed, str(report)
    assert report.counts()["pass"] >= 3


def test_flax_carry_order_mistake_is_named():
    """Flax's LSTM carry is (c, h): returning it as (h, c) swaps the states."""
    impl = functools.partial(flax_stack, swap_states=True)
    report = check(impl, cell="lstm", layout="flax", dtype="float64")
    assert not report.passed
    assert report.diagnoses == ["state order swapped: h_n and c_n exchanged"]
