"""Bounds for gradients: the running error analysis, carried through the backward pass.

The backward pass evaluates the adjoint terms of :func:`lstm_ref.derivation.bptt.adjoints`
in reverse. For every adjoint dv the analysis carries its magnitude A(v) (the sum of the
terms' magnitudes) and a bound E(v) of its error (docs/tolerances.md, "Gradients"):

- a term W^T dt:      A += |dt| |W|,    E += E(dt) |W| + gamma_n(u_acc) |dt| |W|;
- a term dt * P, with P a partial derivative evaluated on the implementation's forward
  values, which differ from the exact ones by the forward bounds: with dP the largest
  change of P over the corners of those bounds,
                      A += |dt| |P|,    E += E(dt) (|P| + dP) + |dt| dP
                                             + (ops(P) + 1) u_c |dt| (|P| + dP);
- the sum of k terms adds gamma_k(u_c) A; an adjoint carried between steps in a coarser
  storage format adds u_s A + tiny_s;
- a parameter's gradient sums dt v^T (or dt P, or dt) over every valid step and row,
  with the forward error of v and gamma_n(u_acc) over that many terms.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import sympy as sp

from lstm_ref.checker.bounds import SAFETY, Trajectory, _numpy, _Propagator
from lstm_ref.checker.profiles import Profile
from lstm_ref.derivation.bptt import adjoints
from lstm_ref.equations import merge_program, output_program, step_program
from lstm_ref.equations.program import Program
from lstm_ref.inputs import Inputs
from lstm_ref.params import Params, layer_prefix
from lstm_ref.spec import Spec


def _gamma(n: float, u: float) -> float:
    return n * u / (1 - n * u)


class _Backward:
    def __init__(self, profile: Profile, params: Params) -> None:
        self.prop = _Propagator(profile)
        self.params = params
        self.magnitude = {name: np.zeros(v.shape) for name, v in params.items()}
        self.error = {name: np.zeros(v.shape) for name, v in params.items()}
        self.terms = {name: 0 for name in params}

    def partial(self, expr: sp.Expr, values: dict[str, np.ndarray], errors: dict[str, np.ndarray],
                mine: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
        """|P|, the spread dP of P over the corners of the forward bounds, ops(P)."""
        function, names, operations, _ = _numpy(expr)
        args = [values[n] if n in values else mine[n] for n in names]
        if not names:
            return np.abs(np.asarray(function(), dtype=float)), np.zeros(()), operations
        center = np.asarray(function(*args), dtype=float)
        moving = [i for i, n in enumerate(names) if n in errors and np.any(errors[n])]
        spread = np.zeros(np.broadcast(*args).shape)
        for signs in itertools.product((-1.0, 1.0), repeat=len(moving)):
            corner = list(args)
            for i, sign in zip(moving, signs):
                corner[i] = args[i] + sign * errors[names[i]]
            spread = np.maximum(spread, np.abs(np.asarray(function(*corner)) - center))
        return np.abs(center), spread, operations

    def step(self, program: Program, prefix: str, values: dict[str, np.ndarray],
             errors: dict[str, np.ndarray], seeds: dict[str, tuple[np.ndarray, np.ndarray]]
             ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Magnitudes and error bounds of every adjoint of one step (rows of a batch)."""
        prop, mine = self.prop, self.params.of(prefix)
        rows = next(iter(values.values())).shape[0]
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for adjoint in adjoints(program):
            if adjoint.is_parameter:
                key = f"{prefix}.{adjoint.name}"
                for term in adjoint.terms:
                    a_t, e_t = out[term.target]
                    if term.vector is not None:
                        v = values[term.vector]
                        self.magnitude[key] += a_t.T @ np.abs(v)
                        self.error[key] += e_t.T @ np.abs(v) + a_t.T @ errors.get(term.vector, 0 * v)
                    elif term.partial is not None:
                        p, dp, ops = self.partial(term.partial, values, errors, mine)
                        self.magnitude[key] += (a_t * p).sum(axis=0)
                        self.error[key] += (e_t * (p + dp) + a_t * dp
                                            + (ops + 1) * prop.u_c * a_t * (p + dp)).sum(axis=0)
                    else:
                        self.magnitude[key] += a_t.sum(axis=0)
                        self.error[key] += e_t.sum(axis=0)
                self.terms[key] += rows
                continue
            size = program.sizes[adjoint.name]
            a_v, e_v = seeds.get(adjoint.name, (np.zeros((rows, size)), np.zeros((rows, size))))
            count = len(adjoint.terms) + (adjoint.name in seeds)
            for term in adjoint.terms:
                a_t, e_t = out[term.target]
                if term.weight is not None:
                    w = np.abs(mine[term.weight])
                    gamma = _gamma(w.shape[0], prop.u_acc)
                    a_v = a_v + a_t @ w
                    e_v = e_v + e_t @ w + gamma * (a_t @ w)
                else:
                    p, dp, ops = self.partial(term.partial, values, errors, mine)
                    a_v = a_v + a_t * p
                    e_v = e_v + e_t * (p + dp) + a_t * dp + (ops + 1) * prop.u_c * a_t * (p + dp)
            e_v = e_v + _gamma(max(count - 1, 0), prop.u_c) * a_v
            out[adjoint.name] = (a_v, e_v)
        return out

    def stored(self, a: np.ndarray, e: np.ndarray) -> np.ndarray:
        return e + (self.prop.u_s * a + self.prop.tiny_s if self.prop.store else 0.0)


def gradient_bounds(spec: Spec, params: Params, inputs: Inputs, cotangents: dict[str, np.ndarray],
                    profile: Profile, forward: Trajectory) -> dict[str, np.ndarray]:
    """Per-element bounds for "grad.x", "grad.h0", "grad.c0" and "grad.<parameter>"."""
    record: dict[str, Any] = forward.tape  # type: ignore[assignment]
    back = _Backward(profile, params)
    lens = [int(n) for n in inputs.seq_lens]
    steps_total = max(lens, default=0)
    zero = {k: np.zeros(v.shape) for k, v in cotangents.items()}
    a_top, e_top = np.abs(cotangents["y"]), zero["y"]
    out = output_program(spec)
    if out is not None:
        a_out = np.abs(cotangents["y_out"]).copy()
        if spec.padded_outputs == "zero":
            for b, n in enumerate(lens):
                a_out[n:, b] = 0.0
        y, ey = record["layer_inputs"][-1], record["layer_errors"][-1]
        flat = {"y": y.reshape(-1, y.shape[-1])}
        mine = params.of("output")
        for eq in out.equations:
            if eq.is_affine:
                products, biases = eq.affine_terms()
                flat[eq.target] = sum(flat[v] @ mine[w].T for w, v in products) + sum(
                    mine[b] for b in biases)
            else:
                function, names, _, _ = _numpy(eq.rhs)
                flat[eq.target] = np.asarray(function(*[flat[n] if n in flat else mine[n]
                                                        for n in names]), dtype=float)
        errs = back.prop.step(out, mine, flat, {"y": ey.reshape(flat["y"].shape)})
        seed = {"y_out": (a_out.reshape(flat["y_out"].shape), np.zeros(flat["y_out"].shape))}
        adj = back.step(out, "output", flat, errs, seed)
        a_top = a_top + adj["y"][0].reshape(a_top.shape)
        e_top = e_top + adj["y"][1].reshape(a_top.shape)
    a_h = np.abs(cotangents["h_n"]).copy()
    e_h = np.zeros(a_h.shape)
    a_c = np.abs(cotangents["c_n"]).copy() if "c_n" in cotangents else None
    e_c = None if a_c is None else np.zeros(a_c.shape)
    for layer in reversed(range(spec.num_layers)):
        parts = _merge_backward(spec, layer, record, back, a_top, e_top)
        a_in = np.zeros(record["layer_inputs"][layer].shape)
        e_in = np.zeros(a_in.shape)
        program = step_program(spec, layer)
        for d, direction in enumerate(spec.directions):
            index = layer * spec.num_directions + d
            prefix = layer_prefix(layer, direction)
            a_y, e_y = (p.copy() for p in parts[d])
            if spec.padded_outputs == "carry" and direction == "forward":
                for b, n in enumerate(lens):
                    if n:
                        a_y[n - 1, b] += a_y[n:, b].sum(axis=0)
                        e_y[n - 1, b] += e_y[n:, b].sum(axis=0)
            steps = record["steps"][(layer, direction)]
            errors = record["errors"][(layer, direction)]
            state = {"h_prev": (a_h[index], e_h[index])}
            if a_c is not None:
                state["c_prev"] = (a_c[index], e_c[index])  # type: ignore[index]
            for k in reversed(range(steps_total)):
                rows = [b for b in range(len(lens)) if k < lens[b]]
                times = [lens[b] - 1 - k if direction == "reverse" else k for b in rows]
                values = {n: v[times, rows] for n, v in steps.items()}
                errs = {n: v[times, rows] for n, v in errors.items()}
                seeds = {new: (state[prev][0][rows], state[prev][1][rows])
                         for prev, new in program.states}
                a_o, e_o = seeds[program.output]
                seeds[program.output] = (a_o + a_y[times, rows], e_o + e_y[times, rows])
                adj = back.step(program, prefix, values, errs, seeds)
                for prev, _ in program.states:
                    a_new, e_new = adj[prev]
                    state[prev][0][rows] = a_new
                    state[prev][1][rows] = back.stored(a_new, e_new)
                a_in[times, rows] += adj["x"][0]
                e_in[times, rows] += adj["x"][1]
        a_top, e_top = a_in, e_in
    bounds = {"grad.x": (a_top, e_top), "grad.h0": (a_h, e_h)}
    if e_c is not None:
        bounds["grad.c0"] = (a_c, e_c)
    for name in params:
        gamma = _gamma(max(back.terms[name], 1), back.prop.u_acc)
        magnitude = back.magnitude[name]
        bounds[f"grad.{name}"] = (magnitude, back.error[name] + gamma * magnitude)
    return {k: SAFETY * back.stored(a, e) for k, (a, e) in bounds.items()}


def _merge_backward(spec: Spec, layer: int, record: dict[str, Any], back: _Backward,
                    a: np.ndarray, e: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    if spec.num_directions == 1:
        return [(a, e)]
    if spec.merge == "concat":
        h = spec.h_out
        return [(a[..., :h], e[..., :h]), (a[..., h:], e[..., h:])]
    if spec.merge == "none":
        return [(a[:, :, 0], e[:, :, 0]), (a[:, :, 1], e[:, :, 1])]
    program = merge_program(spec)
    assert program is not None
    shape = a.shape
    values = {"y_fwd": record["outputs"][(layer, "forward")].reshape(-1, shape[-1]),
              "y_bwd": record["outputs"][(layer, "reverse")].reshape(-1, shape[-1])}
    errors = {"y_fwd": record["output_errors"][(layer, "forward")].reshape(-1, shape[-1]),
              "y_bwd": record["output_errors"][(layer, "reverse")].reshape(-1, shape[-1])}
    (eq,) = program.equations
    values["y"] = np.asarray(_numpy(eq.rhs)[0](*[values[n] for n in _numpy(eq.rhs)[1]]), dtype=float)
    adj = back.step(program, "", values, errors, {"y": (a.reshape(-1, shape[-1]),
                                                        e.reshape(-1, shape[-1]))})
    return [(adj[n][0].reshape(shape), adj[n][1].reshape(shape)) for n in ("y_fwd", "y_bwd")]
