"""Shared fixtures: precision is reset around every test; a run with no passed test fails."""

from __future__ import annotations

import mpmath
import pytest

_passed = 0


@pytest.fixture(autouse=True)
def _restore_precision():
    """Every test starts at mpmath's default precision and must leave it there."""
    mpmath.mp.dps = 15
    yield
    prec = mpmath.mp.prec
    mpmath.mp.dps = 15
    assert prec == 53, f"a test left mpmath's precision at {prec} bits"


def pytest_runtest_logreport(report):
    global _passed
    if report.when == "call" and report.passed:
        _passed += 1


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and _passed == 0:
        session.exitstatus = 1  # an empty run (all skipped) must not pass CI
