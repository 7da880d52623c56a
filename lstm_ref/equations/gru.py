"""The GRU step, with the reset gate applied after or before the recurrent matmul.

    r_t = sigma(W_r x_t + U_r h_{t-1} + b_r)                      reset gate
    z_t = sigma(W_z x_t + U_z h_{t-1} + b_z)                      update gate
    n_t = tanh(W_n x_t + b^x_n + r_t * (U_n h_{t-1} + b^h_n))     candidate, reset after
    n_t = tanh(W_n x_t + b^x_n + U_n (r_t * h_{t-1}) + b^h_n)     candidate, reset before
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                         hidden state

"after" is PyTorch's, cuDNN's and Keras's default; "before" is the original paper's
and ONNX's default (linear_before_reset=0).
"""

from __future__ import annotations

import sympy as sp

from lstm_ref.equations.activations import activation
from lstm_ref.equations.program import Program, ProgramBuilder
from lstm_ref.spec import Activation, Spec


def gates(spec: Spec) -> tuple[str, ...]:
    """The gates that own parameters, in canonical order."""
    return ("r", "z", "n")


def program(spec: Spec, layer: int) -> Program:
    """The GRU step of `layer`."""
    size_in, size_h = spec.layer_input_size(layer), spec.hidden_size
    b = ProgramBuilder({"x": size_in, "h_prev": size_h})
    x, h_prev = b.vector("x"), b.vector("h_prev")

    def w_x(q: str) -> sp.MatrixSymbol:
        return b.weight(f"W_x[{q}]", size_h, size_in, "(H, I)")

    def w_h(q: str) -> sp.MatrixSymbol:
        return b.weight(f"W_h[{q}]", size_h, size_h, "(H, H)")

    def biases(q: str, side: str) -> list[sp.MatrixSymbol]:
        return [b.bias(f"b_{s}[{q}]", size_h, "(H,)") for s in side] if spec.bias else []

    gate_act, cand_act = spec.activations
    meaning = {"r": "the reset gate's pre-activation", "z": "the update gate's pre-activation"}
    pre = {}
    for q in ("r", "z"):
        product = w_x(q) * x + w_h(q) * h_prev
        b.affine(f"a[{q}]", sum(biases(q, "xh"), product), meaning[q])
        pre[q] = b.scalar(f"a[{q}]")

    def act(which: Activation, u: sp.Expr) -> sp.Expr:
        return activation(which, u, spec.activation_clip)

    r = b.elementwise(
        "r",
        act(gate_act, pre["r"]),
        size_h,
        "the reset gate decides how much of h_{t-1} the candidate sees",
    )
    z = b.elementwise(
        "z",
        act(gate_act, pre["z"]),
        size_h,
        "the update gate decides how much of h_{t-1} to keep",
    )
    product = w_x("n") * x
    b.affine("a_x[n]", sum(biases("n", "x"), product), "the candidate's input part")
    if spec.gru_reset == "after":
        product = w_h("n") * h_prev
        b.affine(
            "a_h[n]",
            sum(biases("n", "h"), product),
            "the candidate's recurrent part, reset after the matmul",
        )
        u_n = b.scalar("a_x[n]") + r * b.scalar("a_h[n]")
    else:
        b.elementwise(
            "rh", r * b.scalar("h_prev"), size_h, "the reset previous state r_t * h_{t-1}"
        )
        product = w_h("n") * b.vector("rh")
        b.affine(
            "a_h[n]",
            sum(biases("n", "h"), product),
            "the candidate's recurrent part, reset before the matmul",
        )
        u_n = b.scalar("a_x[n]") + b.scalar("a_h[n]")
    n = b.elementwise("n", act(cand_act, u_n), size_h, "the candidate hidden state")
    b.elementwise(
        "h",
        (1 - z) * n + z * b.scalar("h_prev"),
        size_h,
        "the hidden state mixes the candidate and h_{t-1} by the update gate",
    )
    return b.build(states=(("h_prev", "h"),), output="h")
