"""ONNX's own node tests for LSTM, GRU and RNN, against the exact reference.

    lstm-ref onnx-node-tests

ONNX ships, with each operator, test cases whose expected outputs were computed in
float32 by its numpy reference. This module reads them
(`onnx.backend.test.loader.load_model_tests(kind="node")`), maps each node's inputs and
attributes to a canonical spec and parameters (docs/frameworks.md), evaluates it exactly,
and reports how far the stored expected values lie from the exact answer: the largest
absolute and relative error, and how many stored float32 values differ from the
correctly rounded exact value. Needs the `onnx` extra.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstm_ref.exact import forward
from lstm_ref.exact.rounding import round_array
from lstm_ref.layouts.blocks import block
from lstm_ref.layouts.conventions import ONNX
from lstm_ref.params import Params, layer_prefix
from lstm_ref.spec import Spec

CELLS = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}
INPUTS = {
    "LSTM": ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"],
    "GRU": ["X", "W", "R", "B", "sequence_lens", "initial_h"],
    "RNN": ["X", "W", "R", "B", "sequence_lens", "initial_h"],
}


@dataclass(frozen=True)
class NodeTestResult:
    """One ONNX node test compared with the exact reference."""

    name: str
    spec: Spec
    output: str
    max_abs: float
    max_rel: float
    wrongly_rounded: int
    size: int


def load() -> list[Any]:
    """ONNX's recurrent node tests (onnx.backend.test)."""
    try:
        with warnings.catch_warnings():
            # onnx's test-case modules compute their data at import and warn as they do.
            warnings.simplefilter("ignore")
            from onnx.backend.test import loader

            cases = loader.load_model_tests(kind="node")
    except ImportError:
        raise ImportError("ONNX's node tests need onnx: pip install 'lstm-ref[onnx]'") from None
    return [c for c in cases if any(op in c.name for op in ("_lstm_", "_gru_", "_rnn_"))]


def _arrays(case: Any) -> tuple[Any, dict[str, np.ndarray], list[np.ndarray]]:
    """The node, its inputs by role (X, W, R, B, ...), and the stored outputs."""
    if case.model is not None and case.data_sets:
        model, (inputs, outputs) = case.model, case.data_sets[0]
    else:  # a test stored on disk
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(Path(case.model_dir) / "model.onnx"))
        data = Path(case.model_dir) / "test_data_set_0"

        def tensors(kind: str) -> list[np.ndarray]:
            paths = sorted(data.glob(f"{kind}_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
            return [numpy_helper.to_array(onnx.load_tensor(str(p))) for p in paths]

        inputs, outputs = tensors("input"), tensors("output")
    node = model.graph.node[0]
    given = dict(zip([n for n in node.input if n], inputs, strict=False))
    roles = dict(zip(INPUTS[node.op_type], node.input, strict=False))  # trailing ones optional
    return node, {role: given[name] for role, name in roles.items() if name in given}, list(outputs)


def compare(case: Any, digits: int = 30) -> list[NodeTestResult]:
    """One node test: its spec, exact outputs, and the distance of the stored ones."""
    from onnx import helper

    node, data, outputs = _arrays(case)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    cell = CELLS[node.op_type]
    batch_major = attrs.get("layout", 0) == 1
    x = data["X"].astype(np.float64)
    if batch_major:
        x = x.transpose(1, 0, 2)
    W, R = data["W"].astype(np.float64), data["R"].astype(np.float64)
    directions, hidden = W.shape[0], int(attrs["hidden_size"])
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    options: dict[str, Any] = {"direction": direction}
    if "activations" in attrs:
        acts = [a.decode() if isinstance(a, bytes) else a for a in attrs["activations"]]
        options["activations"] = tuple(acts[: len(acts) // directions])
    if "clip" in attrs:
        options["activation_clip"] = float(attrs["clip"])
    if cell == "lstm":
        options["peepholes"] = "P" in data
        options["input_forget"] = bool(attrs.get("input_forget", 0))
    if cell == "gru":
        options["gru_reset"] = "after" if attrs.get("linear_before_reset", 0) else "before"
    if directions == 2:
        options["merge"] = "none"
    spec = Spec(cell, x.shape[2], hidden, **options)
    params: dict[str, np.ndarray] = {}
    order = ONNX.gate_order[cell]
    B = data.get("B", np.zeros((directions, 2 * len(order) * hidden))).astype(np.float64)
    for d, name in enumerate(spec.directions):
        prefix = layer_prefix(0, name)
        for g, q in enumerate(order):
            span = slice(g * hidden, (g + 1) * hidden)
            if spec.input_forget and q == "f":
                continue
            params[f"{prefix}.{block(q, 'W_x')}"] = W[d, span]
            params[f"{prefix}.{block(q, 'W_h')}"] = R[d, span]
            params[f"{prefix}.{block(q, 'b_x')}"] = B[d, span]
            params[f"{prefix}.{block(q, 'b_h')}"] = B[d, len(order) * hidden :][span]
        if spec.peepholes:
            for g, q in enumerate(ONNX.peephole_order):
                peephole = data["P"][d, g * hidden : (g + 1) * hidden]
                params[f"{prefix}.{block(q, 'p')}"] = peephole.astype(np.float64)
    h0 = data.get("initial_h")
    c0 = data.get("initial_c") if cell == "lstm" else None
    if batch_major:
        h0 = None if h0 is None else h0.transpose(1, 0, 2)
        c0 = None if c0 is None else c0.transpose(1, 0, 2)
    lens = data.get("sequence_lens")
    result = forward(spec, Params(spec, params), x, h0, c0, lens, digits=digits)
    exact = {
        name: value
        for name, value in (("Y", result.y), ("Y_h", result.h_n), ("Y_c", result.c_n))
        if value is not None
    }
    rows = []
    roles = [role for role, given in zip(("Y", "Y_h", "Y_c"), node.output, strict=False) if given]
    for name, stored in zip(roles, outputs, strict=False):
        values = exact[name].values
        # canonical (T, B, [D,] H) -> ONNX (T, D, B, H) or, batch-major, (B, T, D, H)
        if name == "Y":
            values = values.reshape(values.shape[0], values.shape[1], directions, hidden)
            values = values.transpose(1, 0, 2, 3) if batch_major else values.transpose(0, 2, 1, 3)
        elif batch_major:
            values = values.transpose(1, 0, 2)
        truth = round_array(values, "float64")
        correctly_rounded = round_array(values, "float32")
        stored = stored.astype(np.float64).reshape(truth.shape)
        error = np.abs(stored - truth)
        rel = error / np.maximum(np.abs(truth), np.finfo(np.float64).tiny)
        rows.append(
            NodeTestResult(
                case.name,
                spec,
                name,
                float(error.max()),
                float(rel.max()),
                int(np.sum(stored.astype(np.float32) != correctly_rounded)),
                int(stored.size),
            )
        )
    return rows


def table(results: list[NodeTestResult]) -> str:
    """A Markdown table of the comparison."""
    lines = [
        "| ONNX node test | output | max abs error | max rel error | wrongly rounded float32 |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.output} | {r.max_abs:.3g} | {r.max_rel:.3g} | "
            f"{r.wrongly_rounded} / {r.size} |"
        )
    return "\n".join(lines)
