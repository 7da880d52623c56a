"""The stack's schedule: the one walk over layers, directions and valid steps that the
exact forward and backward passes and both bounds follow."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_ref import Spec, random_inputs, random_params
from lstm_ref.checker.bounds import trajectory
from lstm_ref.checker.gradient_bounds import gradient_bounds
from lstm_ref.checker.profiles import PROFILES
from lstm_ref.exact import backward, forward
from lstm_ref.exact.schedule import Schedule
from lstm_ref.inputs import validate_inputs


def test_runs_follow_the_state_stack():
    spec = Spec("lstm", input_size=2, hidden_size=3, num_layers=2, direction="bidirectional")
    schedule = Schedule(spec, [2, 2])
    found = [
        (r.layer, r.direction, r.index, r.prefix)
        for layer in range(2)
        for r in schedule.runs(layer)
    ]
    assert found == [
        (0, "forward", 0, "layer0"),
        (0, "reverse", 1, "layer0_reverse"),
        (1, "forward", 2, "layer1"),
        (1, "reverse", 3, "layer1_reverse"),
    ]


def test_steps_cover_each_valid_prefix_once_in_order():
    spec = Spec("gru", input_size=2, hidden_size=3, direction="bidirectional")
    schedule = Schedule(spec, [4, 2, 0, 1])
    forward_run, reverse_run = schedule.runs(0)
    assert [(s.k, s.rows, s.times) for s in schedule.steps(forward_run)] == [
        (0, [0, 1, 3], [0, 0, 0]),
        (1, [0, 1], [1, 1]),
        (2, [0], [2]),
        (3, [0], [3]),
    ]
    # the reverse direction starts at each sequence's own last valid step
    assert [(s.k, s.rows, s.times) for s in schedule.steps(reverse_run)] == [
        (0, [0, 1, 3], [3, 1, 0]),
        (1, [0, 1], [2, 0]),
        (2, [0], [1]),
        (3, [0], [0]),
    ]
    assert [s.k for s in schedule.steps_backward(reverse_run)] == [3, 2, 1, 0]


def test_padding_carries_forward_outputs_and_sends_their_adjoints_back():
    spec = Spec("lstm", input_size=2, hidden_size=1, padded_outputs="carry")
    schedule = Schedule(spec, [3, 1, 0])
    (run,) = schedule.runs(0)
    y = np.array([[[1.0], [2.0], [0.0]], [[3.0], [0.0], [0.0]], [[4.0], [0.0], [0.0]]])
    schedule.pad_outputs(run, y)
    assert y[:, :, 0].tolist() == [[1, 2, 0], [3, 2, 0], [4, 2, 0]]
    adj = np.ones((3, 3, 1))
    schedule.pad_adjoint(run, adj)
    assert adj[:, :, 0].tolist() == [[1, 3, 1], [1, 1, 1], [1, 1, 1]]


def _no_program(*args):
    raise AssertionError("concat and none need no merge program")


def test_merge_and_split_are_inverse_for_concat_and_none():
    for merge, shape in (("concat", (2, 1, 6)), ("none", (2, 1, 2, 3))):
        spec = Spec("rnn", input_size=2, hidden_size=3, direction="bidirectional", merge=merge)
        schedule = Schedule(spec, [2])
        fwd, bwd = np.arange(6.0).reshape(2, 1, 3), -np.arange(6.0).reshape(2, 1, 3)
        merged = schedule.merge([fwd, bwd], pointwise=_no_program)
        assert merged.shape == shape
        parts = schedule.split(merged, pointwise=_no_program)
        assert np.array_equal(parts[0], fwd) and np.array_equal(parts[1], bwd)


@pytest.mark.slow
def test_one_change_of_the_schedule_changes_all_four_walkers(monkeypatch):
    """Length semantics live in the schedule alone: a schedule that ignores the lengths
    (every sequence runs all T steps) makes the exact forward and backward passes and
    both bounds agree with a full-length case, with nothing else changed."""
    spec = Spec("lstm", input_size=2, hidden_size=3, direction="bidirectional")
    params = random_params(spec, seed=3)
    drawn = random_inputs(spec, steps=4, batch=3, seed=3)
    short = validate_inputs(spec, drawn.x, drawn.h0, drawn.c0, np.array([4, 2, 1]))
    full = validate_inputs(spec, drawn.x, drawn.h0, drawn.c0, None)
    cot = {"y": np.ones((4, 3, 6)), "h_n": np.ones((2, 3, 3)), "c_n": np.ones((2, 3, 3))}
    profile = PROFILES["fp32"]

    def everything(inputs):  # the four walkers on one case
        result = forward(spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens, bits=80)
        grads = backward(
            spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens, cotangents=cot, bits=80
        )
        reference = trajectory(spec, params, inputs, profile)
        return (
            result.y.float64,
            grads.x.float64,
            reference.bounds["y"],
            gradient_bounds(spec, params, inputs, cot, profile, reference)["grad.x"],
        )

    expected = everything(full)
    assert not np.array_equal(everything(short)[0], expected[0])
    original = Schedule.__init__

    def ignoring_lengths(self, spec, seq_lens):
        original(self, spec, [4] * len(seq_lens))

    monkeypatch.setattr(Schedule, "__init__", ignoring_lengths)
    for got, want in zip(everything(short), expected, strict=True):
        assert np.array_equal(got, want)
