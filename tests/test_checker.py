"""The checker: no false alarms, every injected mistake caught (and the layout ones named),
fp16 and bf16 judged fairly where fixed tolerances are not."""

from __future__ import annotations

import json

import numpy as np
import pytest

import textbook
from lstm_ref import check
from lstm_ref.frameworks import torch_run
from lstm_ref.spec import Spec
from test_golden_catches_bugs import MUTANTS

torch = pytest.importorskip("torch", reason="PyTorch is the `torch` extra (torch==2.13.0)")


def canonical(dtype=np.float64, store=None, mistake=None, transform=None):
    """The textbook as an implementation in the canonical layout."""

    def impl(x, params, h0, c0, seq_lens=None, config=None):
        spec = Spec.from_json(config)
        if transform is not None:
            changed = transform(spec, params)
            if changed is not None:
                spec, params, *name = changed
                mistake_here = name[0] if name else mistake
            else:
                mistake_here = mistake
        else:
            mistake_here = mistake

        def cast(a):
            return None if a is None else np.asarray(a, dtype=dtype)

        y, h_n, c_n, y_out = textbook.run(
            spec,
            params,
            cast(x),
            cast(h0),
            cast(c0),
            seq_lens,
            dtype=dtype,
            mistake=mistake_here,
            store=store,
        )
        outputs = (y, h_n, c_n) if y_out is None else (y, h_n, c_n, y_out)
        return outputs

    return impl


def torch_impl(dtype):
    """PyTorch's layer in the torch layout (lstm_ref.frameworks.torch_run)."""
    return torch_run.implementation(str(dtype).removeprefix("torch."))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_no_false_alarm_textbook(cell, dtype):
    report = check(canonical(np.dtype(dtype).type), cell=cell, layout="canonical", dtype=dtype)
    assert report.passed, str(report)
    assert report.counts() == {"pass": len(report.cases)}


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_no_false_alarm_pytorch(cell, dtype):
    report = check(torch_impl(getattr(torch, dtype)), cell=cell, layout="torch", dtype=dtype)
    assert report.passed, str(report)
    assert report.counts()["pass"] >= 3
    reasons = {c.reason for c in report.cases if c.status == "unsupported"}
    assert all(r.startswith("layout 'torch' cannot express ") for r in reasons)


LOW = [
    ("float16", textbook.round_to_float16, 1e-3, 1e-5),
    ("bfloat16", textbook.round_to_bfloat16, 1.6e-2, 1e-5),
]


@pytest.mark.parametrize("dtype, store, rtol, atol", LOW, ids=["fp16", "bf16"])
def test_low_precision_passes_where_assert_close_rejects(dtype, store, rtol, atol):
    """A correct fp16 (bf16) implementation with fp32 arithmetic passes with its profile;
    torch.testing.assert_close's defaults for that dtype reject it on some case."""
    impl = canonical(np.float32, store=store)
    report = check(impl, cell="lstm", layout="canonical", dtype=dtype)
    assert report.passed, str(report)
    from lstm_ref.golden import load_suite

    kind = getattr(torch, dtype)
    rejected = []
    for case in load_suite("standard"):
        if case.spec.cell != "lstm":
            continue
        args, kwargs = (*case.inputs_as("float32"),), {"config": case.spec.to_json()}
        y = impl(args[0], dict(case.params), args[1], args[2], case.inputs.seq_lens, **kwargs)[0]
        expected = torch.from_numpy(case.expected(dtype)["y"].astype(np.float32)).to(kind)
        try:
            torch.testing.assert_close(torch.from_numpy(y).to(kind), expected)
        except AssertionError:
            rejected.append(case.id)
    assert (torch.testing._comparison.default_tolerances(kind)) == (rtol, atol)
    assert rejected, "assert_close accepted every case"


def test_activation_off_by_1e_4_fails_at_float32(monkeypatch):
    original = textbook.activation

    def slightly_off(act, u, clip=None):
        value = original(act, u, clip)
        return value * (1 + 1e-4) if act.name == "Sigmoid" else value

    monkeypatch.setattr(textbook, "activation", slightly_off)
    report = check(
        canonical(np.float32), cell="gru", layout="canonical", dtype="float32", diagnose=False
    )
    assert not report.passed
    assert sum(c.status == "fail" for c in report.cases) >= 5


NAMED = {
    "gate blocks permuted: ONNX i,o,f,c read as i,f,g,o": "gate blocks permuted",
    "gate blocks permuted: TF1 i,c,f,o read as i,f,g,o": "gate blocks permuted",
    "GRU gate blocks permuted: z,r,n read as r,z,n": "gate blocks permuted",
    "forget bias of 1 added at run time": "forget bias",
    "forget bias of 1 missing": "forget bias",
    "input-side bias dropped": "b_x dropped",
    "recurrent-side bias dropped": "b_h dropped",
    "recurrent weights transposed": "W_h transposed",
    "hard sigmoid slope 0.2 versus 1/6": "hard sigmoid slope",
    "no tanh on the cell output": "no tanh on the cell output",
    "GRU reset gate on the wrong side of the matmul": "reset gate",
    "GRU update gate inverted": "update gate inverted",
    "backward direction not re-aligned in time": "not re-aligned",
    "state order swapped: h_n and c_n": "state order swapped",
    "padding consumed instead of masked": "padding consumed",
}


def mutant_impl(name, dtype):
    apply = MUTANTS[name]
    if apply == "swap-states":
        inner = canonical(dtype)

        def impl(*args, **kwargs):
            y, h_n, c_n, *rest = inner(*args, **kwargs)
            return (y, c_n, h_n, *rest) if c_n is not None else (y, h_n, c_n, *rest)

        return impl
    return canonical(dtype, transform=apply)


def cell_for(name):
    return "gru" if name.startswith("GRU") else "lstm"


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mistake_fails_and_layout_mistakes_are_named(name, dtype):
    impl = mutant_impl(name, np.dtype(dtype).type)
    report = check(
        impl, cell=cell_for(name), layout="canonical", dtype=dtype, diagnose=name in NAMED
    )
    assert not report.passed, f"{name!r} passed at {dtype}"
    if name in NAMED:
        assert any(NAMED[name] in d for d in report.diagnoses), (name, report.diagnoses)
        assert len(report.diagnoses) <= 2, report.diagnoses


def test_report_text_and_json():
    impl = mutant_impl("recurrent weights transposed", np.float32)
    report = check(impl, cell="rnn", layout="canonical", dtype="float32")
    text = str(report)
    assert text.startswith(
        "canonical.<locals>.impl (rnn, layout canonical, float32, profile "
        "fp32) on suite "
        "'standard': FAILED ("
    )
    assert "Most likely mistake(s): recurrent weights W_h transposed" in text
    for word in ("ACTUAL:", "DESIRED:", "bound:", "first failing element", "ulps of float32"):
        assert word in text
    data = json.loads(report.to_json())
    assert data["passed"] is False and data["diagnoses"] == ["recurrent weights W_h transposed"]
    failing = [c for c in data["cases"] if c["status"] == "fail"]
    assert failing and failing[0]["outputs"][0]["first"] is not None


def test_misbehaving_implementations_are_reported_per_case():
    calls = {"n": 0}

    def flaky(x, params, h0, c0, seq_lens=None, config=None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("boom")
        if calls["n"] == 2:
            raise NotImplementedError("no peepholes here")
        if calls["n"] == 3:
            return [1, 2]
        if calls["n"] == 4:
            return np.zeros(3), None, None
        return canonical()(x, params, h0, c0, seq_lens, config)

    report = check(flaky, cell="gru", layout="canonical", dtype="float64")
    first = report.cases[:4]
    assert [c.status for c in first] == ["error", "unsupported", "error", "error"]
    assert first[0].reason == "the implementation raised ValueError: boom"
    assert first[1].reason == "the implementation raised NotImplementedError: no peepholes here"
    assert first[2].reason == (
        "the implementation must return a tuple (y, h_n, c_n); got list of length 2"
    )
    assert first[3].reason.startswith("`y` must have shape (5, 3, 4); got (3,)")
    assert all(c.status == "pass" for c in report.cases[4:])
    assert not report.passed


def test_argument_errors():
    impl = canonical()
    with pytest.raises(
        ValueError,
        match="`layout` must be one of canonical, torch, onnx, keras, flax, equinox; got 'tf'",
    ):
        check(impl, cell="lstm", layout="tf")
    with pytest.raises(
        ValueError,
        match="`profile` 'fp16' stores float16, but `dtype` is "
        "'float32': use one of \\['fp32', 'tf32'\\]",
    ):
        check(impl, cell="lstm", dtype="float32", profile="fp16")
    with pytest.raises(ValueError, match="`gradients=True` needs `vjp`"):
        check(impl, cell="lstm", gradients=True)
    with pytest.raises(NotImplementedError, match="gradients in layout 'onnx' are not implemented"):
        check(impl, cell="lstm", layout="onnx", gradients=True, vjp=impl)
    with pytest.raises(ValueError, match="`cell` must be one of lstm, gru, rnn; got 'LSTM'"):
        check(impl, cell="LSTM")


def torch_vjp(dtype, scale_recurrent=1.0):
    """PyTorch autograd as the vjp (torch layout), optionally with a wrong recurrent grad."""
    inner = torch_run.vjp(str(dtype).removeprefix("torch."))

    def vjp(*args, **kwargs):
        grad_x, grads, grad_h0, grad_c0 = inner(*args, **kwargs)
        grads = {k: v * (scale_recurrent if "weight_hh" in k else 1.0) for k, v in grads.items()}
        return grad_x, grads, grad_h0, grad_c0

    return vjp


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradients_no_false_alarm_pytorch(cell, dtype):
    kind = getattr(torch, dtype)
    report = check(
        torch_impl(kind),
        cell=cell,
        layout="torch",
        dtype=dtype,
        gradients=True,
        vjp=torch_vjp(kind),
    )
    assert report.passed, str(report)
    judged = [o.name for c in report.cases for o in c.outputs if o.name.startswith("grad.")]
    assert "grad.x" in judged and any(".W_h" in n for n in judged)


def test_gradient_off_by_1e_4_fails_at_float32():
    report = check(
        torch_impl(torch.float32),
        cell="gru",
        layout="torch",
        dtype="float32",
        gradients=True,
        vjp=torch_vjp(torch.float32, scale_recurrent=1 + 1e-4),
    )
    assert not report.passed
    failing = {o.name for c in report.cases for o in c.outputs if not o.passed}
    assert failing and all(".W_h" in name for name in failing)


def test_check_torch_command(capsys):
    from lstm_ref.cli import main

    assert main(["check", "torch", "--cell", "gru", "--dtype", "float64", "--gradients"]) == 0
    out = capsys.readouterr().out
    assert "(gru, layout torch, float64, profile fp64) on suite 'standard': PASSED" in out
