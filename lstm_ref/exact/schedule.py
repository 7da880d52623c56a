"""The schedule of a layer stack: which step runs where, and how the layers connect.

Every rule that runs over a stack (the exact forward and backward passes, the forward
error bound and the gradient bound) follows this one walk; none has its own copy:

- the stack: layers bottom to top, each with its directions in the order of h_n's
  direction axis; the run of a layer in one direction reads row `layer * D + d` of
  h0 and c0;
- the steps of a run: each sequence's valid prefix only, forward from t = 0 or, in
  the reverse direction, from t = len - 1 down to 0; at step k the rows still
  running are those with k < len, each at its own time;
- padding: a sequence's state stops changing after its last valid step; its outputs
  at padded steps stay zero, or carry the last valid one (`padded_outputs="carry"`,
  forward direction), and the Elman output layer's are zero unless carried;
- the merge of a bidirectional layer's two outputs, and its split in the backward pass.

:func:`forward_pass` and :func:`backward_pass` drive a rule over the schedule the
way mpmath runs one function over several contexts: the exact evaluator's rule
works on arrays of mpf (or arb balls), the bounds' rules on float64 arrays, and the
schedule only indexes, adds and copies them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np

from lstm_ref.equations import step_program
from lstm_ref.equations.program import Program
from lstm_ref.params import layer_prefix
from lstm_ref.spec import Spec

# An array of any arithmetic the rules use: numpy arrays of mpf, of arb balls or of
# float64, or a rule's own array type; the schedule indexes it by (times, rows),
# adds to it and copies it.
Array = Any


@dataclass(frozen=True)
class Run:
    """One layer in one direction: its step program and its row of the state stack."""

    layer: int
    direction: str
    index: int  # its row of h0, c0, h_n and c_n: layer * D + d
    program: Program

    @property
    def prefix(self) -> str:
        """Its parameters' prefix (`layer{l}` or `layer{l}_reverse`)."""
        return layer_prefix(self.layer, self.direction)

    @property
    def reverse(self) -> bool:
        return self.direction == "reverse"

    @property
    def key(self) -> tuple[int, str]:
        """How traces and tapes name this run: (layer, direction)."""
        return self.layer, self.direction


@dataclass(frozen=True)
class Step:
    """Step k of a run: the batch rows still running and the time each one is at."""

    k: int
    rows: list[int]
    times: list[int]

    @property
    def at(self) -> tuple[list[int], list[int]]:
        """The index of this step's rows in a (T, B, ...) array."""
        return self.times, self.rows


class Schedule:
    """The walk over a stack's layers, directions and valid steps for given lengths.

    >>> spec = Spec("gru", input_size=2, hidden_size=3, direction="bidirectional")
    >>> schedule = Schedule(spec, [3, 1])
    >>> [(run.layer, run.direction, run.index) for run in schedule.runs(0)]
    [(0, 'forward', 0), (0, 'reverse', 1)]
    >>> [step.at for step in schedule.steps(schedule.runs(0)[1])]
    [([2, 0], [0, 1]), ([1], [0]), ([0], [0])]
    """

    def __init__(self, spec: Spec, seq_lens: Sequence[int] | np.ndarray) -> None:
        self.spec = spec
        self.lens = [int(n) for n in seq_lens]
        self._runs = [
            tuple(
                Run(layer, direction, layer * spec.num_directions + d, step_program(spec, layer))
                for d, direction in enumerate(spec.directions)
            )
            for layer in range(spec.num_layers)
        ]

    def runs(self, layer: int) -> tuple[Run, ...]:
        """The runs of one layer, in the order of h_n's direction axis."""
        return self._runs[layer]

    def steps(self, run: Run) -> Iterator[Step]:
        """The steps of a run in the order they are computed."""
        for k in range(max(self.lens, default=0)):
            rows = [b for b, n in enumerate(self.lens) if k < n]
            times = [self.lens[b] - 1 - k if run.reverse else k for b in rows]
            yield Step(k, rows, times)

    def steps_backward(self, run: Run) -> Iterator[Step]:
        """The steps of a run in the order the backward pass visits them."""
        return reversed(list(self.steps(run)))

    def carries(self, run: Run) -> bool:
        """Whether this run's outputs at padded steps repeat its last valid one."""
        return self.spec.padded_outputs == "carry" and run.direction == "forward"

    def pad_outputs(self, run: Run, y: Array) -> None:
        """Fill a run's outputs (T, B, ...) at padded steps, in place: zero stays zero,
        or the last valid output is carried."""
        if self.carries(run):
            for b, n in enumerate(self.lens):
                if n:
                    y[n:, b] = y[n - 1, b]

    def pad_adjoint(
        self, run: Run, adj: Array, joined: Callable[[Array, int], Array] | None = None
    ) -> None:
        """The adjoint of :meth:`pad_outputs`, in place: carried outputs send their
        adjoints back to the last valid step; `joined(total, terms)` takes the sum of
        `terms` adjoints (the bounds add its rounding)."""
        if self.carries(run):
            steps = adj.shape[0]
            for b, n in enumerate(self.lens):
                if n and n < steps:
                    total = adj[n - 1, b] + adj[n:, b].sum(axis=0)
                    adj[n - 1, b] = total if joined is None else joined(total, steps - n + 1)

    def zero_padding(self, array: Array, zero: Any) -> None:
        """Set the output layer's values (or adjoints) at padded steps to `zero`, in place,
        where those outputs are the constant zero (`padded_outputs="zero"`)."""
        if self.spec.padded_outputs == "zero":
            for b, n in enumerate(self.lens):
                array[n:, b] = zero

    def merge(
        self, outputs: list[Array], pointwise: Callable[[Program, Array, Array], Array]
    ) -> Array:
        """One layer's output from its runs' outputs (T, B, H_out): the single direction's,
        or the merge of both; `pointwise(program, fwd, bwd)` applies a merge program."""
        if len(outputs) == 1:
            return outputs[0]
        fwd, bwd = outputs
        if self.spec.merge == "concat":
            return np.concatenate([fwd, bwd], axis=-1)
        if self.spec.merge == "none":
            return np.stack([fwd, bwd], axis=2)
        program = self.merge_program()
        return pointwise(program, fwd, bwd)

    def split(self, adj: Array, pointwise: Callable[[Program, Array], list[Array]]) -> list[Array]:
        """The adjoint of :meth:`merge`: one adjoint per run (copies), from the layer
        output's; `pointwise(program, adj)` differentiates a merge program."""
        if self.spec.num_directions == 1:
            return [adj.copy()]
        if self.spec.merge == "concat":
            size = self.spec.h_out
            return [adj[..., :size].copy(), adj[..., size:].copy()]
        if self.spec.merge == "none":
            return [adj[:, :, 0].copy(), adj[:, :, 1].copy()]
        return pointwise(self.merge_program(), adj)

    def visible(self) -> bool:
        """Whether y shows the state h of every run at every valid step (one layer whose
        directions' outputs are kept apart), so each step can be judged from the
        implementation's own previous state."""
        return self.spec.num_layers == 1 and self.spec.merge in (None, "concat", "none")

    def forced(self, y: Array) -> dict[tuple[int, str], Array]:
        """An implementation's y (T, B, H_y), as each run's output (T, B, H_out): the
        states it carried, which a teacher-forced rule feeds back (see :meth:`visible`)."""
        if not self.visible():
            raise ValueError(
                "y does not show every run's state: teacher forcing needs one "
                "layer and merge None, 'concat' or 'none'"
            )
        parts = self.split(y, lambda program, adj: [])
        return {run.key: part for run, part in zip(self.runs(0), parts, strict=True)}

    def merge_program(self) -> Program:
        from lstm_ref.equations import merge_program

        program = merge_program(self.spec)
        if program is None:
            raise ValueError(f"merge={self.spec.merge!r} has no merge program")
        return program


class ForwardRule(Protocol):
    """What a forward rule computes at each step; the schedule does the rest."""

    def zeros(self, shape: tuple[int, ...]) -> Array:
        """Outputs before any step (zero at padded steps)."""

    def blank(self, shape: tuple[int, ...]) -> Array:
        """A trace before any step (what padded steps show)."""

    def step(self, run: Run, step: Step, inputs: dict[str, Array]) -> dict[str, Array]:
        """Every quantity of one step (its inputs included) from its inputs ("x" and the
        previous states, each (rows, n))."""

    def carried(self, run: Run, step: Step, name: str, value: Array) -> Array:
        """The new state `name` computed by a step, as the next step reads it (the
        bounds round it to the storage format; a teacher-forced rule reads the
        implementation's own state instead)."""

    def emitted(self, run: Run, step: Step, name: str, value: Array) -> Array:
        """The new state `name` as the step outputs it (in y, h_n, c_n): what `carried`
        gives, unless the rule is teacher-forced."""

    def merged(self, layer: int, program: Program, fwd: Array, bwd: Array) -> Array:
        """A merge program applied to both directions' outputs (T, B, H_out) of a layer."""


@dataclass
class StackPass:
    """What a forward rule produced over the stack.

    `layer_inputs[l]` (T, B, I_l): the input of layer l (the last entry is the stack's
    y); `outputs[(layer, direction)]` (T, B, H_out): each run's output, padded;
    `traces[(layer, direction)][name]` (T, B, n): every quantity of every step.
    """

    layer_inputs: list[Array]
    h_n: Array
    c_n: Array | None
    outputs: dict[tuple[int, str], Array]
    traces: dict[tuple[int, str], dict[str, Array]]

    @property
    def y(self) -> Array:
        return self.layer_inputs[-1]


def forward_pass(
    schedule: Schedule, rule: ForwardRule, x: Array, h0: Array, c0: Array | None
) -> StackPass:
    """Run `rule` over every layer, direction and valid step; `h0`, `c0` are not changed."""
    h_n = h0.copy()
    c_n = None if c0 is None else c0.copy()
    result = StackPass([x], h_n, c_n, {}, {})
    for layer in range(schedule.spec.num_layers):
        outputs = []
        for run in schedule.runs(layer):
            y, trace = _run_forward(schedule, rule, run, result.layer_inputs[-1], h_n, c_n)
            schedule.pad_outputs(run, y)
            result.outputs[run.key], result.traces[run.key] = y, trace
            outputs.append(y)
        result.layer_inputs.append(schedule.merge(outputs, partial(rule.merged, layer)))
    return result


def _run_forward(
    schedule: Schedule, rule: ForwardRule, run: Run, x: Array, h: Array, c: Array | None
) -> tuple[Array, dict[str, Array]]:
    """One run over its valid steps; its final states are written into `h`, `c` at its row.

    The run's states are what the rule carries from step to step; its outputs (y and
    the final states) are what the rule emits, which differ only when the rule feeds
    each step the implementation's own previous state (teacher forcing)."""
    program = run.program
    steps, batch = x.shape[:2]
    states = {"h_prev": h[run.index].copy()}
    if "c_prev" in program.inputs:
        assert c is not None
        states["c_prev"] = c[run.index].copy()
    carried = dict(program.states)
    output_state = next(p for p, new in program.states if new == program.output)
    y = rule.zeros((steps, batch, program.sizes[program.output]))
    names = [*program.inputs, *(eq.target for eq in program.equations)]
    trace = {name: rule.blank((steps, batch, program.sizes[name])) for name in names}
    finals = {name: state.copy() for name, state in states.items()}
    for step in schedule.steps(run):
        inputs = {"x": x[step.at], **{name: state[step.rows] for name, state in states.items()}}
        values = rule.step(run, step, inputs)
        for previous in states:
            new = carried[previous]
            states[previous][step.rows] = rule.carried(run, step, new, values[new])
            finals[previous][step.rows] = rule.emitted(run, step, new, values[new])
        y[step.at] = finals[output_state][step.rows]
        for name, array in trace.items():
            array[step.at] = values[name]
    h[run.index] = finals["h_prev"]
    if c is not None and "c_prev" in finals:
        c[run.index] = finals["c_prev"]
    return y, trace


class BackwardRule(Protocol):
    """What a backward rule computes at each step; the schedule does the rest."""

    def zeros(self, shape: tuple[int, ...]) -> Array:
        """Adjoints before any step."""

    def step(self, run: Run, step: Step, seeds: dict[str, Array]) -> dict[str, Array]:
        """The adjoints of a step's inputs ("x" and the previous states, each
        (rows, n)) from `seeds`, what its targets receive from the next step and the loss."""

    def carried(self, run: Run, adjoint: Array) -> Array:
        """A state's adjoint as the previous step reads it."""

    def split(self, layer: int, program: Program, adj: Array) -> list[Array]:
        """A merge program's adjoints of both directions' outputs."""

    def joined(self, adj: Array, terms: int) -> Array:
        """An adjoint that is the sum of `terms` adjoints (both directions' of a layer
        input, the next step's and the loss's of an output): the bounds add the rounding
        of that sum."""


def backward_pass(
    schedule: Schedule,
    rule: BackwardRule,
    adj_y: Array,
    adj_h: Array,
    adj_c: Array | None,
    input_shapes: Sequence[tuple[int, ...]],
) -> Array:
    """Run `rule` backward over the stack from the adjoints of y (the top layer's
    output), h_n and c_n; `adj_h`, `adj_c` become those of h0 and c0 (in place).
    Returns the adjoint of x. `input_shapes[l]` is layer l's input shape."""
    adj_top = adj_y
    for layer in reversed(range(schedule.spec.num_layers)):
        parts = schedule.split(adj_top, partial(rule.split, layer))
        adj_input = rule.zeros(tuple(input_shapes[layer]))
        for run, adj_out in zip(schedule.runs(layer), parts, strict=True):
            schedule.pad_adjoint(run, adj_out, rule.joined)
            adj_input += _run_backward(
                schedule, rule, run, adj_out, adj_h, adj_c, tuple(input_shapes[layer])
            )
        adj_top = adj_input if len(parts) == 1 else rule.joined(adj_input, len(parts))
    return adj_top


def _run_backward(
    schedule: Schedule,
    rule: BackwardRule,
    run: Run,
    adj_y: Array,
    adj_h: Array,
    adj_c: Array | None,
    input_shape: tuple[int, ...],
) -> Array:
    """One run backward over its valid steps; the adjoints of its initial states are
    written into `adj_h`, `adj_c` at its row. Returns the adjoint of its input."""
    program = run.program
    states = {"h_prev": adj_h[run.index]}
    if adj_c is not None and "c_prev" in program.inputs:
        states["c_prev"] = adj_c[run.index]
    adj_x = rule.zeros(input_shape)
    for step in schedule.steps_backward(run):
        seeds = {new: states[previous][step.rows] for previous, new in program.states}
        seeds[program.output] = rule.joined(seeds[program.output] + adj_y[step.at], 2)
        adj = rule.step(run, step, seeds)
        for previous, _ in program.states:
            states[previous][step.rows] = rule.carried(run, adj[previous])
        adj_x[step.at] = adj["x"]
    adj_h[run.index] = states["h_prev"]
    if adj_c is not None and "c_prev" in states:
        adj_c[run.index] = states["c_prev"]
    return adj_x
