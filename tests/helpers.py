"""Small helpers shared by the tests (comparison measures only; no reference values)."""

from __future__ import annotations

import numpy as np


def normwise_relative(actual: np.ndarray, desired: np.ndarray) -> float:
    """max |actual - desired| / max |desired| (0 when both are all zero)."""
    actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    assert actual.shape == desired.shape, (actual.shape, desired.shape)
    scale = np.max(np.abs(desired), initial=0.0)
    error = np.max(np.abs(actual - desired), initial=0.0)
    return 0.0 if error == 0 else error / scale if scale else float("inf")
