"""Elementwise expressions compiled to mpmath's low-level functions (mpmath.libmp).

The mpmath backend's code is what SymPy's mpmath printer writes (`mpmath.exp(a) * b +
1`); every operator there makes an mpf object, converts its operands and rounds the
result to the working precision. This module rewrites that same code, operation for
operation and in the same order, into calls on raw mpf tuples (`mpf_add(mpf_mul(...),
ONE, prec, rnd)`), wrapping only the arguments and the result. Each operation is the
correctly rounded one mpmath's operator calls, so the values are bit for bit those of
the printed code; tests/test_backends.py checks that on every expression of every
program. Anything the rewrite does not know (mpmath.expm1, mpmath.sign, a string
constant) is called through mpmath unchanged.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import mpmath
from mpmath.libmp import (
    from_int,
    mpf_abs,
    mpf_add,
    mpf_div,
    mpf_exp,
    mpf_ge,
    mpf_gt,
    mpf_le,
    mpf_lt,
    mpf_mul,
    mpf_neg,
    mpf_pow_int,
    mpf_rdiv_int,
    mpf_sub,
    mpf_tanh,
)

_BINARY = {ast.Add: "mpf_add", ast.Sub: "mpf_sub", ast.Mult: "mpf_mul", ast.Div: "mpf_div"}
_COMPARE = {">": "mpf_gt", ">=": "mpf_ge", "<": "mpf_lt", "<=": "mpf_le"}
_UNARY_FUNCTIONS = {"exp": "mpf_exp", "tanh": "mpf_tanh"}  # mpmath wraps these libmp functions


def _raw_sigmoid(x: tuple, prec: int, rnd: str) -> tuple:
    # lstm_ref.equations.activations._mp_sigmoid, 1 / (1 + exp(-x)), operation for operation.
    return mpf_rdiv_int(
        1, mpf_add(mpf_exp(mpf_neg(x, prec, rnd), prec, rnd), from_int(1), prec, rnd), prec, rnd
    )


def _fallback(function: Callable[..., Any], *args: Any) -> tuple:
    """A function the rewrite does not know, called on mpf objects."""
    make = mpmath.mp.make_mpf
    value = function(*[make(a) if type(a) is tuple else a for a in args])
    return mpmath.mpf(value)._mpf_


def _integer(node: ast.expr) -> int | None:
    """The value of an integer literal (`3`, `-3`), else None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _integer(node.operand)
        return None if inner is None else -inner
    return None


class _Rewrite(ast.NodeTransformer):
    """Rewrite printed mpmath code into raw libmp calls (names are raw mpf tuples)."""

    def __init__(self) -> None:
        self.constants: dict[str, tuple] = {}

    def _call(self, name: str, *args: ast.expr, rounded: bool = True) -> ast.Call:
        extra = [ast.Name("prec", ast.Load()), ast.Name("rnd", ast.Load())] if rounded else []
        return ast.Call(ast.Name(name, ast.Load()), [*args, *extra], [])

    def _constant(self, value: int) -> ast.Name:
        name = f"_C{len(self.constants)}"
        self.constants[name] = from_int(value)
        return ast.Name(name, ast.Load())

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if type(node.value) is int:
            return self._constant(node.value)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if (
            isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) is int
        ):
            return self._constant(-node.operand.value)
        if isinstance(node.op, ast.USub):
            return self._call("mpf_neg", self.visit(node.operand))
        if isinstance(node.op, ast.Not):
            return ast.UnaryOp(node.op, self.visit(node.operand))
        raise NotImplementedError(ast.dump(node))

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        if isinstance(node.op, ast.Pow):
            exponent = _integer(node.right)
            if exponent is not None:
                return self._call("mpf_pow_int", self.visit(node.left), ast.Constant(exponent))
        if type(node.op) not in _BINARY:
            raise NotImplementedError(ast.dump(node))
        return self._call(_BINARY[type(node.op)], self.visit(node.left), self.visit(node.right))

    def visit_Call(self, node: ast.Call) -> ast.AST:
        function = node.func
        args = [self.visit(a) for a in node.args]
        if isinstance(function, ast.Name) and function.id == "_compare":
            op = node.args[0]
            assert isinstance(op, ast.Constant) and op.value in _COMPARE, ast.dump(node)
            return self._call(_COMPARE[op.value], *args[1:], rounded=False)
        if isinstance(function, ast.Name) and function.id == "abs" and len(args) == 1:
            return self._call("mpf_abs", *args)
        if isinstance(function, ast.Name) and function.id == "sigmoid" and len(args) == 1:
            return self._call("_raw_sigmoid", *args)
        if (
            isinstance(function, ast.Attribute)
            and isinstance(function.value, ast.Name)
            and function.value.id == "mpmath"
        ):
            if function.attr in _UNARY_FUNCTIONS and len(args) == 1:
                return self._call(_UNARY_FUNCTIONS[function.attr], *args)
            if function.attr == "mpf" and len(node.args) == 1:
                value = _integer(node.args[0])
                if value is not None:
                    return self._constant(value)  # mpf(n) is exact
        return ast.Call(ast.Name("_fallback", ast.Load()), [function, *args], [])

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return node


def compile_raw(code: str, names: tuple[str, ...], namespace: dict[str, Any]) -> Callable[..., Any]:
    """A function of mpf arguments (`names`, in order) that evaluates `code`, printed
    mpmath code, through raw libmp calls; it returns an mpf."""
    rewrite = _Rewrite()
    body = rewrite.visit(ast.parse(code, mode="eval").body)
    arguments = ", ".join(names)
    unpacked = "".join(
        f"    {n} = {n}._mpf_ if type({n}) is _mpf else _mpmath.mpf({n})._mpf_\n" for n in names
    )
    source = (
        f"def _raw({arguments}):\n"
        f"    prec, rnd = _ctx._prec_rounding\n{unpacked}"
        f"    return _make({ast.unparse(body)})\n"
    )
    scope: dict[str, Any] = {
        **namespace,
        **rewrite.constants,
        "_ctx": mpmath.mp,
        "_make": mpmath.mp.make_mpf,
        "_mpf": mpmath.mpf,
        "_mpmath": mpmath,
        "_fallback": _fallback,
        "_raw_sigmoid": _raw_sigmoid,
        "mpf_add": mpf_add,
        "mpf_sub": mpf_sub,
        "mpf_mul": mpf_mul,
        "mpf_div": mpf_div,
        "mpf_neg": mpf_neg,
        "mpf_abs": mpf_abs,
        "mpf_pow_int": mpf_pow_int,
        "mpf_exp": mpf_exp,
        "mpf_tanh": mpf_tanh,
        "mpf_gt": mpf_gt,
        "mpf_ge": mpf_ge,
        "mpf_lt": mpf_lt,
        "mpf_le": mpf_le,
    }
    exec(compile(source, "<lstm_ref.exact.libmp_code>", "exec"), scope)
    raw: Callable[..., Any] = scope["_raw"]
    return raw
