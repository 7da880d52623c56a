"""The `lstm-ref` command line.

    lstm-ref forward [--cell lstm] [--digits 30] [--steps 3 --batch 2] ...
    lstm-ref derive CELL [--variant V ...] [--format text|unicode|latex|markdown] [--gradients]
    lstm-ref derive --write derivations/
    lstm-ref golden generate [--suite NAME] [--out DIR] [--digits N] [--certify arb|ziv-mpmath]
    lstm-ref golden verify DIR [DIR ...]      (a suite, or a folder of suites)
    lstm-ref golden show FILE
    lstm-ref check MODULE:FUNCTION --layout torch --cell lstm --dtype float32 [--profile P]
    lstm-ref check --results FILE
    lstm-ref check torch|torch-cells|onnxruntime|onnx-reference|keras|flax|flax-optimized|equinox
        [--dtype D] [--gradients]
    lstm-ref results-table [--suite standard] [--only torch,keras] [--out docs/results.md] [--json]

`forward` evaluates a layer stack exactly on seeded grid inputs and prints the
outputs to the requested number of significant digits (text or JSON). `derive`
prints the equations, and with --gradients their derivatives and the BPTT
recurrences; --write regenerates the committed derivations. `golden` writes,
verifies and summarises certified golden vectors. `results-table` checks every built-in
adapter and writes the generated table of verdicts (docs/results.md).
Exit status: 0 on success, 2 on a usage error (the message says what to change).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import mpmath
import numpy as np

from lstm_ref.checker import PROFILES, check, check_results
from lstm_ref.checker.profiles import DEFAULT_PROFILE
from lstm_ref.checker.report import Report
from lstm_ref.checker.results import read_results
from lstm_ref.derivation.names import OUTPUT_FORMATS
from lstm_ref.derivation.printing import derivation_files, document
from lstm_ref.exact import forward, precision
from lstm_ref.files import write_atomically
from lstm_ref.frameworks import table
from lstm_ref.frameworks.builtin import BUILT_IN, built_in
from lstm_ref.golden import SUITES, generate, verify
from lstm_ref.golden.certify import METHODS
from lstm_ref.golden.generate import DEFAULT_DIGITS, DEFAULT_METHOD, progress_bar
from lstm_ref.golden.show import summary
from lstm_ref.golden.verify import suite_directories
from lstm_ref.inputs import random_inputs
from lstm_ref.layouts import LAYOUTS
from lstm_ref.params import random_params
from lstm_ref.spec import CELLS, DIRECTIONS, GRU_RESETS, MERGES, NONLINEARITIES, Spec
from lstm_ref.version import __version__

GUARD_DIGITS = 10


def _forward_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "forward",
        help="evaluate a layer stack exactly on seeded grid inputs",
        description="Evaluate a layer stack exactly (integer matrix products, mpmath "
        "activations) on parameters and inputs drawn on the bfloat16/float16 grid.",
    )
    p.add_argument("--cell", choices=CELLS, default="lstm")
    p.add_argument("--input-size", type=int, default=3, metavar="I")
    p.add_argument("--hidden-size", type=int, default=2, metavar="H")
    p.add_argument("--num-layers", type=int, default=1, metavar="L")
    p.add_argument("--direction", choices=DIRECTIONS, default="forward")
    p.add_argument("--merge", choices=MERGES, default=None)
    p.add_argument("--proj-size", type=int, default=0, metavar="P")
    p.add_argument("--peepholes", action="store_true")
    p.add_argument("--input-forget", action="store_true", help="coupled gates, f = 1 - i")
    p.add_argument("--cell-clip", default=None, help="clip C_t to [-v, v]")
    p.add_argument("--activation-clip", default=None, help="ONNX clip on activation inputs")
    p.add_argument("--forget-bias", default="0", help="added to the forget gate at run time")
    p.add_argument(
        "--activations",
        nargs="+",
        default=None,
        metavar="NAME",
        help="ONNX activations, e.g. Sigmoid Tanh 'HardSigmoid(1/6, 1/2)'",
    )
    p.add_argument("--nonlinearity", choices=tuple(NONLINEARITIES), default=None)
    p.add_argument("--gru-reset", choices=GRU_RESETS, default="after")
    p.add_argument("--output-size", type=int, default=None, metavar="O")
    p.add_argument("--no-bias", action="store_true")
    p.add_argument("--steps", type=int, default=3, metavar="T")
    p.add_argument("--batch", type=int, default=2, metavar="B")
    p.add_argument("--seq-lens", type=int, nargs="+", default=None, metavar="N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--digits", type=int, default=30, help="significant digits (working precision)")
    p.add_argument("--json", action="store_true", help="print JSON, values as decimal strings")


def _spec(args: argparse.Namespace) -> Spec:
    return Spec(
        args.cell,
        args.input_size,
        args.hidden_size,
        num_layers=args.num_layers,
        direction=args.direction,
        merge=args.merge,
        bias=not args.no_bias,
        proj_size=args.proj_size,
        peepholes=args.peepholes,
        input_forget=args.input_forget,
        cell_clip=args.cell_clip,
        activation_clip=args.activation_clip,
        forget_bias=args.forget_bias,
        activations=None if args.activations is None else tuple(args.activations),
        nonlinearity=args.nonlinearity,
        gru_reset=args.gru_reset,
        output_size=args.output_size,
    )


def _strings(values: np.ndarray, digits: int) -> list:
    return np.vectorize(lambda v: mpmath.nstr(v, digits, strip_zeros=False), otypes=[object])(
        values
    ).tolist()


VARIANTS: dict[str, dict[str, Any]] = {
    "peepholes": dict(peepholes=True),
    "projection": dict(proj_size=2),
    "coupled": dict(input_forget=True),
    "cell-clip": dict(cell_clip=3),
    "activation-clip": dict(activation_clip=3),
    "forget-bias": dict(forget_bias=1),
    "no-bias": dict(bias=False),
    "reverse": dict(direction="reverse"),
    "bidirectional": dict(direction="bidirectional"),
    "reset-before": dict(gru_reset="before"),
    "relu": dict(nonlinearity="relu"),
    "output-layer": dict(output_size=2),
}


def _derive_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "derive",
        help="print the equations, their derivatives and the BPTT recurrences",
        description="Print a cell's step equations as SymPy holds them; with --gradients, "
        "the local derivatives in forward quantities (each proved equal to SymPy's raw "
        "derivative) and the backpropagation-through-time recurrences.",
    )
    p.add_argument("cell", choices=CELLS, nargs="?", help="the cell kind (omit with --write)")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        choices=sorted(VARIANTS),
        help="add a variant (repeatable): " + ", ".join(sorted(VARIANTS)),
    )
    p.add_argument("--merge", choices=MERGES, default=None, help="with --variant bidirectional")
    p.add_argument("--activations", nargs="+", default=None, metavar="NAME")
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="unicode")
    p.add_argument("--gradients", action="store_true", help="also print the derivatives")
    p.add_argument(
        "--write",
        metavar="DIR",
        help="write the committed derivations (lstm.md, bilstm.md, gru.md, rnn.md)",
    )


def command_derive(args: argparse.Namespace) -> int:
    if args.write:
        if args.cell or args.variant or args.merge or args.activations:
            raise ValueError(
                "`--write` writes the fixed set of derivations; give no cell or variant"
            )
        for name, text in derivation_files().items():
            write_atomically(Path(args.write) / name, text)
        return 0
    if args.cell is None:
        raise ValueError("`cell` is required: one of " + ", ".join(CELLS))
    options: dict[str, Any] = {}
    for variant in args.variant:
        options.update(VARIANTS[variant])
    if args.merge is not None:
        options["merge"] = args.merge
    if args.activations is not None:
        options["activations"] = tuple(args.activations)
    spec = Spec(args.cell, input_size=3, hidden_size=4, **options)
    sys.stdout.write(document(spec, args.format, args.gradients))
    return 0


def _golden_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "golden",
        help="generate, verify or show certified golden vectors",
        description="Certified golden vectors: generate a suite, verify files "
        "(checksums, schema, recomputation), or summarise a file.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    g = actions.add_parser("generate", help="write a suite's files and manifest")
    g.add_argument("--suite", choices=SUITES, default="standard")
    g.add_argument("--out", default=None, metavar="DIR", help="default: golden/SUITE")
    g.add_argument(
        "--digits",
        type=int,
        default=DEFAULT_DIGITS,
        help="significant digits of each stored midpoint",
    )
    g.add_argument(
        "--certify",
        choices=sorted(METHODS),
        default=DEFAULT_METHOD,
        help="arb: rigorous ball arithmetic (needs lstm-ref[flint]); ziv-mpmath: "
        "two precisions agree (mpmath only)",
    )
    g.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes computing the tests (default: one per CPU)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    v = actions.add_parser("verify", help="check checksums and schema, recompute every value")
    v.add_argument(
        "directories",
        nargs="+",
        metavar="DIR",
        help="a suite (a folder with manifest.json, or a suite name) or a folder "
        "of suites (each is verified and reported)",
    )
    v.add_argument("--no-recompute", action="store_true", help="only checksums and schema")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    s = actions.add_parser("show", help="a readable summary of a golden file")
    s.add_argument("file", metavar="FILE")


def command_golden(args: argparse.Namespace) -> int:
    if args.action == "generate":
        out = Path(args.out or f"golden/{args.suite}")
        for path in generate(
            args.suite,
            out,
            args.digits,
            quiet=args.quiet,
            method=args.certify,
            workers=args.workers,
        ):
            print(path)
        return 0
    if args.action == "verify":
        # Every argument resolved before any recomputation: a bad one is a usage error (2).
        suites = [
            directory for argument in args.directories for directory in suite_directories(argument)
        ]
        failed = False
        for directory in suites:
            problems = verify(
                directory,
                recompute=not args.no_recompute,
                progress=None if args.quiet else progress_bar,
            )
            for problem in problems:
                print(problem)
            verdict = f"FAILED, {len(problems)} problem(s)" if problems else "ok"
            print(f"{directory}: {verdict}")
            failed = failed or bool(problems)
        return 1 if failed else 0
    print(summary(Path(args.file)), end="")
    return 0


def _check_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="validate an implementation (or its saved outputs) on the golden vectors",
        description="Run MODULE:FUNCTION on every golden case of --cell that --layout can "
        "express, or judge outputs computed elsewhere (--results FILE, docs/checker.md); "
        "exit 0 when every case passes, 1 when one fails or is SUSPICIOUS (beyond the "
        "realistic bound; --allow-suspicious makes that exit 0), 2 on a usage error.",
    )
    p.add_argument(
        "target",
        nargs="?",
        metavar="MODULE:FUNCTION",
        help="an implementation, or a built-in adapter: " + ", ".join(BUILT_IN),
    )
    p.add_argument("--results", metavar="FILE", help="a results file (docs/checker.md)")
    p.add_argument(
        "--layout",
        choices=sorted(LAYOUTS),
        default=None,
        help="how MODULE:FUNCTION takes its arguments (default torch; a built-in "
        "adapter speaks its own)",
    )
    p.add_argument("--cell", choices=CELLS, default=None)
    p.add_argument(
        "--dtype",
        choices=sorted(DEFAULT_PROFILE),
        default=None,
        help="the dtype to compute in (default float32; a built-in adapter's first)",
    )
    p.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help="how the implementation computes (default: the dtype's; a built-in "
        "adapter's: how its framework computes the dtype)",
    )
    p.add_argument("--suite", default=None, help="a suite name or directory (default standard)")
    p.add_argument(
        "--gradients", action="store_true", help="also check the gradients (built-in adapters)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--allow-suspicious",
        action="store_true",
        help="exit 0 on SUSPICIOUS (beyond the realistic bound, within the "
        "rigorous one); FAILED still exits 1",
    )


def _exit_code(report: Report, args: argparse.Namespace) -> int:
    """0 passed (or SUSPICIOUS with --allow-suspicious), 1 otherwise."""
    if report.passed or (args.allow_suspicious and not report.failed):
        return 0
    return 1


def _check_built_in(args: argparse.Namespace) -> int:
    """A built-in adapter (lstm_ref.frameworks.builtin) on every cell (or --cell), in its
    own layout; the default dtype is the adapter's first, the default profile the one the
    framework computes that dtype with."""
    adapter = built_in(args.target)
    if args.layout is not None and args.layout != adapter.layout:
        raise ValueError(
            f"`--layout` {args.layout!r} does not apply to the built-in adapter "
            f"{adapter.name}: it speaks layout {adapter.layout!r}; leave "
            f"`--layout` out"
        )
    dtype = args.dtype or adapter.dtypes[0]
    impl = adapter.implementation(dtype)
    vjp = adapter.vjp(dtype) if args.gradients else None
    cells = [args.cell] if args.cell else list(adapter.cells)
    code = 0
    for cell in cells:
        report = check(
            impl,
            cell=cell,
            layout=adapter.layout,
            dtype=dtype,
            profile=args.profile or adapter.profile(dtype),
            suite=args.suite or "standard",
            gradients=args.gradients,
            vjp=vjp,
        )
        print(report.to_json() if args.json else report)
        code = max(code, _exit_code(report, args))
    return code


def command_check(args: argparse.Namespace) -> int:
    if (args.target is None) == (args.results is None):
        raise ValueError("give either MODULE:FUNCTION or --results FILE")
    if args.target in BUILT_IN:
        return _check_built_in(args)
    if args.results is not None:
        document = read_results(Path(args.results))
        given = {"cell": args.cell, "layout": args.layout, "gradients": args.gradients or None}
        ignored = [f"`--{name}`" for name, value in given.items() if value is not None]
        if ignored:
            raise ValueError(
                f"{', '.join(ignored)} does not apply to --results: the file's "
                f"case ids say the cells, and its forward outputs are judged "
                f"in the canonical layout"
            )
        options = {"dtype": args.dtype, "profile": args.profile, "suite": args.suite}
        for name, value in options.items():
            if value is not None and name in document and document[name] != value:
                raise ValueError(
                    f"`--{name}` {value!r} contradicts the results file's "
                    f"{name!r} {document[name]!r}; leave `--{name}` out"
                )
        report = check_results(
            document["results"],
            dtype=document.get("dtype", args.dtype or "float32"),
            profile=document.get("profile", args.profile),
            suite=document.get("suite", args.suite or "standard"),
        )
    else:
        if args.cell is None:
            raise ValueError(
                "`--cell` is required with MODULE:FUNCTION: one of " + ", ".join(CELLS)
            )
        if args.gradients:
            raise ValueError(
                "`--gradients` needs the implementation's vjp, which only the "
                "built-in adapters (" + ", ".join(BUILT_IN) + ") bring; from "
                "Python, pass `vjp=` to lstm_ref.check"
            )
        report = check(
            load_target(args.target),
            cell=args.cell,
            layout=args.layout or "torch",
            dtype=args.dtype or "float32",
            profile=args.profile,
            suite=args.suite or "standard",
        )
    print(report.to_json() if args.json else report)
    return _exit_code(report, args)


def load_target(target: str) -> Callable[..., Any]:
    """MODULE:FUNCTION, imported (the current directory first on the path)."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"the target must read MODULE:FUNCTION; got {target!r}")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import {module_name!r} from {target!r}: {error}") from None
    finally:
        sys.path.pop(0)
    function = module
    for part in attribute.split("."):
        if not hasattr(function, part):
            raise ValueError(f"{module_name!r} has no {attribute!r}")
        function = getattr(function, part)
    return function  # type: ignore[return-value]


def _results_table_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "results-table",
        help="check every built-in adapter and write the table of verdicts",
        description="Run every built-in adapter (or --only some) on each of its cells, dtypes "
        "and profiles, with gradients where it has them, and print or write a Markdown "
        "table (or JSON): verdict, case counts, worst margins, named deviations. A framework "
        "that is not installed gets a row saying so. Exit 0 whatever the verdicts: the table "
        "reports them.",
    )
    p.add_argument("--suite", default="standard", help="a suite name or directory")
    p.add_argument(
        "--only",
        default=None,
        metavar="NAME,NAME",
        help="comma-separated built-in adapters: " + ", ".join(BUILT_IN),
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="write the table to FILE (atomically) instead of printing it",
    )
    p.add_argument("--json", action="store_true", help="the rows as JSON instead of Markdown")


def command_results_table(args: argparse.Namespace) -> int:
    only = None
    if args.only is not None:
        only = [name.strip() for name in args.only.split(",") if name.strip()]
        if not only:
            raise ValueError(
                "`--only` names no adapter: give a comma-separated list of " + ", ".join(BUILT_IN)
            )
        for name in only:
            try:
                built_in(name)
            except ValueError as error:
                raise ValueError(f"`--only`: {error}") from None
    command = " ".join(
        [
            "lstm-ref results-table",
            f"--suite {args.suite}",
            *([f"--only {','.join(only)}"] if only else []),
            *([f"--out {args.out}"] if args.out else []),
            *(["--json"] if args.json else []),
        ]
    )
    rows = table.results(suite=args.suite, only=only)
    text = (table.to_json if args.json else table.markdown)(rows, command=command)
    if args.out:
        write_atomically(Path(args.out), text)
    else:
        sys.stdout.write(text)
    return 0


def _onnx_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser(
        "onnx-node-tests",
        help="ONNX's own LSTM/GRU/RNN node tests against the exact reference (needs onnx)",
        description="Read ONNX's recurrent node tests, evaluate each exactly, and "
        "print how far ONNX's stored float32 expected values lie from the exact "
        "answer (a Markdown table).",
    )


def command_onnx_node_tests(args: argparse.Namespace) -> int:
    from lstm_ref.frameworks import onnx_node_tests

    rows = [row for case in onnx_node_tests.load() for row in onnx_node_tests.compare(case)]
    print(onnx_node_tests.table(rows))
    return 0


def command_forward(args: argparse.Namespace) -> int:
    spec = _spec(args)
    seq_lens = None if args.seq_lens is None else np.array(args.seq_lens)
    params = random_params(spec, seed=args.seed)
    inputs = random_inputs(spec, args.steps, args.batch, seed=args.seed, seq_lens=seq_lens)
    # Guard digits keep the rounding accumulated over the steps far below the last
    # printed digit (certified values come with the golden vectors).
    result = forward(
        spec,
        params,
        inputs.x,
        inputs.h0,
        inputs.c0,
        inputs.seq_lens,
        digits=args.digits + GUARD_DIGITS,
    )
    outputs = {"y": result.y, "h_n": result.h_n, "c_n": result.c_n, "y_out": result.y_out}
    with precision(digits=args.digits + GUARD_DIGITS):
        printed = {k: _strings(v.values, args.digits) for k, v in outputs.items() if v is not None}
    if args.json:
        document = {
            "spec": str(spec),
            "seed": args.seed,
            "working_bits": result.bits,
            "inputs": {
                "x": inputs.x.tolist(),
                "h0": inputs.h0.tolist(),
                "c0": None if inputs.c0 is None else inputs.c0.tolist(),
                "seq_lens": inputs.seq_lens.tolist(),
            },
            "outputs": printed,
        }
        print(json.dumps(document, indent=1))
        return 0
    print(
        f"{spec}\nseed {args.seed}, T={args.steps}, B={args.batch}, "
        f"seq_lens={inputs.seq_lens.tolist()}, working precision {result.bits} bits"
    )
    for name, rows in printed.items():
        print(f"\n{name} {np.shape(rows)}:")
        for index in np.ndindex(*np.shape(rows)[:-1]):
            row = rows
            for i in index:
                row = row[i]
            print(f"  {list(index)}: " + "  ".join(row))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lstm-ref", description="An exact reference for LSTM, GRU and RNN layers."
    )
    parser.add_argument("--version", action="version", version=f"lstm-ref {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _forward_parser(sub)
    _derive_parser(sub)
    _golden_parser(sub)
    _check_parser(sub)
    _onnx_parser(sub)
    _results_table_parser(sub)
    args = parser.parse_args(argv)
    commands = {
        "forward": command_forward,
        "derive": command_derive,
        "golden": command_golden,
        "check": command_check,
        "onnx-node-tests": command_onnx_node_tests,
        "results-table": command_results_table,
    }
    try:
        return commands[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, NotImplementedError, ImportError) as error:
        print(f"lstm-ref {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (head, less) stopped early: not an error
        sys.stderr = open(os.devnull, "w")  # silences the failed flush at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
