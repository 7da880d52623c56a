"""ONNX's reference evaluator as an implementation under check, in the `onnx` layout.

    lstm-ref check onnx-reference --dtype float64

`implementation(dtype)` builds the same one-node model as the ONNX Runtime adapter
(lstm_ref.frameworks.onnx_model) and runs it with `onnx.reference.ReferenceEvaluator`, a
numpy transcription of the operators that computes in the tensors' dtype (float32 or
float64). It is checked like any other implementation: where it departs from the
specification (docs/frameworks.md, "ONNX's reference evaluator": it ignores
`sequence_lens`, `clip`, `input_forget` and, in LSTM and GRU, `activations`; its RNN
knows only Tanh and Affine), the checker fails those cases and names the deviation.
Needs the `onnx` extra.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from lstm_ref.frameworks.onnx_model import model, outputs
from lstm_ref.layouts.contract import Implementation, given

DTYPES = ("float32", "float64")


def implementation(dtype: str) -> Implementation:
    """The reference evaluator running the node in `dtype` (float32 or float64)."""
    try:
        from onnx.reference import ReferenceEvaluator
    except ImportError:
        raise ImportError(
            "the ONNX reference-evaluator adapter needs onnx: pip install 'lstm-ref[onnx]'"
        ) from None
    if dtype not in DTYPES:
        raise ValueError(f"`dtype` must be one of {', '.join(DTYPES)}; got {dtype!r}")

    def onnx_reference_node(
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
    ) -> tuple[Any, ...]:
        config = given(config, "config")
        built, feeds = model(x, params, h0, c0, seq_lens, config, dtype)
        result = cast(list[np.ndarray], ReferenceEvaluator(built).run(None, feeds))
        return outputs(config["op"], result)

    return onnx_reference_node
