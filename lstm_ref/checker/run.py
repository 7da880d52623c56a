"""`lstm_ref.check`: run an implementation on a golden suite and judge every output.

    >>> import lstm_ref
    >>> report = lstm_ref.check(my_lstm, cell="lstm", layout="canonical")  # doctest: +SKIP
    >>> report.passed, print(report)                                     # doctest: +SKIP

The checker knows no framework: a layout (lstm_ref.layouts) says how a case is handed
to an implementation and how what it returns is read back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lstm_ref.checker.bounds import Trajectory, trajectory
from lstm_ref.checker.diagnose import Failure, diagnose
from lstm_ref.checker.gradient_bounds import gradient_bounds
from lstm_ref.checker.profiles import Profile, profile_for
from lstm_ref.checker.report import CaseReport, OutputReport, Report, compare
from lstm_ref.checker.verdict import VERDICTS, references
from lstm_ref.exact.rounding import FORMATS
from lstm_ref.golden.load import GoldenCase, load_suite
from lstm_ref.layouts import DEFAULT_LAYOUT, LAYOUTS, Implementation, Layout
from lstm_ref.layouts import VectorJacobianProduct as VJP
from lstm_ref.layouts import layout as find_layout
from lstm_ref.params import Params
from lstm_ref.spec import CELLS, Spec


def check(
    impl: Implementation,
    *,
    cell: str,
    layout: str = DEFAULT_LAYOUT,
    dtype: str = "float32",
    profile: str | Profile | None = None,
    suite: str | os.PathLike[str] = "standard",
    gradients: bool = False,
    vjp: VJP | None = None,
    diagnose: bool = True,
    timeout: float | None = None,
) -> Report:
    """Check `impl` on every case of `suite` for `cell` that `layout` can express.

    `impl` follows the layout's contract (:mod:`lstm_ref.layouts.contract`). The
    verdict per output uses the per-element bound of the tolerance model for
    `profile` (default: the one for `dtype`, see :mod:`lstm_ref.checker.profiles`).
    On failure, named mistakes are tested (`diagnose`).

    With `gradients=True`, `vjp(x, params, h0, c0, seq_lens=None, config=None,
    cotangents=None) -> (grad_x, grad_params, grad_h0, grad_c0)` is checked too, on the
    cases that store gradients: `cotangents` maps "y", "h_n" (and "c_n") to arrays
    shaped like those outputs; `grad_params` is named like `params` (in the layouts that
    read gradients back, `Layout.read_gradients`).

    `timeout` (seconds) bounds each call: a call that has not returned by then is
    reported as an error for its case and abandoned (it keeps running in a daemon thread).
    """
    if cell not in CELLS:
        raise ValueError(f"`cell` must be one of {', '.join(CELLS)}; got {cell!r}")
    chosen = find_layout(layout)
    if gradients and vjp is None:
        raise ValueError(
            "`gradients=True` needs `vjp`, the implementation's vector-Jacobian "
            "product (see the docstring)"
        )
    if gradients and chosen.read_gradients is None:
        readers = [name for name, known in LAYOUTS.items() if known.read_gradients is not None]
        raise NotImplementedError(
            f"gradients in layout {chosen.name!r} are not implemented yet: use one of "
            f"{', '.join(readers)}"
        )
    if vjp is not None and not gradients:
        raise ValueError("`vjp` is only used with gradients=True; got a vjp and gradients=False")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
    ):
        raise ValueError(f"`timeout` must be a positive number of seconds; got {timeout!r}")
    prof = profile_for(dtype, profile)
    if not callable(impl):
        raise TypeError(f"`impl` must be callable; got {type(impl).__name__}")
    cases = [c for c in load_suite(suite) if c.spec.cell == cell]
    report = Report(
        getattr(impl, "__qualname__", repr(impl)), cell, chosen.name, dtype, prof.name, str(suite)
    )
    failed: list[Failure] = []
    for case in cases:
        case_report, actual, reference = run_case(
            impl, case, chosen, dtype, prof, vjp if gradients else None, timeout
        )
        report.cases.append(case_report)
        if (
            case_report.status in ("fail", "suspicious")
            and actual is not None
            and (reference is not None)
        ):
            failed.append(Failure(case, actual, reference))
    if failed and diagnose:
        name_mistakes(report, failed, prof)
    return report


def call(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
) -> Any:
    """function(*args, **kwargs), abandoned with TimeoutError after `timeout` seconds."""
    if timeout is None:
        return function(*args, **kwargs)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"did not return within {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def run_case(
    impl: Implementation,
    case: GoldenCase,
    chosen: Layout,
    dtype: str,
    prof: Profile,
    vjp: VJP | None = None,
    timeout: float | None = None,
) -> tuple[CaseReport, dict[str, np.ndarray] | None, Trajectory | None]:
    """Run and judge one case; the implementation's misbehaviour is reported, not raised."""
    refused = chosen.refusals(case) or chosen.inexact(case, dtype)
    if refused:
        return (
            CaseReport(
                case.id,
                "unsupported",
                f"layout {chosen.name!r} cannot express " + ", ".join(refused),
            ),
            None,
            None,
        )
    args, kwargs = chosen.arguments(case, dtype)
    try:
        returned = call(impl, args, kwargs, timeout)
    except NotImplementedError as error:
        return (
            CaseReport(
                case.id, "unsupported", f"the implementation raised NotImplementedError: {error}"
            ),
            None,
            None,
        )
    except Exception as error:  # the implementation's bug is the report's business
        return (
            CaseReport(
                case.id, "error", f"the implementation raised {type(error).__name__}: {error}"
            ),
            None,
            None,
        )
    try:
        actual, problem = _outputs(chosen.read(case, returned), case, chosen)
    except Exception as error:  # whatever it returned could not even be read
        actual, problem = {}, f"the outputs could not be read: {type(error).__name__}: {error}"
    if problem:
        return CaseReport(case.id, "error", problem), None, None
    report, actual, reference = judge(case, actual, dtype, prof)
    if vjp is not None and case.cotangents and chosen.read_gradients is not None:
        _judge_gradients(
            vjp, chosen.read_gradients, case, chosen, dtype, prof, reference, report, timeout
        )
    return report, actual, reference


def _judge_gradients(
    vjp: VJP,
    read: Callable[[Spec, Mapping[str, Any]], Params],
    case: GoldenCase,
    chosen: Layout,
    dtype: str,
    prof: Profile,
    reference: Trajectory,
    report: CaseReport,
    timeout: float | None,
) -> None:
    """Call the vjp on the case's cotangents and judge every gradient it returns (`read`
    names the gradients of the parameters canonically)."""
    args, kwargs = chosen.arguments(case, dtype)
    kind = FORMATS[dtype].numpy_dtype
    kwargs["cotangents"] = {k: v.astype(kind) for k, v in case.cotangents.items()}
    try:
        returned = call(vjp, args, kwargs, timeout)
    except NotImplementedError as error:
        report.reason = f"gradients unsupported: {error}"
        return
    except Exception as error:  # the implementation's bug is the report's business
        report.status, report.reason = "error", f"the vjp raised {type(error).__name__}: {error}"
        return
    try:
        grad_x, grad_params, grad_h0, grad_c0 = returned
        grads = {"grad.x": grad_x, "grad.h0": grad_h0, "grad.c0": grad_c0}
        canonical = read(case.spec, {k: chosen.as_array(v) for k, v in grad_params.items()})
        grads.update({f"grad.{k}": v for k, v in canonical.items()})
    except (TypeError, ValueError, KeyError) as error:
        report.status, report.reason = (
            "error",
            f"the vjp must return (grad_x, grad_params, "
            f"grad_h0, grad_c0) in the layout's names: {error}",
        )
        return
    desired = case.expected("float64")
    bounds = gradient_bounds(case.spec, case.params, case.inputs, case.cotangents, prof, reference)
    for name, value in grads.items():
        if name not in desired:
            continue
        array = np.array(chosen.as_array(value), dtype=np.float64)
        if array.shape != desired[name].shape:
            report.status, report.reason = (
                "error",
                (f"`{name}` must have shape {desired[name].shape}; got {array.shape}"),
            )
            return
        value, slack = stored_value(case, name, desired[name])
        bound = bounds[name] + np.spacing(np.abs(value)) + slack
        report.outputs.append(compare(name, array, value, bound, dtype))
    report.status = _worst(report.outputs)


def judge(
    case: GoldenCase, actual: dict[str, np.ndarray], dtype: str, prof: Profile
) -> tuple[CaseReport, dict[str, np.ndarray], Trajectory]:
    """Judge outputs (canonical names, float64): against the case's exact values, or,
    where y shows every state, step by step from the implementation's own states
    (:mod:`lstm_ref.checker.verdict`)."""
    reference = trajectory(case.spec, case.params, case.inputs, prof)
    rounded = case.expected("float64")
    desired = {name: stored_value(case, name, rounded[name])[0] for name in actual}
    judged = references(case.spec, case.params, case.inputs, prof, actual, reference)
    outputs = [
        compare(
            name,
            value,
            desired[name],
            judged[name].bound,
            dtype,
            judged[name].realistic,
            judged[name].desired,
            judged[name].local,
        )
        for name, value in actual.items()
    ]
    return CaseReport(case.id, _worst(outputs), "", outputs), actual, reference


def stored_value(case: GoldenCase, name: str, rounded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stored value of the case in float64, and how far the true value may lie from it
    beyond float64's own rounding: `rounded` (its float64 rounding from the file) where
    the file decides it, else (a rounding the enclosure does not decide, stored as null)
    the enclosure's midpoint, off by at most its radius. Never NaN: an undecided value is
    judged, not skipped."""
    undecided = np.isnan(rounded)
    if not undecided.any():
        return rounded, np.zeros(rounded.shape)
    mid, rad = case.enclosure(name)
    middle = np.array([float(m) for m in mid.ravel()]).reshape(mid.shape)
    radius = np.array([float(r) for r in rad.ravel()]).reshape(rad.shape)
    # float() rounds to nearest: the radius rounded to float64 may be below the true one
    radius = np.nextafter(radius, np.inf)
    return np.where(undecided, middle, rounded), np.where(undecided, radius, 0.0)


def _worst(outputs: list[OutputReport]) -> str:
    return max((o.verdict for o in outputs), key=VERDICTS.index, default="pass")


def _outputs(returned: Any, case: GoldenCase, chosen: Layout) -> tuple[dict[str, np.ndarray], str]:
    """The implementation's outputs as float64 arrays, or what is wrong with them."""
    names = chosen.output_names(case)
    if not isinstance(returned, (tuple, list)) or len(returned) != len(names):
        return {}, (
            f"the implementation must return a tuple ({', '.join(names)}); got "
            f"{type(returned).__name__}"
            + (f" of length {len(returned)}" if isinstance(returned, (tuple, list)) else "")
        )
    desired = case.expected("float64")
    out = {}
    for name, value in zip(names, returned, strict=True):
        if name not in desired:
            if value is not None:
                return {}, (
                    f"`{name}` must be None for cell={case.spec.cell!r}; got {type(value).__name__}"
                )
            continue
        try:
            raw = np.array(chosen.as_array(value))
        except Exception:  # ragged lists and other objects numpy cannot hold
            return {}, f"`{name}` must be an array of numbers; got {type(value).__name__}"
        if raw.dtype.kind not in "iuf":
            return {}, (
                f"`{name}` must be an array of real numbers; got "
                f"{type(value).__name__} of dtype {raw.dtype}"
            )
        array = raw.astype(np.float64)
        if array.shape != desired[name].shape:
            return {}, f"`{name}` must have shape {desired[name].shape}; got {array.shape}"
        out[name] = array
    return out, ""


def name_mistakes(report: Report, failed: list[Failure], prof: Profile) -> None:
    """Put the diagnosis of the failing cases (lstm_ref.checker.diagnose) in the report."""
    diagnosis = diagnose(failed, prof)
    report.diagnoses = diagnosis.names
    for case in report.cases:
        case.diagnoses.extend(diagnosis.by_case.get(case.id, []))


def check_results(
    results: Mapping[str, Mapping[str, Any]],
    *,
    dtype: str,
    profile: str | Profile | None = None,
    suite: str | os.PathLike[str] = "standard",
) -> Report:
    """Judge outputs computed elsewhere: {case id: {"y": array, "h_n": ..., ...}}, in the
    canonical layout; a case may instead hold {"unsupported": reason}."""
    prof = profile_for(dtype, profile)
    cases = {c.id: c for c in load_suite(suite)}
    unknown = sorted(set(results) - set(cases))
    if unknown:
        raise ValueError(f"`results` names cases the suite does not have: {unknown[:5]}")
    cells = sorted({cases[i].spec.cell for i in results})
    report = Report("results", ",".join(cells), "canonical", dtype, prof.name, str(suite))
    failed: list[Failure] = []
    for case_id, outputs in results.items():
        case = cases[case_id]
        if "unsupported" in outputs:
            report.cases.append(CaseReport(case_id, "unsupported", str(outputs["unsupported"])))
            continue
        desired = {k: v for k, v in case.expected("float64").items() if not k.startswith("grad.")}
        missing = sorted(set(desired) - set(outputs))
        if missing:
            report.cases.append(CaseReport(case_id, "error", f"outputs missing: {missing}"))
            continue
        actual = {k: np.asarray(outputs[k], dtype=np.float64) for k in desired}
        bad = [k for k in desired if actual[k].shape != desired[k].shape]
        if bad:
            report.cases.append(
                CaseReport(
                    case_id,
                    "error",
                    f"`{bad[0]}` must have shape "
                    f"{desired[bad[0]].shape}; got {actual[bad[0]].shape}",
                )
            )
            continue
        case_report, actual, reference = judge(case, actual, dtype, prof)
        report.cases.append(case_report)
        if case_report.status in ("fail", "suspicious"):
            failed.append(Failure(case, actual, reference))
    if failed:
        name_mistakes(report, failed, prof)
    return report
