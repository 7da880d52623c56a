"""PyTorch as an implementation under check: `torch.nn.LSTM/GRU/RNN` in the torch layout,
and (built-in `torch-cells`) `nn.LSTMCell/GRUCell/RNNCell` stepped over time.

    lstm-ref check torch --dtype float32
    lstm-ref check torch-cells --dtype float32 --gradients

`implementation(dtype)` and `vjp(dtype)` follow the checker's contract
(docs/checker.md) for layout "torch": they build the layer from the config, load the
parameters, run it (packed when there are lengths) and, for the vjp, backpropagate
the cotangents with autograd. Needs the `torch` extra.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import numpy as np

from lstm_ref.layouts.contract import Implementation, VectorJacobianProduct, given


def _optional(name: str) -> Any:
    """The module, or None where it is not installed (the runner is optional; it says what
    to install when it is used)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


torch = _optional("torch")


def _require() -> Any:
    if torch is None:
        raise ImportError("the PyTorch adapter needs torch: pip install 'lstm-ref[torch]'")
    return torch


DTYPES = ("float64", "float32", "float16", "bfloat16")


def _kind(dtype: str) -> Any:
    if dtype not in DTYPES:
        raise ValueError(f"`dtype` must be one of {', '.join(DTYPES)}; got {dtype!r}")
    return getattr(_require(), dtype)


def _modules(modules: str) -> str:
    if modules not in ("layers", "cells"):
        raise ValueError(
            f"`modules` must be 'layers' (nn.LSTM, nn.GRU, nn.RNN) or 'cells' "
            f"(nn.LSTMCell, nn.GRUCell, nn.RNNCell); got {modules!r}"
        )
    return modules


def module_for(config: dict[str, Any], params: dict[str, np.ndarray], dtype: Any) -> Any:
    """The torch.nn layer a torch-layout config describes, loaded with `params`."""
    nn = _require().nn
    kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[config["cell"]]
    kwargs = dict(
        input_size=config["input_size"],
        hidden_size=config["hidden_size"],
        num_layers=config["num_layers"],
        bias=config["bias"],
        bidirectional=config["bidirectional"],
        dtype=dtype,
    )
    if config["cell"] == "lstm":
        kwargs["proj_size"] = config["proj_size"]
    if config["cell"] == "rnn":
        kwargs["nonlinearity"] = config["nonlinearity"]
    module = kind(**kwargs)
    module.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype) for k, v in params.items()}
    )
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
                x, torch.from_numpy(seq_lens), enforce_sorted=False
            )
        y, state = module(inputs, state)
    if seq_lens is not None:
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=x.shape[0])
    return y, state


def _tensor(array: np.ndarray, dtype: Any) -> Any:
    return torch.from_numpy(np.ascontiguousarray(array)).to(dtype)


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().to(torch.float64).numpy()


def implementation(dtype: str, modules: str = "layers") -> Implementation:
    """PyTorch's layer, computing in `dtype` (bfloat16 and float16 where the CPU can);
    with `modules="cells"`, its cell modules stepped over time (:func:`cell_implementation`)."""
    if _modules(modules) == "cells":
        return cell_implementation(dtype)
    kind = _kind(dtype)

    def pytorch(
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
    ) -> tuple[Any, ...]:
        config = given(config, "config")
        module = module_for(config, params, kind)
        state = _tensor(h0, kind) if c0 is None else (_tensor(h0, kind), _tensor(c0, kind))
        with torch.no_grad():
            y, state = run(module, _tensor(x, kind), state, seq_lens)
        h_n, c_n = (state, None) if c0 is None else state
        return _numpy(y), _numpy(h_n), None if c_n is None else _numpy(c_n)

    return pytorch


def vjp(dtype: str, modules: str = "layers") -> VectorJacobianProduct:
    """PyTorch autograd as the vector-Jacobian product of :func:`implementation`."""
    if _modules(modules) == "cells":
        return cell_vjp(dtype)
    kind = _kind(dtype)

    def pytorch_vjp(
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
        cotangents: dict[str, np.ndarray] | None = None,
    ) -> tuple[Any, dict[str, Any], Any, Any]:
        config, cotangents = given(config, "config"), given(cotangents, "cotangents")
        module = module_for(config, params, kind)
        xt = _tensor(x, kind).requires_grad_()
        ht = _tensor(h0, kind).requires_grad_()
        ct = None if c0 is None else _tensor(c0, kind).requires_grad_()
        y, state = run(module, xt, ht if ct is None else (ht, ct), seq_lens)
        h_n, c_n = (state, None) if ct is None else state
        total = (y * _tensor(cotangents["y"], kind)).sum() + (
            h_n * _tensor(cotangents["h_n"], kind)
        ).sum()
        if c_n is not None:
            total = total + (c_n * _tensor(cotangents["c_n"], kind)).sum()
        total.backward()
        grads = {k: _numpy(v.grad) for k, v in module.named_parameters()}
        return _numpy(xt.grad), grads, _numpy(ht.grad), None if ct is None else _numpy(ct.grad)

    return pytorch_vjp


# The cells: nn.LSTMCell, nn.GRUCell, nn.RNNCell stepped over time in a Python loop, in the
# same torch layout (one layer, one direction, no projection; the rest is refused by name).
CELL_MODULES = {"lstm": "LSTMCell", "gru": "GRUCell", "rnn": "RNNCell"}


def cell_for(config: dict[str, Any], params: dict[str, np.ndarray], dtype: Any) -> Any:
    """The torch.nn cell a torch-layout config describes, loaded with the layer-0 `params`
    (`weight_ih_l0` is the cell's `weight_ih`, and so on); NotImplementedError, naming the
    options, for what one cell cannot be."""
    name = CELL_MODULES[config["cell"]]
    beyond = [
        f"{option}={config[option]!r}"
        for option, plain in (("num_layers", 1), ("bidirectional", False), ("proj_size", 0))
        if config.get(option, plain) != plain
    ]
    if beyond:
        raise NotImplementedError(
            f"nn.{name} is one layer, one direction, without projection; got {', '.join(beyond)}"
        )
    kwargs = dict(
        input_size=config["input_size"],
        hidden_size=config["hidden_size"],
        bias=config["bias"],
        dtype=dtype,
    )
    if config["cell"] == "rnn":
        kwargs["nonlinearity"] = config["nonlinearity"]
    cell = getattr(_require().nn, name)(**kwargs)
    cell.load_state_dict({k: _tensor(params[f"{k}_l0"], dtype) for k in cell.state_dict()})
    return cell


def step_over_time(
    cell: Any, x: Any, h0: Any, c0: Any | None, seq_lens: np.ndarray | None
) -> tuple[Any, Any, Any | None]:
    """The cell on each step of x (T, B, I); past a sequence's length its state is held and
    its output is zero (the torch layout's packed-sequence semantics). Returns y (T, B, H)
    and the final h, c (B, H)."""
    h, c = h0, c0
    ys = []
    for t in range(x.shape[0]):
        new_h, new_c = cell(x[t], (h, c)) if c is not None else (cell(x[t], h), None)
        if seq_lens is None:
            h, c = new_h, new_c
            ys.append(h)
            continue
        valid = torch.from_numpy(seq_lens > t).reshape(-1, 1)
        h = torch.where(valid, new_h, h)
        c = None if c is None else torch.where(valid, new_c, c)
        ys.append(torch.where(valid, new_h, torch.zeros_like(new_h)))
    return torch.stack(ys), h, c


def cell_implementation(dtype: str) -> Implementation:
    """PyTorch's cell modules stepped over time, computing in `dtype`."""
    kind = _kind(dtype)

    def pytorch_cell(
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
    ) -> tuple[Any, ...]:
        config = given(config, "config")
        cell = cell_for(config, params, kind)
        with torch.no_grad():
            y, h_n, c_n = step_over_time(
                cell,
                _tensor(x, kind),
                _tensor(h0[0], kind),
                None if c0 is None else _tensor(c0[0], kind),
                seq_lens,
            )
        return _numpy(y), _numpy(h_n)[None], None if c_n is None else _numpy(c_n)[None]

    return pytorch_cell


def cell_vjp(dtype: str) -> VectorJacobianProduct:
    """PyTorch autograd through the stepped cell, as the vjp of :func:`cell_implementation`."""
    kind = _kind(dtype)

    def pytorch_cell_vjp(
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
        cotangents: dict[str, np.ndarray] | None = None,
    ) -> tuple[Any, dict[str, Any], Any, Any]:
        config, cotangents = given(config, "config"), given(cotangents, "cotangents")
        cell = cell_for(config, params, kind)
        xt = _tensor(x, kind).requires_grad_()
        ht = _tensor(h0, kind).requires_grad_()
        ct = None if c0 is None else _tensor(c0, kind).requires_grad_()
        y, h_n, c_n = step_over_time(cell, xt, ht[0], None if ct is None else ct[0], seq_lens)
        total = (y * _tensor(cotangents["y"], kind)).sum() + (
            h_n * _tensor(cotangents["h_n"][0], kind)
        ).sum()
        if c_n is not None:
            total = total + (c_n * _tensor(cotangents["c_n"][0], kind)).sum()
        total.backward()
        grads = {f"{k}_l0": _numpy(v.grad) for k, v in cell.named_parameters()}
        return _numpy(xt.grad), grads, _numpy(ht.grad), None if ct is None else _numpy(ct.grad)

    return pytorch_cell_vjp
