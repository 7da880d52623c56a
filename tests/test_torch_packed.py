"""The built-in `torch` adapter's packed-sequence path, through the checker. The standard
suite packs four cases (lstm-2-layers, lstm-projection, gru-3-layers-bi, rnn-relu); its
bidirectional LSTM with a projection has full lengths, and its other variable-length
cases have a length 0 (refused) or a merge PyTorch lacks. Here generator-certified cases
with lengths 5, 2, 1 (a two-layer bidirectional LSTM with a projection among them) go
through pack_padded_sequence: forward and autograd gradients pass, and the same layer
run without its lengths fails."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is the `torch` extra (torch==2.13.0)")

from lstm_ref import Spec  # noqa: E402
from lstm_ref.checker.profiles import profile_for  # noqa: E402
from lstm_ref.checker.run import run_case  # noqa: E402
from lstm_ref.frameworks.builtin import built_in  # noqa: E402
from lstm_ref.golden.catalogue import Case  # noqa: E402
from lstm_ref.golden.generate import DEFAULT_DIGITS, DEFAULT_METHOD  # noqa: E402
from lstm_ref.golden.generate import test_document as certified  # noqa: E402
from lstm_ref.golden.load import _case  # noqa: E402
from lstm_ref.layouts import layout  # noqa: E402

TORCH = built_in("torch")
SPECS = {
    "lstm-bi-2-layers-projection": Spec(
        "lstm", input_size=3, hidden_size=4, num_layers=2, direction="bidirectional", proj_size=2
    ),
    "gru-bi-2-layers": Spec(
        "gru", input_size=3, hidden_size=4, num_layers=2, direction="bidirectional"
    ),
    "rnn-relu-2-layers": Spec(
        "rnn", input_size=3, hidden_size=4, num_layers=2, nonlinearity="relu"
    ),
}


def exact_case(case_id: str):
    """A case outside the standard suite with lengths 5, 2, 1 (nothing is written)."""
    spec = SPECS[case_id]
    case = Case(
        case_id,
        "variable lengths, all >= 1",
        ("VariableLength",),
        spec,
        steps=5,
        batch=3,
        seq_lens=(5, 2, 1),
    )
    return _case(
        Path("in-memory"), spec, certified(case, 1, DEFAULT_DIGITS, DEFAULT_METHOD), DEFAULT_DIGITS
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case_id", sorted(SPECS))
def test_packed_sequences_pass_forward_and_gradients(case_id, dtype):
    case = exact_case(case_id)
    report, _, _ = run_case(
        TORCH.implementation(dtype),
        case,
        layout("torch"),
        dtype,
        profile_for(dtype, None),
        vjp=TORCH.vjp(dtype),
    )
    assert report.status == "pass", report
    judged = {o.name for o in report.outputs}
    assert {"y", "h_n", "grad.x", "grad.h0"} <= judged, judged


def test_lengths_dropped_fails():
    """The control: PyTorch's layer given no lengths (the padding consumed) fails."""
    inner = TORCH.implementation("float64")

    def unpacked(x, params, h0, c0, seq_lens=None, config=None):
        return inner(x, params, h0, c0, None, config)

    case = exact_case("gru-bi-2-layers")
    report, _, _ = run_case(
        unpacked, case, layout("torch"), "float64", profile_for("float64", None)
    )
    assert report.status == "fail", report
