"""An independent float64 transcription of the equations, for cross-checking only.

Written from the lecture's equations and docs/design.md's conventions, in plain numpy;
it does not import lstm_ref's equations or evaluator. It reads parameters by their
canonical names (a plain dict) and the options from a spec's attributes.

`run(..., dtype=np.float32)` computes in float32 throughout (a correct float32
implementation); `mistake=` injects one of the code-level mistakes of docs/design.md's
list (MISTAKES), for the tests that check the golden vectors catch them.
"""

from __future__ import annotations

import numpy as np

MISTAKES = (
    "peephole_on_previous_cell",  # o_t sees C_{t-1} instead of C_t
    "gate_after_projection",  # h_t = o_t[:P] * (W_hr tanh(C_t)) instead of W_hr (o_t * tanh(C_t))
    "reverse_not_realigned",  # the backward direction's outputs left in processing order
    "padding_consumed",  # states run through padded steps; only the outputs are masked
    "fp16_accumulation",  # matrix products summed in float16
    "tf32_matmul",  # matrix products with operands rounded to TF32 (10 bits), fp32 sums
)


def _round_mantissa(a, bits):
    """Round float32 values to `bits` explicit mantissa bits, to nearest (ties away)."""
    a = np.asarray(a, dtype=np.float32)
    raw = a.view(np.uint32).astype(np.uint64)
    drop = 23 - bits
    raw = ((raw + (1 << (drop - 1))) >> drop) << drop
    return raw.astype(np.uint32).view(np.float32)


def matmul_for(mistake, dtype):
    """The product x @ W.T as the implementation computes it."""
    if mistake == "fp16_accumulation":

        def product(x, w):
            a, b = x.astype(np.float16), w.T.astype(np.float16)
            total = np.zeros((a.shape[0], b.shape[1]), dtype=np.float16)
            for k in range(a.shape[1]):
                total = (total + (a[:, k : k + 1] * b[k : k + 1, :])).astype(np.float16)
            return total.astype(dtype)

        return product
    if mistake == "tf32_matmul":
        return lambda x, w: (_round_mantissa(x, 10) @ _round_mantissa(w, 10).T).astype(dtype)
    return lambda x, w: x @ w.T


def activation(act, u, clip=None):
    """ONNX's activation functions, written out."""
    if clip is not None:
        u = np.clip(u, -float(clip), float(clip))
    a = None if act.alpha is None else float(act.alpha)
    b = None if act.beta is None else float(act.beta)
    name = act.name
    if name == "Sigmoid":
        return 1.0 / (1.0 + np.exp(-u))
    if name == "Tanh":
        return np.tanh(u)
    if name == "Relu":
        return np.maximum(u, 0.0)
    if name == "HardSigmoid":
        return np.clip(a * u + b, 0.0, 1.0)
    if name == "LeakyRelu":
        return np.where(u >= 0, u, a * u)
    if name == "ThresholdedRelu":
        return np.where(u >= a, u, 0.0)
    if name == "ScaledTanh":
        return a * np.tanh(b * u)
    if name == "Affine":
        return a * u + b
    if name == "Elu":
        return np.where(u >= 0, u, a * np.expm1(np.minimum(u, 0.0)))
    if name == "Softsign":
        return u / (1.0 + np.abs(u))
    if name == "Softplus":
        return np.logaddexp(0.0, u)
    raise AssertionError(name)


def lstm_step(spec, p, x, h, c, mm=lambda x, w: x @ w.T, mistake=None):
    """One LSTM step for a batch: x (B, I), h (B, H_out), c (B, H)."""
    clip = spec.activation_clip
    sig, cand, cell = spec.activations

    def pre(q):
        a = mm(x, p[f"W_x[{q}]"]) + mm(h, p[f"W_h[{q}]"])
        if spec.bias:
            a = a + p[f"b_x[{q}]"] + p[f"b_h[{q}]"]
        return a

    peep = (lambda q: p[f"p[{q}]"]) if spec.peepholes else (lambda q: 0.0)
    i = activation(sig, pre("i") + peep("i") * c, clip)
    if spec.input_forget:
        f = 1.0 - i
    else:
        f = activation(sig, pre("f") + peep("f") * c + float(spec.forget_bias), clip)
    g = activation(cand, pre("g"), clip)
    c_new = f * c + i * g
    if spec.cell_clip is not None:
        c_new = np.clip(c_new, -float(spec.cell_clip), float(spec.cell_clip))
    seen = c if mistake == "peephole_on_previous_cell" else c_new
    o = activation(sig, pre("o") + peep("o") * seen, clip)
    if spec.proj_size and mistake == "gate_after_projection":
        return o[:, : spec.proj_size] * mm(
            activation(cell, c_new, clip if spec.clip_cell_output else None), p["W_hr"]
        ), c_new
    h_new = o * activation(cell, c_new, clip if spec.clip_cell_output else None)
    if spec.proj_size:
        h_new = mm(h_new, p["W_hr"])
    return h_new, c_new


def gru_step(spec, p, x, h, mm=lambda x, w: x @ w.T):
    clip = spec.activation_clip
    sig, cand = spec.activations

    def bias(name):
        return p[name] if spec.bias else 0.0

    r = activation(
        sig, mm(x, p["W_x[r]"]) + bias("b_x[r]") + mm(h, p["W_h[r]"]) + bias("b_h[r]"), clip
    )
    z = activation(
        sig, mm(x, p["W_x[z]"]) + bias("b_x[z]") + mm(h, p["W_h[z]"]) + bias("b_h[z]"), clip
    )
    if spec.gru_reset == "after":
        inner = mm(x, p["W_x[n]"]) + bias("b_x[n]") + r * (mm(h, p["W_h[n]"]) + bias("b_h[n]"))
    else:
        inner = mm(x, p["W_x[n]"]) + bias("b_x[n]") + mm(r * h, p["W_h[n]"]) + bias("b_h[n]")
    n = activation(cand, inner, clip)
    return (1.0 - z) * n + z * h


def rnn_step(spec, p, x, h, mm=lambda x, w: x @ w.T):
    a = mm(x, p["W_x"]) + mm(h, p["W_h"])
    if spec.bias:
        a = a + p["b_x"] + p["b_h"]
    return activation(spec.activations[0], a, spec.activation_clip)


def round_to_float16(a):
    return np.asarray(a, dtype=np.float32).astype(np.float16).astype(np.float32)


def round_to_bfloat16(a):
    """float32 values rounded to bfloat16 (8 significant bits), to nearest, ties to even."""
    raw = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    raw = (raw + 0x7FFF + ((raw >> 16) & 1)) >> 16 << 16
    return raw.astype(np.uint32).view(np.float32)


def merge(how, f, r):
    """A bidirectional layer's output from its two directions' outputs."""
    if how == "concat":
        return np.concatenate([f, r], axis=-1)
    if how == "none":
        return np.stack([f, r], axis=2)
    return {"sum": np.add, "ave": lambda a, b: (a + b) / 2, "mul": np.multiply}[how](f, r)


def run(
    spec, params, x, h0=None, c0=None, seq_lens=None, *, dtype=np.float64, mistake=None, store=None
):
    """The whole stack; returns (y, h_n, c_n, y_out) as arrays of `dtype`.

    `store` rounds the states after every step and the outputs (a float16 or
    bfloat16 implementation with `dtype` arithmetic: round_to_float16, ...)."""
    store = store or (lambda a: a)
    assert mistake is None or mistake in MISTAKES, mistake
    params = {k: np.asarray(v, dtype=dtype) for k, v in params.items()}
    x = np.asarray(x, dtype=dtype)
    h0 = None if h0 is None else np.asarray(h0, dtype=dtype)
    c0 = None if c0 is None else np.asarray(c0, dtype=dtype)
    mm = matmul_for(mistake, dtype)
    T, B, _ = x.shape
    D = 2 if spec.direction == "bidirectional" else 1
    H, P = spec.hidden_size, spec.proj_size or spec.hidden_size
    lens = np.full(B, T) if seq_lens is None else np.asarray(seq_lens)
    masked = lens
    if mistake == "padding_consumed":
        lens = np.full(B, T)
    h0 = np.zeros((spec.num_layers * D, B, P), dtype=dtype) if h0 is None else h0
    if spec.cell == "lstm" and c0 is None:
        c0 = np.zeros((spec.num_layers * D, B, H), dtype=dtype)
    h_n, c_n = np.array(h0, dtype=dtype), None if c0 is None else np.array(c0, dtype=dtype)
    dirs = {"forward": ["forward"], "reverse": ["reverse"]}.get(
        spec.direction, ["forward", "reverse"]
    )
    inp = x
    for layer in range(spec.num_layers):
        outs = []
        for d, direction in enumerate(dirs):
            k = layer * D + d
            prefix = f"layer{layer}" + ("_reverse" if direction == "reverse" else "")
            p = {
                name[len(prefix) + 1 :]: v
                for name, v in params.items()
                if name.startswith(prefix + ".")
            }
            out = np.zeros((T, B, P), dtype=dtype)
            for b in range(B):  # one sequence at a time: the plainest reading of seq_lens
                h = h_n[k, b : b + 1].copy()
                c = None if c_n is None else c_n[k, b : b + 1].copy()
                order = range(lens[b]) if direction == "forward" else range(lens[b] - 1, -1, -1)
                for t in order:
                    xt = inp[t, b : b + 1]
                    if spec.cell == "lstm":
                        h, c = lstm_step(spec, p, xt, h, c, mm, mistake)
                        c = store(c)
                    elif spec.cell == "gru":
                        h = gru_step(spec, p, xt, h, mm)
                    else:
                        h = rnn_step(spec, p, xt, h, mm)
                    h = store(h)
                    out[t, b] = h[0]
                if mistake == "padding_consumed":
                    out[masked[b] :, b] = 0.0
                if mistake == "reverse_not_realigned" and direction == "reverse":
                    out[: lens[b], b] = out[: lens[b], b][::-1].copy()
                if spec.padded_outputs == "carry" and direction == "forward" and lens[b] > 0:
                    out[lens[b] :, b] = out[lens[b] - 1, b]
                h_n[k, b] = h[0]
                if c is not None:
                    c_n[k, b] = c[0]
            outs.append(out)
        if D == 1:
            inp = outs[0]
        else:
            inp = store(merge(spec.merge, *outs))
    y_out = None
    if spec.output_size is not None:
        a = mm(inp.reshape(T * B, -1), params["output.W_y"]).reshape(T, B, -1)
        if spec.bias:
            a = a + params["output.b_y"]
        y_out = store(activation(spec.output_activation, a))
        if spec.padded_outputs == "zero":
            for b in range(B):
                y_out[lens[b] :, b] = 0.0
    return inp, h_n, c_n, y_out
