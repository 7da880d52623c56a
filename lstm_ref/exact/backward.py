"""Exact backpropagation through time: the vector-Jacobian product of the whole stack.

The backward pass evaluates the adjoint terms the derivation prints
(:mod:`lstm_ref.derivation.bptt`), on the forward trace: an affine equation
t = sum W v + b sends W^T dt to each v and accumulates dt v^T into W and dt into b;
an elementwise equation sends dt * (d t / d operand) to each operand, with the
partials SymPy derived (:mod:`lstm_ref.derivation.partials`). Variable
lengths, directions, merges and layers follow the stack's schedule
(:mod:`lstm_ref.exact.schedule`), backward.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lstm_ref.derivation.bptt import adjoints
from lstm_ref.equations import output_program
from lstm_ref.equations.program import Program
from lstm_ref.exact.backends import Accumulator, backend
from lstm_ref.exact.context import to_bits
from lstm_ref.exact.forward import Tape, run_forward, validated
from lstm_ref.exact.result import ForwardResult, MPArray
from lstm_ref.exact.schedule import Run, Schedule, Step, backward_pass
from lstm_ref.exact.step import CompiledStep
from lstm_ref.inputs import Inputs
from lstm_ref.params import Params, as_real_array
from lstm_ref.spec import Spec

COTANGENTS = ("y", "h_n", "c_n", "y_out")


@dataclass(frozen=True)
class Gradients:
    """The vector-Jacobian product: d<cotangents, outputs> / d(every input).

    - `x` (T, B, I), `h0` (L*D, B, H_out), `c0` (L*D, B, H) or None.
    - `params[name]`: one array per canonical parameter, shaped like it.
    - `forward`: the forward pass it differentiated, at the same precision.
    """

    x: MPArray
    h0: MPArray
    c0: MPArray | None
    params: dict[str, MPArray]
    forward: ForwardResult


def backward(
    spec: Spec,
    params: Params,
    x: object,
    h0: object = None,
    c0: object = None,
    seq_lens: object = None,
    *,
    cotangents: Mapping[str, object],
    digits: int | None = None,
    bits: int | None = None,
    arithmetic: str = "mpmath",
) -> Gradients:
    """Gradients of sum(cotangent * output) over the outputs, for every input and parameter.

    `cotangents` maps any of "y", "h_n", "c_n", "y_out" to an array shaped like that
    output of :func:`~lstm_ref.forward`; missing ones are zero. Values at padded steps
    of "y" and "y_out" are ignored where those outputs are the constant zero.
    `arithmetic` is "mpmath" (default) or "arb" (rigorous balls, the extra `flint`).

    >>> from lstm_ref import Spec, random_params, random_inputs
    >>> spec = Spec("gru", input_size=2, hidden_size=3)
    >>> inputs = random_inputs(spec, steps=4, batch=2, seed=0)
    >>> grads = backward(spec, random_params(spec), inputs.x, inputs.h0,
    ...                  cotangents={"h_n": np.ones((1, 2, 3))}, digits=30)
    >>> grads.params["layer0.W_h[z]"].shape, grads.x.shape
    ((3, 3), (4, 2, 2))
    """
    params, inputs = validated(spec, params, x, h0, c0, seq_lens)
    chosen = backend(arithmetic)
    with chosen.precision(to_bits(digits, bits)) as working_bits:
        result, tape = run_forward(spec, params, inputs, working_bits, arithmetic)
        cot = _cotangents(result, cotangents, arithmetic)
        return _backward(spec, params, inputs, result, tape, cot, arithmetic)


def _cotangents(result: ForwardResult, given: Mapping[str, object], arithmetic: str) -> dict:
    if not isinstance(given, Mapping):
        raise TypeError(
            f"`cotangents` must be a mapping of output names to arrays; got {type(given).__name__}"
        )
    outputs = {"y": result.y, "h_n": result.h_n, "c_n": result.c_n, "y_out": result.y_out}
    unknown = [k for k in given if k not in outputs or outputs[k] is None]
    if unknown:
        available = [k for k in COTANGENTS if outputs[k] is not None]
        raise ValueError(
            f"`cotangents` has no output {unknown[0]!r} for this spec; available: {available}"
        )
    cot = {}
    for name, output in outputs.items():
        if output is None:
            continue
        if name in given:
            array = as_real_array(given[name], f"cotangents[{name!r}]")
            if array.shape != output.shape:
                raise ValueError(
                    f"`cotangents[{name!r}]` must have the shape of {name}, "
                    f"{output.shape}; got {array.shape}"
                )
            cot[name] = backend(arithmetic).vector(array)
        else:
            cot[name] = backend(arithmetic).full(output.shape, "0")
    return cot


class _ExactBackward:
    """The exact rule of the backward pass: each step's adjoint terms, on the forward trace."""

    def __init__(self, tape: Tape, grads: dict[str, Accumulator], arithmetic: str) -> None:
        self.tape, self.grads = tape, grads
        self.backend = backend(arithmetic)
        self.arithmetic = arithmetic

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.backend.full(shape, "0")

    def step(self, run: Run, step: Step, seeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = {name: array[step.at] for name, array in self.tape.stack.traces[run.key].items()}
        return _step_backward(
            run.program, self.tape.compiled[run.key], run.prefix, values, seeds, self.grads
        )

    def carried(self, run: Run, adjoint: np.ndarray) -> np.ndarray:
        return adjoint

    def joined(self, adj: np.ndarray, terms: int) -> np.ndarray:
        return adj

    def split(self, layer: int, program: Program, adj: np.ndarray) -> list[np.ndarray]:
        values = {
            "y_fwd": self.tape.stack.outputs[(layer, "forward")],
            "y_bwd": self.tape.stack.outputs[(layer, "reverse")],
        }
        split = _pointwise_backward(program, None, "", values, adj, self.grads, self.arithmetic)
        return [split["y_fwd"], split["y_bwd"]]


def _backward(
    spec: Spec,
    params: Params,
    inputs: Inputs,
    result: ForwardResult,
    tape: Tape,
    cot: dict[str, np.ndarray],
    arithmetic: str,
) -> Gradients:
    chosen = backend(arithmetic)
    schedule = Schedule(spec, inputs.seq_lens)
    grads = {name: chosen.accumulator(array.shape) for name, array in params.items()}
    adj_top = cot["y"].copy()
    out = output_program(spec)
    if out is not None:
        adj_out = cot["y_out"].copy()
        schedule.zero_padding(adj_out, chosen.full((), "0")[()])
        adj_top += _pointwise_backward(
            out, params, "output", {"y": tape.stack.y}, adj_out, grads, arithmetic
        )["y"]
    adj_h0, adj_c0 = cot["h_n"].copy(), None if result.c_n is None else cot["c_n"].copy()
    rule = _ExactBackward(tape, grads, arithmetic)
    shapes = [array.shape for array in tape.stack.layer_inputs]
    adj_x = backward_pass(schedule, rule, adj_top, adj_h0, adj_c0, shapes)
    return Gradients(
        MPArray(adj_x),
        MPArray(adj_h0),
        None if adj_c0 is None else MPArray(adj_c0),
        {name: MPArray(g.value()) for name, g in grads.items()},
        result,
    )


def _step_backward(
    program: Program,
    step: CompiledStep,
    prefix: str,
    values: dict[str, np.ndarray],
    seed: dict[str, np.ndarray],
    grads: dict[str, Accumulator],
) -> dict[str, np.ndarray]:
    """Adjoints of a step's quantities from `seed` (what its targets receive from the
    next step and the loss), by the terms of :func:`~lstm_ref.derivation.bptt.adjoints`;
    parameter gradients, summed over the batch rows, are added into `grads`."""
    rows = next(iter(values.values())).shape[0]
    adj: dict[str, np.ndarray] = {}
    for adjoint in adjoints(program):
        if adjoint.is_parameter:
            gradient = grads[f"{prefix}.{adjoint.name}"]
            for term in adjoint.terms:
                dt = adj[term.target]
                if term.vector is not None:
                    gradient.add_outer(dt, values[term.vector])
                elif term.partial is not None:
                    partial = step.evaluate(term.partial, values, scale=dt)
                    gradient.add_rows(np.asarray(partial, dtype=object))
                else:
                    gradient.add_rows(dt)
            continue
        size = program.sizes[adjoint.name]
        total = seed[adjoint.name] if adjoint.name in seed else step.backend.full((rows, size), "0")
        # The matrix terms W^T dt of every gate as one exact sum, rounded once.
        weighted = [
            (adj[t.target], step.weights[t.weight]) for t in adjoint.terms if t.weight is not None
        ]
        if weighted:
            total = total + step.backend.transpose_times(weighted)
        for term in adjoint.terms:
            if term.weight is None:
                total = step.evaluate(term.partial, values, scale=adj[term.target], total=total)
        adj[adjoint.name] = total
    return adj


def _pointwise_backward(
    program: Program,
    params: Params | None,
    prefix: str,
    inputs: dict[str, np.ndarray],
    adj_out: np.ndarray,
    grads: dict[str, Accumulator],
    arithmetic: str,
) -> dict[str, np.ndarray]:
    """Backward through a stateless program applied at every step (merge, output layer)."""
    steps, batch = adj_out.shape[:2]
    flat = {n: a.reshape(steps * batch, a.shape[-1]) for n, a in inputs.items()}
    step = CompiledStep(program, {} if params is None else params.of(prefix), arithmetic)
    values = step(flat)
    seed = {program.output: adj_out.reshape(steps * batch, adj_out.shape[-1])}
    adj = _step_backward(program, step, prefix, values, seed, grads)
    return {n: adj[n].reshape(steps, batch, -1) for n in inputs}
