"""Judging each step from the implementation's own previous state (teacher forcing).

The references are checked against an independent transcription of one step
(tests/textbook.py) fed the implementation's own h_{t-1}; a correct float32
implementation passes the local bounds, and kernel-style bugs that the free-running
bound lets through at width fail them at the step where they start.
"""

from __future__ import annotations

import numpy as np
import pytest

import textbook
from lstm_ref import Spec, random_inputs, random_params
from lstm_ref.checker.bounds import trajectory
from lstm_ref.checker.profiles import PROFILES
from lstm_ref.exact.schedule import Schedule
from lstm_ref.inputs import validate_inputs

SPECS = [
    Spec("lstm", input_size=5, hidden_size=6, direction="bidirectional", peepholes=True),
    Spec("lstm", input_size=5, hidden_size=6, proj_size=3),
    Spec("gru", input_size=5, hidden_size=6, direction="bidirectional", merge="none"),
    Spec("gru", input_size=5, hidden_size=6, gru_reset="before", direction="reverse"),
    Spec("rnn", input_size=5, hidden_size=6, output_size=2),
]


def _case(spec, lens=(7, 4, 1), seed=5):
    params = random_params(spec, seed=seed)
    drawn = random_inputs(spec, steps=7, batch=3, seed=seed)
    inputs = validate_inputs(spec, drawn.x, drawn.h0, drawn.c0, np.array(lens))
    canonical = {name: np.asarray(value) for name, value in params.items()}
    return params, inputs, canonical


def _step(spec, p, x, h, c):
    if spec.cell == "lstm":
        return textbook.lstm_step(spec, p, x, h, c)
    return (textbook.gru_step if spec.cell == "gru" else textbook.rnn_step)(spec, p, x, h), None


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.cell}-{s.direction}-{s.merge}")
def test_references_are_one_textbook_step_from_the_implementations_own_state(spec):
    params, inputs, canonical = _case(spec)
    y = textbook.run(
        spec, canonical, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens, dtype=np.float32
    )[0].astype(np.float64)
    local = trajectory(spec, params, inputs, PROFILES["fp32"], forced_y=y)
    schedule = Schedule(spec, inputs.seq_lens)
    forced = schedule.forced(y)
    parts = []
    for run in schedule.runs(0):
        p = {n.split(".", 1)[1]: v for n, v in canonical.items() if n.startswith(run.prefix + ".")}
        mine = np.zeros(forced[run.key].shape)
        for b, n in enumerate(schedule.lens):
            h = inputs.h0[run.index, b : b + 1]
            c = None if inputs.c0 is None else inputs.c0[run.index, b : b + 1]
            order = range(n) if not run.reverse else range(n - 1, -1, -1)
            for t in order:
                h_ref, c = _step(spec, p, inputs.x[t, b : b + 1], h, c)
                mine[t, b] = h_ref[0]
                h = forced[run.key][t, b : b + 1]  # the implementation's own state goes on
            np.testing.assert_allclose(
                local.outputs["h_n"][run.index, b],
                mine[order[-1], b] if n else inputs.h0[run.index, b],
                rtol=1e-13,
                atol=1e-15,
            )
            if c is not None:
                np.testing.assert_allclose(
                    local.outputs["c_n"][run.index, b], c[0], rtol=1e-13, atol=1e-15
                )
        parts.append(mine)
    expected_y = (
        parts[0]
        if len(parts) == 1
        else np.stack(parts, axis=2)
        if spec.merge == "none"
        else np.concatenate(parts, axis=-1)
    )
    np.testing.assert_allclose(local.outputs["y"], expected_y, rtol=1e-13, atol=1e-15)
    if spec.output_size is not None:  # the output layer reads the implementation's y
        a = y.reshape(-1, y.shape[-1]) @ canonical["output.W_y"].T + canonical["output.b_y"]
        want = textbook.activation(spec.output_activation, a).reshape(local.outputs["y_out"].shape)
        for b, n in enumerate(schedule.lens):
            want[n:, b] = 0.0
        np.testing.assert_allclose(local.outputs["y_out"], want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.cell}-{s.direction}-{s.merge}")
def test_a_correct_float32_implementation_passes_tighter_local_bounds(spec):
    params, inputs, canonical = _case(spec)
    outputs = textbook.run(
        spec, canonical, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens, dtype=np.float32
    )
    actual = {
        name: np.asarray(v, dtype=np.float64)
        for name, v in zip(("y", "h_n", "c_n", "y_out"), outputs, strict=True)
        if v is not None
    }
    local = trajectory(spec, params, inputs, PROFILES["fp32"], forced_y=actual["y"])
    free = trajectory(spec, params, inputs, PROFILES["fp32"])
    for name, value in actual.items():
        assert np.all(np.abs(value - local.outputs[name]) <= local.bounds[name]), name
        assert local.bounds[name].max() < free.bounds[name].max(), name


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_kernel_bugs_fail_at_the_step_where_they_start(cell):
    """Outputs zeroed from the middle of the sequence on, and one step that reads
    h_{t-2} instead of h_{t-1}, at H = 32: each fails its first wrong step locally."""
    spec = Spec(cell, input_size=32, hidden_size=32)
    params, inputs, canonical = _case(spec, lens=(7, 7, 7))
    y = textbook.run(spec, canonical, inputs.x, inputs.h0, inputs.c0, dtype=np.float32)[0]
    y = np.asarray(y, dtype=np.float64)
    zeroed = y.copy()
    zeroed[4:] = 0.0
    local = trajectory(spec, params, inputs, PROFILES["fp32"], forced_y=zeroed)
    failing = np.abs(zeroed - local.outputs["y"]) > local.bounds["y"]
    assert not failing[:4].any() and failing[4].any()

    p = {n.split(".", 1)[1]: v for n, v in canonical.items()}
    stale = y.copy()
    h, c = inputs.h0[0], None if inputs.c0 is None else inputs.c0[0]
    states = [(h, c)]
    for t in range(7):
        h_prev, c_prev = states[-2] if t == 3 else states[-1]  # step 3 reads h_1
        h, c = _step(
            spec,
            p,
            inputs.x[t].astype(np.float32),
            h_prev.astype(np.float32),
            None if c_prev is None else c_prev.astype(np.float32),
        )
        stale[t] = h
        states.append((h, c))
    local = trajectory(spec, params, inputs, PROFILES["fp32"], forced_y=stale)
    failing = np.abs(stale - local.outputs["y"]) > local.bounds["y"]
    assert not failing[:3].any() and failing[3].any()


def test_teacher_forcing_needs_every_state_in_y():
    spec = Spec("lstm", input_size=2, hidden_size=3, num_layers=2)
    params, inputs, _ = _case(spec)
    with pytest.raises(ValueError, match="teacher forcing needs one layer"):
        trajectory(spec, params, inputs, PROFILES["fp32"], forced_y=np.zeros((7, 3, 3)))
