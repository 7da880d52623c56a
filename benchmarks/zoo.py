"""Implementations for measuring a verdict's power: correct ones that compute
legitimately differently, and mistaken ones, for one layer running forward.

Every implementation takes canonical parameters and time-major inputs and returns
canonical (y, h_n, c_n), in float64 arrays holding the values it computed. An
`Arithmetic` says how it computes: where it rounds (storage, operands, accumulation,
elementwise compute), how its sums run (BLAS, pairwise, sequential, blocked) and
whether the gates' products are fused into one. A `Mistake` changes what it computes.
Numpy only (bfloat16 from ml_dtypes, which JAX installs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

Array = np.ndarray
Round = Callable[[Array], Array]


def _bfloat16() -> type:
    import ml_dtypes  # here: only the bfloat16 members need it

    kind: type = ml_dtypes.bfloat16
    return kind


def rounding(fmt: str) -> Round:
    """Values rounded to a format, returned as float64 (float64: unchanged)."""
    if fmt == "float64":
        return lambda a: np.asarray(a, dtype=np.float64)
    if fmt == "tf32":

        def tf32(a: Array) -> Array:
            raw = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.int64)
            raw = ((raw + (1 << 12) + ((raw >> 13) & 1) - 1) >> 13) << 13  # ties to even
            return raw.astype(np.uint32).view(np.float32).astype(np.float64)

        return tf32
    kind = _bfloat16() if fmt == "bfloat16" else np.dtype(fmt).type
    return lambda a: np.asarray(a).astype(kind).astype(np.float64)


def _dtype(fmt: str) -> type:
    return _bfloat16() if fmt == "bfloat16" else np.dtype(fmt).type


@dataclass(frozen=True)
class Arithmetic:
    """How a correct implementation computes (formats as in lstm_ref's profiles)."""

    name: str
    storage: str = "float32"
    operands: str = "float32"
    accumulation: str = "float32"
    compute: str = "float32"
    sums: str = "blas"  # "blas", "pairwise", "sequential" or "blocked"
    fused: bool = True  # one product over every gate, or one per gate
    wide_elementwise: bool = False  # gate arithmetic in float64, rounded once after

    def matmul(self, x: Array, w: Array) -> Array:
        """x (B, n) @ w.T (n, m) as this arithmetic sums it."""
        operand = rounding(self.operands)
        x, w = operand(x), operand(w)
        kind = _dtype(self.accumulation)
        if self.sums == "blas":
            if self.accumulation in ("float32", "float64"):
                return (x.astype(kind) @ w.T.astype(kind)).astype(np.float64)
            terms = (x[:, None, :] * w[None, :, :]).astype(kind)
            return np.cumsum(terms, axis=-1, dtype=kind)[..., -1].astype(np.float64)
        terms = (x[:, None, :] * w[None, :, :]).astype(kind)  # exact products, rounded once
        if self.sums == "pairwise":
            return np.sum(terms, axis=-1, dtype=kind).astype(np.float64)
        if self.sums == "sequential":
            return np.cumsum(terms, axis=-1, dtype=kind)[..., -1].astype(np.float64)
        size = 32  # blocked: sequential within blocks of 32, then across the blocks
        pad = (-terms.shape[-1]) % size
        blocks = np.concatenate([terms, np.zeros(terms.shape[:-1] + (pad,), kind)], axis=-1)
        blocks = blocks.reshape(*terms.shape[:-1], -1, size)
        partial: Array = np.cumsum(blocks, axis=-1, dtype=kind)[..., -1]
        return np.cumsum(partial, axis=-1, dtype=kind)[..., -1].astype(np.float64)


@dataclass(frozen=True)
class Mistake:
    """A change to what is computed: activations off, a clamped sigmoid, a bias off, a
    stale step, noise on the outputs."""

    name: str
    sigmoid_ulps: float = 0.0  # sigmoid and tanh results scaled by (1 + k u_compute)
    clamp: float | None = None  # sigmoid(a) = 0 or 1 beyond |a| > clamp
    bias: float = 0.0  # added to the forget (LSTM), update (GRU) or only (RNN) gate
    stale_step: int | None = None  # this step reads h_{t-2}
    noise: float = 0.0  # outputs times (1 + noise * uniform(-1, 1))
    zero_from: int | None = None  # outputs and states zero from this step on


CORRECT = Mistake("correct")


def run(
    cell: str,
    params: Mapping[str, Array],
    x: Array,
    h0: Array,
    c0: Array | None,
    arithmetic: Arithmetic,
    mistake: Mistake = CORRECT,
    seed: int = 0,
    prefix: str = "layer0",
) -> tuple[Array, Array, Array | None]:
    """One layer, forward, full lengths, default activations, with biases; `prefix` names
    its parameters (`layer{l}` or `layer{l}_reverse`)."""
    store, compute = rounding(arithmetic.storage), rounding(arithmetic.compute)
    if arithmetic.wide_elementwise:
        compute = rounding("float64")
    u = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}[
        arithmetic.compute
    ]
    gates = {"lstm": "ifgo", "gru": "rzn", "rnn": "."}[cell]

    def p(kind: str, gate: str) -> Array:
        return np.asarray(params[f"{prefix}.{kind}" + ("" if gate == "." else f"[{gate}]")])

    def sig(a: Array) -> Array:
        s = compute(1.0 / (1.0 + compute(np.exp(-a))))
        if mistake.clamp is not None:
            s = np.where(a > mistake.clamp, 1.0, np.where(a < -mistake.clamp, 0.0, s))
        return compute(s * (1 + mistake.sigmoid_ulps * u))

    def tanh(a: Array) -> Array:
        return compute(compute(np.tanh(a)) * (1 + mistake.sigmoid_ulps * u))

    def products(v: Array, kind: str, names: str) -> dict[str, Array]:
        if arithmetic.fused:
            stacked = np.concatenate([p(kind, g) for g in names])
            out = arithmetic.matmul(v, stacked)
            size = out.shape[1] // len(names)
            return {g: out[:, k * size : (k + 1) * size] for k, g in enumerate(names)}
        return {g: arithmetic.matmul(v, p(kind, g)) for g in names}

    def preact(ax: Array, ah: Array, gate: str) -> Array:
        return compute(compute(ax + ah) + compute(p("b_x", gate) + p("b_h", gate)))

    with np.errstate(over="ignore"):  # a 16-bit exp(-a) overflows to inf, as in real kernels
        steps = x.shape[0]
        h, c = store(h0[0]), None if c0 is None else store(c0[0])
        history = [h]
        y = np.zeros((steps, x.shape[1], h0.shape[-1]))
        for t in range(steps):
            h_in = history[-2] if (t == mistake.stale_step and len(history) > 1) else h
            ax, ah = products(x[t], "W_x", gates), products(h_in, "W_h", gates)
            if cell == "lstm":
                assert c is not None
                i, g, o = (
                    sig(preact(ax["i"], ah["i"], "i")),
                    tanh(preact(ax["g"], ah["g"], "g")),
                    sig(preact(ax["o"], ah["o"], "o")),
                )
                f = sig(compute(preact(ax["f"], ah["f"], "f") + mistake.bias))
                c = store(compute(compute(f * c) + compute(i * g)))
                h = store(compute(o * tanh(c)))
            elif cell == "gru":
                r = sig(preact(ax["r"], ah["r"], "r"))
                z = sig(compute(preact(ax["z"], ah["z"], "z") + mistake.bias))
                inner = compute(ah["n"] + p("b_h", "n"))
                n = tanh(compute(compute(ax["n"] + p("b_x", "n")) + compute(r * inner)))
                h = store(compute(compute((1 - z) * n) + compute(z * h_in)))
            else:
                h = store(tanh(compute(preact(ax["."], ah["."], ".") + mistake.bias)))
            if mistake.zero_from is not None and t >= mistake.zero_from:
                h = np.zeros_like(h)
                c = None if c is None else np.zeros_like(c)
            history.append(h)
            y[t] = h
        h_n, c_n = h[None], None if c is None else c[None]
        if mistake.noise:
            rng = np.random.default_rng(seed)
            y, h_n = (a * (1 + mistake.noise * rng.uniform(-1, 1, a.shape)) for a in (y, h_n))
            if c_n is not None:
                c_n = c_n * (1 + mistake.noise * rng.uniform(-1, 1, c_n.shape))
        return y, h_n, c_n


def run_stack(
    cell: str,
    layers: int,
    bidirectional: bool,
    params: Mapping[str, Array],
    x: Array,
    h0: Array,
    c0: Array | None,
    arithmetic: Arithmetic,
    mistake: Mistake = CORRECT,
) -> tuple[Array, Array, Array | None]:
    """A stack of layers, each forward or bidirectional (concatenated), full lengths:
    the reverse direction runs over the time-reversed sequence."""
    store = rounding(arithmetic.storage)
    h_n, c_n = np.zeros(h0.shape), None if c0 is None else np.zeros(c0.shape)
    inputs = x
    for layer in range(layers):
        outputs = []
        for d, direction in enumerate(("forward", "reverse")[: 1 + bidirectional]):
            index = layer * (1 + bidirectional) + d
            seq = inputs if direction == "forward" else inputs[::-1]
            prefix = f"layer{layer}" + ("_reverse" if direction == "reverse" else "")
            y, h, c = run(
                cell,
                params,
                seq,
                h0[index : index + 1],
                None if c0 is None else c0[index : index + 1],
                arithmetic,
                mistake,
                seed=index,
                prefix=prefix,
            )
            outputs.append(y if direction == "forward" else y[::-1])
            h_n[index] = h[0]
            if c_n is not None and c is not None:
                c_n[index] = c[0]
        inputs = store(np.concatenate(outputs, axis=-1))
    return inputs, h_n, c_n


# Correct implementations per profile: each computes as the profile allows.
ZOO: dict[str, tuple[Arithmetic, ...]] = {
    "fp64": tuple(
        Arithmetic(
            f"float64 {s}{' per-gate' if not f else ''}",
            "float64",
            "float64",
            "float64",
            "float64",
            s,
            f,
        )
        for s, f in (
            ("blas", True),
            ("blas", False),
            ("pairwise", True),
            ("sequential", True),
            ("blocked", False),
        )
    ),
    "fp32": (
        Arithmetic("float32 BLAS fused"),
        Arithmetic("float32 BLAS per-gate", fused=False),
        Arithmetic("float32 pairwise", sums="pairwise"),
        Arithmetic("float32 sequential", sums="sequential"),
        Arithmetic("float32 blocked per-gate", sums="blocked", fused=False),
        Arithmetic("float64 sums, float32 storage", accumulation="float64", compute="float32"),
        Arithmetic(
            "float64 throughout, rounded to float32 once per step",
            accumulation="float64",
            compute="float64",
        ),
    ),
    "tf32": (
        Arithmetic("TF32 operands, float32 sums", operands="tf32"),
        Arithmetic("float32 BLAS (TF32 allowed, not used)"),
    ),
    "fp16": (
        Arithmetic("float16 storage, float32 math", "float16", "float16"),
        Arithmetic("float16 storage, float32 sequential", "float16", "float16", sums="sequential"),
        Arithmetic(
            "float16 storage, float64 gate math", "float16", "float16", wide_elementwise=True
        ),
    ),
    "bf16": (
        Arithmetic("bfloat16 storage, float32 math", "bfloat16", "bfloat16"),
        Arithmetic(
            "bfloat16 storage, float32 blocked per-gate",
            "bfloat16",
            "bfloat16",
            sums="blocked",
            fused=False,
        ),
    ),
    "fp16-acc16": (
        Arithmetic(
            "float16 sequential sums", "float16", "float16", "float16", "float16", "sequential"
        ),
        Arithmetic("float16 pairwise sums", "float16", "float16", "float16", "float16", "pairwise"),
        Arithmetic(
            "float16 storage, float32 math (more accurate than promised)", "float16", "float16"
        ),
    ),
    "bf16-acc16": (
        Arithmetic(
            "bfloat16 sequential sums", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "sequential"
        ),
        Arithmetic(
            "bfloat16 blocked sums", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "blocked"
        ),
    ),
}
