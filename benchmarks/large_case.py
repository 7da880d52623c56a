"""Time one certified golden case at the sizes kernels run: LSTM I=H=1024, T=64, B=2.

    python benchmarks/large_case.py [--size 1024] [--steps 64] [--batch 2] [--no-write]

One case, forward and backward (gradients of the inputs and of every parameter),
certified with the arb backend (python-flint), on one core: the phases are timed
separately (drawing the inputs and encoding them, evaluating at the first precision,
certifying every value, writing the JSON file) and the total is compared with the
issue's goal of 5 minutes. The file goes to a temporary directory and is deleted.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import mpmath
import numpy as np

from lstm_ref import Spec
from lstm_ref.golden import certify as certify_module
from lstm_ref.golden.catalogue import Case
from lstm_ref.golden.format import dumps
from lstm_ref.golden.generate import DEFAULT_DIGITS, evaluator, expected_document

GOAL_SECONDS = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="I = H")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--digits", type=int, default=DEFAULT_DIGITS)
    parser.add_argument("--no-write", action="store_true", help="skip writing the JSON file")
    args = parser.parse_args()
    spec = Spec("lstm", input_size=args.size, hidden_size=args.size)
    case = Case("large", "benchmark", ("Gradients",), spec, steps=args.steps, batch=args.batch)
    print(
        f"LSTM I=H={args.size}, T={args.steps}, B={args.batch}, {args.digits} digits, "
        f"certified with arb; {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, mpmath backend {mpmath.libmp.BACKEND}"
    )
    times: dict[str, float] = {}

    start = time.perf_counter()
    evaluate, stored = evaluator(case)
    times["draw inputs and parameters, encode them"] = time.perf_counter() - start

    evaluations: list[float] = []

    def timed(bits: int, arithmetic: str) -> dict[str, np.ndarray]:
        begin = time.perf_counter()
        values = evaluate(bits, arithmetic)
        evaluations.append(time.perf_counter() - begin)
        return values

    start = time.perf_counter()
    certified = certify_module.certify(timed, args.digits, "arb")
    total_certify = time.perf_counter() - start
    times[
        f"evaluate forward + backward ({len(evaluations)} precision(s): "
        f"{', '.join(map(str, certified.precisions))} bits)"
    ] = sum(evaluations)
    times["certify and round every value"] = total_certify - sum(evaluations)
    count = sum(len(m) for m in certified.mid.values())
    undecided = sum(len(u) for u in certified.undecided.values())

    if not args.no_write:
        start = time.perf_counter()
        document = {**stored, "expected": expected_document(certified)}
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "large.json"
            path.write_text(dumps(document))
            size = path.stat().st_size
        times[f"write the JSON file ({size / 2**20:.0f} MiB)"] = time.perf_counter() - start

    for label, seconds in times.items():
        print(f"{label:70} {seconds:8.1f} s")
    total = sum(times.values())
    print(f"{'total':70} {total:8.1f} s   ({total / GOAL_SECONDS:.2f}x the 5-minute goal)")
    print(f"{count} values certified, {undecided} undecided")


if __name__ == "__main__":
    main()
