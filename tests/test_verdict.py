"""The three-valued verdict: PASS, SUSPICIOUS (beyond the realistic bound only), FAIL.

The suspicious implementation is a real one: float32 LSTM and GRU code whose tanh is
written as 2 / (1 + exp(-2x)) - 1, which cancels near 0 (hundreds of ulps off on
small values) yet stays within the rigorous bound of every standard case.
"""

from __future__ import annotations

import copy
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from lstm_ref import check
from lstm_ref.checker.report import compare
from lstm_ref.checker.run import stored_value
from lstm_ref.checker.verdict import PROBABILITY
from lstm_ref.cli import main
from lstm_ref.golden import load_suite

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

MODULE = '''
import numpy as np
import textbook
from lstm_ref.spec import Spec


class _CancellingNumpy:
    """numpy, but tanh(u) = 2 / (1 + exp(-2u)) - 1 in the array's own dtype."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def tanh(u):
        one = u.dtype.type(1)
        return (one + one) / (one + np.exp(-(u + u))) - one


def cancelling(x, params, h0, c0, seq_lens=None, config=None):
    spec = Spec.from_json(config)
    saved, textbook.np = textbook.np, _CancellingNumpy()
    try:
        y, h_n, c_n, y_out = textbook.run(spec, params, x, h0, c0, seq_lens, dtype=np.float32)
    finally:
        textbook.np = saved
    return (y, h_n, c_n) if y_out is None else (y, h_n, c_n, y_out)


def exact_tanh(x, params, h0, c0, seq_lens=None, config=None):
    spec = Spec.from_json(config)
    y, h_n, c_n, y_out = textbook.run(spec, params, x, h0, c0, seq_lens, dtype=np.float32)
    return (y, h_n, c_n) if y_out is None else (y, h_n, c_n, y_out)
'''


def _module(tmp_path: Path):
    (tmp_path / "kernels.py").write_text(MODULE)
    sys.path[:0] = [str(tmp_path), str(TESTS)]
    try:
        import kernels
    finally:
        del sys.path[:2]
    return kernels


def test_compare_classifies_each_element_against_both_bounds():
    desired = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    actual = np.array([1.0, 1.0 + 2e-7, 1.0 + 2e-6, np.nan, 0.0])
    bound, realistic = np.full(5, 1e-6), np.full(5, 1e-7)
    out = compare("y", actual, desired, bound, "float32", realistic)
    assert (out.failing, out.suspicious, out.verdict) == (2, 1, "fail")
    assert out.first == (2,) and out.actual == 1.0 + 2e-6 and out.desired == 1.0
    assert np.isinf(out.margin) and out.realistic_margin == np.inf
    only_suspicious = compare("y", actual[:2], desired[:2], bound[:2], "float32", realistic[:2])
    assert (only_suspicious.failing, only_suspicious.suspicious) == (0, 1)
    assert only_suspicious.verdict == "suspicious" and only_suspicious.first == (1,)
    assert only_suspicious.realistic == 1e-7 and abs(only_suspicious.margin - 0.2) < 1e-9
    # judged around a reference that is not the exact value (step by step): the error
    # figures stay against the exact values
    local = compare(
        "y",
        np.array([0.5]),
        np.array([0.25]),
        np.array([1e-3]),
        "float32",
        np.array([1e-4]),
        reference=np.array([0.5]),
        local=True,
    )
    assert local.verdict == "pass" and local.max_abs == 0.25 and local.local


def test_a_cancelling_tanh_is_suspicious_not_failed(tmp_path):
    kernels = _module(tmp_path)
    report = check(kernels.cancelling, cell="lstm", layout="canonical", dtype="float32")
    assert report.verdict == "SUSPICIOUS" and not report.passed and not report.failed
    flagged = [c for c in report.cases if c.status != "pass"]
    assert [c.status for c in flagged] == ["suspicious"] * len(flagged) and flagged
    outputs = [o for c in flagged for o in c.outputs if o.verdict == "suspicious"]
    assert all(
        o.failing == 0 and o.suspicious > 0 and o.realistic_margin > 1 and o.margin <= 1 and o.local
        for o in outputs
    )
    text = str(report)
    assert ": SUSPICIOUS (" in text.splitlines()[0]
    assert f"probability below {PROBABILITY:.1e} per element" in text
    assert "first suspicious element" in text and "(one correct step from its own" in text
    exact = check(kernels.exact_tanh, cell="lstm", layout="canonical", dtype="float32")
    assert exact.verdict == "PASSED"


def test_cli_exits_1_on_suspicious_unless_allowed(tmp_path, monkeypatch, capsys):
    (tmp_path / "kernels.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(TESTS))
    args = ["check", "kernels:cancelling", "--layout", "canonical", "--cell", "gru"]
    assert main(args) == 1
    assert "SUSPICIOUS" in capsys.readouterr().out
    assert main([*args, "--allow-suspicious"]) == 0
    capsys.readouterr()
    # --allow-suspicious does not let a failure through
    assert (
        main(
            [
                "check",
                "kernels:cancelling",
                "--layout",
                "canonical",
                "--cell",
                "gru",
                "--dtype",
                "float64",
                "--allow-suspicious",
            ]
        )
        == 1
    )


PLUGIN_TEST = """
import pytest
from kernels import cancelling


@pytest.mark.lstm_ref(cell="gru", layout="canonical", dtype="float32")
def test_strict(golden_case):
    golden_case.check(cancelling)


@pytest.mark.lstm_ref(cell="gru", layout="canonical", dtype="float32", allow_suspicious=True)
def test_lenient(golden_case):
    golden_case.check(cancelling)
"""


def test_pytest_plugin_fails_suspicious_cases_unless_allowed(tmp_path):
    (tmp_path / "kernels.py").write_text(MODULE)
    (tmp_path / "test_kernels.py").write_text(PLUGIN_TEST)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS), str(tmp_path)]))
    installed = any(
        e.value == "lstm_ref.checker.pytest_plugin"
        for e in importlib.metadata.entry_points(group="pytest11")
    )
    load = [] if installed else ["-p", "lstm_ref.checker.pytest_plugin"]  # not pip-installed
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *load,
            "-p",
            "no:cacheprovider",
            "-q",
            str(tmp_path / "test_kernels.py"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode == 1, run.stdout
    assert "1 failed, 21 passed" in run.stdout, run.stdout
    assert "test_strict[gru-" in run.stdout and "SUSPICIOUS" in run.stdout


def test_undecided_stored_values_are_judged_against_their_enclosure():
    """A value whose float64 rounding the enclosure does not decide is stored as null;
    the checker judges it against the enclosure's midpoint and radius, never against NaN
    (which every comparison would pass)."""
    case = copy.deepcopy(load_suite("smoke")[0])
    name = next(n for n in case.names if n.startswith("grad."))
    decided = case.expected("float64")[name]
    entry = case.stored[name]
    entry["float64"] = [None] * len(entry["float64"])
    value, slack = stored_value(case, name, case.expected("float64")[name])
    assert not np.isnan(value).any()
    assert np.all(np.abs(value - decided) <= slack + np.spacing(np.abs(decided)))
    mid, rad = case.enclosure(name)
    assert np.all(slack >= np.array([float(r) for r in rad.ravel()]).reshape(rad.shape))
    wrong = compare(
        name, np.full(value.shape, 0.5), value, slack + np.spacing(np.abs(value)), "float64"
    )
    assert wrong.verdict == "fail"


def test_huge_outputs_fail_instead_of_exhausting_the_exact_evaluator(tmp_path):
    """An implementation's y is replayed step by step only while it is of the exact
    outputs' scale: a y of 1e20 (sigmoid(-1e20) would need 1e20 bits) is judged
    free-running and fails, with no OverflowError or MemoryError."""
    kernels = _module(tmp_path)

    def huge(x, params, h0, c0, seq_lens=None, config=None):
        out = list(kernels.exact_tanh(x, params, h0, c0, seq_lens, config))
        out[0] = np.array(out[0], dtype=np.float64)
        out[0][0, 0, :] = 1e20
        return tuple(out)

    report = check(huge, cell="gru", layout="canonical", dtype="float32", suite="smoke")
    assert report.verdict == "FAILED"
    assert all(o.local is False for c in report.cases for o in c.outputs if c.status == "fail")
