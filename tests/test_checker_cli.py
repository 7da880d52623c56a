"""`lstm-ref check`, results files, and the pytest plugin."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import textbook
from lstm_ref.cli import main
from lstm_ref.golden import load_suite

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

MODULE = """
import numpy as np
import textbook
from lstm_ref.spec import Spec

def good(x, params, h0, c0, seq_lens=None, config=None):
    spec = Spec.from_json(config)
    y, h_n, c_n, y_out = textbook.run(spec, params, x, h0, c0, seq_lens)
    return (y, h_n, c_n) if y_out is None else (y, h_n, c_n, y_out)

def swapped_update(x, params, h0, c0, seq_lens=None, config=None):
    params = {k: -v if k.endswith("[z]") else v for k, v in params.items()}
    return good(x, params, h0, c0, seq_lens, config)
"""


def write_module(tmp_path, monkeypatch):
    (tmp_path / "mygru.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(TESTS))


def test_check_command_exit_codes(tmp_path, monkeypatch, capsys):
    write_module(tmp_path, monkeypatch)
    args = ["check", "--layout", "canonical", "--cell", "gru", "--dtype", "float64"]
    assert main([*args[:1], "mygru:good", *args[1:]]) == 0
    assert "PASSED (11 pass)" in capsys.readouterr().out
    assert main([*args[:1], "mygru:swapped_update", *args[1:], "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False
    assert any("update gate inverted" in d for d in report["diagnoses"])
    assert main(["check", "mygru:good", "--layout", "canonical"]) == 2
    assert "`--cell` is required" in capsys.readouterr().err
    assert main(["check", "mygru:missing", "--cell", "gru"]) == 2
    assert capsys.readouterr().err == "lstm-ref check: error: 'mygru' has no 'missing'\n"
    assert main(["check", "--cell", "gru", "--layout", "canonical"]) == 2
    assert "give either MODULE:FUNCTION or --results FILE" in capsys.readouterr().err


def results_file(tmp_path, corrupt=False):
    results = {}
    for case in load_suite("smoke"):
        y, h_n, c_n, y_out = textbook.run(
            case.spec,
            dict(case.params),
            case.inputs.x,
            case.inputs.h0,
            case.inputs.c0,
            case.inputs.seq_lens,
            dtype=np.float32,
        )
        outputs = {"y": y, "h_n": h_n, "c_n": c_n, "y_out": y_out}
        results[case.id] = {
            k: {"shape": list(v.shape), "values": [float(a).hex() for a in v.ravel()]}
            for k, v in outputs.items()
            if v is not None
        }
    if corrupt:
        results["gru-basic"]["h_n"]["values"][3] = 0.5
    results["rnn-relu"] = {"unsupported": "no relu in this kernel"}
    document = {
        "format": "lstm-ref-results",
        "formatVersion": 1,
        "suite": "smoke",
        "dtype": "float32",
        "results": results,
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    return path


def test_results_file(tmp_path, capsys):
    assert main(["check", "--results", str(results_file(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "PASSED (7 pass, 1 unsupported)" in out and "no relu in this kernel" in out
    assert main(["check", "--results", str(results_file(tmp_path, corrupt=True))]) == 1
    out = capsys.readouterr().out
    assert "FAIL  gru-basic" in out and "first failing element (0, 0, 3)" in out


def test_results_file_errors(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"format": "lstm-ref-results", "formatVersion": 3, "results": {}}))
    assert main(["check", "--results", str(path)]) == 2
    assert "`formatVersion` 3 is not supported; this lstm_ref reads 1" in capsys.readouterr().err


PLUGIN_TEST = """
import numpy as np
import pytest
import textbook
from lstm_ref.spec import Spec

def impl(x, params, h0, c0, seq_lens=None, config=None):
    spec = Spec.from_json(config)
    y, h_n, c_n, y_out = textbook.run(spec, params, x, h0, c0, seq_lens, dtype=np.float32)
    return (y, h_n, c_n) if y_out is None else (y, h_n, c_n, y_out)

def broken(x, params, h0, c0, seq_lens=None, config=None):
    y, h_n, c_n, *rest = impl(x, params, h0, c0, seq_lens, config)
    return (y, c_n, h_n, *rest)

@pytest.mark.lstm_ref(cell="gru", layout="canonical", dtype="float32", suite="smoke")
def test_gru(golden_case):
    golden_case.check(impl)

@pytest.mark.lstm_ref(cell="lstm", layout="canonical", dtype="float32", suite="smoke")
def test_lstm_broken(golden_case):
    golden_case.check(broken)

def canonical_only(x, params, h0, c0, seq_lens=None, config=None):
    raise NotImplementedError("this kernel reads canonical parameters only")

@pytest.mark.lstm_ref(cell="lstm", layout="torch", dtype="float32", suite="smoke")
def test_torch_layout_skips(golden_case):
    golden_case.check(canonical_only)
"""


def test_pytest_plugin(tmp_path):
    (tmp_path / "test_mine.py").write_text(PLUGIN_TEST)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
    installed = any(
        e.value == "lstm_ref.checker.pytest_plugin"
        for e in importlib.metadata.entry_points(group="pytest11")
    )
    load = [] if installed else ["-p", "lstm_ref.checker.pytest_plugin"]  # not pip-installed
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *load,
            "-p",
            "no:cacheprovider",
            "-rs",
            "-q",
            str(tmp_path / "test_mine.py"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    out = run.stdout
    assert run.returncode == 1, out
    assert "3 failed, 2 passed, 3 skipped" in out, out
    assert "Most likely mistake(s): state order swapped: h_n and c_n exchanged" in out
    assert "layout 'torch' cannot express seq_lens with 0" in out
    assert "this kernel reads canonical parameters only" in out


def test_plugin_entry_point_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert '[project.entry-points.pytest11]\nlstm_ref = "lstm_ref.checker.pytest_plugin"' in text


def test_check_refuses_options_it_would_ignore(tmp_path, monkeypatch, capsys):
    """`--layout` with a built-in adapter (which speaks its own), `--gradients` with
    MODULE:FUNCTION (no vjp) and `--cell`, `--layout`, `--gradients` or a contradicting
    `--dtype` with --results are refused by name, not run without them."""
    write_module(tmp_path, monkeypatch)
    assert (
        main(["check", "mygru:good", "--layout", "canonical", "--cell", "gru", "--gradients"]) == 2
    )
    assert "`--gradients` needs the implementation's vjp" in capsys.readouterr().err
    path = str(results_file(tmp_path))
    assert main(["check", "--results", path, "--cell", "gru", "--layout", "canonical"]) == 2
    assert "error: `--cell`, `--layout` does not apply to --results" in capsys.readouterr().err
    assert main(["check", "--results", path, "--gradients"]) == 2
    assert "error: `--gradients` does not apply to --results" in capsys.readouterr().err
    assert main(["check", "--results", path, "--dtype", "float16"]) == 2
    assert (
        "`--dtype` 'float16' contradicts the results file's 'dtype' 'float32'"
        in capsys.readouterr().err
    )
    assert main(["check", "--results", path, "--dtype", "float32", "--suite", "smoke"]) == 0
    capsys.readouterr()
    assert main(["check", "torch", "--layout", "canonical", "--cell", "rnn"]) == 2
    assert (
        "error: `--layout` 'canonical' does not apply to the built-in adapter torch: it "
        "speaks layout 'torch'" in capsys.readouterr().err
    )
