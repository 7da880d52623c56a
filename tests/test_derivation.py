"""Printed derivations: up to date, textbook-like, every presented derivative proved."""

from __future__ import annotations

import random
from pathlib import Path

import mpmath
import pytest
import sympy as sp

from lstm_ref import Spec
from lstm_ref.cli import main
from lstm_ref.derivation import partials
from lstm_ref.derivation.printing import derivation_files, document
from lstm_ref.equations import merge_program, output_program, step_program
from lstm_ref.equations.activations import MPMATH_FUNCTIONS
from test_forward_textbook import CASES

DERIVATIONS = Path(__file__).resolve().parent.parent / "derivations"


@pytest.mark.parametrize("name", sorted(derivation_files()))
def test_committed_derivations_are_up_to_date(name):
    committed = (DERIVATIONS / name).read_text(encoding="utf-8")
    assert committed == derivation_files()[name], (
        f"derivations/{name} is out of date: run `lstm-ref derive --write derivations/`"
    )


@pytest.mark.parametrize("fmt", ["text", "unicode", "latex", "markdown"])
def test_lstm_gradients_read_like_a_textbook(fmt):
    text = document(Spec("lstm", 3, 4), fmt, gradients=True)
    for banned in ("exp", "cosh", "e^", "Derivative", "Subs"):
        assert banned not in text, banned
    assert ("∂fₜ/∂aᶠₜ = fₜ·(1 - fₜ)" in text) == (fmt == "unicode")
    assert ("dC~_t/da^g_t = 1 - C~_t**2" in text) == (fmt == "text")
    assert (
        r"\frac{\partial h_t}{\partial C_t} = o_t \left(1 - \tanh^{2}{\left(C_t \right)}\right)"
        in text
    ) == (fmt in ("latex", "markdown"))


def programs(spec):
    yield from (step_program(spec, layer) for layer in range(spec.num_layers))
    yield from (p for p in (merge_program(spec), output_program(spec)) if p is not None)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_presented_derivative_equals_sympys_raw_derivative(name):
    """Re-checked here independently of the proof in partials.py: substitute each
    forward quantity by its definition, and compare with d/d(operand) of the
    right-hand side rewritten through exponentials, at random points, 40 digits."""
    spec = Spec(input_size=3, hidden_size=4, **CASES[name])
    rng = random.Random(name)
    for program in programs(spec):
        for eq in program.equations:
            if eq.is_affine:
                continue
            operands = sorted(eq.rhs.free_symbols, key=lambda s: s.name)
            for d in partials(eq):
                assert d.proof == "symbolic" or d.proof.startswith("numeric (")
                target = sp.Symbol(eq.target, real=True)
                presented = d.presented.subs(target, eq.rhs)
                operand = sp.Symbol(d.operand, real=True)
                raw = sp.diff(eq.rhs.rewrite(sp.exp), operand)
                f = sp.lambdify(operands, presented, modules=[MPMATH_FUNCTIONS, "mpmath"])
                g = sp.lambdify(operands, raw, modules=[MPMATH_FUNCTIONS, "mpmath"])
                with mpmath.workdps(50):
                    for _ in range(5):
                        point = [mpmath.mpf(rng.uniform(-2, 2)) for _ in operands]
                        a, b = mpmath.mpf(f(*point)), mpmath.mpf(g(*point))
                        assert abs(a - b) <= mpmath.mpf(10) ** -40 * max(1, abs(b)), (
                            eq.target,
                            d.operand,
                            point,
                        )


def test_derive_command(capsys, tmp_path):
    assert (
        main(["derive", "gru", "--variant", "reset-before", "--format", "text", "--gradients"]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("GRU (gru_reset='before')\n")
    assert "    a^hn_t = W^h_n (r*h)_{t-1} + b^h_n\n" in out
    assert "    dh_{t-1} = dh_t*z_t + d(r*h)_{t-1}*r_t + W^h_z^T da^z_t + W^h_r^T da^r_t\n" in out
    assert main(["derive", "--write", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(derivation_files())
    assert main(["derive", "lstm", "--variant", "relu"]) == 2
    assert "`nonlinearity` is an RNN option" in capsys.readouterr().err
    assert main(["derive"]) == 2
    err = capsys.readouterr().err
    assert err == "lstm-ref derive: error: `cell` is required: one of lstm, gru, rnn\n"
