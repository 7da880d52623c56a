"""The checker's report: per case and output, in the style of numpy.testing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lstm_ref.checker.verdict import PROBABILITY
from lstm_ref.exact.rounding import FORMATS

DETAILED_FAILURES = 3  # failing cases shown in full; the rest get one line each


@dataclass
class OutputReport:
    """How one output of one case compares with its reference and its two bounds.

    `margin` is max(error / bound), the rigorous bound: above 1 fails.
    `realistic_margin` is max(error / realistic bound): above 1 (within the rigorous
    bound) is suspicious; `suspicious` counts those elements. `local` says each step was
    judged from the implementation's own previous state (the reference is then one
    correct step from it). `first` is the index of the first failing (else suspicious)
    element in row-major order (time first for y), or None. The error figures
    (`max_abs`, `max_rel`, `max_ulps`) are against the exact values.
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
    suspicious: int = 0
    realistic_margin: float = 0.0
    realistic: float | None = None
    local: bool = False

    @property
    def verdict(self) -> str:
        return "fail" if self.failing else "suspicious" if self.suspicious else "pass"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"


@dataclass
class CaseReport:
    """One golden case: `status` is pass, suspicious (beyond the realistic bound only),
    fail, error (the implementation misbehaved) or unsupported (the layout cannot
    express it, or the implementation said so)."""

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
    def verdict(self) -> str:
        """PASSED, SUSPICIOUS (some output beyond the realistic bound, none beyond the
        rigorous one), FAILED (beyond the rigorous bound, or an error), or NO CASES."""
        checked = [c.status for c in self.cases if c.status != "unsupported"]
        if not checked:
            return "NO CASES"
        if any(s in ("fail", "error") for s in checked):
            return "FAILED"
        return "SUSPICIOUS" if "suspicious" in checked else "PASSED"

    @property
    def passed(self) -> bool:
        """Every case checked passed both bounds."""
        return self.verdict == "PASSED"

    @property
    def failed(self) -> bool:
        """Some case failed the rigorous bound (or errored), or no case was checked:
        what remains an error when SUSPICIOUS is allowed."""
        return self.verdict in ("FAILED", "NO CASES")

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for case in self.cases:
            out[case.status] = out.get(case.status, 0) + 1
        return out

    def to_json(self) -> str:
        data = asdict(self)
        data["passed"] = self.passed
        data["verdict"] = self.verdict
        return json.dumps(data, indent=1, default=_plain)

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        lines = [
            f"{self.implementation} ({self.cell}, layout {self.layout}, {self.dtype}, profile "
            f"{self.profile}) on suite {self.suite!r}: {self.verdict} "
            f"({counts or 'no cases'})"
        ]
        if self.verdict == "SUSPICIOUS":
            lines.append(
                f"Beyond the realistic bound, within the rigorous one: correct "
                f"arithmetic lands there with probability below {PROBABILITY:.1e} "
                f"per element."
            )
        if self.diagnoses:
            lines.append("Most likely mistake(s): " + "; ".join(self.diagnoses))
        detailed = 0
        for case in self.cases:
            if case.status in ("fail", "suspicious") and detailed >= DETAILED_FAILURES:
                worst = max((o.margin for o in case.outputs), default=float("inf"))
                explained = f"; explained by: {'; '.join(case.diagnoses)}" if case.diagnoses else ""
                tag = "FAIL" if case.status == "fail" else "SUSPICIOUS"
                lines.append(f"  {tag}  {case.id}: max margin {worst:.3g}{explained}")
                continue
            if case.status == "pass":
                worst = max((o.margin for o in case.outputs), default=0.0)
                real = max((o.realistic_margin for o in case.outputs), default=0.0)
                lines.append(
                    f"  pass  {case.id}: worst margin {worst:.3g} of the bound "
                    f"({real:.3g} of the realistic bound)"
                )
            elif case.status in ("unsupported", "error"):
                lines.append(f"  {case.status}  {case.id}: {case.reason}")
            else:
                detailed += 1
                tag = "FAIL" if case.status == "fail" else "SUSPICIOUS"
                lines.append(f"  {tag}  {case.id}" + (f": {case.reason}" if case.reason else ""))
                for out in case.outputs:
                    lines.extend("    " + line for line in _describe(out, self.dtype))
                if case.diagnoses:
                    lines.append("    explained by: " + "; ".join(case.diagnoses))
        if not self.passed and not self.diagnoses and any(c.status == "fail" for c in self.cases):
            lines.append(
                "No named mistake explains the failures: compare the first failing "
                "step and element with lstm_ref.forward(...).trace."
            )
        return "\n".join(lines)


def _describe(out: OutputReport, dtype: str) -> list[str]:
    status = {"pass": "ok", "suspicious": "SUSPICIOUS", "fail": "MISMATCH"}[out.verdict]
    how = " (judged step by step from its own previous state)" if out.local else ""
    lines = [
        f"{out.name} {out.shape}: {status}, {out.failing} / {int(np.prod(out.shape))} "
        f"elements beyond the bound, {out.suspicious} more beyond the realistic bound; "
        f"max margin {out.margin:.3g} ({out.realistic_margin:.3g} of the realistic "
        f"bound){how}"
    ]
    if out.first is not None and out.actual is not None and out.desired is not None:
        error = abs(out.actual - out.desired)
        kind = "failing" if out.failing else "suspicious"
        lines += [
            f"  first {kind} element {out.first}:",
            f"    ACTUAL:  {out.actual!r}",
            f"    DESIRED: {out.desired!r}"
            + (" (one correct step from its own previous state)" if out.local else ""),
            f"    bound:   {out.bound:.6g}, realistic {out.realistic:.6g} "
            f"(|ACTUAL - DESIRED| = {error:.6g})",
        ]
    lines.append(
        f"  max abs error {out.max_abs:.6g}, max rel error {out.max_rel:.6g}, "
        f"max {out.max_ulps:.3g} ulps of {dtype}"
    )
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
    exponent = np.floor(np.log2(np.maximum(np.abs(desired), 2.0**fmt.emin)))
    with np.errstate(over="ignore"):  # a gross error near float64's subnormals: inf ulps
        return error / 2.0 ** (exponent - fmt.precision + 1)


def _margins(error: np.ndarray, bound: np.ndarray) -> np.ndarray:
    # a large error over a subnormal bound overflows to an infinite margin: a failure;
    # so is anything undefined (an infinite error over an infinite or NaN bound)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        margins = np.where(bound > 0, error / bound, np.where(error > 0, np.inf, 0.0))
    return np.where(np.isnan(margins), np.inf, margins)


def compare(
    name: str,
    actual: np.ndarray,
    desired: np.ndarray,
    bound: np.ndarray,
    dtype: str,
    realistic: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    local: bool = False,
) -> OutputReport:
    """One output against the exact values `desired` and the per-element bounds.

    The bounds hold around `reference` (default: `desired`): the value one correct step
    gives from the implementation's own previous state, where it was judged `local`ly.
    Without `realistic`, only the rigorous bound judges.
    """
    reference = desired if reference is None else reference
    realistic = bound if realistic is None else realistic
    error = np.abs(actual - desired)
    error = np.where(np.isnan(actual), np.inf, error)
    deviation = np.abs(actual - reference)
    deviation = np.where(np.isnan(actual) | np.isnan(reference), np.inf, deviation)
    margins, realistic_margins = _margins(deviation, bound), _margins(deviation, realistic)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        relative = np.where(desired != 0, error / np.abs(desired), np.where(error > 0, np.inf, 0.0))
    failing = margins > 1
    suspicious = (realistic_margins > 1) & ~failing
    report = OutputReport(
        name,
        tuple(actual.shape),
        float(error.max(initial=0.0)),
        float(relative.max(initial=0.0)),
        float(ulps(error, desired, dtype).max(initial=0.0)),
        float(margins.max(initial=0.0)),
        int(failing.sum()),
        None,
        suspicious=int(suspicious.sum()),
        realistic_margin=float(realistic_margins.max(initial=0.0)),
        local=local,
    )
    flagged = failing if failing.any() else suspicious
    if flagged.any():
        index = tuple(int(i) for i in np.argwhere(flagged)[0])
        report.first = index
        report.actual, report.desired = float(actual[index]), float(reference[index])
        report.bound, report.realistic = float(bound[index]), float(realistic[index])
    return report
