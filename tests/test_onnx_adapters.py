"""The ONNX adapters run the real thing: ONNX Runtime's CPU kernels and ONNX's reference
evaluator, on the golden cases through the `onnx` layout. Correct cases pass; each way in
which one of them departs from the ONNX specification fails its cases and is named by the
checker (docs/frameworks.md, "What the ONNX implementations compute")."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx", reason="the ONNX adapters need onnx (test extra)")

from lstm_ref import check  # noqa: E402
from lstm_ref.cli import main  # noqa: E402
from lstm_ref.frameworks.builtin import built_in  # noqa: E402
from lstm_ref.layouts import onnx  # noqa: E402
from lstm_ref.spec import Activation, Spec  # noqa: E402

ORT_CLIP = (
    "activation clip not applied to C_t before the cell-output activation (ONNX Runtime's LSTM)"
)
ORT_ALPHAS = (
    "activation alpha/beta left out of the attributes read as 0, not ONNX's defaults "
    "(ONNX Runtime's Affine, ScaledTanh, ThresholdedRelu)"
)
LENGTHS = (
    "sequence lengths ignored: every sequence runs all T steps, outputs past its length "
    "not zeroed (ONNX's reference evaluator)"
)
CLIP = "activation clip ignored (ONNX's reference evaluator)"
COUPLING = (
    "input_forget ignored: f_t from the forget gate's own (zero) parameters, not "
    "1 - i_t (ONNX's reference evaluator)"
)
ACTIVATIONS = (
    "activations ignored: the cell's default functions used (ONNX's reference "
    "evaluator's LSTM and GRU)"
)


def failing(report):
    """{case id: its diagnoses} for every failing case."""
    return {c.id: c.diagnoses for c in report.cases if c.status == "fail"}


def test_alpha_and_beta_are_written_only_where_they_differ_from_onnx_defaults():
    def attrs(*acts, **options):
        return onnx.attributes(Spec("lstm", 3, 2, activations=acts, **options))

    plain = attrs("Sigmoid", "Affine", "ScaledTanh(1, 1)")
    assert "activation_alpha" not in plain and "activation_beta" not in plain
    slope = attrs("HardSigmoid(1/6, 1/2)", "Tanh", "Affine(1, 0)", direction="bidirectional")
    # written in full and packed: only the functions that take an alpha consume one
    assert slope["activation_alpha"] == [1 / 6, 1.0, 1 / 6, 1.0]
    assert "activation_beta" not in slope
    assert onnx.omitted_defaults(
        Spec("lstm", 3, 2, activations=("Sigmoid", "ScaledTanh(1, 2)", "Tanh"))
    ) == {"alpha"}


def test_onnxruntime_deviations_are_named():
    """ONNX Runtime passes every GRU case and every other case but two kinds: its LSTM leaves
    C_t unclipped before h, and it reads a left-out alpha/beta of Affine, ScaledTanh and
    ThresholdedRelu as 0 where ONNX's defaults are 1 (and 1 for ScaledTanh's beta)."""
    pytest.importorskip("onnxruntime", reason="ONNX Runtime is in the test extra")
    impl = built_in("onnxruntime").implementation("float32")
    report = check(impl, cell="gru", layout="onnx", dtype="float32")
    assert report.passed, str(report)
    report = check(impl, cell="lstm", layout="onnx", dtype="float32")
    assert failing(report) == {
        "lstm-activation-clip": [ORT_CLIP],
        "lstm-act-ThresholdedRelu": [ORT_ALPHAS],
        "lstm-act-ScaledTanh": [ORT_ALPHAS],
        "lstm-act-Affine": [ORT_ALPHAS],
    }
    assert report.diagnoses == [ORT_CLIP, ORT_ALPHAS]
    assert report.counts()["pass"] >= 17
    report = check(impl, cell="rnn", layout="onnx", dtype="float32")
    assert failing(report) == {
        "rnn-act-ThresholdedRelu": [ORT_ALPHAS],
        "rnn-act-ScaledTanh": [ORT_ALPHAS],
        "rnn-act-Affine": [ORT_ALPHAS],
    }
    assert report.counts()["pass"] >= 9


def test_onnxruntime_passes_with_the_defaults_written_out():
    """The alpha deviation is ONNX Runtime's reading of the defaults, not of the values:
    with every alpha and beta written (ONNX's defaults, from lstm_ref's spec) it passes."""
    pytest.importorskip("onnxruntime", reason="ONNX Runtime is in the test extra")
    inner = built_in("onnxruntime").implementation("float32")

    def explicit(x, params, h0, c0, seq_lens=None, config=None):
        acts = [Activation(name) for name in config["activations"]]  # at ONNX's defaults
        config = dict(config)
        for arg in ("alpha", "beta"):
            written = [float(getattr(a, arg)) for a in acts if getattr(a, arg) is not None]
            if written and f"activation_{arg}" not in config:
                config[f"activation_{arg}"] = written
        return inner(x, params, h0, c0, seq_lens, config)

    for cell in ("lstm", "rnn"):
        report = check(explicit, cell=cell, layout="onnx", dtype="float32")
        assert set(failing(report)) <= {"lstm-activation-clip"}, str(report)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_reference_evaluator_deviations_are_named(dtype):
    """ONNX's reference evaluator: right where it computes what the specification says
    (peepholes, reverse and bidirectional alignment, linear_before_reset, initial states),
    and each thing it ignores fails its cases under its own name."""
    impl = built_in("onnx-reference").implementation(dtype)
    report = check(impl, cell="lstm", layout="onnx", dtype=dtype)
    activations = [
        "lstm-hard-sigmoid-0.2",
        "lstm-hard-sigmoid-1/6",
        "lstm-act-Relu",
        "lstm-act-HardSigmoid",
        "lstm-act-LeakyRelu",
        "lstm-act-ThresholdedRelu",
        "lstm-act-Affine",
        "lstm-act-Elu",
        "lstm-act-Softsign",
        "lstm-act-Softplus",
    ]
    assert failing(report) == {
        "lstm-bi-none": [LENGTHS],
        "lstm-reverse": [LENGTHS],
        "lstm-coupled": [COUPLING],
        "lstm-activation-clip": [CLIP],
        **{case: [ACTIVATIONS] for case in activations},
    }
    assert report.diagnoses == [CLIP, COUPLING, ACTIVATIONS, LENGTHS]
    passed = {c.id for c in report.cases if c.status == "pass"}
    # ScaledTanh(1, 1) is tanh: ignoring it changes nothing
    assert passed >= {
        "lstm-tiny",
        "lstm-long",
        "lstm-peepholes",
        "lstm-zero-states",
        "lstm-act-ScaledTanh",
    }
    report = check(impl, cell="gru", layout="onnx", dtype=dtype)
    assert failing(report) == {"gru-bi-none": [LENGTHS], "gru-act-mix": [ACTIVATIONS]}
    assert {c.id for c in report.cases if c.status == "pass"} >= {"gru-tiny", "gru-reset-before"}


def test_onnx_reference_evaluator_rnn_knows_only_tanh_and_affine():
    """Its RNN raises for the other functions (Relu, which the specification requires,
    included), and for an Affine without explicit alpha and beta: errors, not passes."""
    report = check(
        built_in("onnx-reference").implementation("float32"),
        cell="rnn",
        layout="onnx",
        dtype="float32",
    )
    assert {c.id for c in report.cases if c.status == "pass"} == {"rnn-tanh", "rnn-single-step"}
    errors = {c.id: c.reason for c in report.cases if c.status == "error"}
    assert errors["rnn-relu"] == (
        "the implementation raised RuntimeError: Unknown activation function 'Relu'."
    )
    assert errors["rnn-act-Affine"].startswith("the implementation raised TypeError")
    assert len(errors) == 10


def test_check_onnx_reference_command(capsys):
    assert main(["check", "onnx-reference", "--cell", "gru", "--dtype", "float64"]) == 1
    out = capsys.readouterr().out
    assert "(gru, layout onnx, float64, profile fp64) on suite 'standard': FAILED" in out
    assert LENGTHS in out
    with pytest.raises(
        ValueError,
        match="`--dtype` for onnx-reference must be one of float32, float64; got 'float16'",
    ):
        built_in("onnx-reference").implementation("float16")
