"""The LSTM step, as the lecture writes it, with every variant the spec allows.

    f_t = sigma(W_f x_t + U_f h_{t-1} + b_f)          forget gate
    i_t = sigma(W_i x_t + U_i h_{t-1} + b_i)          input gate
    C~_t = tanh(W_c x_t + U_c h_{t-1} + b_c)          candidate cell state (g)
    C_t = f_t * C_{t-1} + i_t * C~_t                  cell state
    o_t = sigma(W_o x_t + U_o h_{t-1} + b_o)          output gate
    h_t = o_t * tanh(C_t)                             hidden state

In the canonical names W_x[q] is W_q, W_h[q] is U_q, and b_q = b_x[q] + b_h[q].
"""

from __future__ import annotations

import sympy as sp

from lstm_ref.equations.activations import activation, clip
from lstm_ref.equations.program import Program, ProgramBuilder
from lstm_ref.spec import Activation, Spec

PRE_ACTIVATION_MEANING = {
    "i": "the input gate's pre-activation",
    "f": "the forget gate's pre-activation",
    "g": "the candidate's pre-activation",
    "o": "the output gate's pre-activation",
}


def gates(spec: Spec) -> tuple[str, ...]:
    """The gates that own parameters, in canonical order: i, f, g, o (no f if coupled)."""
    return ("i", "g", "o") if spec.input_forget else ("i", "f", "g", "o")


def program(spec: Spec, layer: int) -> Program:
    """The LSTM step of `layer` (its input size depends on the layer)."""
    size_in, size_h, size_out = spec.layer_input_size(layer), spec.hidden_size, spec.h_out
    b = ProgramBuilder({"x": size_in, "h_prev": size_out, "c_prev": size_h})
    x, h_prev, c_prev = b.vector("x"), b.vector("h_prev"), b.scalar("c_prev")

    pre = {}
    for q in gates(spec):
        rhs = b.weight(f"W_x[{q}]", size_h, size_in, "(H, I)") * x
        rhs += b.weight(f"W_h[{q}]", size_h, size_out, "(H, H_out)") * h_prev
        if spec.bias:
            rhs += b.bias(f"b_x[{q}]", size_h, "(H,)") + b.bias(f"b_h[{q}]", size_h, "(H,)")
        b.affine(f"a[{q}]", rhs, PRE_ACTIVATION_MEANING[q])
        pre[q] = b.scalar(f"a[{q}]")

    gate_act, cand_act, cell_act = spec.activations

    def act(which: Activation, u: sp.Expr) -> sp.Expr:
        return activation(which, u, spec.activation_clip)

    def peephole(q: str, state: sp.Symbol) -> sp.Expr:
        return b.elementwise_parameter(f"p[{q}]", size_h, "(H,)") * state if spec.peepholes else 0

    i = b.elementwise(
        "i",
        act(gate_act, pre["i"] + peephole("i", c_prev)),
        size_h,
        "the input gate decides how much of the candidate to write into the cell",
    )
    if spec.input_forget:
        f = b.elementwise(
            "f", 1 - i, size_h, "coupled gates: the cell forgets exactly what it writes"
        )
    else:
        u_f = pre["f"] + peephole("f", c_prev) + sp.Rational(spec.forget_bias)
        f = b.elementwise(
            "f",
            act(gate_act, u_f),
            size_h,
            "the forget gate decides how much of C_{t-1} to keep",
        )
    g = b.elementwise(
        "g",
        act(cand_act, pre["g"]),
        size_h,
        "the candidate cell state C~_t: what could be written into the cell",
    )
    cell = f * c_prev + i * g
    if spec.cell_clip is not None:
        cell = clip(cell, sp.Rational(spec.cell_clip))
    c = b.elementwise(
        "c",
        cell,
        size_h,
        "the cell state keeps f_t of C_{t-1} and adds i_t of the candidate"
        + (", clipped to the cell clip" if spec.cell_clip is not None else ""),
    )
    o = b.elementwise(
        "o",
        act(gate_act, pre["o"] + peephole("o", c)),
        size_h,
        "the output gate decides how much of the cell to show",
    )
    # ONNX clips every activation input, C_t's included; ONNX Runtime does not clip C_t there.
    shown = o * activation(cell_act, c, spec.activation_clip if spec.clip_cell_output else None)
    if spec.proj_size:
        b.elementwise("m", shown, size_h, "the gated cell output, before projection")
        b.affine(
            "h",
            b.weight("W_hr", size_out, size_h, "(H_out, H)") * b.vector("m"),
            "the hidden state is the gated cell output projected to H_out",
        )
    else:
        b.elementwise("h", shown, size_h, "the hidden state is the gated cell output")
    return b.build(states=(("h_prev", "h"), ("c_prev", "c")), output="h")
