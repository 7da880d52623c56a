"""PyTorch's cell modules (nn.LSTMCell, nn.GRUCell, nn.RNNCell with tanh and relu), stepped
over time by the built-in `torch-cells` adapter: forward and autograd gradients pass on the
golden cases one cell can express, and the others are refused by name."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is the `torch` extra (torch==2.13.0)")

from lstm_ref import check  # noqa: E402
from lstm_ref.frameworks.builtin import built_in  # noqa: E402
from lstm_ref.golden import load_suite  # noqa: E402
from lstm_ref.layouts import layout  # noqa: E402

CELLS = built_in("torch-cells")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cells_and_their_gradients_pass(cell, dtype):
    report = check(
        CELLS.implementation(dtype),
        cell=cell,
        layout="torch",
        dtype=dtype,
        gradients=True,
        vjp=CELLS.vjp(dtype),
    )
    assert report.passed, str(report)
    judged = {o.name for c in report.cases for o in c.outputs}
    assert {"y", "h_n", "grad.x", "grad.h0"} <= judged and any(".W_h" in n for n in judged)
    passed = {c.id for c in report.cases if c.status == "pass"}
    assert (
        passed
        >= {
            "lstm": {"lstm-tiny", "lstm-long", "lstm-saturated"},
            "gru": {"gru-tiny", "gru-long"},
            "rnn": {"rnn-tanh", "rnn-relu", "rnn-act-Relu"},
        }[cell]
    )


def test_what_one_cell_cannot_be_is_refused_by_name():
    report = check(CELLS.implementation("float64"), cell="lstm", layout="torch", dtype="float64")
    reasons = {c.id: c.reason for c in report.cases if c.status == "unsupported"}
    raised = (
        "the implementation raised NotImplementedError: nn.LSTMCell is one layer, one "
        "direction, without projection; got "
    )
    assert reasons["lstm-2-layers"] == raised + "num_layers=2"
    assert reasons["lstm-projection"] == raised + "proj_size=3"
    assert reasons["lstm-bi-2-layers-projection"] == raised + (
        "num_layers=2, bidirectional=True, proj_size=2"
    )
    report = check(CELLS.implementation("float64"), cell="gru", layout="torch", dtype="float64")
    assert {c.id: c.reason for c in report.cases if c.status == "unsupported"}[
        "gru-3-layers-bi"
    ].endswith(
        "nn.GRUCell is one layer, one direction, without "
        "projection; got num_layers=3, bidirectional=True"
    )


@pytest.mark.parametrize("case_id", ["lstm-basic", "gru-basic"])
def test_state_is_held_past_a_length(case_id):
    """Past a sequence's length the stepped cell holds its state and outputs zero (the torch
    layout's packed-sequence semantics), against the golden values of the sequences of
    length 5 and 3 (the batch's elements are independent; the one of length 0 is left out)."""
    case = next(c for c in load_suite("standard") if c.id == case_id)
    (x, params, h0, c0), kwargs = layout("torch").arguments(case, "float64")
    keep = slice(0, 2)
    lens = case.inputs.seq_lens[keep]
    assert list(lens) == [5, 3]

    def part(a):
        return None if a is None else np.ascontiguousarray(a[:, keep])

    y, h_n, c_n = CELLS.implementation("float64")(
        part(x), params, part(h0), part(c0), lens, kwargs["config"]
    )
    expected = case.expected("float64")
    np.testing.assert_allclose(y, expected["y"][:, keep], rtol=0, atol=1e-14)
    assert np.all(y[3:, 1] == 0)
    np.testing.assert_allclose(h_n, expected["h_n"][:, keep], rtol=0, atol=1e-14)
    if c_n is not None:
        np.testing.assert_allclose(c_n, expected["c_n"][:, keep], rtol=0, atol=1e-14)
    cot = {k: part(v) for k, v in case.cotangents.items()}
    grad_x, _, grad_h0, _ = CELLS.vjp("float64")(
        part(x), params, part(h0), part(c0), lens, kwargs["config"], cotangents=cot
    )
    np.testing.assert_allclose(grad_x, expected["grad.x"][:, keep], rtol=0, atol=1e-14)
    np.testing.assert_allclose(grad_h0, expected["grad.h0"][:, keep], rtol=0, atol=1e-14)


def test_cell_parameters_are_the_layers_under_the_cells_names():
    """The mapping against PyTorch itself: the cell holds exactly the layer's parameters
    (`weight_ih` is nn.LSTM's `weight_ih_l0`) and steps to the layer's outputs."""
    from lstm_ref.frameworks import torch_run

    case = next(c for c in load_suite("standard") if c.id == "lstm-tiny")
    (x, params, h0, c0), kwargs = layout("torch").arguments(case, "float64")
    cell = torch_run.cell_for(kwargs["config"], params, torch.float64)
    assert {f"{k}_l0": v.numpy().tolist() for k, v in cell.state_dict().items()} == {
        k: v.tolist() for k, v in params.items()
    }
    layer = torch_run.module_for(kwargs["config"], params, torch.float64)
    with torch.no_grad():
        y_layer, _ = layer(torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)))
    y_cell, _, _ = CELLS.implementation("float64")(x, params, h0, c0, None, kwargs["config"])
    np.testing.assert_allclose(y_cell, y_layer.numpy(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype, profile", [("bfloat16", "bf16-acc16"), ("float16", "fp16-acc16")])
def test_half_precision_cells_pass_their_cpu_profile(dtype, profile):
    """On the CPU the cells keep their gates in half precision, like PyTorch's layers."""
    report = check(
        CELLS.implementation(dtype),
        cell="lstm",
        layout="torch",
        dtype=dtype,
        profile=profile,
        gradients=True,
        vjp=CELLS.vjp(dtype),
    )
    assert report.passed, str(report)
    assert report.counts()["pass"] >= 7


def test_check_torch_cells_command(capsys):
    from lstm_ref.cli import main

    assert main(["check", "torch-cells", "--cell", "rnn", "--dtype", "float64", "--gradients"]) == 0
    out = capsys.readouterr().out
    assert "(rnn, layout torch, float64, profile fp64) on suite 'standard': PASSED" in out


@pytest.mark.parametrize("target", ["torch", "torch-cells"])
def test_check_command_uses_pytorchs_cpu_profile_for_half_precision(target, capsys):
    """`lstm-ref check torch --dtype bfloat16` judges PyTorch as its CPU kernels compute
    (gates and states kept in bfloat16: bf16-acc16), not by the float32-accumulating bf16
    profile, which its correct kernels fail; an explicit --profile still wins."""
    from lstm_ref.cli import main

    assert main(["check", target, "--cell", "rnn", "--dtype", "bfloat16", "--gradients"]) == 0
    assert (
        "(rnn, layout torch, bfloat16, profile bf16-acc16) on suite 'standard': PASSED"
        in capsys.readouterr().out
    )
    assert main(["check", target, "--cell", "rnn", "--dtype", "bfloat16", "--profile", "bf16"]) == 1
    assert "(rnn, layout torch, bfloat16, profile bf16) on suite" in capsys.readouterr().out
