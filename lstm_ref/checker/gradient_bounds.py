"""Bounds for gradients: the backward rules of :mod:`lstm_ref.checker.propagation`,
run backward over the stack's schedule along the forward bounds' tape.

The backward pass evaluates the adjoint terms of :func:`lstm_ref.derivation.bptt.adjoints`
in reverse; for every adjoint the analysis carries its magnitude and a bound of its
error (:class:`~lstm_ref.checker.propagation.Bound`), through the output layer, the
merges, every valid step and the layers, and sums each parameter's gradient terms.
"""

from __future__ import annotations

import numpy as np

from lstm_ref.checker.bounds import ForwardTape, Trajectory
from lstm_ref.checker.profiles import Profile
from lstm_ref.checker.propagation import SAFETY, Bound, ParameterSums, Rules, evaluate
from lstm_ref.equations import output_program
from lstm_ref.equations.program import Program
from lstm_ref.exact.schedule import Run, Schedule, Step, backward_pass
from lstm_ref.inputs import Inputs
from lstm_ref.params import Params
from lstm_ref.spec import Spec


class _GradientBounds:
    """The backward rules as the schedule's rule, on the forward bounds' tape."""

    def __init__(
        self, rules: Rules, params: Params, tape: ForwardTape, sums: ParameterSums
    ) -> None:
        self.rules, self.params, self.tape, self.sums = rules, params, tape, sums

    def zeros(self, shape: tuple[int, ...]) -> Bound:
        return Bound.zeros(shape)

    def step(self, run: Run, step: Step, seeds: dict[str, Bound]) -> dict[str, Bound]:
        values = {n: v[step.at] for n, v in self.tape.exact.traces[run.key].items()}
        errors = {n: v[step.at] for n, v in self.tape.errors.traces[run.key].items()}
        return self.rules.adjoints(
            run.program, self.params.of(run.prefix), run.prefix, values, errors, seeds, self.sums
        )

    def carried(self, run: Run, adjoint: Bound) -> Bound:
        return self.rules.carried(adjoint)

    def joined(self, adj: Bound, terms: int) -> Bound:
        return self.rules.joined(adj, terms)

    def split(self, layer: int, program: Program, adj: Bound) -> list[Bound]:
        shape = adj.shape
        flat = (-1, shape[-1])
        values = {
            name: self.tape.exact.outputs[(layer, direction)].reshape(flat)
            for name, direction in (("y_fwd", "forward"), ("y_bwd", "reverse"))
        }
        errors = {
            name: self.tape.errors.outputs[(layer, direction)].reshape(flat)
            for name, direction in (("y_fwd", "forward"), ("y_bwd", "reverse"))
        }
        (eq,) = program.equations
        values["y"] = evaluate(eq.rhs, values)
        adj_out = self.rules.adjoints(
            program, self.params.of(""), "", values, errors, {"y": adj.reshape(*flat)}, self.sums
        )
        return [adj_out[n].reshape(*shape) for n in ("y_fwd", "y_bwd")]


def gradient_bounds(
    spec: Spec,
    params: Params,
    inputs: Inputs,
    cotangents: dict[str, np.ndarray],
    profile: Profile,
    forward: Trajectory,
) -> dict[str, np.ndarray]:
    """Per-element bounds for "grad.x", "grad.h0", "grad.c0" and "grad.<parameter>"."""
    tape = forward.tape
    rules = Rules(profile)
    sums = ParameterSums.of(params)
    schedule = Schedule(spec, inputs.seq_lens)
    top = Bound(np.abs(cotangents["y"]), np.zeros(cotangents["y"].shape))
    out = output_program(spec)
    if out is not None:
        assert tape.output_layer is not None
        a_out = np.abs(cotangents["y_out"]).copy()
        schedule.zero_padding(a_out, 0.0)
        layer = tape.output_layer
        seed = {
            "y_out": Bound(
                a_out.reshape(layer.values["y_out"].shape), np.zeros(layer.values["y_out"].shape)
            )
        }
        adj = rules.adjoints(
            out, params.of("output"), "output", layer.values, layer.errors, seed, sums
        )
        top = top + adj["y"].reshape(*top.shape)
    adj_h = Bound(np.abs(cotangents["h_n"]).copy(), np.zeros(cotangents["h_n"].shape))
    adj_c = None
    if "c_n" in cotangents:
        adj_c = Bound(np.abs(cotangents["c_n"]).copy(), np.zeros(cotangents["c_n"].shape))
    shapes = [array.shape for array in tape.exact.layer_inputs]
    adj_x = backward_pass(
        schedule, _GradientBounds(rules, params, tape, sums), top, adj_h, adj_c, shapes
    )
    bounds = {"grad.x": adj_x, "grad.h0": adj_h}
    if adj_c is not None:
        bounds["grad.c0"] = adj_c
    for name in params:
        bounds[f"grad.{name}"] = rules.parameter_bound(sums, name)
    return {k: SAFETY * rules.stored_adjoint(b) for k, b in bounds.items()}
