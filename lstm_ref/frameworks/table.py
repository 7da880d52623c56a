"""The results table: every built-in adapter on each of its cells, dtypes and profiles.

    lstm-ref results-table [--suite standard] [--only torch,keras] [--out docs/results.md] [--json]

:func:`results` runs the checks and returns one :class:`Row` per (implementation, cell,
dtype, profile); :func:`markdown` renders rows as a table that depends on nothing but
the rows and the header facts (no date), so regenerating it with the same versions on
the same machine gives the same file. float16 and bfloat16 are tabled with two profiles:

>>> profiles("bfloat16"), profiles("float32")
(('bf16', 'bf16-acc16'), ('fp32',))
>>> margin(0.0123456), margin(float("inf")), margin(None)
('0.0123', 'inf', '-')
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from lstm_ref.checker.profiles import DEFAULT_PROFILE
from lstm_ref.checker.report import CaseReport, Report
from lstm_ref.checker.run import check
from lstm_ref.frameworks.builtin import BUILT_IN, BuiltIn, built_in
from lstm_ref.spec import CELLS
from lstm_ref.version import __version__

# Half-precision CPU kernels may accumulate in the storage format or in float32; the two
# profiles give different verdicts, so both are tabled. TF32 is left out: no CPU computes it.
TABLE_PROFILES = {"float16": ("fp16", "fp16-acc16"), "bfloat16": ("bf16", "bf16-acc16")}
DTYPE_ORDER = ("float64", "float32", "float16", "bfloat16")
STATUSES = ("pass", "suspicious", "fail", "error", "unsupported")
VERDICTS = {"PASSED": "pass", "SUSPICIOUS": "suspicious", "FAILED": "fail"}
UNEXPLAINED = "no named mistake explains it"
NOT_INSTALLED = "not installed"
REASON_LIMIT = 100  # characters of an error message in the Markdown table (JSON has it whole)


@dataclass(frozen=True)
class Row:
    """One check of one implementation: cell, dtype, profile and suite, and its outcome.

    `verdict` is pass, suspicious, fail, "no case checked" (every case unsupported) or
    "not installed" (then cell, dtype and profile are "-" and `note` says what to
    install).
    `worst_passing` is the largest margin (error / bound; above 1 fails) of any output
    element in a passing case, `worst` the largest in any judged case; None where there
    is none. `deviations` pairs each named mistake (and :data:`UNEXPLAINED`) with the
    ids of the failing cases it concerns, in suite order; `errors` does the same for each
    message of a case the implementation raised on or answered wrongly.
    """

    implementation: str
    version: str
    cell: str
    dtype: str
    profile: str
    suite: str
    gradients: bool
    verdict: str
    counts: dict[str, int]
    worst_passing: float | None
    worst: float | None
    deviations: tuple[tuple[str, tuple[str, ...]], ...] = ()
    errors: tuple[tuple[str, tuple[str, ...]], ...] = ()
    note: str = ""

    @classmethod
    def from_report(
        cls, report: Report, *, implementation: str, version: str, gradients: bool
    ) -> Row:
        """The row of a checker report (the report's own implementation name is a
        qualified function name; `implementation` is the one to show)."""
        judged = [c for c in report.cases if c.status in ("pass", "suspicious", "fail")]
        passing = [c for c in judged if c.status == "pass"]
        deviations: dict[str, list[str]] = {}
        errors: dict[str, list[str]] = {}
        for case in report.cases:
            if case.status in ("fail", "suspicious"):
                for name in case.diagnoses or [UNEXPLAINED]:
                    deviations.setdefault(name, []).append(case.id)
            elif case.status == "error":
                errors.setdefault(case.reason, []).append(case.id)
        counts = report.counts()
        checked = any(c.status != "unsupported" for c in report.cases)
        return cls(
            implementation,
            version,
            report.cell,
            report.dtype,
            report.profile,
            report.suite,
            gradients,
            VERDICTS[report.verdict] if checked else "no case checked",
            {status: counts.get(status, 0) for status in STATUSES},
            _worst(passing),
            _worst(judged),
            _grouped(deviations),
            _grouped(errors),
        )

    @classmethod
    def missing(cls, adapter: BuiltIn, suite: str, reason: str) -> Row:
        """The row of an adapter whose framework is not installed: `reason` says what to
        install."""
        return cls(
            adapter.name,
            _version(adapter),
            "-",
            "-",
            "-",
            suite,
            adapter.gradients,
            NOT_INSTALLED,
            {status: 0 for status in STATUSES},
            None,
            None,
            note=reason,
        )

    def key(self) -> tuple[object, ...]:
        return (
            self.implementation,
            _index(CELLS, self.cell),
            _index(DTYPE_ORDER, self.dtype),
            self.profile,
        )


def _grouped(ids: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((name, tuple(cases)) for name, cases in sorted(ids.items()))


def _worst(cases: Iterable[CaseReport]) -> float | None:
    margins = [o.margin for c in cases for o in c.outputs]
    return max(margins) if margins else None


def _index(order: Sequence[str], value: str) -> int:
    return order.index(value) if value in order else len(order)


def _version(adapter: BuiltIn) -> str:
    return ", ".join(
        f"{package} {version or NOT_INSTALLED}" for package, version in adapter.versions().items()
    )


def profiles(dtype: str) -> tuple[str, ...]:
    """The profiles a dtype is tabled with: its default, and for float16 and bfloat16 also
    the one accumulating in the storage format."""
    return TABLE_PROFILES.get(dtype, (DEFAULT_PROFILE[dtype],))


def results(suite: str = "standard", only: Sequence[str] | None = None) -> list[Row]:
    """Check every built-in adapter (or those named in `only`) on `suite`: each cell,
    dtype and profile it has, with gradients where it has them. A framework that is not
    installed gives one row saying so."""
    adapters = [built_in(name) for name in only] if only is not None else list(BUILT_IN.values())
    rows = []
    for adapter in adapters:
        rows.extend(rows_for(adapter, suite))
    return sorted(rows, key=Row.key)


def rows_for(adapter: BuiltIn, suite: str = "standard") -> list[Row]:
    """One adapter's rows (see :func:`results`)."""
    try:
        adapter.implementation(adapter.dtypes[0])
    except ImportError as error:
        return [Row.missing(adapter, suite, str(error))]
    version = _version(adapter)
    rows = []
    for dtype in adapter.dtypes:
        impl = adapter.implementation(dtype)
        vjp = adapter.vjp(dtype) if adapter.gradients else None
        for profile in profiles(dtype):
            for cell in adapter.cells:
                report = check(
                    impl,
                    cell=cell,
                    layout=adapter.layout,
                    dtype=dtype,
                    profile=profile,
                    suite=suite,
                    gradients=adapter.gradients,
                    vjp=vjp,
                )
                rows.append(
                    Row.from_report(
                        report,
                        implementation=adapter.name,
                        version=version,
                        gradients=adapter.gradients,
                    )
                )
    return rows


def platform_line() -> str:
    """Python, operating system, machine and CPU model: what the verdicts may depend on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    return (
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, CPU {cpu}"
    )


def margin(value: float | None) -> str:
    """A margin as the table prints it: three significant digits, '-' for none."""
    return "-" if value is None else f"{value:.3g}"


def _cell_text(text: str, limit: int | None = None) -> str:
    """Text fit for a table cell: one line of at most `limit` characters, with pipes and
    angle brackets (which Markdown would read as HTML: "<class 'numpy.ndarray'>") escaped."""
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def markdown(rows: Sequence[Row], *, command: str, platform_text: str | None = None) -> str:
    """The rows as a Markdown document: a header stating the command, lstm_ref's version,
    the platform and each framework's version, then one table line per row, sorted."""
    rows = sorted(rows, key=Row.key)
    versions = {r.implementation: r.version for r in rows}
    suites = sorted({r.suite for r in rows})
    lines = [
        "# Results of the built-in adapters",
        "",
        f"Generated by `{command}` with lstm_ref {__version__}; do not edit by hand.",
        f"Suite {', '.join(f'`{s}`' for s in suites)}; "
        f"{platform_text if platform_text is not None else platform_line()}.",
        "",
        "| implementation | versions |",
        "|---|---|",
        *(f"| {name} | {version} |" for name, version in versions.items()),
        "",
        "A margin is an output element's error divided by its rigorous bound "
        "(docs/tolerances.md): above 1 fails; beyond the realistic bound alone a case is "
        f"suspicious. Cases are counted {' / '.join(STATUSES)}; an unsupported "
        "case is one the layout cannot express or the implementation refuses (`lstm-ref "
        "check NAME` gives each reason). With gradients, the margins include the gradients'. "
        "Named deviations list, with the case ids, each named mistake the checker found "
        f'(docs/checker.md), failures no named mistake explains ("{UNEXPLAINED}") and '
        f"each error (its message cut at {REASON_LIMIT} characters; `--json` has it whole). "
        "float16 and bfloat16 are checked under two profiles, accumulating in float32 or in "
        "the storage format (docs/tolerances.md): a fail under one and a pass under the other "
        "says which arithmetic the kernels use, not that they are wrong.",
        "",
        f"| implementation | cell | dtype | profile | gradients | verdict | {' / '.join(STATUSES)}"
        " | worst margin, passing | worst margin, all | named deviations [cases] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        counts = " / ".join(str(r.counts.get(s, 0)) for s in STATUSES)
        named = "; ".join(
            [f"{_cell_text(name)} [{', '.join(ids)}]" for name, ids in r.deviations]
            + [
                f"error: {_cell_text(reason, REASON_LIMIT)} [{', '.join(ids)}]"
                for reason, ids in r.errors
            ]
        )
        if r.note:
            named = _cell_text(r.note)
        lines.append(
            f"| {r.implementation} | {r.cell} | {r.dtype} | {r.profile} | "
            f"{'yes' if r.gradients else 'no'} | {r.verdict} | {counts} | "
            f"{margin(r.worst_passing)} | {margin(r.worst)} | {named or '-'} |"
        )
    return "\n".join(lines) + "\n"


def to_json(rows: Sequence[Row], *, command: str, platform_text: str | None = None) -> str:
    """The rows as JSON, with the header facts of :func:`markdown`."""
    document = {
        "format": "lstm-ref-results-table",
        "command": command,
        "lstm_ref": __version__,
        "platform": platform_text if platform_text is not None else platform_line(),
        "rows": [{k: _finite(v) for k, v in asdict(r).items()} for r in sorted(rows, key=Row.key)],
    }
    return json.dumps(document, indent=1, allow_nan=False) + "\n"


def _finite(value: object) -> object:
    """An infinite or NaN margin as a string ("inf"): JSON has no such numbers."""
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value
