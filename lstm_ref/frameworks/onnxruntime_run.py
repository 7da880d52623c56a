"""ONNX Runtime as an implementation under check, in the checker's `onnx` layout.

    lstm-ref check onnxruntime --dtype float32

`implementation(dtype)` builds a one-node ONNX model (LSTM, GRU or RNN, opset 14) from the
layout's tensors and attributes (lstm_ref.frameworks.onnx_model), runs it with onnxruntime
on the CPU, and returns (Y, Y_h, Y_c). Needs the `onnx` extra (onnx, onnxruntime).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstm_ref.frameworks.onnx_model import model, outputs
from lstm_ref.layouts.contract import Implementation, given


def implementation(dtype: str) -> Implementation:
    """ONNX Runtime's CPU kernel for the node, in `dtype` (float32, the only one it has)."""
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(
            "the ONNX Runtime adapter needs onnx and onnxruntime: pip install 'lstm-ref[onnx]'"
        ) from None
    if dtype != "float32":
        raise ValueError(
            f"`dtype` must be float32: ONNX Runtime's CPU LSTM, GRU and RNN "
            f"kernels support no other; got {dtype!r}"
        )

    def onnxruntime_node(
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
    ) -> tuple[Any, ...]:
        config = given(config, "config")
        built, feeds = model(x, params, h0, c0, seq_lens, config, dtype)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors reach the checker as exceptions; no log lines
        session = onnxruntime.InferenceSession(
            built.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        return outputs(config["op"], session.run(None, feeds))

    return onnxruntime_node
