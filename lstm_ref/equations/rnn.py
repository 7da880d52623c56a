"""The Elman RNN step and its optional output layer (the lecture's RNN recap).

    h_t = f(W_x x_t + W_h h_{t-1} + b)        hidden state, f = tanh or relu (or any)
    y_t = g(W_y h_t + b_y)                    output layer, when output_size is set

with b = b_x + b_h in the canonical names (PyTorch's two biases).
"""

from __future__ import annotations

from lstm_ref.equations.activations import activation
from lstm_ref.equations.program import Program, ProgramBuilder
from lstm_ref.spec import Spec


def gates(spec: Spec) -> tuple[str, ...]:
    """One block, which owns W_x, W_h, b_x and b_h without a gate index."""
    return ("",)


def program(spec: Spec, layer: int) -> Program:
    """The RNN step of `layer`."""
    size_in, size_h = spec.layer_input_size(layer), spec.hidden_size
    b = ProgramBuilder({"x": size_in, "h_prev": size_h})
    rhs = b.weight("W_x", size_h, size_in, "(H, I)") * b.vector("x")
    rhs += b.weight("W_h", size_h, size_h, "(H, H)") * b.vector("h_prev")
    if spec.bias:
        rhs += b.bias("b_x", size_h, "(H,)") + b.bias("b_h", size_h, "(H,)")
    b.affine("a", rhs, "the pre-activation mixes the input with the previous hidden state")
    (block,) = spec.activations
    b.elementwise(
        "h",
        activation(block, b.scalar("a"), spec.activation_clip),
        size_h,
        "the hidden state, the memory of the sequence so far",
    )
    return b.build(states=(("h_prev", "h"),), output="h")


def output_program(spec: Spec) -> Program:
    """The output layer y_t = g(W_y h_t + b_y), applied to the stack's (merged) output."""
    if spec.output_size is None:
        raise ValueError("`output_size` is not set: this spec has no output layer")
    size_y, size_o = spec.merged_size, spec.output_size
    b = ProgramBuilder({"y": size_y})
    rhs = b.weight("W_y", size_o, size_y, "(O, H_y)") * b.vector("y")
    if spec.bias:
        rhs += b.bias("b_y", size_o, "(O,)")
    b.affine("a_y", rhs, "the output layer's pre-activation")
    b.elementwise(
        "y_out",
        activation(spec.output_activation, b.scalar("a_y")),
        size_o,
        "the output layer, the lecture's y_t = g(W_y h_t + b_y) on the stack's output",
    )
    return b.build(states=(), output="y_out")
