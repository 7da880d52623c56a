"""Independent numpy transcriptions of ONNX's and Keras 3's recurrent layers, written from
their own formulas and conventions (docs/frameworks.md), for testing the checker's
`onnx` and `keras` layouts. They read only their framework's tensors and attributes."""

from __future__ import annotations

import numpy as np

from lstm_ref.spec import Activation
from textbook import activation  # ONNX's activation list, written out in the tests

KERAS_ACTIVATIONS = {
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "softplus": lambda x: np.logaddexp(0, x),
    "linear": lambda x: x,
}


def _onnx_activations(attrs):
    alphas, betas = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
    out = []
    for name in attrs["activations"]:  # alpha and beta lists are packed: only users take one
        defaults = Activation(name)
        # a list left out (or run short) means ONNX's defaults: "the same as of
        # corresponding ONNX operators"
        alpha = alphas.pop(0) if defaults.alpha is not None and alphas else None
        beta = betas.pop(0) if defaults.beta is not None and betas else None
        act = Activation(name, alpha, beta)
        out.append(lambda x, act=act: activation(act, x))
    return out


def merged(mode, forward, backward):
    """Keras's and Flax's merges of the two directions (batch-major)."""
    return {
        "concat": lambda: np.concatenate([forward, backward], axis=-1),
        "sum": lambda: forward + backward,
        "ave": lambda: (forward + backward) / 2,
        "mul": lambda: forward * backward,
        "none": lambda: np.stack([forward, backward], axis=2),
    }[mode]()


def onnx_op(x, params, h0, c0, seq_lens=None, config=None, dtype=np.float64, gate_order="iofc"):
    """ONNX LSTM/GRU/RNN (layout 0) with ONNX Runtime's variable-length semantics."""
    attrs, op = config, config["op"]
    T, B, _ = x.shape
    H = attrs["hidden_size"]
    D = params["W"].shape[0]
    lens = np.full(B, T) if seq_lens is None else np.asarray(seq_lens)
    clip = attrs.get("clip")
    c = (lambda v: np.clip(v, -clip, clip)) if clip is not None else (lambda v: v)
    acts = _onnx_activations(attrs)
    per = {"LSTM": 3, "GRU": 2, "RNN": 1}[op]
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    Y = np.zeros((T, D, B, H), dtype=dtype)
    Y_h = np.zeros((D, B, H), dtype=dtype)
    Y_c = np.zeros((D, B, H), dtype=dtype)
    for d in range(D):
        f, *rest = acts[d * per : (d + 1) * per]
        W = np.split(params["W"][d], gates)
        R = np.split(params["R"][d], gates)
        Bias = np.split(params["B"][d], 2 * gates) if "B" in params else [0.0] * (2 * gates)
        Wb, Rb = Bias[:gates], Bias[gates:]
        if op == "LSTM":
            idx = {k: gate_order.index(k) for k in "iofc"}
            P = np.split(params["P"][d], 3) if "P" in params else [0.0] * 3
            p_i, p_o, p_f = P
        reverse = attrs["direction"] == "reverse" or d == 1
        for b in range(B):
            Ht = h0[d, b].astype(dtype)
            Ct = None if c0 is None else c0[d, b].astype(dtype)
            steps = range(lens[b] - 1, -1, -1) if reverse else range(lens[b])
            for t in steps:
                xt = x[t, b]

                def pre(k, h=Ht, xt=xt, W=W, R=R, Wb=Wb, Rb=Rb):
                    return xt @ W[k].T + h @ R[k].T + Wb[k] + Rb[k]

                if op == "LSTM":
                    g, h = rest
                    it = f(c(pre(idx["i"]) + p_i * Ct))
                    ft = 1 - it if attrs["input_forget"] else f(c(pre(idx["f"]) + p_f * Ct))
                    ct = g(c(pre(idx["c"])))
                    Ct = ft * Ct + it * ct
                    ot = f(c(pre(idx["o"]) + p_o * Ct))
                    Ht = ot * h(c(Ct))
                elif op == "GRU":
                    (g,) = rest
                    zt = f(c(pre(0)))
                    rt = f(c(pre(1)))
                    if attrs["linear_before_reset"]:
                        ht = g(c(xt @ W[2].T + rt * (Ht @ R[2].T + Rb[2]) + Wb[2]))
                    else:
                        ht = g(c(xt @ W[2].T + (rt * Ht) @ R[2].T + Rb[2] + Wb[2]))
                    Ht = (1 - zt) * ht + zt * Ht
                else:
                    Ht = f(c(pre(0)))
                Y[t, d, b] = Ht
            Y_h[d, b] = Ht
            if Ct is not None:
                Y_c[d, b] = Ct
    return Y, Y_h, (Y_c if op == "LSTM" else None)


def keras_stack(
    x, params, h0, c0, seq_lens=None, config=None, dtype=np.float64, update_inverted=False
):
    """Keras 3 LSTM/GRU/SimpleRNN layers (batch-major), stacked, optionally Bidirectional."""
    cfg = config
    Bt, T, _ = x.shape
    H = cfg["units"]
    ra = KERAS_ACTIVATIONS[cfg.get("recurrent_activation", "sigmoid")]
    a = KERAS_ACTIVATIONS[cfg["activation"]]
    lens = np.full(Bt, T) if seq_lens is None else np.asarray(seq_lens)
    mask = np.arange(T)[None, :] < lens[:, None]
    directions = ["forward", "backward"] if cfg["bidirectional"] else ["forward"]
    D = len(directions)
    h_n = np.zeros((cfg["num_layers"] * D, Bt, H), dtype=dtype)
    c_n = np.zeros_like(h_n)
    inputs = x.astype(dtype)
    for layer in range(cfg["num_layers"]):
        outs = []
        for d, direction in enumerate(directions):
            k = layer * D + d
            name = f"layer{layer}/{direction}"
            kernel, rec = params[f"{name}/kernel"], params[f"{name}/recurrent_kernel"]
            bias = params.get(f"{name}/bias")
            h, cs = h0[k].astype(dtype).copy(), (None if c0 is None else c0[k].astype(dtype).copy())
            out = np.zeros((Bt, T, H), dtype=dtype)
            previous = np.zeros((Bt, H), dtype=dtype)
            order = range(T - 1, -1, -1) if direction == "backward" else range(T)
            for t in order:
                xt = inputs[:, t]
                if cfg["cell"] == "lstm":
                    z = xt @ kernel + h @ rec + (0 if bias is None else bias)
                    i, f, g, o = np.split(z, 4, axis=-1)
                    new_c = ra(f) * cs + ra(i) * a(g)
                    new_h = ra(o) * a(new_c)
                elif cfg["cell"] == "gru":
                    if cfg["reset_after"]:
                        b_in, b_rec = (0, 0) if bias is None else (bias[0], bias[1])
                        xz, xr, xh = np.split(xt @ kernel + b_in, 3, axis=-1)
                        rz, rr, rh = np.split(h @ rec + b_rec, 3, axis=-1)
                        zg, rg = ra(xz + rz), ra(xr + rr)
                        hh = a(xh + rg * rh)
                    else:
                        pre = xt @ kernel + (0 if bias is None else bias)
                        xz, xr, xh = np.split(pre, 3, axis=-1)
                        uz, ur, uh = np.split(rec, 3, axis=-1)
                        zg, rg = ra(xz + h @ uz), ra(xr + h @ ur)
                        hh = a(xh + (rg * h) @ uh)
                    if update_inverted:
                        zg = 1 - zg
                    new_h = zg * h + (1 - zg) * hh
                else:
                    new_h = a(xt @ kernel + (0 if bias is None else bias) + h @ rec)
                valid = mask[:, t : t + 1]
                h = np.where(valid, new_h, h)
                if cfg["cell"] == "lstm":
                    cs = np.where(valid, new_c, cs)
                # a masked step carries the previous output; Bidirectional zeroes it
                carried = np.zeros_like(previous) if cfg["bidirectional"] else previous
                out[:, t] = np.where(valid, new_h, carried)
                previous = out[:, t]
            h_n[k] = h
            if cs is not None:
                c_n[k] = cs
            outs.append(out)
        if D == 1:
            inputs = outs[0]
        else:
            inputs = merged(cfg["merge_mode"], *outs)
    return inputs, h_n, (c_n if cfg["cell"] == "lstm" else None)


def flax_stack(x, params, h0, c0, seq_lens=None, config=None, dtype=np.float64, swap_states=False):
    """Flax linen LSTMCell / GRUCell / SimpleCell in nn.RNN (batch-major), stacked, with
    nn.Bidirectional (backward with reverse=True, keep_order=True). With `seq_lens` as
    Flax's `seq_lengths` (flax/linen/recurrent.py): every step runs, padding included;
    the backward direction reads `flip_sequences`' order, x_{len-1} .. x_0 then the
    padding x_{T-1} .. x_len, and its outputs are flipped back the same way; the carry is
    the one after step len - 1 (`_select_last_carry`); the stack's y past a length is
    zeroed at the end (the flax layout's convention)."""
    cfg = config
    gate = KERAS_ACTIVATIONS[cfg.get("gate_fn", "sigmoid")]
    act = KERAS_ACTIVATIONS[cfg["activation_fn"]]
    directions = (
        ["forward", "backward"]
        if cfg["direction"] == "bidirectional"
        else (["backward"] if cfg["direction"] == "reverse" else ["forward"])
    )
    D = len(directions)
    Bt, T, _ = x.shape
    H = cfg["features"]
    lens = np.full(Bt, T) if seq_lens is None else np.asarray(seq_lens)
    # flip_sequences: position t reads (T - 1 - t + len) % T, per sequence
    flip = (np.arange(T - 1, -1, -1)[None, :] + lens[:, None]) % T  # (B, T)
    rows = np.arange(Bt)
    h_n = np.zeros((cfg["num_layers"] * D, Bt, H), dtype=dtype)
    c_n = np.zeros_like(h_n)
    inputs = x.astype(dtype)

    def dense(name, v, bias=True):
        out = v @ params[f"{name}/kernel"]
        return out + params[f"{name}/bias"] if bias else out

    for layer in range(cfg["num_layers"]):
        outs = []
        for d, direction in enumerate(directions):
            k = layer * D + d
            n = f"layer{layer}/{direction}"
            carry_h = h0[k].astype(dtype)
            carry_c = None if c0 is None else c0[k].astype(dtype)
            out = np.zeros((Bt, T, H), dtype=dtype)
            last_h, last_c = carry_h.copy(), None if carry_c is None else carry_c.copy()
            for s in range(T):
                t = flip[:, s] if direction == "backward" else np.full(Bt, s)
                xt = inputs[rows, t]
                if cfg["cell"] == "lstm":
                    i = gate(dense(f"{n}/ii", xt, False) + dense(f"{n}/hi", carry_h))
                    f = gate(dense(f"{n}/if", xt, False) + dense(f"{n}/hf", carry_h))
                    g = act(dense(f"{n}/ig", xt, False) + dense(f"{n}/hg", carry_h))
                    o = gate(dense(f"{n}/io", xt, False) + dense(f"{n}/ho", carry_h))
                    carry_c = f * carry_c + i * g
                    carry_h = o * act(carry_c)
                elif cfg["cell"] == "gru":
                    r = gate(dense(f"{n}/ir", xt) + dense(f"{n}/hr", carry_h, False))
                    z = gate(dense(f"{n}/iz", xt) + dense(f"{n}/hz", carry_h, False))
                    m = act(dense(f"{n}/in", xt) + r * dense(f"{n}/hn", carry_h))
                    carry_h = (1.0 - z) * m + z * carry_h
                else:
                    carry_h = act(dense(f"{n}/i", xt) + dense(f"{n}/h", carry_h, False))
                out[rows, t] = carry_h  # keep_order: outputs in time order
                done = s == (lens - 1) % T  # length 0 reads index -1, as Flax does
                last_h[done] = carry_h[done]
                if carry_c is not None:
                    last_c[done] = carry_c[done]
            h_n[k] = last_h
            if carry_c is not None:
                c_n[k] = last_c
            outs.append(out)
        if D == 1:
            inputs = outs[0]
        else:
            inputs = merged(cfg["merge"], *outs)
    inputs = inputs.copy()
    for b, n in enumerate(lens):
        inputs[b, n:] = 0
    if cfg["cell"] != "lstm":
        return inputs, h_n, None
    return (inputs, c_n, h_n) if swap_states else (inputs, h_n, c_n)
