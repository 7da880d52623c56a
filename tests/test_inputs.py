"""Bad parameters and inputs are refused with messages naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_ref import Params, Spec, forward, random_inputs, random_params, validate_inputs

SPEC = Spec("lstm", input_size=3, hidden_size=4, num_layers=2)


def message(call, *args, **kwargs):
    with pytest.raises((ValueError, TypeError, KeyError)) as info:
        call(*args, **kwargs)
    return str(info.value)


def test_x_shape():
    assert message(validate_inputs, SPEC, np.zeros((5, 2, 4))) == (
        "`x` must have shape (T, B, I) = (T, B, 3); got (5, 2, 4)"
    )


def test_x_nan():
    x = np.zeros((5, 2, 3))
    x[1, 0, 2] = np.nan
    assert message(validate_inputs, SPEC, x) == "`x` must be finite; got nan at index (1, 0, 2)"


def test_x_dtype():
    assert message(validate_inputs, SPEC, np.zeros((1, 1, 3), dtype=complex)) == (
        "`x` must be a real array (integer or floating); got dtype complex128"
    )


def test_empty_sequence():
    assert message(validate_inputs, SPEC, np.zeros((0, 2, 3))) == (
        "`x` must have at least one step and one sequence (T, B >= 1); got (0, 2, 3)"
    )


def test_state_shapes():
    x = np.zeros((5, 2, 3))
    assert message(validate_inputs, SPEC, x, np.zeros((1, 2, 4))) == (
        "`h0` must have shape (L*D, B, H_out) = (2, 2, 4); got (1, 2, 4)"
    )
    assert message(validate_inputs, SPEC, x, None, np.zeros((2, 2, 3))) == (
        "`c0` must have shape (L*D, B, H) = (2, 2, 4); got (2, 2, 3)"
    )
    gru = Spec("gru", 3, 4)
    assert message(validate_inputs, gru, x, None, np.zeros((1, 2, 4))) == (
        "`c0` is the LSTM cell state; got an array with cell='gru': pass None"
    )


def test_h0_inf():
    h0 = np.zeros((2, 2, 4))
    h0[1, 1, 3] = -np.inf
    assert message(validate_inputs, SPEC, np.zeros((5, 2, 3)), h0) == (
        "`h0` must be finite; got -inf at index (1, 1, 3)"
    )


@pytest.mark.parametrize(
    "seq_lens, expected",
    [
        (np.array([5, 6]), "`seq_lens` must lie in [0, T] = [0, 5]; got 6 at index 1"),
        (np.array([-1, 2]), "`seq_lens` must lie in [0, T] = [0, 5]; got -1 at index 0"),
        (
            np.array([5]),
            "`seq_lens` must be an integer array of shape (B,) = (2,); got dtype int64, shape (1,)",
        ),
        (
            np.array([2.0, 3.0]),
            "`seq_lens` must be an integer array of shape (B,) = (2,); got "
            "dtype float64, shape (2,)",
        ),
    ],
)
def test_seq_lens(seq_lens, expected):
    assert message(validate_inputs, SPEC, np.zeros((5, 2, 3)), seq_lens=seq_lens) == expected


def test_params_shape_message():
    arrays = dict(random_params(SPEC))
    arrays["layer1.W_h[f]"] = np.zeros((4, 3))
    assert message(Params, SPEC, arrays) == (
        "`params['layer1.W_h[f]']` must have shape (H, H_out) = (4, 4); got (4, 3)"
    )


def test_params_missing_and_unexpected():
    arrays = dict(random_params(SPEC))
    del arrays["layer0.b_h[o]"]
    arrays["layer0.W_hr"] = np.zeros((4, 4))
    text = message(Params, SPEC, arrays)
    assert text.startswith(
        "`params` must have exactly the parameters of this spec; missing ['layer0.b_h[o]']; "
        "unexpected ['layer0.W_hr']. Expected: ['layer0.W_x[i]', "
    )


def test_params_nan():
    arrays = dict(random_params(SPEC))
    arrays["layer0.b_x[g]"] = np.full(4, np.nan)
    assert message(Params, SPEC, arrays) == (
        "`params['layer0.b_x[g]']` must be finite; got nan at index (0,)"
    )


def test_forward_validates_and_does_not_touch_inputs():
    spec = Spec("gru", 2, 3)
    params = random_params(spec)
    x = np.ones((2, 1, 2))
    forward(spec, params, x)
    assert np.array_equal(x, np.ones((2, 1, 2)))
    assert message(forward, spec, params, x, digits=0) == (
        "`digits` must be a positive integer; got 0"
    )
    assert message(forward, spec, params, x, bits=32) == (
        "the working precision must be in [64, 1048576] bits; got 32"
    )
    assert message(forward, "gru", params, x) == "`spec` must be a Spec; got str"


def test_random_inputs_lengths_are_validated():
    assert message(random_inputs, SPEC, 3, 2, seq_lens=np.array([4, 1])) == (
        "`seq_lens` must lie in [0, T] = [0, 3]; got 4 at index 0"
    )


def test_values_float64_cannot_hold_are_refused():
    x = np.zeros((1, 1, 3), dtype=np.int64)
    x[0, 0, 1] = 2**53 + 1
    assert message(validate_inputs, SPEC, x) == (
        "`x` must hold values float64 represents exactly; got np.int64(9007199254740993) at "
        "index (0, 0, 1)"
    )
    assert validate_inputs(SPEC, np.ones((1, 1, 3), dtype=np.float16)).x.dtype == np.float64
