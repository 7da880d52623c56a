"""The exact forward pass of a layer stack: layers, directions, variable lengths, merge.

Each step's program runs in the chosen arithmetic over the stack's schedule
(:mod:`lstm_ref.exact.schedule`: each sequence's valid prefix, forward from t = 0 or
backward from t = len - 1, padding, merges); a sequence of length 0 keeps its initial
state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lstm_ref.equations import output_program
from lstm_ref.equations.program import Program
from lstm_ref.exact.backends import backend
from lstm_ref.exact.context import to_bits
from lstm_ref.exact.result import ForwardResult, MPArray
from lstm_ref.exact.schedule import Run, Schedule, StackPass, Step, forward_pass
from lstm_ref.exact.step import CompiledStep
from lstm_ref.inputs import Inputs, validate_inputs
from lstm_ref.params import Params
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


def validated(
    spec: Spec, params: object, x: object, h0: object, c0: object, seq_lens: object
) -> tuple[Params, Inputs]:
    """The checks every public entry point makes: a Spec, its parameters, its inputs."""
    if not isinstance(spec, Spec):
        raise TypeError(f"`spec` must be a Spec; got {type(spec).__name__}")
    if not isinstance(params, Params) or params.spec != spec:
        if not isinstance(params, Mapping):
            raise TypeError(
                f"`params` must be a mapping of names to arrays; got {type(params).__name__}"
            )
        params = Params(spec, params)
    return params, validate_inputs(spec, x, h0, c0, seq_lens, force=spec.force)


@dataclass
class Tape:
    """What the backward pass reads of a forward pass: every step's values (the trace),
    each run's and layer's outputs, and the step programs with their converted weights."""

    stack: StackPass
    compiled: dict[tuple[int, str], CompiledStep]


class _Exact:
    """The exact rule of the forward pass: each step's program in one arithmetic."""

    def __init__(
        self,
        schedule: Schedule,
        params: Params,
        arithmetic: str,
        forced: dict[tuple[int, str], np.ndarray] | None = None,
    ) -> None:
        self.backend = backend(arithmetic)
        self.arithmetic = arithmetic
        self.forced = forced or {}
        self.compiled = {
            run.key: CompiledStep(run.program, params.of(run.prefix), arithmetic)
            for layer in range(schedule.spec.num_layers)
            for run in schedule.runs(layer)
        }

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.backend.full(shape, "0")

    def blank(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.backend.full(shape, "nan")

    def step(self, run: Run, step: Step, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.compiled[run.key](inputs)

    def carried(self, run: Run, step: Step, name: str, value: np.ndarray) -> np.ndarray:
        if run.key in self.forced and name == run.program.output:
            return self.forced[run.key][step.at]
        return value

    def emitted(self, run: Run, step: Step, name: str, value: np.ndarray) -> np.ndarray:
        return value

    def merged(self, layer: int, program: Program, fwd: np.ndarray, bwd: np.ndarray) -> np.ndarray:
        return pointwise(program, {}, self.arithmetic, ("y_fwd", "y_bwd"), fwd, bwd)


def run_forward(
    spec: Spec,
    params: Params,
    inputs: Inputs,
    bits: int,
    arithmetic: str = "mpmath",
    forced_y: np.ndarray | None = None,
) -> tuple[ForwardResult, Tape]:
    """The forward pass at the current working precision (`bits`), and its tape.

    With `forced_y` (T, B, H_y), an implementation's y, each step reads the
    implementation's own previous h instead of the reference's (teacher forcing; only
    where y shows every run's state, :meth:`Schedule.visible`), and the output layer
    reads that y: every output is then what one correct step gives from the
    implementation's own state.
    """
    chosen = backend(arithmetic)
    schedule = Schedule(spec, inputs.seq_lens)
    forced = None
    if forced_y is not None:
        forced_y = chosen.vector(forced_y)
        forced = schedule.forced(forced_y)
    rule = _Exact(schedule, params, arithmetic, forced)
    c0 = None if inputs.c0 is None else chosen.vector(inputs.c0)
    stack = forward_pass(schedule, rule, chosen.vector(inputs.x), chosen.vector(inputs.h0), c0)
    y_out = None
    out = output_program(spec)
    if out is not None:
        y_in = stack.y if forced_y is None else forced_y
        y_out = pointwise(out, params.of("output"), arithmetic, ("y",), y_in)
        schedule.zero_padding(y_out, chosen.full((), "0")[()])
    trace = {key: {k: MPArray(v) for k, v in steps.items()} for key, steps in stack.traces.items()}
    result = ForwardResult(
        MPArray(stack.y),
        MPArray(stack.h_n),
        None if stack.c_n is None else MPArray(stack.c_n),
        None if y_out is None else MPArray(y_out),
        trace,
        bits,
    )
    return result, Tape(stack, rule.compiled)


def pointwise(
    program: Program,
    params: Mapping[str, np.ndarray],
    arithmetic: str,
    names: tuple[str, ...],
    *arrays: np.ndarray,
) -> np.ndarray:
    """Apply a program without state (a merge, the output layer) to every step at once."""
    steps, batch = arrays[0].shape[:2]
    flat = {n: a.reshape(steps * batch, a.shape[-1]) for n, a in zip(names, arrays, strict=True)}
    out = CompiledStep(program, params, arithmetic)(flat)[program.output]
    return out.reshape(steps, batch, out.shape[-1])
