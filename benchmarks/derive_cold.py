"""Cold start of `lstm-ref derive lstm --gradients`, against the goal of 3 s.

Runs each command in a fresh interpreter, several times, and prints the best time,
next to Python's own start-up and `import sympy`, measured in the same run.

    python benchmarks/derive_cold.py
"""

from __future__ import annotations

import subprocess
import sys
import time

GOAL_SECONDS = 3.0
RUNS = 5

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import sympy": [sys.executable, "-c", "import sympy"],
    "lstm-ref derive lstm --gradients": [
        sys.executable,
        "-m",
        "lstm_ref",
        "derive",
        "lstm",
        "--gradients",
    ],
    "lstm-ref derive lstm --gradients (latex)": [
        sys.executable,
        "-m",
        "lstm_ref",
        "derive",
        "lstm",
        "--gradients",
        "--format",
        "latex",
    ],
}


def best_of(command: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    baseline = best_of(COMMANDS["import sympy"])
    print(f"{'command':45} {'best of ' + str(RUNS):>10} {'/ sympy':>8} {'/ goal':>7}")
    for name, command in COMMANDS.items():
        seconds = best_of(command)
        print(f"{name:45} {seconds:9.3f}s {seconds / baseline:8.2f} {seconds / GOAL_SECONDS:7.2f}")


if __name__ == "__main__":
    main()
