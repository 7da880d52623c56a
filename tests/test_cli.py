"""The command line: the default main job, JSON output, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

import textbook
from helpers import normwise_relative
from lstm_ref import Spec, random_params
from lstm_ref.cli import main


def test_default_forward_prints_the_exact_outputs(capsys):
    assert main(["forward", "--json", "--digits", "25"]) == 0
    document = json.loads(capsys.readouterr().out)
    spec = Spec("lstm", input_size=3, hidden_size=2)
    assert document["spec"] == str(spec)
    inputs = document["inputs"]
    y, h_n, c_n, _ = textbook.run(
        spec,
        dict(random_params(spec, seed=0)),
        np.array(inputs["x"]),
        np.array(inputs["h0"]),
        np.array(inputs["c0"]),
    )
    for name, theirs in (("y", y), ("h_n", h_n), ("c_n", c_n)):
        printed = np.array(document["outputs"][name], dtype=object)
        assert all(len(s.lstrip("-").replace("0.", "", 1).lstrip("0")) >= 25 for s in printed.flat)
        assert normwise_relative(printed.astype(float), theirs) <= 1e-14


def test_variable_lengths_and_variants(capsys):
    args = [
        "forward",
        "--json",
        "--cell",
        "gru",
        "--gru-reset",
        "before",
        "--direction",
        "bidirectional",
        "--merge",
        "ave",
        "--steps",
        "4",
        "--batch",
        "3",
        "--seq-lens",
        "4",
        "0",
        "2",
        "--seed",
        "3",
    ]
    assert main(args) == 0
    document = json.loads(capsys.readouterr().out)
    spec = Spec("gru", 3, 2, direction="bidirectional", merge="ave", gru_reset="before")
    inputs = document["inputs"]
    y, h_n, _, _ = textbook.run(
        spec,
        dict(random_params(spec, seed=3)),
        np.array(inputs["x"]),
        np.array(inputs["h0"]),
        None,
        np.array(inputs["seq_lens"]),
    )
    assert normwise_relative(np.array(document["outputs"]["y"], dtype=float), y) <= 1e-14
    assert normwise_relative(np.array(document["outputs"]["h_n"], dtype=float), h_n) <= 1e-14


def test_usage_error_exit_code_and_message(capsys):
    assert main(["forward", "--cell", "rnn", "--peepholes"]) == 2
    assert capsys.readouterr().err == (
        "lstm-ref forward: error: `peepholes` is an LSTM option; got peepholes=True with "
        "cell='rnn'\n"
    )


def test_python_dash_m_runs_the_text_report():
    out = subprocess.run(
        [sys.executable, "-m", "lstm_ref", "forward", "--cell", "rnn"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("Spec('rnn', input_size=3, hidden_size=2)\nseed 0, T=3, B=2")
    assert "\ny (3, 2, 2):\n" in out and "\nh_n (1, 2, 2):\n" in out and "c_n" not in out
