"""The certifier's float64 shortcut (lstm_ref.golden.certify._Enclosures.fast) against its
exact decision, where float64 bounds run out of range."""

from __future__ import annotations

import mpmath
import pytest

from lstm_ref.golden.certify import _ball, _decide, _Enclosures

flint = pytest.importorskip("flint", reason="the shortcut is for arb balls (python-flint)")


@pytest.mark.parametrize("digits", [30, 100, 200])
def test_a_tight_tiny_ball_is_decided_at_every_digit_count(digits):
    # 10^-digits |m| underflows float64 for |m| near 2^-700 and 200 digits: the shortcut
    # must leave such balls to the exact decision, not call them too wide.
    saved = flint.ctx.prec
    flint.ctx.prec = 4000
    try:
        balls = [flint.arb(2) ** -700 / 3, flint.arb(2) ** -780 / 7, flint.arb(5) / 3]
        shapes = {"y": (len(balls),)}
        with mpmath.workprec(8000):
            fast, fast_ok = _decide({"y": _Enclosures(balls=balls)}, shapes, digits)
            exact, exact_ok = _decide(
                {"y": _Enclosures(pairs=[_ball(b) for b in balls])}, shapes, digits
            )
        assert exact_ok and exact.undecided == {}
        assert fast_ok and fast.rounded == exact.rounded
    finally:
        flint.ctx.prec = saved
