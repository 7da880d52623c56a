"""The arithmetic seam: one evaluator, two arithmetics.

- `mpmath` (always installed): mpf numbers at a working precision; matrix products
  exact with Python integers over the dyadic values, rounded once.
- `arb` (extra `flint`, python-flint): ball arithmetic. Every value is a midpoint and
  a radius that provably encloses the true value; a comparison a ball cannot decide
  (a ball straddling a kink of a piecewise function) raises :class:`Undecidable`
  instead of choosing a branch.

The SymPy expressions are compiled once per backend with the same printer; the
generated code calls `mpmath.exp`, `mpmath.tanh`, ... and `_compare(op, a, b)`,
which each backend binds to its own functions.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import Any, Protocol, TypeVar

import mpmath
import numpy as np
import sympy as sp
from sympy.printing.precedence import precedence
from sympy.printing.pycode import MpmathPrinter

from lstm_ref.exact import balls
from lstm_ref.exact.arith import ExactSum, Fixed, affine, int_matmul, rounded, to_fixed, to_mpf
from lstm_ref.exact.libmp_code import compile_raw

WeightT = TypeVar("WeightT")

# `affine`'s cache for one step: each vector's converted form, keyed by the vector's id
# (with the vector itself, whose reference keeps the id valid).
AffineCache = dict[Hashable, tuple[np.ndarray, Any]]


class Accumulator(Protocol):
    """A parameter gradient's sum over steps and rows, rounded when read
    (:class:`~lstm_ref.exact.arith.ExactSum`, :class:`BallSum`)."""

    def add_outer(self, dt: np.ndarray, v: np.ndarray) -> None:
        """Add dt^T v for a batch of rows: dt (R, N), v (R, K)."""
        ...

    def add_rows(self, values: np.ndarray) -> None:
        """Add the sum over rows of `values` (R, N)."""
        ...

    def value(self) -> np.ndarray:
        """The sum so far."""
        ...


class Backend(Protocol[WeightT]):
    """An arithmetic the evaluator runs in: what lstm_ref.exact.forward, backward and step
    ask of it. Values are object arrays of the backend's numbers (mpf, arb balls);
    `WeightT` is its form of a parameter used in matrix products, which :meth:`weight`
    makes and :meth:`affine` and :meth:`transpose_times` take back.
    """

    name: str

    def precision(self, bits: int) -> AbstractContextManager[int]:
        """Run a block at a working precision of `bits`; yields it."""
        ...

    def vector(self, values: np.ndarray) -> np.ndarray:
        """float64 values (or the backend's numbers) as an object array of its numbers."""
        ...

    def weight(self, values: np.ndarray) -> WeightT:
        """A float64 parameter in the form its matrix products take."""
        ...

    def affine(
        self,
        products: list[tuple[np.ndarray, WeightT]],
        biases: list[WeightT],
        cache: AffineCache | None = None,
    ) -> np.ndarray:
        """sum_k V_k @ W_k^T plus the biases, for batches of vectors V_k (B, K_k)."""
        ...

    def transpose_times(self, pairs: list[tuple[np.ndarray, WeightT]]) -> np.ndarray:
        """sum_k dt_k @ W_k for batches of adjoints dt_k (R, N_k) and weights W_k (N_k, K)."""
        ...

    def accumulator(self, shape: tuple[int, ...]) -> Accumulator:
        """An empty sum of parameter gradient terms of that shape."""
        ...

    def full(self, shape: tuple[int, ...], value: str) -> np.ndarray:
        """An object array of one value ("0", "nan", ...)."""
        ...

    def namespace(self) -> dict[str, Any]:
        """The functions the compiled expressions call (mpmath.exp, _compare, ...)."""
        ...

    def convert(self, value: Any) -> Any:
        """A compiled expression's result as one of the backend's numbers."""
        ...


class Undecidable(ArithmeticError):
    """A ball straddles a comparison: raise the precision, or the value sits on a kink."""


class _Printer(MpmathPrinter):
    """mpmath's printer, with comparisons as calls the backend can check.

    Integers print as `mpmath.mpf(n)`, so no operation falls back to Python's int or
    float arithmetic (a Piecewise branch `-2` in `x / (abs(x) + 1)` would otherwise
    be divided in float64). Integer exponents stay Python ints: a power with a ball
    exponent is undefined for negative balls.
    """

    def _print_Integer(self, expr: sp.Integer) -> str:
        return f"mpmath.mpf({expr.p})"

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        if expr.exp.is_Integer and expr.exp != -1:
            base = self.parenthesize(expr.base, precedence(expr), strict=False)
            return f"{base}**({int(expr.exp)})"
        return str(super()._print_Pow(expr, rational))

    def _print_Relational(self, expr: sp.Basic) -> str:
        return f"_compare({expr.rel_op!r}, {self._print(expr.lhs)}, {self._print(expr.rhs)})"


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}
_NEGATION = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}


class MpmathBackend(Backend[Fixed]):
    """mpf values; exact integer matrix products rounded once to the working precision."""

    name = "mpmath"

    @contextmanager
    def precision(self, bits: int) -> Iterator[int]:
        with mpmath.workprec(bits):
            yield bits

    def vector(self, values: np.ndarray) -> np.ndarray:
        return to_mpf(values)

    def weight(self, values: np.ndarray) -> Fixed:
        return to_fixed(np.asarray(values))

    def affine(
        self,
        products: list[tuple[np.ndarray, Fixed]],
        biases: list[Fixed],
        cache: AffineCache | None = None,
    ) -> np.ndarray:
        """The affine sum; `cache` keeps the integer form of each vector for the step
        (x and h_{t-1} feed every gate)."""
        cache = {} if cache is None else cache

        def fixed(values: np.ndarray) -> Fixed:
            if id(values) not in cache:  # holding `values` keeps the id valid
                cache[id(values)] = (values, to_fixed(values))
            return cache[id(values)][1]

        return affine([(fixed(v), w) for v, w in products], biases)

    def transpose_times(self, pairs: list[tuple[np.ndarray, Fixed]]) -> np.ndarray:
        """sum_k dt_k @ W_k for batches of adjoints dt_k (R, N_k) and weights W_k (N_k, K):
        exact, rounded once."""
        terms = [int_matmul(to_fixed(dt), weight) for dt, weight in pairs]
        low = min(t.exp for t in terms)
        total = np.asarray(sum(t.ints * (1 << (t.exp - low)) for t in terms), dtype=object)
        return rounded(Fixed(total, low))

    def accumulator(self, shape: tuple[int, ...]) -> ExactSum:
        """A parameter gradient's sum over steps and rows: exact, rounded once."""
        return ExactSum(shape)

    def full(self, shape: tuple[int, ...], value: str) -> np.ndarray:
        out = np.empty(shape, dtype=object)
        out.fill(mpmath.mpf(value))
        return out

    def namespace(self) -> dict[str, Any]:
        from lstm_ref.equations.activations import MPMATH_FUNCTIONS

        def compare(op: str, a: Any, b: Any) -> bool:
            return _OPERATORS[op](a, b)

        return {"mpmath": mpmath, "_compare": compare, **MPMATH_FUNCTIONS}

    def convert(self, value: Any) -> mpmath.mpf:
        # Already an mpf at the working precision: copying it again would only cost time.
        return value if type(value) is mpmath.mpf else mpmath.mpf(value)


class ArbBackend(Backend["ArbWeight"]):
    """python-flint arb balls: rigorous enclosures of every value."""

    name = "arb"

    def __init__(self) -> None:
        try:
            import flint
        except ImportError:
            raise ImportError(
                "the `arb` backend needs python-flint: pip install 'lstm-ref[flint]'"
            ) from None
        self.flint = flint

    @contextmanager
    def precision(self, bits: int) -> Iterator[int]:
        saved = self.flint.ctx.prec
        self.flint.ctx.prec = bits
        try:
            yield bits
        finally:
            self.flint.ctx.prec = saved

    def _arb(self, value: Any) -> Any:
        if type(value) is self.flint.arb:
            return value
        if isinstance(value, mpmath.mpf):
            sign, man, exp, _ = value._mpf_
            exact = self.flint.arb(self.flint.fmpz(int(-man if sign else man)))
            return exact * self.flint.arb(2) ** exp
        return self.flint.arb(float(value))  # a float64 converts exactly

    def vector(self, values: np.ndarray) -> np.ndarray:
        out = np.empty(values.shape, dtype=object)
        out.flat[:] = [self._arb(v) for v in values.flat]
        return out

    def weight(self, values: np.ndarray) -> ArbWeight:
        values = np.asarray(values)
        if values.ndim == 1:
            return ArbWeight(self.vector(values), to_fixed(values), None)
        return ArbWeight(None, None, balls.exact_matrix(values))

    def affine(
        self,
        products: list[tuple[np.ndarray, ArbWeight]],
        biases: list[ArbWeight],
        cache: AffineCache | None = None,
    ) -> np.ndarray:
        """The affine sum in ball arithmetic; `cache` keeps each vector's matrix form
        for the step (x and h_{t-1} feed every gate).

        Large weights go through lstm_ref.exact.balls (exact midpoint sums, the bias
        included, rounded once; the weight converted once); small ones through arb_mat
        products, whose per-call conversion of the weight costs less than splitting
        every ball into midpoint and radius. Both are rigorous enclosures.
        """
        cache = {} if cache is None else cache
        if all(w.large for _, w in products):

            def split(values: np.ndarray) -> balls.BallMatrix:
                if id(values) not in cache:  # holding `values` keeps the id valid
                    cache[id(values)] = (values, balls.ball_matrix(values))
                return cache[id(values)][1]

            terms = [balls.matmul(split(v), w.transposed()) for v, w in products]
            return balls.to_balls(self.flint, balls.add(terms), [b.as_fixed() for b in biases])

        def matrix(values: np.ndarray) -> Any:
            key = ("arb_mat", id(values))
            if key not in cache:
                cache[key] = (values, self.matrix(values))
            return cache[key][1]

        total = None
        for v, w in products:
            product = matrix(v) * w.arb_mat(self.flint, transposed=True)
            total = product if total is None else total + product
        out = self._entries(total)
        for bias in biases:
            out = out + bias.as_balls()
        return out

    def transpose_times(self, pairs: list[tuple[np.ndarray, ArbWeight]]) -> np.ndarray:
        """sum_k dt_k @ W_k for batches of adjoints dt_k (R, N_k) and weights W_k (N_k, K);
        large weights as one exact midpoint sum, rounded once."""
        if all(weight.large for _, weight in pairs):
            return balls.to_balls(
                self.flint,
                balls.add(
                    [
                        balls.matmul(balls.ball_matrix(dt), weight.as_ball_matrix())
                        for dt, weight in pairs
                    ]
                ),
            )
        total = None
        for dt, weight in pairs:
            product = self.matrix(dt) * weight.arb_mat(self.flint)
            total = product if total is None else total + product
        return self._entries(total)

    def matrix(self, values: np.ndarray) -> Any:
        """A 2-D object array of arb as an arb_mat."""
        rows, cols = values.shape
        return self.flint.arb_mat(rows, cols, [self._arb(v) for v in values.flat])

    def _entries(self, matrix: Any) -> np.ndarray:
        out = np.empty(matrix.nrows() * matrix.ncols(), dtype=object)
        out[:] = matrix.entries()
        return out.reshape(matrix.nrows(), matrix.ncols())

    def accumulator(self, shape: tuple[int, ...]) -> BallSum:
        return BallSum(self, shape)

    def full(self, shape: tuple[int, ...], value: str) -> np.ndarray:
        out = np.empty(shape, dtype=object)
        out.fill(self.flint.arb("nan") if value == "nan" else self.flint.arb(value))
        return out

    def namespace(self) -> dict[str, Any]:
        arb = self.flint.arb

        def compare(op: str, a: Any, b: Any) -> bool:
            a, b = arb(a), arb(b)
            if _OPERATORS[op](a, b):
                return True
            if _OPERATORS[_NEGATION[op]](a, b):
                return False
            raise Undecidable(f"cannot decide {a} {op} {b}: the ball straddles the kink")

        def sigmoid(x: Any) -> Any:
            return 1 / (1 + (-arb(x)).exp())

        def softplus(x: Any) -> Any:
            # Either branch encloses the value; the split keeps the balls tight.
            x = arb(x)
            return x + (-x).exp().log1p() if x > 0 else x.exp().log1p()

        functions = SimpleNamespace(
            exp=lambda x: arb(x).exp(),
            expm1=lambda x: arb(x).expm1(),
            tanh=lambda x: arb(x).tanh(),
            log1p=lambda x: arb(x).log1p(),
            sign=lambda x: arb(x).sgn(),
            mpf=arb,
        )
        return {"mpmath": functions, "_compare": compare, "sigmoid": sigmoid, "softplus": softplus}

    def convert(self, value: Any) -> Any:
        return self.flint.arb(value) if not isinstance(value, self.flint.arb) else value


class ArbWeight:
    """A parameter in ball arithmetic: a bias as an object array of arb and as exact
    integers; a weight matrix W (N, K) as exact balls (lstm_ref.exact.balls), with W^T
    and, for small weights, arb_mat forms made on first use."""

    # Weights with at least this many entries take the lstm_ref.exact.balls path.
    LARGE = 1 << 17

    def __init__(
        self, vector: np.ndarray | None, fixed: Fixed | None, matrix: balls.BallMatrix | None
    ) -> None:
        self.vector, self.fixed, self.matrix = vector, fixed, matrix
        self.large = matrix is not None and matrix.shape[0] * matrix.shape[1] >= self.LARGE
        self._transposed: balls.BallMatrix | None = None
        self._arb: dict[bool, Any] = {}

    def as_balls(self) -> np.ndarray:
        """A bias as an object array of arb."""
        assert self.vector is not None, "a weight matrix, not a bias"
        return self.vector

    def as_fixed(self) -> Fixed:
        """A bias as exact integers."""
        assert self.fixed is not None, "a weight matrix, not a bias"
        return self.fixed

    def as_ball_matrix(self) -> balls.BallMatrix:
        """A weight matrix W as exact balls."""
        assert self.matrix is not None, "a bias, not a weight matrix"
        return self.matrix

    def transposed(self) -> balls.BallMatrix:
        if self._transposed is None:
            self._transposed = self.as_ball_matrix().transpose()
        return self._transposed

    def arb_mat(self, flint: Any, transposed: bool = False) -> Any:
        """W (or W^T) as an exact arb_mat."""
        if transposed not in self._arb:
            mid = self.as_ball_matrix().mid
            ints = mid.ints.T if transposed else mid.ints
            rows, cols = ints.shape
            exact = flint.fmpz_mat(rows, cols, [int(v) for v in ints.flat])
            self._arb[transposed] = flint.arb_mat(exact) * flint.arb((1, mid.exp))
        return self._arb[transposed]


class BallSum:
    """A parameter gradient's sum over steps and rows in ball arithmetic.

    Outer-product terms dt^T v are collected and summed as one ball matrix product of
    the stacked rows when the value is read (one product with a long inner dimension
    instead of one per step); row sums are added in ball arithmetic.
    """

    def __init__(self, arb: ArbBackend, shape: tuple[int, ...]) -> None:
        self.arb, self.shape = arb, shape
        self.rows: list[tuple[np.ndarray, np.ndarray]] = []
        self.total = arb.full(shape, "0")

    def add_outer(self, dt: np.ndarray, v: np.ndarray) -> None:
        self.rows.append((dt, v))

    def add_rows(self, values: np.ndarray) -> None:
        self.total = self.total + values.sum(axis=0)

    def value(self) -> np.ndarray:
        if self.rows:
            dt = np.concatenate([d for d, _ in self.rows])
            v = np.concatenate([w for _, w in self.rows])
            if self.shape[0] * self.shape[1] >= ArbWeight.LARGE:
                flint = self.arb.flint
                product = balls.to_balls(
                    flint, balls.matmul(balls.ball_matrix(dt).transpose(), balls.ball_matrix(v))
                )
            else:
                product = self.arb._entries(self.arb.matrix(dt).transpose() * self.arb.matrix(v))
            self.total = self.total + product
            self.rows = []
        return self.total


@cache
def backend(name: str) -> Backend[Any]:
    """The backend of that name: "mpmath" or "arb".

    Its weight type is Any here: a backend's weights go back to the backend that made
    them, which a type checker cannot follow through the name.
    """
    if name == "mpmath":
        return MpmathBackend()
    if name == "arb":
        return ArbBackend()
    raise ValueError(f"`backend` must be one of 'mpmath', 'arb'; got {name!r}")


def printed(expr: sp.Expr, names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """`expr` as one line of Python (mpmath's printer, comparisons as `_compare`), its
    operands renamed v0, v1, ... in the order of `names`."""
    symbols = {s.name: s for s in expr.free_symbols}
    plain = tuple(f"v{k}" for k in range(len(names)))
    renamed = expr.xreplace(
        {symbols[n]: sp.Symbol(p, real=True) for n, p in zip(names, plain, strict=True)}
    )
    printer = _Printer(
        {
            "fully_qualified_modules": True,
            "inline": True,
            "allow_unknown_functions": True,
            "user_functions": {},
        }
    )
    return printer.doprint(renamed), plain


FORMS = {
    "value": ("", "{}"),
    "scaled": ("_scale", "_scale * ({})"),
    "accumulated": ("_total, _scale", "_total + _scale * ({})"),
}


@lru_cache(maxsize=8192)
def compile_expression(
    expr: sp.Expr, backend_name: str, raw_code: bool = False, form: str = "value"
) -> tuple[Callable[..., Any], tuple[str, ...]]:
    """An expression as an elementwise function over object arrays, and its operand names.

    Every backend runs the same printed code (:func:`printed`) with its own functions.
    The mpmath backend runs it as raw libmp calls (lstm_ref.exact.libmp_code), bit for
    bit the values of the printed code; `raw_code=True` runs the printed code as it is,
    the form the tests compare that with. `form` "scaled" computes `scale * expr` and
    "accumulated" `total + scale * expr` in the same call (the backward pass's terms),
    those arguments first.
    """
    chosen = backend(backend_name)
    names = tuple(sorted(s.name for s in expr.free_symbols))
    code, plain = printed(expr, names)
    leading, template = FORMS[form]
    arguments = tuple(a for a in leading.split(", ") if a) + plain
    code = template.format(code)
    if backend_name == "mpmath" and not raw_code:
        function = compile_raw(code, arguments, chosen.namespace())
        if arguments:
            return np.frompyfunc(function, len(arguments), 1), names
    else:
        function = eval(f"lambda {', '.join(arguments)}: {code}", dict(chosen.namespace()))
    convert = chosen.convert
    if not arguments:  # a constant, such as df/di = -1: evaluated at the caller's precision
        return (lambda: convert(function())), names
    if backend_name == "arb" and not raw_code:
        # Integers print as balls and every operand is a ball: so is every result.
        return np.frompyfunc(function, len(arguments), 1), names
    return np.frompyfunc(lambda *args: convert(function(*args)), len(arguments), 1), names
