"""Speed of the exact engine, against a naive mpmath baseline measured in the same run.

    python benchmarks/engine.py [--steps 32] [--size 64] [--batch 4] [--bits 128]

(a) the baseline: a plain mpmath LSTM written here, fdot per row, mp.exp and mp.tanh per
element, one sample at a time; (b) lstm_ref's forward, and forward + backward, with the
mpmath backend and (when python-flint is installed) the arb backend; (c) numpy float64,
for scale. Every time is the best of --repeat runs; ratios are against the baseline.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import mpmath
import numpy as np

from lstm_ref import Spec, backward, forward, random_inputs, random_params


def naive_lstm(
    params: Mapping[str, np.ndarray], x: np.ndarray, h0: np.ndarray, c0: np.ndarray, bits: int
) -> list[list[Any]]:
    """The baseline: the LSTM equations in plain mpmath, one sample at a time."""
    with mpmath.workprec(bits):
        W = {
            k: [[mpmath.mpf(float(v)) for v in row] for row in np.atleast_2d(a)]
            for k, a in params.items()
            if a.ndim == 2
        }
        b = {k: [mpmath.mpf(float(v)) for v in a] for k, a in params.items() if a.ndim == 1}
        T, B, _ = x.shape
        outputs = []
        for s in range(B):
            h = [mpmath.mpf(float(v)) for v in h0[0, s]]
            c = [mpmath.mpf(float(v)) for v in c0[0, s]]
            for t in range(T):
                xt = [mpmath.mpf(float(v)) for v in x[t, s]]
                gate = {}
                for q in "ifgo":
                    Wx, Wh = W[f"layer0.W_x[{q}]"], W[f"layer0.W_h[{q}]"]
                    bx, bh = b[f"layer0.b_x[{q}]"], b[f"layer0.b_h[{q}]"]
                    gate[q] = [
                        mpmath.fdot(Wx[j], xt) + mpmath.fdot(Wh[j], h) + bx[j] + bh[j]
                        for j in range(len(bx))
                    ]
                i = [1 / (1 + mpmath.exp(-a)) for a in gate["i"]]
                f = [1 / (1 + mpmath.exp(-a)) for a in gate["f"]]
                g = [mpmath.tanh(a) for a in gate["g"]]
                o = [1 / (1 + mpmath.exp(-a)) for a in gate["o"]]
                c = [fj * cj + ij * gj for fj, cj, ij, gj in zip(f, c, i, g, strict=True)]
                h = [oj * mpmath.tanh(cj) for oj, cj in zip(o, c, strict=True)]
                outputs.append(h)
        return outputs


def numpy_lstm(
    params: Mapping[str, np.ndarray], x: np.ndarray, h0: np.ndarray, c0: np.ndarray
) -> np.ndarray:
    h, c = h0[0], c0[0]

    def sig(v: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-v))

    for t in range(x.shape[0]):
        a = {
            q: x[t] @ params[f"layer0.W_x[{q}]"].T
            + h @ params[f"layer0.W_h[{q}]"].T
            + params[f"layer0.b_x[{q}]"]
            + params[f"layer0.b_h[{q}]"]
            for q in "ifgo"
        }
        c = sig(a["f"]) * c + sig(a["i"]) * np.tanh(a["g"])
        h = sig(a["o"]) * np.tanh(c)
    return h


def best(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--size", type=int, default=64, help="I = H")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--bits", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    spec = Spec("lstm", input_size=args.size, hidden_size=args.size)
    params = random_params(spec, seed=0)
    inputs = random_inputs(spec, args.steps, args.batch, seed=0)
    c0 = inputs.c0
    assert c0 is not None  # an LSTM's
    p = dict(params)
    cotangent = random_inputs(spec, args.steps, args.batch, seed=1).x[..., :1]
    cot = {"y": cotangent.repeat(args.size, -1)}
    call = (spec, params, inputs.x, inputs.h0, inputs.c0)
    rows: list[tuple[str, Callable[[], object]]] = [
        (
            "naive mpmath baseline (forward)",
            lambda: naive_lstm(p, inputs.x, inputs.h0, c0, args.bits),
        )
    ]
    backends = ["mpmath"] + (["arb"] if importlib.util.find_spec("flint") else [])
    for name in backends:
        rows.append(
            (f"lstm_ref forward, {name}", partial(forward, *call, bits=args.bits, arithmetic=name))
        )
        rows.append(
            (
                f"lstm_ref forward + backward, {name}",
                partial(backward, *call, cotangents=cot, bits=args.bits, arithmetic=name),
            )
        )
    rows.append(
        ("numpy float64 forward (for scale)", lambda: numpy_lstm(p, inputs.x, inputs.h0, c0))
    )
    print(
        f"LSTM I=H={args.size}, B={args.batch}, T={args.steps}, {args.bits} bits; "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"mpmath backend {mpmath.libmp.BACKEND}"
    )
    baseline = None
    for label, function in rows:
        seconds = best(function, args.repeat)
        baseline = baseline or seconds
        print(f"{label:42} {seconds:10.3f} s   {baseline / seconds:8.2f}x the baseline's speed")


if __name__ == "__main__":
    main()
