"""The exact forward pass of a layer stack: layers, directions, variable lengths, merge.

Per layer and direction, the step program runs over each sequence's valid prefix:
forward from t = 0, or backward from t = len - 1. A sequence's state stops changing
after its last valid step; its outputs at padded steps are zero (or carried, as
`spec.padded_outputs` says); a sequence of length 0 keeps its initial state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lstm_ref.equations import merge_program, output_program, step_program
from lstm_ref.exact.backends import backend
from lstm_ref.exact.context import to_bits
from lstm_ref.exact.result import ForwardResult, MPArray
from lstm_ref.exact.step import CompiledStep
from lstm_ref.inputs import Inputs, validate_inputs
from lstm_ref.params import Params, layer_prefix
from lstm_ref.spec import Spec


def forward(
    spec: Spec,
    params: Params,
    x: object,
    h0: object = None,
    c0: object = None,
    seq_lens: object = None,
    *,
    digits: int | None = None,
    bits: int | None = None,
    arithmetic: str = "mpmath",
) -> ForwardResult:
    """Evaluate the stack exactly: integer matrix products, activations at `digits` (or `bits`).

    Shapes: `x` (T, B, I); `h0` (L*D, B, H_out) and `c0` (L*D, B, H), zeros when
    None; `seq_lens` (B,) in [0, T], all T when None. See :class:`ForwardResult`.
    `arithmetic` is "mpmath" (default) or "arb" (python-flint balls: every value
    a rigorous enclosure; the extra `flint`).

    >>> from lstm_ref import Spec, random_params, random_inputs
    >>> spec = Spec("lstm", input_size=3, hidden_size=2)
    >>> inputs = random_inputs(spec, steps=4, batch=2, seed=0)
    >>> result = forward(spec, random_params(spec, seed=0), inputs.x, digits=30)
    >>> result.y.shape, result.h_n.shape, result.bits
    ((4, 2, 2), (1, 2, 2), 104)
    """
    params, inputs = validated(spec, params, x, h0, c0, seq_lens)
    chosen = backend(arithmetic)
    with chosen.precision(to_bits(digits, bits)) as working_bits:
        return run_forward(spec, params, inputs, working_bits, arithmetic)[0]


def validated(spec: Spec, params: object, x: object, h0: object, c0: object,
              seq_lens: object) -> tuple[Params, Inputs]:
    """The checks every public entry point makes: a Spec, its parameters, its inputs."""
    if not isinstance(spec, Spec):
        raise TypeError(f"`spec` must be a Spec; got {type(spec).__name__}")
    if not isinstance(params, Params) or params.spec != spec:
        params = Params(spec, params)  # type: ignore[arg-type]
    return params, validate_inputs(spec, x, h0, c0, seq_lens, force=spec.force)


@dataclass
class Tape:
    """What the backward pass reads of a forward pass, besides the trace."""

    layer_inputs: list[np.ndarray]  # per layer, (T, B, I_l); the last entry is the stack's y
    direction_outputs: dict[tuple[int, str], np.ndarray]  # (T, B, H_out), with padding
    steps: dict[tuple[int, str], dict[str, np.ndarray]]  # every quantity, as in the trace
    # the step programs with their converted weights, which the backward pass reuses
    compiled: dict[tuple[int, str], CompiledStep] = field(default_factory=dict)


def run_forward(spec: Spec, params: Params, inputs: Inputs, bits: int,
                arithmetic: str = "mpmath") -> tuple[ForwardResult, Tape]:
    """The forward pass at the current working precision (`bits`), and its tape."""
    chosen = backend(arithmetic)
    lens = [int(n) for n in inputs.seq_lens]
    layer_input = chosen.vector(inputs.x)
    h0, h_n = chosen.vector(inputs.h0), chosen.vector(inputs.h0)
    c0 = c_n = None
    if inputs.c0 is not None:
        c0, c_n = chosen.vector(inputs.c0), chosen.vector(inputs.c0)
    tape = Tape([layer_input], {}, {})
    for layer in range(spec.num_layers):
        program = step_program(spec, layer)
        outputs = []
        for d, direction in enumerate(spec.directions):
            index = layer * spec.num_directions + d
            step = CompiledStep(program, params.of(layer_prefix(layer, direction)), arithmetic)
            tape.compiled[(layer, direction)] = step
            states = {"h_prev": h0[index].copy()}
            if c0 is not None:
                states["c_prev"] = c0[index].copy()
            y, steps = _run(step, layer_input, states, lens, direction == "reverse")
            if spec.padded_outputs == "carry" and direction == "forward":
                for b, n in enumerate(lens):
                    if n:
                        y[n:, b] = y[n - 1, b]
            h_n[index] = states["h_prev"]
            if c_n is not None:
                c_n[index] = states["c_prev"]
            tape.steps[(layer, direction)] = steps
            tape.direction_outputs[(layer, direction)] = y
            outputs.append(y)
        layer_input = _merge(spec, outputs, arithmetic)
        tape.layer_inputs.append(layer_input)
    y_out = None
    out = output_program(spec)
    if out is not None:
        y_out = _pointwise(out, params.of("output"), arithmetic, "y", layer_input)
        if spec.padded_outputs == "zero":
            zero = chosen.full((), "0")[()]
            for b, n in enumerate(lens):
                y_out[n:, b] = zero
    trace = {key: {k: MPArray(v) for k, v in steps.items()} for key, steps in tape.steps.items()}
    result = ForwardResult(
        MPArray(layer_input), MPArray(h_n), None if c_n is None else MPArray(c_n),
        None if y_out is None else MPArray(y_out), trace, bits,
    )
    return result, tape


def _run(
    step: CompiledStep,
    x: np.ndarray,
    states: dict[str, np.ndarray],
    lens: list[int],
    reverse: bool,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run one direction over each sequence's valid prefix; update `states` in place.

    Returns the per-step output (T, B, n), zero at padded steps, and the trace.
    """
    program = step.program
    steps, batch = x.shape[:2]
    sizes = program.sizes
    y = step.backend.full((steps, batch, sizes[program.output]), "0")
    names = [*program.inputs, *(eq.target for eq in program.equations)]
    trace = {name: step.backend.full((steps, batch, sizes[name]), "nan") for name in names}
    for k in range(max(lens, default=0)):
        rows = [b for b in range(batch) if k < lens[b]]
        times = [lens[b] - 1 - k if reverse else k for b in rows]
        values = {"x": x[times, rows]}
        values.update({name: states[name][rows] for name in states})
        values = step(values)  # the inputs, and every quantity the step computes
        for previous, new in program.states:
            states[previous][rows] = values[new]
        y[times, rows] = values[program.output]
        for name, array in trace.items():
            array[times, rows] = values[name]
    return y, trace


def _merge(spec: Spec, outputs: list[np.ndarray], arithmetic: str) -> np.ndarray:
    """One layer's output: the single direction's, or the merge of both."""
    if len(outputs) == 1:
        return outputs[0]
    fwd, bwd = outputs
    if spec.merge == "concat":
        return np.concatenate([fwd, bwd], axis=-1)
    if spec.merge == "none":
        return np.stack([fwd, bwd], axis=2)
    program = merge_program(spec)
    assert program is not None, spec.merge
    return _pointwise(program, {}, arithmetic, ("y_fwd", "y_bwd"), fwd, bwd)


def _pointwise(program, params, arithmetic, names, *arrays):  # type: ignore[no-untyped-def]
    """Apply a program without state to every step at once."""
    names = (names,) if isinstance(names, str) else names
    steps, batch = arrays[0].shape[:2]
    flat = {n: a.reshape(steps * batch, a.shape[-1]) for n, a in zip(names, arrays)}
    out = CompiledStep(program, params, arithmetic)(flat)[program.output]
    return out.reshape(steps, batch, out.shape[-1])
