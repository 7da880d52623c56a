"""The mpmath backend's fast paths against the plain forms they replace.

- Elementwise code: the printed mpmath code rewritten into raw libmp calls must give
  the values of the printed code run through mpmath's operators, bit for bit, on every
  expression of every program (step equations and backward partials).
- Integer matrix products in int64 limbs must equal Python's big-integer np.dot.
- Float arrays converted to exact integers with numpy must equal mpmath's conversion.
"""

from __future__ import annotations

import random

import mpmath
import numpy as np
import pytest

from lstm_ref import Spec
from lstm_ref.derivation.bptt import adjoints
from lstm_ref.equations import step_program
from lstm_ref.exact.arith import Fixed, int_matmul, to_fixed, to_mpf
from lstm_ref.exact.backends import compile_expression
from lstm_ref.spec import Activation

ACTIVATIONS = [
    "Sigmoid",
    "Tanh",
    "Relu",
    "HardSigmoid",
    "LeakyRelu",
    "ThresholdedRelu",
    "ScaledTanh",
    "Affine",
    "Elu",
    "Softsign",
    "Softplus",
]


def expressions() -> list:
    """Every elementwise expression and backward partial of the cells, with each
    activation, with and without clips and peepholes."""
    found = set()
    variants = [
        ("lstm", {}),
        ("lstm", {"cell_clip": "3"}),
        ("lstm", {"peepholes": True}),
        ("lstm", {"activation_clip": "2"}),
        ("gru", {}),
        ("gru", {"activation_clip": "2"}),
        ("gru", {"gru_reset": "before"}),
        ("rnn", {}),
        ("rnn", {"activation_clip": "2"}),
    ]
    for cell, options in variants:
        count = {"lstm": 3, "gru": 2, "rnn": 1}[cell]
        for name in ACTIVATIONS:
            spec = Spec(
                cell,
                input_size=2,
                hidden_size=2,
                activations=(Activation(name),) * count,
                **options,
            )
            program = step_program(spec, 0)
            found |= {eq.rhs for eq in program.equations if not eq.is_affine}
            found |= {
                term.partial
                for adjoint in adjoints(program)
                for term in adjoint.terms
                if getattr(term, "partial", None) is not None
            }
    return sorted(found, key=str)


def test_raw_libmp_code_gives_the_printed_codes_values_bit_for_bit():
    rng = random.Random(0)
    kinks = [-3, 3, 2.5, -2.5, 2, -2, 0, 1, -1]  # the clips', hard sigmoid's and relu's kinks
    checked = 0
    with mpmath.workprec(113):
        for expr in expressions():
            for form in ("value", "scaled", "accumulated"):
                fast, names = compile_expression(expr, "mpmath", form=form)
                plain, same = compile_expression(expr, "mpmath", raw_code=True, form=form)
                assert names == same
                leading = {"value": 0, "scaled": 1, "accumulated": 2}[form]
                for trial in range(12):
                    args = [
                        mpmath.mpf(rng.uniform(-6, 6) if trial % 3 else rng.choice(kinks)) / 3
                        if trial % 2
                        else mpmath.mpf(rng.choice(kinks))
                        for _ in range(leading + len(names))
                    ]
                    if not args:
                        got, want = fast(), plain()
                    else:
                        column = [np.array([a], dtype=object) for a in args]
                        got, want = fast(*column)[0], plain(*column)[0]
                    assert type(got) is mpmath.mpf and got == want, (expr, form, args, got, want)
                    checked += 1
    assert checked > 10000


def test_integer_literals_are_not_computed_in_floats():
    # Softsign after ONNX's clip: at the bound the printed code once divided Python
    # ints, -2 / (abs(-2) + 1), in float64.
    spec = Spec(
        "rnn",
        input_size=1,
        hidden_size=1,
        activations=(Activation("Softsign"),),
        activation_clip="2",
    )
    (equation,) = [eq for eq in step_program(spec, 0).equations if not eq.is_affine]
    function, names = compile_expression(equation.rhs, "mpmath")
    with mpmath.workprec(200):
        value = function(np.array([mpmath.mpf(-5)], dtype=object))[0]
        assert value == mpmath.mpf(-2) / 3
        assert abs(value - mpmath.mpf(-2) / 3) < mpmath.mpf(2) ** -190


@pytest.mark.parametrize(
    "rows, inner, cols, bits_a, bits_b",
    [
        (4, 64, 256, 160, 40),
        (3, 5, 2, 1, 1),
        (2, 300, 7, 400, 3),
        (1, 1, 1, 0, 0),
        (5, 3, 4, 1100, 1100),
        (4, 0, 3, 5, 5),
        (2, 5000, 3, 30, 30),
    ],
)
def test_limb_products_equal_big_integer_products(rows, inner, cols, bits_a, bits_b):
    rng = random.Random(rows * inner + cols)

    def draw(shape, bits):
        flat = [rng.randint(-(1 << bits), 1 << bits) for _ in range(shape[0] * shape[1])]
        return np.array(flat, dtype=object).reshape(shape)

    a, b = draw((rows, inner), bits_a), draw((inner, cols), bits_b)
    want = np.dot(a, b) if inner else np.zeros((rows, cols), dtype=object)
    for got in (
        int_matmul(Fixed(a, 3), Fixed(b, -5)),
        int_matmul(Fixed(a.T.copy(), 3), Fixed(b, -5), transpose_a=True),
        int_matmul(Fixed(a, 3), Fixed(b.T.copy(), -5), transpose_b=True),
    ):
        assert got.exp == -2 and got.ints.shape == (rows, cols)
        assert all(
            type(x) is int and x == int(y) for x, y in zip(got.ints.flat, want.flat, strict=True)
        )


def test_floats_convert_to_the_same_exact_integers_as_through_mpmath():
    rng = np.random.default_rng(1)
    for values in (
        rng.standard_normal((5, 7)),
        np.array([0.0, -0.0, 1.0, -3.5, 2.0**-1074, 1e300]),
        np.zeros(3),
        rng.standard_normal(4).astype(np.float32).astype(np.float64),
    ):
        fast = to_fixed(values)
        with mpmath.workprec(64):
            slow = to_fixed(to_mpf(values))
        assert fast.exp == slow.exp
        assert all(
            type(x) is int and x == int(y)
            for x, y in zip(fast.ints.flat, slow.ints.flat, strict=True)
        )
        assert [mpmath.ldexp(x, fast.exp) for x in fast.ints.flat] == list(values.flat)
    with pytest.raises(ValueError, match="finite"):
        to_fixed(np.array([1.0, np.inf]))


def test_mpmath_gives_the_same_bits_with_and_without_gmpy2():
    # mpmath uses gmpy2's integers when gmpy2 is installed (the `flint` and `test`
    # extras install it), Python's otherwise; the engine must give the same bits with
    # both. The other one runs in a subprocess (MPMATH_NOGMPY=1 turns gmpy2 off).
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, mpmath\n"
        "from lstm_ref import Spec, backward, random_inputs, random_params\n"
        "out = {'backend': mpmath.libmp.BACKEND}\n"
        "for cell in ('lstm', 'gru', 'rnn'):\n"
        "    spec = Spec(cell, input_size=3, hidden_size=4, direction='bidirectional')\n"
        "    p = random_params(spec, seed=3)\n"
        "    i = random_inputs(spec, steps=3, batch=2, seed=3)\n"
        "    cot = {'y': i.x[..., :1].repeat(8, -1)}\n"
        "    g = backward(spec, p, i.x, i.h0, i.c0, cotangents=cot, bits=100)\n"
        "    out[cell] = [repr(v) for v in list(g.forward.y.values.flat) + list(g.x.values.flat)\n"
        "                 + [x for a in g.params.values() for x in a.values.flat]]\n"
        "print(json.dumps(out))\n"
    )
    runs = []
    for nogmpy in ("", "1"):
        env = (
            dict(os.environ, MPMATH_NOGMPY=nogmpy)
            if nogmpy
            else {k: v for k, v in os.environ.items() if k != "MPMATH_NOGMPY"}
        )
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        runs.append(json.loads(done.stdout))
    assert runs[1]["backend"] == "python"
    assert runs[0]["backend"] == "gmpy", "the test extra installs gmpy2: pip install gmpy2"
    assert {k: v for k, v in runs[0].items() if k != "backend"} == {
        k: v for k, v in runs[1].items() if k != "backend"
    }
