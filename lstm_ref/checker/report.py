"""The checker's report: per case and output, in the style of numpy.testing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lstm_ref.checker.profiles import FORMATS

DETAILED_FAILURES = 3  # failing cases shown in full; the rest get one line each


@dataclass
class OutputReport:
    """How one output of one case compares with the exact value and its bound.

    `margin` is max(error / bound): above 1 fails. `first` is the index of the first
    failing element in row-major order (time first for y), or None.
    """

    name: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    max_ulps: float
    margin: float
    failing: int
    first: tuple[int, ...] | None
    actual: float | None = None
    desired: float | None = None
    bound: float | None = None

    @property
    def passed(self) -> bool:
        return self.failing == 0


@dataclass
class CaseReport:
    """One golden case: `status` is pass, fail, error (the implementation misbehaved)
    or unsupported (the layout cannot express it, or the implementation said so)."""

    id: str
    status: str
    reason: str = ""
    outputs: list[OutputReport] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)


@dataclass
class Report:
    """The verdict of one check: `passed`, the cases, and the named diagnoses."""

    implementation: str
    cell: str
    layout: str
    dtype: str
    profile: str
    suite: str
    cases: list[CaseReport] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        checked = [c for c in self.cases if c.status != "unsupported"]
        return bool(checked) and all(c.status == "pass" for c in checked)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for case in self.cases:
            out[case.status] = out.get(case.status, 0) + 1
        return out

    def to_json(self) -> str:
        data = asdict(self)
        data["passed"] = self.passed
        return json.dumps(data, indent=1, default=_plain)

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        lines = [
            f"{self.implementation} ({self.cell}, layout {self.layout}, {self.dtype}, profile "
            f"{self.profile}) on suite {self.suite!r}: {'PASSED' if self.passed else 'FAILED'} "
            f"({counts or 'no cases'})"
        ]
        if self.diagnoses:
            lines.append("Most likely mistake(s): " + "; ".join(self.diagnoses))
        detailed = 0
        for case in self.cases:
            if case.status == "fail" and detailed >= DETAILED_FAILURES:
                worst = max((o.margin for o in case.outputs), default=float("inf"))
                explained = f"; explained by: {'; '.join(case.diagnoses)}" if case.diagnoses else ""
                lines.append(f"  FAIL  {case.id}: max margin {worst:.3g}{explained}")
                continue
            if case.status == "pass":
                worst = max((o.margin for o in case.outputs), default=0.0)
                lines.append(f"  pass  {case.id}: worst margin {worst:.3g} of the bound")
            elif case.status in ("unsupported", "error"):
                lines.append(f"  {case.status}  {case.id}: {case.reason}")
            else:
                detailed += 1
                lines.append(f"  FAIL  {case.id}" + (f": {case.reason}" if case.reason else ""))
                for out in case.outputs:
                    lines.extend("    " + line for line in _describe(out, self.dtype))
                if case.diagnoses:
                    lines.append("    explained by: " + "; ".join(case.diagnoses))
        if not self.passed and not self.diagnoses and any(c.status == "fail" for c in self.cases):
            lines.append("No named mistake explains the failures: compare the first failing "
                         "step and element with lstm_ref.forward(...).trace.")
        return "\n".join(lines)


def _describe(out: OutputReport, dtype: str) -> list[str]:
    status = "ok" if out.passed else "MISMATCH"
    lines = [f"{out.name} {out.shape}: {status}, {out.failing} / {int(np.prod(out.shape))} "
             f"elements beyond the bound; max margin {out.margin:.3g}"]
    if out.first is not None and out.actual is not None and out.desired is not None:
        error = abs(out.actual - out.desired)
        lines += [
            f"  first failing element {out.first}:",
            f"    ACTUAL:  {out.actual!r}",
            f"    DESIRED: {out.desired!r}",
            f"    bound:   {out.bound:.6g} (|ACTUAL - DESIRED| = {error:.6g})",
        ]
    lines.append(f"  max abs error {out.max_abs:.6g}, max rel error {out.max_rel:.6g}, "
                 f"max {out.max_ulps:.3g} ulps of {dtype}")
    return lines


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    raise TypeError(type(value).__name__)


def ulps(error: np.ndarray, desired: np.ndarray, dtype: str) -> np.ndarray:
    """Errors in units of the last place of `dtype` at each desired value."""
    fmt = FORMATS[dtype]
    exponent = np.floor(np.log2(np.maximum(np.abs(desired), 2.0 ** fmt.emin)))
    with np.errstate(over="ignore"):  # a gross error near float64's subnormals: inf ulps
        return error / 2.0 ** (exponent - fmt.precision + 1)


def compare(name: str, actual: np.ndarray, desired: np.ndarray, bound: np.ndarray,
            dtype: str) -> OutputReport:
    """One output against the exact values and the per-element bound."""
    error = np.abs(actual - desired)
    error = np.where(np.isnan(actual), np.inf, error)
    # a large error over a subnormal bound overflows to an infinite margin: a failure
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        margins = np.where(bound > 0, error / bound, np.where(error > 0, np.inf, 0.0))
        relative = np.where(desired != 0, error / np.abs(desired), np.where(error > 0, np.inf, 0.0))
    failing = margins > 1
    first = None
    report = OutputReport(
        name, tuple(actual.shape), float(error.max(initial=0.0)), float(relative.max(initial=0.0)),
        float(ulps(error, desired, dtype).max(initial=0.0)), float(margins.max(initial=0.0)),
        int(failing.sum()), first,
    )
    if failing.any():
        index = tuple(int(i) for i in np.argwhere(failing)[0])
        report.first = index
        report.actual, report.desired = float(actual[index]), float(desired[index])
        report.bound = float(bound[index])
    return report
