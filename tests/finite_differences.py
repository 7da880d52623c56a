"""Central finite differences of the exact forward pass, in mpmath at high precision.

The loss is L = sum(cotangent * output) over the outputs; each gradient element is
(L(theta + h) - L(theta - h)) / 2h with h = 2^-40 (an exact dyadic step), the
forward pass at 90 digits: truncation O(h^2) ~ 1e-24, rounding ~ 1e-78 / h.
"""

from __future__ import annotations

import mpmath
import numpy as np

from lstm_ref import Params, forward

STEP = mpmath.mpf(2) ** -40
DIGITS = 90


def loss(spec, params, x, h0, c0, seq_lens, cotangents):
    result = forward(spec, params, x, h0, c0, seq_lens, digits=DIGITS)
    outputs = {"y": result.y, "h_n": result.h_n, "c_n": result.c_n, "y_out": result.y_out}
    with mpmath.workdps(DIGITS):
        return mpmath.fsum(
            mpmath.mpf(float(c)) * v
            for name, cot in cotangents.items()
            for c, v in zip(np.ravel(cot), outputs[name].values.flat, strict=True)
        )


def _mp(array):
    out = np.empty(np.shape(array), dtype=object)
    out.flat = [mpmath.mpf(float(v)) for v in np.ravel(array)]
    return out


def gradient(spec, params, x, h0, c0, seq_lens, cotangents):
    """Finite-difference gradients of every input: {'x', 'h0', 'c0', parameter names}."""
    inputs = {"x": x, "h0": h0, "c0": c0, **dict(params)}
    grads = {}
    for name, value in inputs.items():
        if value is None:
            continue
        grad = np.empty(np.shape(value), dtype=object)
        for index in np.ndindex(*np.shape(value)):
            sides = []
            for sign in (1, -1):
                moved = dict(inputs)
                array = _mp(value)
                array[index] = array[index] + sign * STEP
                moved[name] = array
                args = {k: v for k, v in moved.items() if k not in ("x", "h0", "c0")}
                sides.append(
                    loss(
                        spec,
                        Params(spec, args),
                        moved["x"],
                        moved["h0"],
                        moved["c0"],
                        seq_lens,
                        cotangents,
                    )
                )
            with mpmath.workdps(DIGITS):
                grad[index] = (sides[0] - sides[1]) / (2 * STEP)
        grads[name] = grad
    return grads
