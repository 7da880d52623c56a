"""The tolerance model: a per-element error bound from a running error analysis.

Along the exact trajectory (every gate at every step, from the exact evaluator at
80 bits, then in float64), the bound e(v) of each quantity v of each step follows the
step's own equations (docs/tolerances.md derives each rule):

- affine, t = sum_k W_k v_k + b (n terms):
  e(t) = |W| e(v)  +  (gamma_n(u_acc) + u_op) (|W| |v| + |b|),
  gamma_n(u) = n u / (1 - n u) (Higham), u_op the rounding of operands read in a
  coarser format than they are stored in (TF32);
- elementwise, t = F(v_1, ..., v_k):
  e(t) = max over the corners v_i +- e(v_i) of |F(corner) - F(v)|
         + (ops(F) + a ulps(F)) u_c (|t| + max_i |v_i|) + tiny_c,
  which follows F through its kinks (relu, clips, hard sigmoid) and its curvature;
- a state or output stored in a coarser format: e += u_s |t| + tiny_s.

The bound a correct implementation cannot exceed is SAFETY times e, plus one unit
of float64 in the reference value.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from lstm_ref.checker.profiles import Profile
from lstm_ref.equations import merge_program, output_program, step_program
from lstm_ref.equations.activations import sigmoid, softplus
from lstm_ref.equations.program import Program
from lstm_ref.exact.backends import backend
from lstm_ref.exact.forward import run_forward
from lstm_ref.exact.rounding import round_array
from lstm_ref.inputs import Inputs
from lstm_ref.params import Params, layer_prefix
from lstm_ref.spec import Spec

SAFETY = 2.0
TRAJECTORY_BITS = 80
ACTIVATIONS = (sigmoid, softplus, sp.tanh, sp.exp)
NUMPY_FUNCTIONS = {
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),
    "softplus": lambda x: np.logaddexp(0.0, x),
}


@dataclass(frozen=True)
class Trajectory:
    """The exact outputs (float64) and the bound of each, for one case; `tape` keeps what
    the gradient bounds need (every step's exact values and forward bounds)."""

    outputs: dict[str, np.ndarray]
    bounds: dict[str, np.ndarray]
    tape: dict[str, Any] | None = None


@lru_cache(maxsize=4096)
def _numpy(expr: sp.Expr) -> tuple[Any, tuple[str, ...], int, int]:
    """An expression in float64 numpy; its operands; its operation and activation counts."""
    names = tuple(sorted(s.name for s in expr.free_symbols))
    function = sp.lambdify([sp.Symbol(n, real=True) for n in names], expr,
                           modules=[NUMPY_FUNCTIONS, "numpy"])
    activations = sum(len(expr.atoms(f)) for f in ACTIVATIONS)
    return function, names, int(sp.count_ops(expr)), activations


def _float(values: np.ndarray) -> np.ndarray:
    return round_array(values, "float64").astype(np.float64)


class _Propagator:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        flush = profile.flush_subnormals
        self.u_acc = profile.format("accumulation").unit
        self.u_c = profile.format("compute").unit
        self.tiny_c = profile.format("compute").tiny(flush)
        storage, operands = profile.format("storage"), profile.format("operands")
        self.u_s, self.tiny_s = storage.unit, storage.tiny(flush)
        # Operands read in a coarser format than they are stored in are rounded again.
        self.u_op = operands.unit if operands.precision < storage.precision else 0.0
        self.store = storage.precision < profile.format("compute").precision

    def stored(self, value: np.ndarray, error: np.ndarray) -> np.ndarray:
        if not self.store:
            return error
        return error + self.u_s * np.abs(value) + self.tiny_s

    def step(self, program: Program, params: dict[str, np.ndarray], values: dict[str, np.ndarray],
             errors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Bounds of every target of one step, given the bounds of its inputs."""
        errors = dict(errors)
        for eq in program.equations:
            if eq.is_affine:
                products, biases = eq.affine_terms()
                terms = sum(params[w].shape[1] for w, _ in products) + len(biases)
                gamma = terms * self.u_acc / (1 - terms * self.u_acc)
                propagated = sum(errors[v] @ np.abs(params[w]).T for w, v in products)
                magnitude = sum(np.abs(values[v]) @ np.abs(params[w]).T for w, v in products)
                magnitude = magnitude + sum(np.abs(params[b]) for b in biases)
                errors[eq.target] = propagated + (gamma + self.u_op) * magnitude + self.tiny_c
            else:
                errors[eq.target] = self.elementwise(eq.rhs, values, errors, params)
        return errors

    def elementwise(self, expr: sp.Expr, values: dict[str, np.ndarray],
                    errors: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> np.ndarray:
        function, names, operations, activations = _numpy(expr)
        args = [values[n] if n in values else params[n] for n in names]
        center = np.asarray(function(*args), dtype=float)
        moving = [i for i, n in enumerate(names) if n in errors and np.any(errors[n])]
        spread = np.zeros(np.broadcast(*args).shape) if args else np.zeros(())
        for signs in itertools.product((-1.0, 1.0), repeat=len(moving)):
            corner = list(args)
            for i, sign in zip(moving, signs):
                corner[i] = args[i] + sign * errors[names[i]]
            spread = np.maximum(spread, np.abs(np.asarray(function(*corner)) - center))
        scale = np.abs(center) + (np.max(np.abs(np.stack(np.broadcast_arrays(*args))), axis=0)
                                  if args else 0.0)
        rounding = (operations + self.profile.activation_ulps * activations) * self.u_c * scale
        return spread + rounding + self.tiny_c


def trajectory(spec: Spec, params: Params, inputs: Inputs, profile: Profile) -> Trajectory:
    """The exact outputs of a case and their per-element bounds under `profile`."""
    chosen = backend("mpmath")
    with chosen.precision(TRAJECTORY_BITS):
        result, tape = run_forward(spec, params, inputs, TRAJECTORY_BITS)
    prop = _Propagator(profile)
    lens = [int(n) for n in inputs.seq_lens]
    stack = spec.num_layers * spec.num_directions
    h_err = np.zeros((stack, inputs.batch, spec.h_out))
    c_err = np.zeros((stack, inputs.batch, spec.hidden_size))
    layer_err = np.zeros(inputs.x.shape)
    record: dict[str, Any] = {"steps": {}, "errors": {}, "outputs": {}, "output_errors": {},
                              "layer_inputs": [_float(tape.layer_inputs[0])], "layer_errors": [layer_err]}
    for layer in range(spec.num_layers):
        program = step_program(spec, layer)
        outputs, out_errs = [], []
        for d, direction in enumerate(spec.directions):
            index = layer * spec.num_directions + d
            mine = params.of(layer_prefix(layer, direction))
            steps = {k: _float(v) for k, v in tape.steps[(layer, direction)].items()}
            y = _float(tape.direction_outputs[(layer, direction)])
            y_err = np.zeros(y.shape)
            step_errs = {n: np.zeros(a.shape) for n, a in steps.items()}
            states = {"h_prev": h_err[index].copy()}
            if "c_prev" in program.inputs:
                states["c_prev"] = c_err[index].copy()
            for k in range(max(lens, default=0)):
                rows = [b for b in range(len(lens)) if k < lens[b]]
                times = [lens[b] - 1 - k if direction == "reverse" else k for b in rows]
                values = {n: a[times, rows] for n, a in steps.items()}
                errs = {"x": layer_err[times, rows]}
                errs.update({n: states[n][rows] for n in states})
                errs = prop.step(program, mine, values, errs)
                for n, e in errs.items():
                    step_errs[n][times, rows] = e
                for previous, new in program.states:
                    states[previous][rows] = prop.stored(values[new], errs[new])
                y_err[times, rows] = states["h_prev"][rows]
            if spec.padded_outputs == "carry" and direction == "forward":
                for b, n in enumerate(lens):
                    if n:
                        y_err[n:, b] = y_err[n - 1, b]
            h_err[index] = states["h_prev"]
            if "c_prev" in states:
                c_err[index] = states["c_prev"]
            outputs.append(y)
            out_errs.append(y_err)
            record["steps"][(layer, direction)] = steps
            record["errors"][(layer, direction)] = step_errs
            record["outputs"][(layer, direction)] = y
            record["output_errors"][(layer, direction)] = y_err
        layer_err = _merge(spec, prop, outputs, out_errs)
        record["layer_inputs"].append(_float(tape.layer_inputs[layer + 1]))
        record["layer_errors"].append(layer_err)
    exact = {"y": result.y, "h_n": result.h_n, "c_n": result.c_n, "y_out": result.y_out}
    errors = {"y": layer_err, "h_n": h_err, "c_n": c_err if result.c_n is not None else None}
    out = output_program(spec)
    if out is not None:
        y = _float(tape.layer_inputs[-1])
        flat = y.reshape(-1, y.shape[-1])
        mine = params.of("output")
        values = {"y": flat}
        for eq in out.equations:  # the targets along the trajectory, for the corners
            if eq.is_affine:
                products, biases = eq.affine_terms()
                values[eq.target] = sum(values[v] @ mine[w].T for w, v in products) + sum(
                    mine[b] for b in biases)
            else:
                values[eq.target] = evaluate(eq.rhs, {**mine, **values})
        errs = prop.step(out, mine, values, {"y": layer_err.reshape(flat.shape)})
        y_out = _float(result.y_out.values)
        bound = prop.stored(y_out.reshape(-1, y_out.shape[-1]), errs["y_out"]).reshape(y_out.shape)
        if spec.padded_outputs == "zero":
            for b, n in enumerate(lens):
                bound[n:, b] = 0.0
        errors["y_out"] = bound
    outputs_f64 = {k: _float(v.values) for k, v in exact.items() if v is not None}
    bounds = {}
    for name, value in outputs_f64.items():
        ulp64 = np.spacing(np.abs(value))
        bounds[name] = SAFETY * errors[name] + ulp64
    return Trajectory(outputs_f64, bounds, record)


def _merge(spec: Spec, prop: _Propagator, outputs: list[np.ndarray],
           errors: list[np.ndarray]) -> np.ndarray:
    if len(outputs) == 1:
        return errors[0]
    if spec.merge == "concat":
        return np.concatenate(errors, axis=-1)
    if spec.merge == "none":
        return np.stack(errors, axis=2)
    program = merge_program(spec)
    assert program is not None
    (eq,) = program.equations
    values = {"y_fwd": outputs[0], "y_bwd": outputs[1]}
    merged = prop.elementwise(eq.rhs, values, {"y_fwd": errors[0], "y_bwd": errors[1]}, {})
    return prop.stored(evaluate(eq.rhs, values), merged)


def evaluate(expr: sp.Expr, values: dict[str, np.ndarray]) -> np.ndarray:
    """An elementwise expression in float64 on named arrays."""
    function, names, _, _ = _numpy(expr)
    return np.asarray(function(*[values[n] for n in names]), dtype=float)
