"""Flax linen, run by the built-in adapter (lstm_ref.frameworks.flax_run) on the golden
cases: every case the flax layout expresses passes, with nn.LSTMCell and with
nn.OptimizedLSTMCell, in float32 and float64, variable lengths (Flax's `seq_lengths`)
included; a wrong gate order is caught and named; a final state read at step T in place of
the sequence's length is caught; Flax's carry for length 0 is what the refusal says."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flax", reason="Flax is the `jax` extra")

from lstm_ref import Spec, check  # noqa: E402
from lstm_ref.checker.bounds import trajectory  # noqa: E402
from lstm_ref.checker.profiles import profile_for  # noqa: E402
from lstm_ref.checker.run import run_case  # noqa: E402
from lstm_ref.frameworks import flax_run  # noqa: E402
from lstm_ref.golden.catalogue import Case  # noqa: E402
from lstm_ref.golden.generate import DEFAULT_DIGITS, DEFAULT_METHOD  # noqa: E402
from lstm_ref.golden.generate import test_document as certified  # noqa: E402
from lstm_ref.golden.load import _case, load_suite  # noqa: E402
from lstm_ref.layouts import layout  # noqa: E402
from lstm_ref.layouts.flax import to_flax  # noqa: E402

PASSES = {"lstm": 18, "gru": 7, "rnn": 9}
# The standard suite's cases with a sequence shorter than T that reach Flax (lengths >= 1).
VARIABLE = {
    "lstm": {"lstm-bi-sum", "lstm-bi-ave", "lstm-bi-mul", "lstm-reverse", "lstm-2-layers"},
    "gru": {"gru-bi-sum", "gru-bi-ave", "gru-bi-mul", "gru-3-layers-bi"},
    "rnn": {"rnn-relu"},
}
LENGTH_ZERO = (
    "seq_lens with 0 (Flax's final carry for length 0 is the state after all T "
    "padded steps, not h0)"
)


@functools.cache
def implementation(dtype, lstm_cell="LSTMCell"):
    return flax_run.implementation(dtype, lstm_cell=lstm_cell)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "cell, lstm_cell",
    [("lstm", "LSTMCell"), ("lstm", "OptimizedLSTMCell"), ("gru", None), ("rnn", None)],
)
def test_flax_passes_every_expressible_case(cell, lstm_cell, dtype):
    impl = implementation(dtype, lstm_cell or "LSTMCell")
    report = check(impl, cell=cell, layout="flax", dtype=dtype)
    assert report.passed, str(report)
    assert report.counts()["pass"] == PASSES[cell]
    assert VARIABLE[cell] <= {c.id for c in report.cases if c.status == "pass"}
    reasons = {c.id: c.reason for c in report.cases if c.status == "unsupported"}
    assert all(reasons.values())
    assert reasons[f"{cell}-basic" if cell != "rnn" else "rnn-output"].endswith(LENGTH_ZERO)


def exact_case(spec: Spec, seq_lens: tuple[int, ...]):
    """A case outside the standard suite, computed and certified by the golden generator
    (nothing is written: the test document is read back as the loader reads a file)."""
    case = Case(
        "flax-lengths",
        "variable lengths, Flax's default merge (concat)",
        ("VariableLength",),
        spec,
        steps=5,
        batch=len(seq_lens),
        seq_lens=seq_lens,
        gradients=False,
    )
    return _case(
        Path("in-memory"), spec, certified(case, 1, DEFAULT_DIGITS, DEFAULT_METHOD), DEFAULT_DIGITS
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "cell, lstm_cell",
    [("lstm", "LSTMCell"), ("lstm", "OptimizedLSTMCell"), ("gru", "LSTMCell"), ("rnn", "LSTMCell")],
)
def test_flax_bidirectional_concat_with_lengths_passes(cell, lstm_cell, dtype):
    """nn.Bidirectional with its default merge (concatenation) over two stacked layers and
    lengths 5, 2, 1: the standard suite's concat case has a length 0, which is refused. The
    backward direction's outputs and carry are those of x_{len-1} .. x_0 (flip_sequences);
    the first layer's outputs past a length, which Flax leaves as they are, feed the second
    layer's padding only."""
    spec = Spec(cell, input_size=3, hidden_size=4, num_layers=2, direction="bidirectional")
    case = exact_case(spec, (5, 2, 1))
    report, _, _ = run_case(
        implementation(dtype, lstm_cell), case, layout("flax"), dtype, profile_for(dtype, None)
    )
    assert report.status == "pass", report
    assert [o.name for o in report.outputs] == ["y", "h_n", "c_n"][: 3 if cell == "lstm" else 2]


def carry_at_T(x, params, h0, c0, seq_lens=None, config=None):
    """A wrong adapter: y as Flax computes it with the lengths, but h_n and c_n from a run
    without them (the states after step T - 1, the padding consumed)."""
    impl = implementation("float64")
    y, _, _ = impl(x, params, h0, c0, seq_lens=seq_lens, config=config)
    _, h_n, c_n = impl(x, params, h0, c0, seq_lens=None, config=config)
    return y, h_n, c_n


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_flax_final_state_read_at_T_fails(cell):
    """The checker compares h_n and c_n with the states at each sequence's length: the
    carry at T fails every variable-length case, in h_n and c_n only, at exactly the
    elements of the sequences shorter than T; where the rest of the case agrees with it
    (one direction, one layer) the mistake is named."""
    report = check(carry_at_T, cell=cell, layout="flax", dtype="float64")
    assert not report.passed
    failing = {c.id: c for c in report.cases if c.status == "fail"}
    assert set(failing) == VARIABLE[cell]
    cases = {c.id: c for c in load_suite("standard")}
    for case_id, result in failing.items():
        case = cases[case_id]
        short = int(np.sum(case.inputs.seq_lens < case.inputs.steps))
        states = case.spec.num_layers * case.spec.num_directions
        for out in result.outputs:
            if out.name == "y":
                assert out.passed, (case_id, out)
            else:
                assert out.failing == states * short * out.shape[-1], (case_id, out)
    if cell == "rnn":
        assert report.diagnoses == ["padding consumed: states run through the padded steps"]


def test_flax_length_zero_carry_is_the_state_after_T():
    """Why length 0 is refused: for gru-basic's third sequence (length 0) Flax's final
    carry is the state after all T padded steps (the exact value with full lengths, within
    its bound), not h0 as the reference keeps it."""
    case = next(c for c in load_suite("standard") if c.id == "gru-basic")
    assert list(case.inputs.seq_lens) == [5, 3, 0]
    args, kwargs = layout("flax").arguments(case, "float64")
    _, h_n, _ = implementation("float64")(*args, **kwargs)
    prof = profile_for("float64", None)
    full = replace(case.inputs, seq_lens=np.full(3, case.inputs.steps))
    consumed = trajectory(case.spec, case.params, full, prof)
    error = np.abs(h_n[:, 2] - consumed.outputs["h_n"][:, 2])
    assert np.all(error <= consumed.bounds["h_n"][:, 2])
    assert np.all(np.abs(h_n[:, 2] - case.expected("float64")["h_n"][:, 2]) > 1e-3)


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
    h_n, y = rnn.apply(
        {"params": {"cell": tree}}, x.transpose(1, 0, 2), initial_carry=h0[0], return_carry=True
    )
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
    assert report.diagnoses == [
        "gate blocks permuted: the weights hold z,r,n where r,z,n was meant"
    ], report.diagnoses
