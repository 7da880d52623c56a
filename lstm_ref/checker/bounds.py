"""The tolerance model: a per-element error bound for every output of a case.

Along the exact trajectory (every quantity of every step, from the exact evaluator at
TRAJECTORY_BITS, then in float64), the forward rules of
:mod:`lstm_ref.checker.propagation` run over the stack's schedule: each step's bounds
from its inputs' bounds, states carried in the storage format, merges, and the Elman
output layer. The bound a correct implementation cannot exceed is SAFETY times the
propagated error, plus one unit of float64 in the reference value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_ref.checker.profiles import Profile
from lstm_ref.checker.propagation import (
    REALISTIC_SIGMAS,
    SAFETY,
    RealisticRules,
    Rules,
    evaluate,
    evaluate_program,
)
from lstm_ref.equations import output_program
from lstm_ref.equations.program import Program
from lstm_ref.exact.backends import backend
from lstm_ref.exact.forward import run_forward
from lstm_ref.exact.rounding import round_array
from lstm_ref.exact.schedule import Run, Schedule, StackPass, Step, forward_pass
from lstm_ref.inputs import Inputs
from lstm_ref.params import Params
from lstm_ref.spec import Spec

TRAJECTORY_BITS = 80


@dataclass(frozen=True)
class OutputLayer:
    """The Elman output layer along the trajectory, flattened to (T*B, n) rows: every
    quantity's float64 value and its forward bound."""

    values: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]


@dataclass(frozen=True)
class ForwardTape:
    """What the gradient bounds read of the forward bounds: the exact trajectory in
    float64 (`exact`) and the bound of every quantity in it (`errors`), as two passes
    over the same schedule, and the output layer's."""

    exact: StackPass
    errors: StackPass
    output_layer: OutputLayer | None


@dataclass(frozen=True)
class Trajectory:
    """The exact outputs (float64) of one case and two bounds of each: `bounds`, which a
    correct implementation cannot exceed (beyond it: FAIL), and `realistic`, which
    correct arithmetic exceeds with probability below
    tail_probability(REALISTIC_SIGMAS) per element (beyond it: SUSPICIOUS); `tape`
    keeps what the gradient bounds need."""

    outputs: dict[str, np.ndarray]
    bounds: dict[str, np.ndarray]
    tape: ForwardTape
    realistic: dict[str, np.ndarray]


def _float(values: np.ndarray) -> np.ndarray:
    return round_array(values, "float64").astype(np.float64)


class _ForwardBounds:
    """The forward rules as the schedule's rule: each step's bounds along the exact
    trajectory."""

    def __init__(
        self,
        rules: Rules,
        params: Params,
        exact: StackPass,
        forced: dict[tuple[int, str], np.ndarray] | None = None,
    ) -> None:
        self.rules, self.params, self.exact = rules, params, exact
        self.forced = forced or {}

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape)

    blank = zeros

    def step(self, run: Run, step: Step, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = {n: a[step.at] for n, a in self.exact.traces[run.key].items()}
        return self.rules.step(run.program, self.params.of(run.prefix), values, inputs)

    def carried(self, run: Run, step: Step, name: str, value: np.ndarray) -> np.ndarray:
        if run.key in self.forced and name == run.program.output:
            # the implementation's own state, exact but for its rounding to storage
            # where it computes in a finer format than it outputs
            state = self.forced[run.key][step.at]
            return self.rules.stored(state, np.zeros(state.shape))
        return self.emitted(run, step, name, value)

    def emitted(self, run: Run, step: Step, name: str, value: np.ndarray) -> np.ndarray:
        return value  # stored as the step created it (Rules.created)

    def merged(self, layer: int, program: Program, fwd: np.ndarray, bwd: np.ndarray) -> np.ndarray:
        values = {
            "y_fwd": self.exact.outputs[(layer, "forward")],
            "y_bwd": self.exact.outputs[(layer, "reverse")],
        }
        (eq,) = program.equations
        merged = self.rules.elementwise(eq.rhs, values, {"y_fwd": fwd, "y_bwd": bwd}, {})
        return self.rules.stored(evaluate(eq.rhs, values), merged)


def trajectory(
    spec: Spec, params: Params, inputs: Inputs, profile: Profile, forced_y: np.ndarray | None = None
) -> Trajectory:
    """The exact outputs of a case and their per-element bounds under `profile`.

    With `forced_y` (T, B, H_y), an implementation's y where it shows every state
    (:meth:`~lstm_ref.exact.schedule.Schedule.visible`), each step is judged from the
    implementation's own previous state (teacher forcing): the outputs are what one
    correct step gives from it, and the bounds hold one step's rounding (and, for the
    LSTM's hidden cell state, its own recurrence through the forget gate) instead of
    the whole sequence's propagated through the weights.
    """
    with backend("mpmath").precision(TRAJECTORY_BITS):
        result, tape = run_forward(spec, params, inputs, TRAJECTORY_BITS, forced_y=forced_y)
    stack = tape.stack
    exact = StackPass(
        [_float(a) for a in stack.layer_inputs],
        _float(stack.h_n),
        None if stack.c_n is None else _float(stack.c_n),
        {key: _float(a) for key, a in stack.outputs.items()},
        {key: {n: _float(a) for n, a in trace.items()} for key, trace in stack.traces.items()},
    )
    schedule = Schedule(spec, inputs.seq_lens)
    outputs = {"y": result.y, "h_n": result.h_n, "c_n": result.c_n, "y_out": result.y_out}
    outputs_f64 = {k: _float(v.values) for k, v in outputs.items() if v is not None}
    ulp64 = {name: np.spacing(np.abs(value)) for name, value in outputs_f64.items()}
    errors, layer, propagated = _propagate(
        Rules(profile), schedule, params, inputs, exact, outputs_f64, forced_y
    )
    bounds = {name: SAFETY * propagated[name] + ulp64[name] for name in outputs_f64}
    sd = _propagate(
        RealisticRules(profile), schedule, params, inputs, exact, outputs_f64, forced_y
    )[2]
    realistic = {
        name: np.minimum(REALISTIC_SIGMAS * sd[name] + ulp64[name], bounds[name])
        for name in outputs_f64
    }
    return Trajectory(outputs_f64, bounds, ForwardTape(exact, errors, layer), realistic)


def _propagate(
    rules: Rules,
    schedule: Schedule,
    params: Params,
    inputs: Inputs,
    exact: StackPass,
    outputs: dict[str, np.ndarray],
    forced_y: np.ndarray | None,
) -> tuple[StackPass, OutputLayer | None, dict[str, np.ndarray]]:
    """One set of rules over the stack: every quantity's error, the output layer's,
    and each output's."""
    forced = None if forced_y is None else schedule.forced(np.asarray(forced_y, dtype=float))
    c0 = None if inputs.c0 is None else np.zeros(inputs.c0.shape)
    errors = forward_pass(
        schedule,
        _ForwardBounds(rules, params, exact, forced),
        np.zeros(inputs.x.shape),
        np.zeros(inputs.h0.shape),
        c0,
    )
    propagated = {"y": errors.y, "h_n": errors.h_n, "c_n": errors.c_n}
    layer = None
    out = output_program(schedule.spec)
    if out is not None:
        if forced_y is None:
            layer = _output_layer(out, rules, params, exact.y, errors.y)
        else:  # the output layer reads the implementation's own y
            y_in = np.asarray(forced_y, dtype=float)
            layer = _output_layer(out, rules, params, y_in, np.zeros(y_in.shape))
        y_out = outputs["y_out"]
        bound = rules.stored(y_out.reshape(-1, y_out.shape[-1]), layer.errors["y_out"])
        bound = bound.reshape(y_out.shape).copy()  # not a view of the tape's errors
        schedule.zero_padding(bound, 0.0)
        propagated["y_out"] = bound
    return errors, layer, propagated


def _output_layer(
    program: Program, rules: Rules, params: Params, y: np.ndarray, y_err: np.ndarray
) -> OutputLayer:
    """The output layer's values along the trajectory and their bounds, as rows."""
    values = {"y": y.reshape(-1, y.shape[-1])}
    mine = params.of("output")
    evaluate_program(program, mine, values)
    errors = rules.step(program, mine, values, {"y": y_err.reshape(values["y"].shape)})
    return OutputLayer(values, errors)
