"""Generated parameters and inputs lie on the grid shared by bfloat16 and float16."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_ref import Spec, on_grid, random_inputs, random_params, to_grid
from lstm_ref.grid import GridSampler


def representable_in_bfloat16(values):
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    return (np.asarray(values, dtype=np.float32) == values) & ((bits & 0xFFFF) == 0)


def representable_in_float16_normal(values):
    with np.errstate(over="ignore"):  # out-of-range values become inf and compare unequal
        as_half = np.asarray(values).astype(np.float16)
    normal = (values == 0) | (np.abs(values) >= np.finfo(np.float16).tiny)
    return (as_half.astype(np.float64) == values) & normal


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_generated_values_are_exact_in_every_dtype(cell):
    spec = Spec(
        cell,
        5,
        6,
        num_layers=2,
        direction="bidirectional",
        **({"proj_size": 3, "peepholes": True} if cell == "lstm" else {}),
    )
    values = [*random_params(spec, seed=7).values()]
    inputs = random_inputs(spec, steps=4, batch=3, seed=7, scale=2.0**-6)
    values += [inputs.x, inputs.h0] + ([inputs.c0] if inputs.c0 is not None else [])
    flat = np.concatenate([np.ravel(v) for v in values])
    assert representable_in_bfloat16(flat).all()
    assert representable_in_float16_normal(flat).all()
    assert on_grid(flat).all()
    assert np.count_nonzero(flat) > 0.9 * flat.size


def test_on_grid_agrees_with_both_formats():
    rng = np.random.default_rng(0)
    candidates = np.concatenate(
        [
            rng.standard_normal(2000) * 2.0 ** rng.integers(-20, 20, 2000),
            to_grid(rng.standard_normal(2000)),
        ]
    )
    expected = representable_in_bfloat16(candidates) & representable_in_float16_normal(candidates)
    np.testing.assert_array_equal(on_grid(candidates), expected)


def test_to_grid_rounds_to_nearest():
    values = np.array([1 + 2**-9, 1 + 3 * 2**-9, 1.0 / 3.0, -(2.0**-15), 0.0])
    # ties go to even: 1 + 2^-9 -> 1, 1 + 3*2^-9 -> 1 + 2^-7
    np.testing.assert_array_equal(to_grid(values), [1.0, 1 + 2**-7, 0.333984375, 0.0, 0.0])


def test_generation_is_deterministic_and_seeded():
    spec = Spec("lstm", 3, 4)
    a, b, c = (random_params(spec, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    # parameters and inputs from one seed come from different streams
    assert not np.array_equal(GridSampler(1, 0).draw((8,), 1.0), GridSampler(1, 1).draw((8,), 1.0))


def test_gate_blocks_differ():
    """Random, non-uniform weights: permuted gate blocks are distinguishable."""
    params = random_params(Spec("lstm", 3, 4), seed=0)
    blocks = [params[f"layer0.W_x[{q}]"] for q in "ifgo"]
    assert all(not np.array_equal(blocks[i], blocks[j]) for i in range(4) for j in range(i))


@pytest.mark.parametrize("scale", [0.3, 2.0**-7, 2.0**9])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match=r"`scale` must be a power of two in \[2\^-6, 2\^8\]"):
        GridSampler(0).draw((2,), scale)


def test_to_grid_refuses_values_that_round_past_float16():
    with pytest.raises(
        ValueError,
        match="`values` must round to at most 65504.0 on the grid; "
        "got max 65504.0, which rounds to 65536.0",
    ):
        to_grid(np.array([65504.0]))
    assert to_grid(np.array([65280.0]))[0] == 65280.0
