"""Generate a suite of golden files: one file per cell kind, one test group per spec.

    lstm-ref golden generate --suite standard --out golden/standard

Each test stores its exact inputs, parameters and output cotangents; its expected
outputs (and, for most cases, the gradients of every input and parameter) as certified
enclosures with correctly rounded float64, float32, float16 and bfloat16 values.
The same arguments give byte-identical files on any machine.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from lstm_ref.exact import backward, forward
from lstm_ref.exact.backends import backend
from lstm_ref.files import write_atomically
from lstm_ref.golden.catalogue import FLAGS, Case, suite
from lstm_ref.golden.certify import METHODS, Certified, certify
from lstm_ref.golden.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    SCHEMA_NAME,
    dumps,
    encode_exact,
    hex_float,
    write_manifest,
)
from lstm_ref.golden.schema import validate
from lstm_ref.grid import GridSampler
from lstm_ref.inputs import Inputs
from lstm_ref.params import Params, parameter_layout
from lstm_ref.spec import Spec
from lstm_ref.version import __version__

DEFAULT_DIGITS = 30
DEFAULT_METHOD = "ziv-mpmath"
HEADER = [
    "Golden vectors for recurrent layers, computed exactly by lstm_ref from its SymPy equations.",
    "Conventions (shapes, parameter names, variable lengths): docs/conventions.md of lstm_ref.",
    "Inputs, parameters and cotangents are exact hex floats on the grid shared by bfloat16 and "
    "float16. Each expected value is an enclosure: a decimal midpoint `mid` and a radius `rad` "
    "(the true value lies in [mid - rad, mid + rad]), and its correct rounding to float64, "
    "float32, float16 and bfloat16 (hex floats; round to nearest, ties to even), rounded from "
    "the enclosure itself. null marks a value the certification could not decide.",
    "Gradients (grad.*) are those of L = sum(cotangent * output) over the outputs.",
]


def cotangents(case: Case, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The case's output cotangents, drawn on the grid from their own stream."""
    sampler = GridSampler(case.seed, stream=2)
    return {name: sampler.draw(shape, 1.0) for name, shape in shapes.items()}


def values_at(
    spec: Spec,
    params: Params,
    inputs: Inputs,
    cot: dict[str, np.ndarray],
    bits: int,
    arithmetic: str = "mpmath",
) -> dict[str, np.ndarray]:
    """Every stored value of a test at a working precision: the outputs, and with
    cotangents the gradients ("grad.x", "grad.h0", "grad.c0", "grad.<parameter>")."""
    args = (spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens)
    if not cot:
        r = forward(*args, bits=bits, arithmetic=arithmetic)
        values = {"y": r.y, "h_n": r.h_n, "c_n": r.c_n, "y_out": r.y_out}
    else:
        grads = backward(*args, cotangents=cot, bits=bits, arithmetic=arithmetic)
        r = grads.forward
        values = {
            "y": r.y,
            "h_n": r.h_n,
            "c_n": r.c_n,
            "y_out": r.y_out,
            "grad.x": grads.x,
            "grad.h0": grads.h0,
            "grad.c0": grads.c0,
        }
        values.update({f"grad.{k}": v for k, v in grads.params.items()})
    return {k: v.values for k, v in values.items() if v is not None}


def evaluator(case: Case) -> tuple[Callable[[int, str], dict[str, np.ndarray]], dict[str, Any]]:
    """A function of the working precision giving every stored value, and the test's inputs."""
    spec = case.spec
    params, inputs = case.draw()
    shapes = spec.output_shapes(*inputs.x.shape[:2])
    cot = cotangents(case, shapes) if case.gradients else {}

    def evaluate(bits: int, arithmetic: str) -> dict[str, np.ndarray]:
        return values_at(spec, params, inputs, cot, bits, arithmetic)

    stored = {
        "inputs": {
            "x": encode_exact(inputs.x),
            "h0": encode_exact(inputs.h0),
            **({"c0": encode_exact(inputs.c0)} if inputs.c0 is not None else {}),
            "seq_lens": [int(n) for n in inputs.seq_lens],
        },
        "params": {name: encode_exact(value) for name, value in params.items()},
    }
    if cot:
        stored["cotangents"] = {name: encode_exact(value) for name, value in cot.items()}
    return evaluate, stored


def test_document(case: Case, tc_id: int, digits: int, method: str) -> dict[str, Any]:
    evaluate, stored = evaluator(case)
    certified = certify(evaluate, digits, method)
    return {
        "tcId": tc_id,
        "id": case.id,
        "comment": case.comment,
        "flags": list(case.flags),
        **stored,
        "expected": expected_document(certified),
        "certification": {
            "method": method,
            "precisions": certified.precisions,
            "undecided": {k: v for k, v in certified.undecided.items()},
        },
    }


def expected_document(certified: Certified) -> dict[str, Any]:
    out = {}
    for name, shape in certified.shapes.items():
        entry: dict[str, Any] = {
            "shape": list(shape),
            "mid": certified.mid[name],
            "rad": certified.rad[name],
        }
        for fmt, values in certified.rounded[name].items():
            entry[fmt] = [None if v is None else hex_float(v) for v in values]
        out[name] = entry
    return out


def _test_job(job: tuple[Case, int, int, str]) -> dict[str, Any]:
    """One test document: a top-level function, so process pools and dask can run it."""
    return test_document(*job)


def suite_documents(
    name: str,
    digits: int = DEFAULT_DIGITS,
    method: str = DEFAULT_METHOD,
    progress: Callable[[int, int, str], None] | None = None,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Every file of a suite, as JSON documents keyed by file name.

    The tests are computed through `executor` (any concurrent.futures.Executor, such as a
    process pool or a dask client's executor) when one is given; the documents do not
    depend on it, since each test is computed on its own and the results are kept in
    catalogue order.
    """
    cases = suite(name)
    jobs = []
    for cell in ("lstm", "gru", "rnn"):
        mine = [c for c in cases if c.spec.cell == cell]
        jobs += [(case, tc_id, digits, method) for tc_id, case in enumerate(mine, start=1)]
    results = executor.map(_test_job, jobs) if executor is not None else map(_test_job, jobs)
    tests = {}
    for done, (job, document) in enumerate(zip(jobs, results, strict=True)):
        if progress:
            progress(done, len(jobs), job[0].id)
        tests[job[0].id] = document
    documents: dict[str, Any] = {}
    for cell in ("lstm", "gru", "rnn"):
        mine = [c for c in cases if c.spec.cell == cell]
        if not mine:
            continue
        groups: dict[str, dict[str, Any]] = {}
        for case in mine:
            key = dumps(case.spec.to_json())
            if key not in groups:
                layout = parameter_layout(case.spec)
                groups[key] = {
                    "spec": case.spec.to_json(),
                    "parameters": {
                        k: {"shape": list(s), "dims": d} for k, (s, d) in layout.items()
                    },
                    "tests": [],
                }
            groups[key]["tests"].append(tests[case.id])
        used = sorted({flag for case in mine for flag in case.flags})
        documents[f"{cell}.json"] = {
            "format": FORMAT_NAME,
            "formatVersion": FORMAT_VERSION,
            "generator": {"name": "lstm_ref", "version": __version__},
            "schema": SCHEMA_NAME,
            "suite": name,
            "cell": cell,
            "numberOfTests": len(mine),
            "header": HEADER,
            "notes": {f: {"bugType": FLAGS[f][0], "description": FLAGS[f][1]} for f in used},
            "certification": {"method": method, "description": METHODS[method], "digits": digits},
            "testGroups": list(groups.values()),
        }
    if progress:
        progress(len(jobs), len(jobs), "done")
    return documents


def progress_bar(done: int, total: int, label: str) -> None:
    """A one-line progress bar on standard error."""
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:40}")
    if label == "done":
        sys.stderr.write("\n")
    sys.stderr.flush()


def generate(
    name: str,
    out: Path,
    digits: int = DEFAULT_DIGITS,
    quiet: bool = False,
    method: str = DEFAULT_METHOD,
    workers: int | None = None,
    executor: Executor | None = None,
) -> list[Path]:
    """Write a suite's files and its manifest into `out`; returns the paths written.

    `method` is "ziv-mpmath" (mpmath only; heuristic) or "arb" (python-flint; rigorous).
    The tests are computed in a process pool of `workers` processes (default: one per
    CPU; 1 computes them here), or through `executor` when one is given (a dask
    client's `get_executor()` spreads them over a cluster). The executor must run tasks
    in separate processes: mpmath's and python-flint's working precisions are set per
    process, so threads would disturb each other (a ThreadPoolExecutor is refused; a
    dask cluster needs `processes=True`). The files are byte-identical whatever runs them.
    """
    if digits < 17 or digits > 200:
        raise ValueError(f"`digits` must be in [17, 200] (17 identify a float64); got {digits}")
    if method not in METHODS:
        raise ValueError(f"`certify` must be one of {', '.join(METHODS)}; got {method!r}")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ValueError(f"`workers` must be a positive integer; got {workers!r}")
    if isinstance(executor, ThreadPoolExecutor):
        raise ValueError(
            "`executor` must run tasks in separate processes (mpmath's working "
            "precision is per process); got a ThreadPoolExecutor: use a "
            "ProcessPoolExecutor, or `workers`"
        )
    if method == "arb":
        backend("arb")  # fails now, with the install hint, if python-flint is missing
    show = None if quiet else progress_bar
    if executor is not None:
        documents = suite_documents(name, digits, method, show, executor)
    elif (workers or os.cpu_count() or 1) > 1:
        # "spawn": fresh interpreters, safe whatever threads the caller runs.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers or os.cpu_count(), mp_context=context) as pool:
            documents = suite_documents(name, digits, method, show, pool)
    else:
        documents = suite_documents(name, digits, method, show)
    paths = []
    for file_name, document in documents.items():
        path = out / file_name
        validate(document, str(path))  # every written file follows the shipped schema
        write_atomically(path, dumps(document))
        paths.append(path)
    paths.append(write_manifest(out, paths, name))
    return paths
