"""Diagnosis: hypotheses are typed objects tried in order of kind, and one rule
(lstm_ref.checker.diagnose.diagnose) names the mistakes, for `check`, `check_results` and
the pytest plugin alike."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from lstm_ref import check
from lstm_ref.checker import run
from lstm_ref.checker.diagnose import DIAGNOSIS_CASES, GENERAL, HYPOTHESES, Failure, diagnose
from lstm_ref.checker.profiles import profile_for
from lstm_ref.checker.pytest_plugin import GoldenCheck
from lstm_ref.golden import load_suite
from lstm_ref.layouts.conventions import CONVENTIONS
from lstm_ref.layouts.hypotheses import (
    KINDS,
    Hypothesis,
    InputChange,
    ModelChange,
    OutputRearrangement,
    ProfileShortfall,
    ordered,
)
from test_checker import mutant_impl

PROFILE = profile_for("float64")


@dataclass(frozen=True)
class Scripted(Hypothesis):
    """A hypothesis whose verdict per case id is given: True explains, False does not,
    absent does not apply."""

    name: str
    verdicts: dict

    def mistaken(self, case, reference, profile, evaluate):
        if case.id not in self.verdicts:
            return None
        value = 0.0 if self.verdicts[case.id] else 1.0
        return {"y": np.full(1, value)}, {"y": np.zeros(1)}


def failures(*ids):
    return [Failure(SimpleNamespace(id=i), {"y": np.zeros(1)}, None) for i in ids]


def test_the_rule():
    cases = failures("a", "b", "c", "d", "e", "f")
    hypotheses = [
        Scripted("explains all", dict.fromkeys("abcdef", True)),
        Scripted("applies to none", {}),
        Scripted("fails one it applies to", {"a": True, "b": False}),
        Scripted("explains the two it applies to", {"c": True, "f": True}),
        # checked on the first DIAGNOSIS_CASES it applies to; the others are named per case
        # only where it explains them
        Scripted("explains the first four", {**dict.fromkeys("abcd", True), "e": False}),
    ]
    assert DIAGNOSIS_CASES == 4
    found = diagnose(cases, PROFILE, hypotheses)
    assert found.names == [
        "explains all",
        "explains the two it applies to",
        "explains the first four",
    ]
    assert found.by_case["c"] == [
        "explains all",
        "explains the two it applies to",
        "explains the first four",
    ]
    assert found.by_case["e"] == ["explains all"]
    assert found.by_case["f"] == ["explains all", "explains the two it applies to"]
    assert diagnose(failures("b"), PROFILE, hypotheses).names == [
        "explains all",
        "explains the first four",
    ]


def test_hypotheses_are_typed_and_ordered_by_kind():
    assert all(isinstance(h, KINDS) for h in HYPOTHESES)
    kinds = [next(i for i, k in enumerate(KINDS) if isinstance(h, k)) for h in HYPOTHESES]
    assert kinds == sorted(kinds)
    deviations = [h for record in CONVENTIONS for h in record.deviations]
    assert set(HYPOTHESES) == set(GENERAL) | set(deviations)
    for kind in KINDS:  # within a kind: the general ones, then the records' deviations
        mine = [h for h in HYPOTHESES if isinstance(h, kind)]
        assert mine == [h for h in GENERAL if isinstance(h, kind)] + [
            h for h in deviations if isinstance(h, kind)
        ]
    assert {type(h) for h in HYPOTHESES} == {
        ModelChange,
        InputChange,
        OutputRearrangement,
        ProfileShortfall,
    }
    shuffled = [HYPOTHESES[-1], HYPOTHESES[0]]
    assert ordered(shuffled) == (HYPOTHESES[0], HYPOTHESES[-1])


def test_check_and_the_plugin_name_mistakes_by_the_one_rule(monkeypatch):
    """`check` calls `diagnose` with its failing cases, the plugin's golden_case.check with
    its one case, and each reports what it returns."""
    calls = []

    def spy(failed, profile, *args):
        found = diagnose(failed, profile, *args)
        calls.append(([f.case.id for f in failed], found))
        return found

    monkeypatch.setattr(run, "diagnose", spy)
    impl = mutant_impl("recurrent weights transposed", np.float64)
    report = check(impl, cell="rnn", layout="canonical", dtype="float64", suite="smoke")
    failing = [c.id for c in report.cases if c.status == "fail"]
    assert failing and calls[0][0] == failing
    assert report.diagnoses == calls[0][1].names == ["recurrent weights W_h transposed"]
    for case in load_suite("smoke"):
        if case.id not in failing:
            continue
        calls.clear()
        golden = GoldenCheck(case, {"layout": "canonical", "dtype": "float64", "suite": "smoke"})
        with pytest.raises(pytest.fail.Exception) as failed:
            golden.check(impl)
        ((ids, found),) = calls
        assert ids == [case.id] and found.names
        assert "Most likely mistake(s): " + "; ".join(found.names) in str(failed.value)
