"""pytest plugin: validate your own implementation inside your own test suite.

Installed with lstm_ref (entry point `pytest11`). Mark a test and take the
`golden_case` fixture; the test runs once per golden case of that cell:

    import pytest

    @pytest.mark.lstm_ref(cell="lstm", layout="canonical", dtype="float32")
    def test_my_lstm(golden_case):
        golden_case.check(my_lstm)

A failing case fails its test with the checker's report (ACTUAL / DESIRED / bound,
and the named mistakes that explain it, by the rule `check` uses:
lstm_ref.checker.diagnose.diagnose); so does a SUSPICIOUS case (beyond the realistic
bound only) unless the marker says `allow_suspicious=True`. A case the layout or the
implementation cannot express is skipped with the reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from lstm_ref.checker.diagnose import Failure
from lstm_ref.checker.profiles import profile_for
from lstm_ref.checker.report import Report
from lstm_ref.checker.run import name_mistakes, run_case
from lstm_ref.golden.load import GoldenCase, load_suite
from lstm_ref.layouts import DEFAULT_LAYOUT, Implementation
from lstm_ref.layouts import layout as find_layout

MARKER = (
    f"lstm_ref(cell, layout={DEFAULT_LAYOUT!r}, dtype='float32', profile=None, "
    "suite='standard', allow_suspicious=False): run the test once per golden case of "
    "`cell`; its `golden_case` fixture checks an implementation (a SUSPICIOUS verdict "
    "fails the test unless allow_suspicious=True)"
)


class GoldenCheck:
    """One golden case, ready to check an implementation with the marker's options."""

    def __init__(self, case: GoldenCase, options: dict[str, Any]) -> None:
        self.case = case
        self.layout = find_layout(options.get("layout", DEFAULT_LAYOUT))
        self.dtype = options.get("dtype", "float32")
        self.profile = profile_for(self.dtype, options.get("profile"))
        self.suite = str(options.get("suite", "standard"))
        self.allow_suspicious = bool(options.get("allow_suspicious", False))

    def check(self, impl: Implementation) -> Report:
        """Check `impl` on this case; fail or skip the calling test as the verdict says."""
        case_report, actual, reference = run_case(
            impl, self.case, self.layout, self.dtype, self.profile
        )
        report = Report(
            getattr(impl, "__qualname__", repr(impl)),
            self.case.spec.cell,
            self.layout.name,
            self.dtype,
            self.profile.name,
            self.suite,
            [case_report],
        )
        if case_report.status == "unsupported":
            pytest.skip(case_report.reason)
        if (
            case_report.status in ("fail", "suspicious")
            and actual is not None
            and (reference is not None)
        ):
            name_mistakes(report, [Failure(self.case, actual, reference)], self.profile)
        if report.failed or (report.verdict == "SUSPICIOUS" and not self.allow_suspicious):
            pytest.fail(str(report), pytrace=False)
        return report

    def __repr__(self) -> str:
        return f"GoldenCheck({self.case.id!r})"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "golden_case" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("lstm_ref")
    if marker is None or "cell" not in marker.kwargs:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: the `golden_case` fixture needs "
            "@pytest.mark.lstm_ref(cell=..., layout=..., dtype=...)"
        )
    options = dict(marker.kwargs)
    cases = [
        c for c in load_suite(options.get("suite", "standard")) if c.spec.cell == options["cell"]
    ]
    metafunc.parametrize(
        "golden_case", [GoldenCheck(c, options) for c in cases], ids=[c.id for c in cases]
    )
