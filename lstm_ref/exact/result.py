"""Results of the exact evaluator: high-precision arrays with correctly rounded views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np

from lstm_ref.exact.rounding import round_array


class MPArray:
    """An array of mpmath numbers, with views rounded correctly to binary formats.

    `values` is the object array of mpf itself; `to(dtype)` rounds every element
    directly to "float64", "float32", "float16" or "bfloat16" (as float32 values).
    Positions that were never computed (padding, in a trace) hold NaN.

    >>> a = MPArray(np.array([mpmath.mpf(1) / 3], dtype=object))
    >>> a.float32
    array([0.33333334], dtype=float32)
    """

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def to(self, dtype: str) -> np.ndarray:
        return round_array(self.values, dtype)

    @property
    def float64(self) -> np.ndarray:
        return self.to("float64")

    @property
    def float32(self) -> np.ndarray:
        return self.to("float32")

    def __getitem__(self, index: Any) -> MPArray | mpmath.mpf:
        item = self.values[index]
        return MPArray(item) if isinstance(item, np.ndarray) else item

    def __repr__(self) -> str:
        return f"MPArray(shape={self.shape}, float64={self.float64!r})"


@dataclass(frozen=True)
class ForwardResult:
    """The exact forward pass of a layer stack.

    - `y` (T, B, H_y): the stack's output per step, the top layer's merged h_t
      (H_y = H_out, or 2*H_out for concat; (T, B, 2, H_out) for merge="none");
      zero (or carried) at padded steps.
    - `h_n` (L*D, B, H_out), `c_n` (L*D, B, H) or None: the states after each
      sequence's last valid step.
    - `y_out` (T, B, O) or None: the Elman output layer g(W_y y_t + b_y).
    - `trace[(layer, direction)][name]` (T, B, n): every quantity of each step, its
      inputs (x, h_prev, c_prev) and what it computed (gate pre-activations, gates,
      states), indexed by time; NaN at padded steps.
    - `bits`: the working precision.
    """

    y: MPArray
    h_n: MPArray
    c_n: MPArray | None
    y_out: MPArray | None
    trace: dict[tuple[int, str], dict[str, MPArray]]
    bits: int
