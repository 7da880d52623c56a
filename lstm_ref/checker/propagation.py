"""The propagation rules of the tolerance model, forward and backward, for one step.

Every rule is here once; :mod:`lstm_ref.checker.bounds` (outputs) and
:mod:`lstm_ref.checker.gradient_bounds` (gradients) run them over the stack's schedule.
docs/tolerances.md derives each rule.

Forward, the bound e(v) of each quantity v of a step:

- affine, t = sum_k W_k v_k + b (n terms):
  e(t) = |W| e(v)  +  (gamma_n(u_acc) + u_op) (|W| |v| + |b|)  +  n tiny_c,
  u_op the rounding of operands read in a coarser format than they are stored in (TF32);
- elementwise, t = F(v_1, ..., v_k):
  e(t) = max over the corners v_i +- e(v_i) of |F(corner) - F(v)|
         + (ops(F) + a ulps(F)) u_c (|t| + max_i |v_i|) + tiny_c,
  which follows F through its kinks (relu, clips, hard sigmoid) and its curvature;
- a state (stored as soon as the step computes it: the rest of the step may read it
  back) or an output stored in a coarser format: e += u_s |t| + tiny_s;
- gamma_n(u) = (1 + u)^n - 1, which holds for every n (Higham's n u / (1 - n u) only
  where n u < 1), and every term of a sum may underflow: n tiny_c.

Backward, for every adjoint dv its magnitude A(v) (the sum of its terms' magnitudes)
and a bound E(v) of its error:

- a term W^T dt:      A += |dt| |W|,    E += E(dt) |W| + gamma_n(u_acc) |dt| |W|, with n
  the rows of every gate's W summed into dv (a fused backward product sums them all);
- a term dt * P, with P a partial derivative evaluated on the implementation's forward
  values, which differ from the exact ones by the forward bounds: with dP the largest
  change of P over the corners of those bounds,
                      A += |dt| |P|,    E += E(dt) (|P| + dP) + |dt| dP
                                             + (ops(P) + 1) u_c |dt| (|P| + dP);
- the sum of k terms adds gamma_{k-1}(u_c) A, and so do the sums the walk forms between
  steps (a layer input's adjoints over both directions, an output's from the next step
  and the loss, carried outputs'); an adjoint carried between steps in a coarser
  storage format adds u_s A + tiny_s;
- a parameter's gradient sums dt v^T (or dt P, or dt) over every valid step and row,
  with the forward error of v and gamma_n(u_acc) over that many terms.

The bound a correct implementation cannot exceed is SAFETY times e (or E).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import expm1
from sympy.logic.boolalg import Boolean

from lstm_ref.checker.profiles import Profile
from lstm_ref.derivation.bptt import adjoints
from lstm_ref.equations.activations import sigmoid, softplus
from lstm_ref.equations.program import Program

SAFETY = 2.0
ACTIVATIONS = (sigmoid, softplus, sp.tanh, sp.exp, expm1)
NUMPY_FUNCTIONS = {
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),
    "softplus": lambda x: np.logaddexp(0.0, x),
}

Arrays = Mapping[str, np.ndarray]


def gamma(n: float, u: float) -> float:
    """(1 + u)^n - 1, the largest relative error of n roundings in a row (a sum of n + 1
    terms): Higham's gamma_n = n u / (1 - n u) bounds it where n u < 1, and is vacuous
    or negative beyond; this form holds for every n.

    >>> gamma(9, 2.0**-24) < 9 * 2.0**-24 / (1 - 9 * 2.0**-24)
    True
    >>> round(gamma(130, 2.0**-8), 3)  # bfloat16 sums of 131 terms: n u > 1/2
    0.66
    """
    return math.expm1(n * math.log1p(u))


@dataclass(frozen=True)
class Compiled:
    """An elementwise expression in float64 numpy, its operands by name, and its
    operation and activation counts (for the rounding terms)."""

    function: Callable[..., Any]
    names: tuple[str, ...]
    operations: int
    activations: int


@lru_cache(maxsize=4096)
def compiled(expr: sp.Expr) -> Compiled:
    names = tuple(sorted(s.name for s in expr.free_symbols))
    function = sp.lambdify(
        [sp.Symbol(n, real=True) for n in names], expr, modules=[NUMPY_FUNCTIONS, "numpy"]
    )
    activations = sum(len(expr.atoms(f)) for f in ACTIVATIONS)
    return Compiled(function, names, int(sp.count_ops(expr)), activations)


def evaluate(expr: sp.Expr, values: Arrays) -> np.ndarray:
    """An elementwise expression in float64 on named arrays."""
    code = compiled(expr)
    return np.asarray(code.function(*[values[n] for n in code.names]), dtype=float)


def evaluate_program(program: Program, params: Arrays, values: dict[str, np.ndarray]) -> None:
    """Every target of a stateless program (the output layer), in float64, added to
    `values` (rows x n), to take the corners of its elementwise equations around."""
    for eq in program.equations:
        if eq.is_affine:
            products, biases = eq.affine_terms()
            values[eq.target] = sum(values[v] @ params[w].T for w, v in products) + sum(
                params[b] for b in biases
            )
        else:
            values[eq.target] = evaluate(eq.rhs, {**params, **values})


def corners(
    expr: sp.Expr, values: Arrays, errors: Arrays, params: Arrays
) -> tuple[np.ndarray, np.ndarray, Compiled]:
    """F at the values, the largest change of F over the corners v_i +- e(v_i) of its
    operands' bounds, and F's compiled form."""
    code = compiled(expr)
    args = [values[n] if n in values else params[n] for n in code.names]
    center = np.asarray(code.function(*args), dtype=float)
    moving = [i for i, n in enumerate(code.names) if n in errors and np.any(errors[n])]
    spread = np.zeros(np.broadcast(*args).shape) if args else np.zeros(())
    for signs in itertools.product((-1.0, 1.0), repeat=len(moving)):
        corner = list(args)
        for i, sign in zip(moving, signs, strict=True):
            corner[i] = args[i] + sign * errors[code.names[i]]
        spread = np.maximum(spread, np.abs(np.asarray(code.function(*corner)) - center))
    return center, spread, code


class Bound:
    """An adjoint's magnitude A and error bound E, indexed, added and copied together
    (so the schedule can carry them like any other array)."""

    __slots__ = ("magnitude", "error")

    def __init__(self, magnitude: np.ndarray, error: np.ndarray) -> None:
        self.magnitude, self.error = magnitude, error

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> Bound:
        return cls(np.zeros(shape), np.zeros(shape))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.magnitude.shape

    def __getitem__(self, index: Any) -> Bound:
        return Bound(self.magnitude[index], self.error[index])

    def __setitem__(self, index: Any, value: Bound) -> None:
        self.magnitude[index] = value.magnitude
        self.error[index] = value.error

    def __add__(self, other: Bound) -> Bound:
        return Bound(self.magnitude + other.magnitude, self.error + other.error)

    def __iadd__(self, other: Bound) -> Bound:
        self.magnitude += other.magnitude
        self.error += other.error
        return self

    def copy(self) -> Bound:
        return Bound(self.magnitude.copy(), self.error.copy())

    def sum(self, axis: int) -> Bound:
        return Bound(self.magnitude.sum(axis=axis), self.error.sum(axis=axis))

    def reshape(self, *shape: int) -> Bound:
        return Bound(self.magnitude.reshape(*shape), self.error.reshape(*shape))


@dataclass
class ParameterSums:
    """A parameter gradient's magnitude, error and number of summed terms, over every
    step and row that contributes to it."""

    magnitude: dict[str, np.ndarray] = field(default_factory=dict)
    error: dict[str, np.ndarray] = field(default_factory=dict)
    terms: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, params: Arrays) -> ParameterSums:
        return cls(
            {n: np.zeros(v.shape) for n, v in params.items()},
            {n: np.zeros(v.shape) for n, v in params.items()},
            {n: 0 for n in params},
        )


class Rules:
    """The propagation rules under one compute profile (see the module docstring)."""

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

    # forward

    def stored(self, value: np.ndarray, error: np.ndarray) -> np.ndarray:
        """A value's bound once it is stored in the storage format."""
        if not self.store:
            return error
        return error + self.u_s * np.abs(value) + self.tiny_s

    def step(
        self, program: Program, params: Arrays, values: Arrays, errors: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Bounds of every target of one step, given the bounds of its inputs."""
        out = dict(errors)
        for eq in program.equations:
            if eq.is_affine:
                products, biases = eq.affine_terms()
                terms = sum(params[w].shape[1] for w, _ in products) + len(biases)
                growth = gamma(terms, self.u_acc)
                propagated = sum(out[v] @ np.abs(params[w]).T for w, v in products)
                magnitude = sum(np.abs(values[v]) @ np.abs(params[w]).T for w, v in products)
                magnitude = magnitude + sum(np.abs(params[b]) for b in biases)
                # every product may underflow: one tiny per term
                out[eq.target] = propagated + (growth + self.u_op) * magnitude + terms * self.tiny_c
            else:
                out[eq.target] = self.elementwise(eq.rhs, values, out, params)
            out[eq.target] = self.created(program, eq.target, values, out[eq.target])
        return out

    def created(self, program: Program, name: str, values: Arrays, error: np.ndarray) -> np.ndarray:
        """A state (c, h) is stored as soon as it is computed: the rest of the step may
        read it back from storage (an unfused kernel computes tanh(C_t) from the stored
        C_t)."""
        if any(name == new for _, new in program.states):
            return self.stored(values[name], error)
        return error

    def elementwise(
        self, expr: sp.Expr, values: Arrays, errors: Arrays, params: Arrays
    ) -> np.ndarray:
        """The bound of F(v_1, ..., v_k): its spread over the corners, and its rounding."""
        center, spread, code = corners(expr, values, errors, params)
        args = [values[n] if n in values else params[n] for n in code.names]
        scale = np.abs(center) + (
            np.max(np.abs(np.stack(np.broadcast_arrays(*args))), axis=0) if args else 0.0
        )
        ulps = code.operations + self.profile.activation_ulps * code.activations
        return spread + ulps * self.u_c * scale + self.tiny_c

    # backward

    def partial(
        self, expr: sp.Expr, values: Arrays, errors: Arrays, params: Arrays
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """|P|, the spread dP of P over the corners of the forward bounds, ops(P)."""
        center, spread, code = corners(expr, values, errors, params)
        return np.abs(center), spread, code.operations

    def carried(self, adjoint: Bound) -> Bound:
        """An adjoint carried between steps in the storage format."""
        return Bound(adjoint.magnitude, self.stored_adjoint(adjoint))

    def joined(self, adjoint: Bound, terms: int) -> Bound:
        """An adjoint summed from `terms` adjoints (both directions' of a layer input,
        the next step's and the loss's of an output, carried outputs'): its rounding."""
        growth = gamma(terms - 1, self.u_c)
        return Bound(adjoint.magnitude, adjoint.error + growth * adjoint.magnitude)

    def stored_adjoint(self, adjoint: Bound) -> np.ndarray:
        a, e = adjoint.magnitude, adjoint.error
        return e + (self.u_s * a + self.tiny_s if self.store else 0.0)

    def adjoints(
        self,
        program: Program,
        params: Arrays,
        prefix: str,
        values: Arrays,
        errors: Arrays,
        seeds: Mapping[str, Bound],
        sums: ParameterSums,
    ) -> dict[str, Bound]:
        """Magnitudes and error bounds of every adjoint of one step (rows of a batch);
        the parameters' gradient terms are added into `sums`."""
        rows = next(iter(values.values())).shape[0]
        out: dict[str, Bound] = {}
        for adjoint in adjoints(program):
            if adjoint.is_parameter:
                key = f"{prefix}.{adjoint.name}"
                for term in adjoint.terms:
                    a_t, e_t = out[term.target].magnitude, out[term.target].error
                    if term.vector is not None:
                        v = values[term.vector]
                        sums.magnitude[key] += a_t.T @ np.abs(v)
                        sums.error[key] += e_t.T @ np.abs(v) + a_t.T @ errors.get(
                            term.vector, 0 * v
                        )
                    elif term.partial is not None:
                        p, dp, ops = self.partial(term.partial, values, errors, params)
                        sums.magnitude[key] += (a_t * p).sum(axis=0)
                        sums.error[key] += (
                            e_t * (p + dp) + a_t * dp + (ops + 1) * self.u_c * a_t * (p + dp)
                        ).sum(axis=0)
                    else:
                        sums.magnitude[key] += a_t.sum(axis=0)
                        sums.error[key] += e_t.sum(axis=0)
                sums.terms[key] += rows
                continue
            size = program.sizes[adjoint.name]
            seed = seeds.get(adjoint.name, Bound.zeros((rows, size)))
            a_v, e_v = seed.magnitude, seed.error
            count = len(adjoint.terms) + (adjoint.name in seeds)
            # a fused backward product sums W^T dt over every gate's rows at once
            rows_summed = sum(
                params[t.weight].shape[0] for t in adjoint.terms if t.weight is not None
            )
            for term in adjoint.terms:
                a_t, e_t = out[term.target].magnitude, out[term.target].error
                if term.weight is not None:
                    w = np.abs(params[term.weight])
                    growth = gamma(rows_summed, self.u_acc)
                    a_v = a_v + a_t @ w
                    e_v = e_v + e_t @ w + growth * (a_t @ w)
                else:
                    p, dp, ops = self.partial(term.partial, values, errors, params)
                    a_v = a_v + a_t * p
                    e_v = e_v + e_t * (p + dp) + a_t * dp + (ops + 1) * self.u_c * a_t * (p + dp)
            e_v = e_v + gamma(max(count - 1, 0), self.u_c) * a_v
            out[adjoint.name] = Bound(a_v, e_v)
        return out

    def parameter_bound(self, sums: ParameterSums, name: str) -> Bound:
        """A parameter gradient's bound: its terms' errors and their sum's rounding."""
        growth = gamma(max(sums.terms[name], 1), self.u_acc)
        magnitude = sums.magnitude[name]
        return Bound(magnitude, sums.error[name] + growth * magnitude)


# The realistic bound is REALISTIC_SIGMAS standard deviations of the error model below;
# a Gaussian tail puts a correct implementation beyond it with probability
# erfc(6 / sqrt 2) = 2.0e-9 per element.
REALISTIC_SIGMAS = 6.0


def tail_probability(sigmas: float) -> float:
    """P(|e| > sigmas * sd) for a Gaussian error e: what the realistic bound states."""
    return math.erfc(sigmas / math.sqrt(2.0))


@dataclass(frozen=True)
class Roundings:
    """Where an elementwise expression rounds: for each operation (or activation) k,
    the first-order change of the result per unit relative error at k,
    s_k = node_k * dF/dnode_k, as one function of the operands."""

    function: Callable[..., Any]
    names: tuple[str, ...]
    activation: tuple[bool, ...]


# Operations whose result is one of their operands, or its sign changed: no rounding.
EXACT_OPERATIONS = (sp.Max, sp.Min, sp.Abs, sp.Piecewise, sp.sign, sp.Heaviside)


@lru_cache(maxsize=4096)
def roundings(expr: sp.Expr) -> Roundings:
    marks: list[tuple[sp.Symbol, bool]] = []

    def perturbed(node: sp.Basic) -> sp.Basic:
        if node.is_Atom or isinstance(node, Boolean):
            return node  # conditions choose a branch; they compute nothing
        rebuilt = node.func(*[perturbed(a) for a in node.args])
        if not isinstance(node, sp.Expr) or isinstance(node, EXACT_OPERATIONS):
            return rebuilt
        mark = sp.Dummy(f"rounding{len(marks)}", real=True)
        marks.append((mark, node.func in ACTIVATIONS))
        return rebuilt * (1 + mark)

    tree = perturbed(expr)
    at_zero = {mark: 0 for mark, _ in marks}
    terms = [sp.diff(tree, mark).subs(at_zero) for mark, _ in marks]
    names = tuple(sorted(s.name for s in expr.free_symbols))
    function = sp.lambdify(
        [sp.Symbol(n, real=True) for n in names], terms, modules=[NUMPY_FUNCTIONS, "numpy"]
    )
    return Roundings(function, names, tuple(kind for _, kind in marks))


class RealisticRules(Rules):
    """What correct arithmetic really produces: standard deviations, not worst cases.

    Each rounding is taken as an independent, mean-zero error, uniform within half a
    unit (variance u^2 / 3), as in Higham and Mary's probabilistic rounding error
    analysis (SIAM J. Sci. Comput. 41(5), 2019) and in Monte Carlo arithmetic:

    - affine, t = sum_k W_k v_k + b (n terms): the errors of the operands propagate
      through the signed weights, so their variances add with the squares of the
      weights, sd(t)^2 = W^2 sd(v)^2; the sum's own roundings add u_acc^2 / 3 times
      the sum of its squared partial sums, which for terms in no particular order (a
      random walk with drift, k of n terms summed) is n (t^2 / 3 + sum_j (w_j v_j)^2 / 2);
      operands read in a coarser format add 2 u_op^2 / 3 sum_j (w_j v_j)^2;
    - elementwise, t = F(v_1, ..., v_k): F's spread over the corners v_i +- sd(v_i)
      (F linearised through its kinks), and each of its own operations' rounding
      through the result's sensitivity to it (:func:`roundings`): variance
      u_c^2 / 3 s_k^2, or (a u_c)^2 / 3 s_k^2 for an activation a ulps accurate;
    - a value stored in a coarser format: u_s^2 / 3 t^2 more variance.

    Values are standard deviations; REALISTIC_SIGMAS of them make the bound.
    """

    def stored(self, value: np.ndarray, error: np.ndarray) -> np.ndarray:
        if not self.store:
            return error
        return np.sqrt(error**2 + (self.u_s * np.abs(value)) ** 2 / 3) + self.tiny_s

    def elementwise(
        self, expr: sp.Expr, values: Arrays, errors: Arrays, params: Arrays
    ) -> np.ndarray:
        _, spread, _ = corners(expr, values, errors, params)
        code = roundings(expr)
        args = [values[n] if n in values else params[n] for n in code.names]
        ulps = self.profile.activation_ulps
        variance = np.zeros(np.shape(spread))
        for term, activation in zip(code.function(*args), code.activation, strict=True):
            variance = variance + (ulps**2 if activation else 1.0) * np.square(term)
        return np.sqrt(np.square(spread) + self.u_c**2 / 3 * variance) + self.tiny_c

    def step(
        self, program: Program, params: Arrays, values: Arrays, errors: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        out = dict(errors)
        for eq in program.equations:
            if not eq.is_affine:
                out[eq.target] = self.created(
                    program, eq.target, values, self.elementwise(eq.rhs, values, out, params)
                )
                continue
            products, biases = eq.affine_terms()
            terms = sum(params[w].shape[1] for w, _ in products) + len(biases)
            squares = {w: np.square(params[w]) for w, _ in products}
            propagated = sum(np.square(out[v]) @ squares[w].T for w, v in products)
            # the squared terms w_j v_j, summed: their l2 norm squared
            operands = sum(np.square(values[v]) @ squares[w].T for w, v in products)
            spread = operands + sum(np.square(params[b]) for b in biases)
            partial_sums = terms * (np.square(values[eq.target]) / 3 + spread / 2)
            local = self.u_acc**2 / 3 * partial_sums + 2 / 3 * self.u_op**2 * operands
            out[eq.target] = self.created(
                program, eq.target, values, np.sqrt(propagated + local) + terms * self.tiny_c
            )
        return out
