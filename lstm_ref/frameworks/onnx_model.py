"""One ONNX node (LSTM, GRU or RNN) as a model, built from the `onnx` layout's arguments.

ONNX Runtime (lstm_ref.frameworks.onnxruntime_run) and ONNX's reference evaluator
(lstm_ref.frameworks.onnx_reference_run) run the same model, built here once. Needs onnx.
"""

from __future__ import annotations

from typing import Any

import numpy as np

OPSET = 14
INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
ELEMENT = {"float32": 1, "float16": 10, "float64": 11}  # onnx.TensorProto element types
INT32 = 6


def model(
    x: np.ndarray,
    params: dict[str, np.ndarray],
    h0: np.ndarray,
    c0: np.ndarray | None,
    seq_lens: np.ndarray | None,
    config: dict[str, Any],
    dtype: str,
) -> tuple[Any, dict[str, np.ndarray]]:
    """The checked one-node model (opset 14) and its feeds, every tensor in `dtype`.

    `config` holds the operator's attributes plus `op` (lstm_ref.layouts.onnx); the
    graph's inputs are those fed (X, W, R, initial_h, and B, P, sequence_lens, initial_c
    where present), its outputs Y, Y_h (and Y_c for LSTM).
    """
    try:
        import onnx
        from onnx import helper
    except ImportError:
        raise ImportError("the ONNX adapters need onnx: pip install 'lstm-ref[onnx]'") from None
    kind = np.dtype(dtype).type
    op = config["op"]
    feeds = {
        "X": x.astype(kind),
        "W": params["W"].astype(kind),
        "R": params["R"].astype(kind),
        "initial_h": h0.astype(kind),
    }
    for name in ("B", "P"):
        if name in params:
            feeds[name] = params[name].astype(kind)
    if seq_lens is not None:
        feeds["sequence_lens"] = np.asarray(seq_lens, dtype=np.int32)
    if op == "LSTM":
        feeds["initial_c"] = np.asarray(c0).astype(kind)
    names = [n if n in feeds else "" for n in INPUTS[: 8 if op == "LSTM" else 6]]
    while names and not names[-1]:
        names.pop()
    attrs = {k: v for k, v in config.items() if k != "op"}
    outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, names, outputs, **attrs)
    element = ELEMENT[dtype]
    graph_inputs = [
        helper.make_tensor_value_info(
            n, INT32 if n == "sequence_lens" else element, list(feeds[n].shape)
        )
        for n in names
        if n
    ]
    ranks = {"Y": ["T", "D", "B", "H"], "Y_h": ["D", "B", "H"], "Y_c": ["D", "B", "H"]}
    graph_outputs = [helper.make_tensor_value_info(n, element, ranks[n]) for n in outputs]
    graph = helper.make_graph([node], op.lower(), graph_inputs, graph_outputs)
    built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(built)
    return built, {n: feeds[n] for n in names if n}


def outputs(op: str, result: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(Y, Y_h, Y_c) from a run's outputs; Y_c None but for LSTM."""
    return result[0], result[1], result[2] if op == "LSTM" else None
