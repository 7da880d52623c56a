"""Reliability: misbehaving implementations, interrupted writes, and fuzzing of the spec
parser, the golden loader and the checker's reading of implementation outputs."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import textbook
from lstm_ref import Spec, SpecError, check
from lstm_ref.checker.profiles import profile_for
from lstm_ref.checker.run import run_case
from lstm_ref.files import write_atomically
from lstm_ref.golden import GoldenFormatError, load_suite, verify
from lstm_ref.golden.format import MANIFEST
from lstm_ref.layouts import layout

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def correct(x, params, h0, c0, seq_lens=None, config=None):
    spec = Spec.from_json(config)
    y, h_n, c_n, y_out = textbook.run(spec, params, x, h0, c0, seq_lens)
    return (y, h_n, c_n) if y_out is None else (y, h_n, c_n, y_out)


# --- implementations that misbehave ------------------------------------------------------


def test_in_place_modification_and_views_do_not_leak():
    """An implementation that scribbles over its inputs and returns views of them: every
    call gets fresh copies, so the golden data and the next case are untouched."""
    before = {c.id: (c.inputs.x.copy(), dict(c.params)) for c in load_suite("smoke")}

    def vandal(x, params, h0, c0, seq_lens=None, config=None):
        y, h_n, c_n, *rest = correct(x, params, h0, c0, seq_lens, config)
        x[...] = np.nan
        h0[...] = 1e9
        for value in params.values():
            value[...] = 0.0
        h0[...] = h_n  # h_n returned as a view of an input array
        return (y, h0, c_n, *rest)

    report = check(vandal, cell="gru", layout="canonical", dtype="float64", suite="smoke")
    assert report.passed, str(report)
    for case in load_suite("smoke"):
        x, params = before[case.id]
        assert np.array_equal(case.inputs.x, x)
        assert all(np.array_equal(case.params[k], params[k]) for k in params)
    assert verify(GOLDEN / "smoke", recompute=False) == []


def test_nan_inf_lists_and_odd_dtypes_are_reported_per_case():
    answers = iter(
        [
            lambda y, h, c: (np.full_like(y, np.nan), h, c),
            lambda y, h, c: (y, np.full_like(h, np.inf), c),
            lambda y, h, c: (y.tolist(), h.tolist(), c),  # nested lists are read as arrays
            lambda y, h, c: (y.astype(complex), h, c),
            lambda y, h, c: ("y", h, c),
        ]
    )

    def odd(x, params, h0, c0, seq_lens=None, config=None):
        outputs = correct(x, params, h0, c0, seq_lens, config)
        answer = next(answers, None)
        return outputs if answer is None else answer(*outputs[:3])

    report = check(
        odd, cell="rnn", layout="canonical", dtype="float64", suite="standard", diagnose=False
    )
    first = report.cases[:5]
    assert [c.status for c in first] == ["fail", "fail", "pass", "error", "error"]
    assert first[0].outputs[0].name == "y" and first[0].outputs[0].margin == float("inf")
    assert first[3].reason == (
        "`y` must be an array of real numbers; got ndarray of dtype complex128"
    )
    assert first[4].reason == "`y` must be an array of real numbers; got str of dtype <U1"
    assert all(c.status == "pass" for c in report.cases[5:] if c.status != "unsupported")


def test_a_hanging_implementation_times_out_and_the_run_goes_on():
    calls = {"n": 0}

    def sometimes_hangs(x, params, h0, c0, seq_lens=None, config=None):
        calls["n"] += 1
        if calls["n"] == 2:
            time.sleep(30)
        return correct(x, params, h0, c0, seq_lens, config)

    start = time.monotonic()
    report = check(
        sometimes_hangs, cell="gru", layout="canonical", dtype="float64", suite="smoke", timeout=1.0
    )
    assert time.monotonic() - start < 20
    assert [c.status for c in report.cases] == ["pass", "error"]
    assert report.cases[1].reason == (
        "the implementation raised TimeoutError: did not return within 1.0 s"
    )
    with pytest.raises(ValueError, match="`timeout` must be a positive number of seconds; got 0"):
        check(correct, cell="gru", layout="canonical", timeout=0)


# --- files ----------------------------------------------------------------------------


def test_interrupted_write_leaves_no_half_file(tmp_path, monkeypatch):
    target = tmp_path / "lstm.json"
    target.write_text("old, complete contents")

    def fail(self, data, *args, **kwargs):
        Path.write_bytes(self, data.encode()[: len(data) // 2])  # half written, then the crash
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", fail)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, "new contents " * 100)
    monkeypatch.undo()
    assert target.read_text() == "old, complete contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lstm.json"]


def test_no_pickle_anywhere():
    package = Path(__file__).resolve().parent.parent / "lstm_ref"
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text and "allow_pickle=True" not in text, path


# --- fuzzing ---------------------------------------------------------------------------

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 5000),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(
        [
            "lstm",
            "gru",
            "rnn",
            "forward",
            "reverse",
            "bidirectional",
            "concat",
            "sum",
            "none",
            "after",
            "before",
            "tanh",
            "relu",
            "carry",
            "1/6",
            "Sigmoid",
            "HardSigmoid(1/6)",
        ]
    ),
)
OPTIONS = [
    "cell",
    "input_size",
    "hidden_size",
    "num_layers",
    "direction",
    "merge",
    "bias",
    "proj_size",
    "peepholes",
    "input_forget",
    "cell_clip",
    "activation_clip",
    "forget_bias",
    "nonlinearity",
    "gru_reset",
    "output_size",
    "output_activation",
    "padded_outputs",
]


@FUZZ
@given(st.dictionaries(st.sampled_from(OPTIONS), values, max_size=8), st.lists(values, max_size=4))
def test_fuzz_spec_parser(options, activations):
    options = {"cell": "lstm", "input_size": 3, "hidden_size": 4} | options
    if activations:
        options["activations"] = tuple(activations)
    try:
        spec = Spec(**options)
    except SpecError as error:
        assert str(error).startswith("`"), str(error)  # names the argument first
        return
    assert Spec.from_json(spec.to_json()) == spec


@pytest.fixture(scope="module")
def smoke_text():
    return (GOLDEN / "smoke" / "rnn.json").read_text()


@FUZZ
@given(st.data())
def test_fuzz_golden_loader(tmp_path_factory, smoke_text, data):
    """Mutated copies of a valid file: refused with GoldenFormatError (or loaded, when the
    mutation keeps the file valid), never another exception type, never a hang."""
    directory = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(GOLDEN / "smoke", directory, dirs_exist_ok=True)
    text = smoke_text
    kind = data.draw(st.sampled_from(["cut", "byte", "json"]))
    if kind == "cut":
        text = text[: data.draw(st.integers(0, len(text)))]
    elif kind == "byte":
        at = data.draw(st.integers(0, len(text) - 1))
        byte = data.draw(st.sampled_from(list('0123456789"{}[],:.-epx ')))
        text = text[:at] + byte + text[at + 1 :]
    else:
        document = json.loads(text)
        test = document["testGroups"][0]["tests"][0]
        target = data.draw(st.sampled_from(["inputs", "params", "expected", "certification"]))
        key = data.draw(st.sampled_from(sorted(test[target])))
        test[target][key] = data.draw(
            st.one_of(
                st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3)
            )
        )
        text = json.dumps(document)
    (directory / "rnn.json").write_text(text)
    manifest = json.loads((directory / MANIFEST).read_text())
    from lstm_ref.files import sha256

    manifest["files"]["rnn.json"] = sha256(directory / "rnn.json")
    (directory / MANIFEST).write_text(json.dumps(manifest))
    try:
        load_suite(directory)
    except GoldenFormatError:
        pass


returned = st.recursive(
    st.one_of(
        st.none(),
        st.integers(),
        st.floats(),
        st.text(max_size=3),
        st.builds(np.zeros, st.tuples(st.integers(0, 4), st.integers(0, 4))),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.tuples(children, children, children)
    ),
    max_leaves=12,
)


@FUZZ
@given(returned)
def test_fuzz_checker_reads_any_return_value(value):
    """Whatever an implementation returns, its case is reported (pass, fail or error)."""
    case = load_suite("smoke")[3]  # gru-basic
    report, _, _ = run_case(
        lambda *a, **k: value, case, layout("canonical"), "float64", profile_for("float64")
    )
    assert report.status in ("fail", "error"), report
