"""The power of the checker's verdict, against fixed tolerances on the same outputs.

    python benchmarks/power.py [--cells lstm,gru,rnn] [--sizes 4,128] [--steps 5,64]
                               [--profiles fp32,fp16,...] [--batch 4]
                               [--layers 2] [--bidirectional]

For each cell, size (I = H) and length T, on seeded inputs on the shared grid:

(a) false alarms: every correct implementation of the zoo (benchmarks/zoo.py:
    fused and per-gate products; BLAS, pairwise, sequential and blocked sums; float64
    then rounded; states stored in float16/bfloat16; 16-bit sums where the profile
    allows them; TF32 operands), and PyTorch's CPU layers in the profile's dtype when
    torch is installed, judged under the profile: how many the checker calls
    SUSPICIOUS or FAIL, and how many each fixed tolerance rejects;
(b) the smallest perturbation caught, per family: relative noise on the outputs,
    sigmoid and tanh off by k ulps, a sigmoid clamped to 0/1 beyond |a| > theta, the
    forget (GRU: update, RNN: only) gate's bias off by delta, one step that reads
    h_{t-2}, outputs zeroed from the middle of the sequence on, and sums in a narrower
    format than promised.

Fixed tolerances, on the exact outputs: torch.testing.assert_close's defaults for the
dtype, numpy.allclose's (rtol 1e-5, atol 1e-8) and ONNX's backend tests' (rtol 1e-3,
atol 1e-7). "caught" by the checker means SUSPICIOUS or FAIL (FAIL alone in brackets).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from lstm_ref import Spec, random_inputs, random_params
from lstm_ref.checker.bounds import trajectory
from lstm_ref.checker.profiles import PROFILES
from lstm_ref.checker.verdict import classify, references

# benchmarks/ is a folder of scripts, not a package: the zoo beside this file
sys.path.insert(0, str(Path(__file__).resolve().parent))
from zoo import CORRECT, ZOO, Arithmetic, Mistake, run_stack  # noqa: E402

ASSERT_CLOSE = {
    "float64": (1e-7, 1e-7),
    "float32": (1.3e-6, 1e-5),
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
}
FIXED = {"assert_close": None, "allclose": (1e-5, 1e-8), "onnx": (1e-3, 1e-7)}
Outputs = dict[str, np.ndarray]
TORCH_CPU_PROFILES = ("fp64", "fp32", "fp16-acc16", "bf16-acc16")


class Bench:
    """One cell, size, length and profile: the exact reference, and judges."""

    def __init__(
        self,
        cell: str,
        size: int,
        steps: int,
        batch: int,
        profile: str,
        layers: int = 1,
        bidirectional: bool = False,
    ) -> None:
        self.cell, self.profile = cell, PROFILES[profile]
        self.layers, self.bidirectional = layers, bidirectional
        direction = "bidirectional" if bidirectional else "forward"
        self.spec = Spec(cell, size, size, num_layers=layers, direction=direction)
        self.params = random_params(self.spec, seed=7)
        self.inputs = random_inputs(self.spec, steps=steps, batch=batch, seed=7)
        self.free = trajectory(self.spec, self.params, self.inputs, self.profile)
        self.canonical = {k: np.asarray(v) for k, v in self.params.items()}
        self.storage = self.profile.storage

    def implementation(self, arithmetic: Arithmetic, mistake: Mistake = CORRECT) -> Outputs:
        y, h_n, c_n = run_stack(
            self.cell,
            self.layers,
            self.bidirectional,
            self.canonical,
            self.inputs.x,
            self.inputs.h0,
            self.inputs.c0,
            arithmetic,
            mistake,
        )
        out = {"y": y, "h_n": h_n}
        if c_n is not None:
            out["c_n"] = c_n
        return out

    def checker(self, actual: Outputs) -> int:
        """0 pass, 1 suspicious, 2 fail: the worst element."""
        refs = references(self.spec, self.params, self.inputs, self.profile, actual, self.free)
        return max(
            int(classify(np.abs(actual[n] - refs[n].desired), refs[n]).max()) for n in actual
        )

    def fixed(self, actual: Outputs, name: str) -> bool:
        """Whether a fixed tolerance rejects the outputs."""
        rtol, atol = (
            FIXED[name] or ASSERT_CLOSE[self.storage if self.storage != "tf32" else "float32"]
        )
        return any(
            bool(
                np.any(
                    np.abs(actual[n] - self.free.outputs[n])
                    > atol + rtol * np.abs(self.free.outputs[n])
                )
            )
            for n in actual
        )

    def torch(self) -> Outputs | None:
        """PyTorch's CPU layer in the storage dtype, if torch is installed and computes
        as the profile says (its float16 and bfloat16 CPU layers compute their gates in
        16 bits: the acc16 profiles)."""
        if self.profile.name not in TORCH_CPU_PROFILES:
            return None
        try:
            import torch
        except ImportError:
            return None
        from lstm_ref.layouts.torch import to_torch

        kind = {
            "float64": torch.float64,
            "float32": torch.float32,
            "float16": torch.float16,
            "bfloat16": torch.bfloat16,
        }[self.storage]
        layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[self.cell]
        module = layer(
            self.spec.input_size,
            self.spec.hidden_size,
            num_layers=self.layers,
            bidirectional=self.bidirectional,
        ).to(kind)
        module.load_state_dict(
            {k: torch.tensor(v).to(kind) for k, v in to_torch(self.spec, self.params).items()}
        )
        x, h0 = torch.tensor(self.inputs.x).to(kind), torch.tensor(self.inputs.h0).to(kind)
        with torch.no_grad():
            if self.cell == "lstm":
                y, (h, c) = module(x, (h0, torch.tensor(self.inputs.c0).to(kind)))
                return {
                    "y": y.double().numpy(),
                    "h_n": h.double().numpy(),
                    "c_n": c.double().numpy(),
                }
            y, h = module(x, h0)
        return {"y": y.double().numpy(), "h_n": h.double().numpy()}


def families(
    bench: Bench, steps: int, goals: bool = False
) -> dict[str, tuple[list[str], Callable[[int], Outputs]]]:
    """Perturbation families: their levels (weakest last) and how to make each. With
    `goals`, one level each, the ones the tolerance work set as goals (at I = H = 512,
    T = 256, fp32: activations 16 ulps off, a bias off by 1e-5, TF32 or bfloat16 sums, a
    stale step), where a sweep would cost too many exact evaluations."""
    base = ZOO[bench.profile.name][0]
    mid = steps // 2
    narrower = {
        "fp32": ("tf32 operands", replace(base, operands="tf32")),
        "fp64": ("float32 sums", replace(base, accumulation="float32")),
        "fp16": ("float16 sums", replace(base, accumulation="float16", sums="sequential")),
        "bf16": ("bfloat16 sums", replace(base, accumulation="bfloat16", sums="sequential")),
    }
    noise = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10, 1e-12, 1e-14]
    ulps = [4096.0, 1024.0, 256.0, 64.0, 16.0, 4.0]
    clamps = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]
    bias = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-9, 1e-11]
    if goals:
        noise, ulps, clamps, bias = [1e-5], [16.0], [3.0], [1e-5]
    out = {
        "noise": (
            [f"{v:.0e}" for v in noise],
            lambda k: bench.implementation(base, Mistake("noise", noise=noise[k])),
        ),
        "activation ulps": (
            [f"{v:.0f}" for v in ulps],
            lambda k: bench.implementation(base, Mistake("ulps", sigmoid_ulps=ulps[k])),
        ),
        "sigmoid clamp": (
            [f"|a|>{v:.0f}" for v in clamps],
            lambda k: bench.implementation(base, Mistake("clamp", clamp=clamps[k])),
        ),
        "gate bias off": (
            [f"{v:.0e}" for v in bias],
            lambda k: bench.implementation(base, Mistake("bias", bias=bias[k])),
        ),
        "stale step": (
            ["h_{t-2}"],
            lambda k: bench.implementation(base, Mistake("stale", stale_step=mid)),
        ),
        "zeros from T/2": (
            ["zeros"],
            lambda k: bench.implementation(base, Mistake("zeros", zero_from=mid)),
        ),
    }
    if bench.profile.name in narrower:
        label, arithmetic = narrower[bench.profile.name]
        out["narrower sums"] = ([label], lambda k: bench.implementation(arithmetic))
    if goals and bench.profile.name == "fp32":
        bf16_sums = replace(base, accumulation="bfloat16", sums="sequential")
        out["bfloat16 sums"] = (["bf16 sums"], lambda k: bench.implementation(bf16_sums))
    return out


def smallest(levels: list[str], caught: Sequence[bool], false_alarm: bool = False) -> str:
    """The weakest level caught, if every stronger one is caught too ("none" where
    none is; "n/a" for a judge that already rejects correct implementations)."""
    if false_alarm:
        return "n/a"
    found = "none"
    for level, hit in zip(levels, caught, strict=True):
        if not hit:
            break
        found = level
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default="lstm,gru,rnn")
    parser.add_argument("--sizes", default="4,128")
    parser.add_argument("--steps", default="5,64")
    parser.add_argument("--profiles", default="fp64,fp32,tf32,fp16,bf16,fp16-acc16,bf16-acc16")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument(
        "--goals",
        action="store_true",
        help="one level per family, the goals' (large sizes: fewer exact runs)",
    )
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument(
        "--bidirectional",
        action="store_true",
        help="both directions, concatenated (judged free-running)",
    )
    args = parser.parse_args(argv)
    judges = ["checker", *FIXED]
    print(
        "| cell | I=H | T | profile | false alarms (checker [FAIL], assert_close, "
        "allclose, onnx) of N | smallest caught: checker / assert_close / allclose / onnx |"
    )
    print("|---|---|---|---|---|---|")
    for cell in args.cells.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            for steps in (int(s) for s in args.steps.split(",")):
                for profile in args.profiles.split(","):
                    start = time.perf_counter()
                    bench = Bench(
                        cell, size, steps, args.batch, profile, args.layers, args.bidirectional
                    )
                    correct = [bench.implementation(a) for a in ZOO[profile]]
                    torch_out = bench.torch()
                    if torch_out is not None:
                        correct.append(torch_out)
                    verdicts = [bench.checker(a) for a in correct]
                    rejected = {"checker": sum(v > 0 for v in verdicts)}
                    rejected |= {j: sum(bench.fixed(a, j) for a in correct) for j in FIXED}
                    alarms = [f"{rejected['checker']} [{sum(v > 1 for v in verdicts)}]"]
                    alarms += [str(rejected[j]) for j in FIXED]
                    cells = []
                    for family, (levels, make) in families(bench, steps, args.goals).items():
                        outputs = [make(k) for k in range(len(levels))]
                        hits = {"checker": [bench.checker(o) > 0 for o in outputs]}
                        hits |= {j: [bench.fixed(o, j) for o in outputs] for j in FIXED}
                        cells.append(
                            f"{family}: "
                            + " / ".join(smallest(levels, hits[j], rejected[j] > 0) for j in judges)
                        )
                    print(
                        f"| {cell} | {size} | {steps} | {profile} | "
                        f"{', '.join(alarms)} of {len(correct)} | {'; '.join(cells)} |",
                        flush=True,
                    )
                    print(f"<!-- {time.perf_counter() - start:.1f} s -->", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
