"""Keras 3 on the JAX backend, run by the built-in adapter (lstm_ref.frameworks.keras_run)
on the golden cases: every case the keras layout expresses passes in float32; in float64
Keras's float32 tanh is a named deviation; a wrong gate order is caught and named."""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("jax", reason="Keras runs on JAX here: the `keras` extra")
if importlib.util.find_spec("keras") is None:
    pytest.skip("Keras 3 is the `keras` extra", allow_module_level=True)

from lstm_ref import check  # noqa: E402
from lstm_ref.frameworks import keras_run  # noqa: E402
from lstm_ref.golden.load import load_suite  # noqa: E402
from lstm_ref.layouts.keras import to_keras  # noqa: E402

TANH = (
    "activations only float32-accurate in a float64 computation (Keras 3 on JAX: "
    "keras.ops.tanh returns float32 for float64 input)"
)


@functools.cache
def implementation(dtype):
    return keras_run.implementation(dtype)


def golden(case_id):
    return next(c for c in load_suite("standard") if c.id == case_id)


@pytest.mark.parametrize("cell, passes", [("lstm", 17), ("gru", 9), ("rnn", 8)])
def test_keras_passes_every_expressible_case_in_float32(cell, passes):
    report = check(implementation("float32"), cell=cell, layout="keras", dtype="float32")
    assert report.passed, str(report)
    assert report.counts() == {"pass": passes, "unsupported": report.counts()["unsupported"]}
    assert all(c.reason for c in report.cases if c.status == "unsupported")


@pytest.mark.slow
def test_keras_float64_tanh_is_float32_and_named():
    """Keras 3.15 on JAX: `keras.ops.tanh` casts a float64 input to float32 (its
    result_type maps float64 to float32), so a float64 LSTM or GRU using tanh is only
    float32-accurate; the functions that keep float64 pass; a float64 SimpleRNN with tanh
    fails to run, reported as an error."""
    for cell in ("lstm", "gru"):
        report = check(implementation("float64"), cell=cell, layout="keras", dtype="float64")
        failed = {c.id for c in report.cases if c.status == "fail"}
        sent = {c.id for c in report.cases if c.status != "unsupported"}
        uses_tanh = {
            c.id
            for c in load_suite("standard")
            if c.id in sent and "Tanh" in map(str, c.spec.activations)
        }
        assert failed == uses_tanh, str(report)
        assert report.diagnoses == [TANH]
        assert all(TANH in c.diagnoses for c in report.cases if c.status == "fail")
    passing = {
        c.id
        for c in check(
            implementation("float64"), cell="lstm", layout="keras", dtype="float64"
        ).cases
        if c.status == "pass"
    }
    assert passing == {
        "lstm-act-Relu",
        "lstm-act-Affine",
        "lstm-act-Elu",
        "lstm-act-Softsign",
        "lstm-act-Softplus",
    }
    # SimpleRNN in float64 with tanh does not run: Keras's failure, an error of the
    # implementation (the check fails), not a case the layout cannot express
    report = check(implementation("float64"), cell="rnn", layout="keras", dtype="float64")
    assert not report.passed
    errors = {c.id: c.reason for c in report.cases if c.status == "error"}
    sent = {c.id for c in report.cases if c.status != "unsupported"}
    assert (
        set(errors)
        == {
            c.id
            for c in load_suite("standard")
            if c.id in sent and "Tanh" in map(str, c.spec.activations)
        }
        == {"rnn-tanh", "rnn-single-step"}
    )
    assert all(
        reason.startswith("the implementation raised RuntimeError: Keras ")
        and "keras.ops.tanh returns float32 for float64 input" in reason
        for reason in errors.values()
    )
    assert {c.status for c in report.cases if c.id in sent and c.id not in errors} == {"pass"}


def test_keras_gru_reset_before_built_from_canonical_params_reproduces_golden():
    """The mapping against Keras itself: keras.layers.GRU(reset_after=False) holding
    to_keras's weights gives the golden float32 values."""
    case = golden("gru-reset-before")
    keras = keras_run.keras_on_jax()
    weights = to_keras(case.spec, case.params)
    layer = keras.layers.GRU(
        case.spec.hidden_size,
        reset_after=False,
        return_sequences=True,
        return_state=True,
        dtype="float32",
    )
    layer.build((None, None, case.spec.input_size))
    layer.set_weights(
        [
            weights[f"layer0/forward/{w}"].astype(np.float32)
            for w in ("kernel", "recurrent_kernel", "bias")
        ]
    )
    x, h0, _ = case.inputs_as("float32")
    y, h_n = layer(x.transpose(1, 0, 2), initial_state=[h0[0]])
    expected = case.expected("float32")
    np.testing.assert_allclose(np.asarray(y).transpose(1, 0, 2), expected["y"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(h_n), expected["h_n"][0], rtol=0, atol=1e-6)


def test_keras_wrong_gate_order_fails_and_is_named():
    """f and c columns exchanged before Keras sees them: caught, and named."""

    def swapped(x, params, h0, c0, seq_lens=None, config=None):
        H = config["units"]
        moved = dict(params)
        for name, value in params.items():
            if not name.endswith("kernel") and not name.endswith("bias"):
                continue
            blocks = np.split(value, 4, axis=-1)
            moved[name] = np.concatenate([blocks[0], blocks[2], blocks[1], blocks[3]], axis=-1)
            assert moved[name].shape[-1] == 4 * H
        return implementation("float32")(x, moved, h0, c0, seq_lens=seq_lens, config=config)

    report = check(swapped, cell="lstm", layout="keras", dtype="float32")
    assert not report.passed
    assert len(report.diagnoses) == 1, report.diagnoses
    assert report.diagnoses[0].startswith(
        "gate blocks permuted: the weights hold i,g,f,o where i,f,g,o was meant"
    )


def test_keras_on_another_backend_is_refused():
    code = (
        "import os; os.environ['KERAS_BACKEND'] = 'numpy'; import keras\n"
        "from lstm_ref.frameworks.keras_run import implementation\n"
        "try:\n    implementation('float32')\n"
        "except RuntimeError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "already imported with backend 'numpy'" in out, out
