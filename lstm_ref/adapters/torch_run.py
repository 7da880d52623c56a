"""PyTorch as an implementation under check: `torch.nn.LSTM/GRU/RNN` in the torch layout.

    lstm-ref check torch --dtype float32

`implementation(dtype)` and `vjp(dtype)` follow the checker's contract
(docs/checker.md) for layout "torch": they build the layer from the config, load the
parameters, run it (packed when there are lengths) and, for the vjp, backpropagate
the cotangents with autograd. Needs the `torch` extra.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import torch
except ImportError:  # the adapter is optional; say what to install when it is used
    torch = None


def _require() -> Any:
    if torch is None:
        raise ImportError("the PyTorch adapter needs torch: pip install 'lstm-ref[torch]'")
    return torch


DTYPES = ("float64", "float32", "float16", "bfloat16")


def _kind(dtype: str) -> Any:
    if dtype not in DTYPES:
        raise ValueError(f"`dtype` must be one of {', '.join(DTYPES)}; got {dtype!r}")
    return getattr(_require(), dtype)


def module_for(config: dict[str, Any], params: dict[str, np.ndarray], dtype: Any) -> Any:
    """The torch.nn layer a torch-layout config describes, loaded with `params`."""
    nn = _require().nn
    kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[config["cell"]]
    kwargs = dict(input_size=config["input_size"], hidden_size=config["hidden_size"],
                  num_layers=config["num_layers"], bias=config["bias"],
                  bidirectional=config["bidirectional"], dtype=dtype)
    if config["cell"] == "lstm":
        kwargs["proj_size"] = config["proj_size"]
    if config["cell"] == "rnn":
        kwargs["nonlinearity"] = config["nonlinearity"]
    module = kind(**kwargs)
    module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype)
                            for k, v in params.items()})
    return module


def run(module: Any, x: Any, state: Any, seq_lens: np.ndarray | None) -> tuple[Any, Any]:
    """The module on x (a tensor), packed when there are lengths; y padded back to T."""
    with warnings.catch_warnings():
        # float32 LSTM with projection: "not supported with oneDNN. Using default
        # implementation" is a performance notice, not a numerical one.
        warnings.filterwarnings("ignore", "LSTM with projections is not supported with oneDNN")
        inputs = x
        if seq_lens is not None:
            inputs = torch.nn.utils.rnn.pack_padded_sequence(
                x, torch.from_numpy(seq_lens), enforce_sorted=False)
        y, state = module(inputs, state)
    if seq_lens is not None:
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=x.shape[0])
    return y, state


def _tensor(array: np.ndarray, dtype: Any) -> Any:
    return torch.from_numpy(np.ascontiguousarray(array)).to(dtype)


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().to(torch.float64).numpy()


def implementation(dtype: str) -> Callable[..., Any]:
    """PyTorch's layer, computing in `dtype` (bfloat16 and float16 where the CPU can)."""
    kind = _kind(dtype)

    def pytorch(x, params, h0, c0, seq_lens=None, config=None):  # type: ignore[no-untyped-def]
        module = module_for(config, params, kind)
        state = _tensor(h0, kind) if c0 is None else (_tensor(h0, kind), _tensor(c0, kind))
        with torch.no_grad():
            y, state = run(module, _tensor(x, kind), state, seq_lens)
        h_n, c_n = (state, None) if c0 is None else state
        return _numpy(y), _numpy(h_n), None if c_n is None else _numpy(c_n)

    return pytorch


def vjp(dtype: str) -> Callable[..., Any]:
    """PyTorch autograd as the vector-Jacobian product of :func:`implementation`."""
    kind = _kind(dtype)

    def pytorch_vjp(x, params, h0, c0, seq_lens=None, config=None, cotangents=None):  # type: ignore[no-untyped-def]
        module = module_for(config, params, kind)
        xt = _tensor(x, kind).requires_grad_()
        ht = _tensor(h0, kind).requires_grad_()
        ct = None if c0 is None else _tensor(c0, kind).requires_grad_()
        y, state = run(module, xt, ht if ct is None else (ht, ct), seq_lens)
        h_n, c_n = (state, None) if ct is None else state
        total = (y * _tensor(cotangents["y"], kind)).sum() + (h_n * _tensor(cotangents["h_n"], kind)).sum()
        if c_n is not None:
            total = total + (c_n * _tensor(cotangents["c_n"], kind)).sum()
        total.backward()
        grads = {k: _numpy(v.grad) for k, v in module.named_parameters()}
        return _numpy(xt.grad), grads, _numpy(ht.grad), None if ct is None else _numpy(ct.grad)

    return pytorch_vjp
