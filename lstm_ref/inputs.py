"""Inputs of a layer stack: the sequence, the initial states and the sequence lengths.

Shapes, in the canonical time-major layout (as PyTorch and cuDNN):

- `x` (T, B, I): T steps of a batch of B sequences of I features.
- `h0` (L*D, B, H_out) and, for LSTM, `c0` (L*D, B, H): layer-major, then direction.
- `seq_lens` (B,): integers in [0, T]; steps at or past a sequence's length are padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_ref.grid import GridSampler
from lstm_ref.params import as_real_array
from lstm_ref.spec import Spec

MAX_STEPS = 1 << 16
MAX_BATCH = 1 << 12


@dataclass(frozen=True)
class Inputs:
    """Validated inputs: float64 arrays (exact) and int64 `seq_lens` (all T when not given)."""

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    seq_lens: np.ndarray

    @property
    def steps(self) -> int:
        return self.x.shape[0]

    @property
    def batch(self) -> int:
        return self.x.shape[1]


def validate_inputs(
    spec: Spec,
    x: object,
    h0: object = None,
    c0: object = None,
    seq_lens: object = None,
    *,
    force: bool = False,
) -> Inputs:
    """Check shapes, dtypes and values against `spec`; missing states are zeros.

    >>> spec = Spec("gru", input_size=2, hidden_size=3)
    >>> validate_inputs(spec, np.zeros((4, 1, 2))).h0.shape
    (1, 1, 3)
    """
    x = as_real_array(x, "x")
    if x.ndim != 3 or x.shape[2] != spec.input_size:
        raise ValueError(
            f"`x` must have shape (T, B, I) = (T, B, {spec.input_size}); got {x.shape}"
        )
    steps, batch = x.shape[:2]
    if steps < 1 or batch < 1:
        raise ValueError(
            f"`x` must have at least one step and one sequence (T, B >= 1); got {x.shape}"
        )
    if not force and (steps > MAX_STEPS or batch > MAX_BATCH):
        raise ValueError(
            f"`x` with T > {MAX_STEPS} or B > {MAX_BATCH} makes exact evaluation take hours; "
            f"got {x.shape}: pass force=True if you mean it"
        )
    stack = spec.num_layers * spec.num_directions
    h0 = _state(h0, "h0", (stack, batch, spec.h_out), "(L*D, B, H_out)")
    if spec.cell == "lstm":
        c0 = _state(c0, "c0", (stack, batch, spec.hidden_size), "(L*D, B, H)")
    elif c0 is not None:
        raise ValueError(
            f"`c0` is the LSTM cell state; got an array with cell={spec.cell!r}: pass None"
        )
    if seq_lens is None:
        lens = np.full(batch, steps, dtype=np.int64)
    else:
        lens = np.array(seq_lens, copy=True)
        if lens.dtype.kind not in "iu" or lens.shape != (batch,):
            raise ValueError(
                f"`seq_lens` must be an integer array of shape (B,) = ({batch},); "
                f"got dtype {lens.dtype}, shape {lens.shape}"
            )
        lens = lens.astype(np.int64)
        bad = (lens < 0) | (lens > steps)
        if bad.any():
            index = int(np.argmax(bad))
            raise ValueError(
                f"`seq_lens` must lie in [0, T] = [0, {steps}]; got {lens[index]} at index {index}"
            )
    for array in (x, h0, c0, lens):
        if array is not None:
            array.setflags(write=False)
    return Inputs(x, h0, c0, lens)


def _state(value: object, name: str, shape: tuple[int, ...], dims: str) -> np.ndarray:
    if value is None:
        return np.zeros(shape)
    array = as_real_array(value, name)
    if array.shape != shape:
        raise ValueError(f"`{name}` must have shape {dims} = {shape}; got {array.shape}")
    return array


def random_inputs(
    spec: Spec,
    steps: int,
    batch: int,
    seed: int = 0,
    *,
    scale: float = 1.0,
    states: bool = True,
    seq_lens: object = None,
) -> Inputs:
    """A sequence (and, with `states`, non-zero initial states) drawn on the shared grid.

    Drawn from a stream independent of :func:`~lstm_ref.params.random_params` with
    the same seed; `scale` is a power of two bounding the magnitudes.

    >>> inputs = random_inputs(Spec("lstm", input_size=3, hidden_size=2), steps=4, batch=2)
    >>> inputs.x.shape, inputs.c0.shape
    ((4, 2, 3), (1, 2, 2))
    """
    sampler = GridSampler(seed, stream=1)
    x = sampler.draw((steps, batch, spec.input_size), scale)
    stack = spec.num_layers * spec.num_directions
    h0 = c0 = None
    if states:
        h0 = sampler.draw((stack, batch, spec.h_out), scale)
        if spec.cell == "lstm":
            c0 = sampler.draw((stack, batch, spec.hidden_size), scale)
    return validate_inputs(spec, x, h0, c0, seq_lens)
