"""ONNX's own recurrent node tests, read through lstm_ref's ONNX mapping and evaluated exactly:
their stored float32 outputs (computed by ONNX's numpy reference) must lie within float32
accuracy of the exact answer, which checks the mapping against ONNX itself."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx", reason="ONNX's node tests come with the onnx package (test extra)")

from lstm_ref.cli import main  # noqa: E402
from lstm_ref.frameworks import onnx_node_tests  # noqa: E402


def test_every_recurrent_node_test_is_read_and_close_to_exact():
    cases = onnx_node_tests.load()
    assert {c.name for c in cases} >= {
        "test_lstm_defaults",
        "test_lstm_with_peepholes",
        "test_gru_batchwise",
        "test_simple_rnn_bidirectional",
    }
    rows = [row for case in cases for row in onnx_node_tests.compare(case)]
    assert len({r.name for r in rows}) == len(cases)
    for row in rows:
        # float32 numpy over a few steps: within a few units of float32 of values below 1
        assert row.max_abs <= 2e-7, (row.name, row.output, row.max_abs)
    # a float32 computation does not round correctly: most tests store some wrong roundings
    assert sum(r.wrongly_rounded for r in rows) > 0


def test_onnx_node_tests_command(capsys):
    assert main(["onnx-node-tests"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| ONNX node test | output | max abs error |")
    assert "| test_lstm_with_peepholes | Y_h |" in out
    assert np.all([line.count("|") == 6 for line in out.strip().splitlines()])
