"""ONNX Runtime as an implementation under check, in the checker's `onnx` layout.

    lstm-ref check onnxruntime --dtype float32

`implementation(dtype)` builds a one-node ONNX model (LSTM, GRU or RNN, opset 14) from the
layout's tensors and attributes (lstm_ref.adapters.onnx), runs it with onnxruntime on the
CPU, and returns (Y, Y_h, Y_c). Needs the `onnx` extra (onnx, onnxruntime).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

OPSET = 14
INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
ELEMENT = {"float32": 1, "float16": 10, "float64": 11}  # onnx.TensorProto element types


def implementation(dtype: str) -> Callable[..., Any]:
    """ONNX Runtime's CPU kernel for the node, in `dtype` (float32, the only one it has)."""
    try:
        import onnx
        import onnxruntime
        from onnx import helper
    except ImportError:
        raise ImportError("the ONNX Runtime adapter needs onnx and onnxruntime: "
                          "pip install 'lstm-ref[onnx]'") from None
    if dtype != "float32":
        raise ValueError(f"`dtype` must be float32: ONNX Runtime's CPU LSTM, GRU and RNN "
                         f"kernels support no other; got {dtype!r}")
    kind = np.dtype(dtype).type

    def onnxruntime_node(x, params, h0, c0, seq_lens=None, config=None):  # type: ignore[no-untyped-def]
        op = config["op"]
        feeds = {"X": x.astype(kind), "W": params["W"].astype(kind), "R": params["R"].astype(kind),
                 "initial_h": h0.astype(kind)}
        if "B" in params:
            feeds["B"] = params["B"].astype(kind)
        if "P" in params:
            feeds["P"] = params["P"].astype(kind)
        if seq_lens is not None:
            feeds["sequence_lens"] = np.asarray(seq_lens, dtype=np.int32)
        if op == "LSTM":
            feeds["initial_c"] = c0.astype(kind)
        names = [n if n in feeds else "" for n in INPUTS[: 8 if op == "LSTM" else 6]]
        while names and not names[-1]:
            names.pop()
        attrs = {k: v for k, v in config.items() if k not in ("op",)}
        if not attrs.get("activation_alpha"):
            attrs.pop("activation_alpha", None)
        if not attrs.get("activation_beta"):
            attrs.pop("activation_beta", None)
        outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
        node = helper.make_node(op, names, outputs, **attrs)
        element = ELEMENT[dtype]
        graph_inputs = [helper.make_tensor_value_info(
            n, 6 if n == "sequence_lens" else element, list(feeds[n].shape)) for n in names if n]
        ranks = {"Y": ["T", "D", "B", "H"], "Y_h": ["D", "B", "H"], "Y_c": ["D", "B", "H"]}
        graph_outputs = [helper.make_tensor_value_info(n, element, ranks[n]) for n in outputs]
        graph = helper.make_graph([node], op.lower(), graph_inputs, graph_outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        onnx.checker.check_model(model)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors reach the checker as exceptions; no log lines
        session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                               providers=["CPUExecutionProvider"])
        result = session.run(None, {n: feeds[n] for n in names if n})
        return result[0], result[1], result[2] if op == "LSTM" else None

    return onnxruntime_node
