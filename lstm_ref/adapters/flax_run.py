"""Flax linen as an implementation under check, in the checker's `flax` layout.

    lstm-ref check flax --dtype float32
    lstm-ref check flax-optimized          # nn.OptimizedLSTMCell in place of nn.LSTMCell

`implementation(dtype, lstm_cell=...)` runs, layer by layer, `nn.RNN` over the config's
cell (`nn.LSTMCell` or `nn.OptimizedLSTMCell`, `nn.GRUCell`, `nn.SimpleCell`), or
`nn.Bidirectional` of two of them with the config's merge, or `nn.RNN(reverse=True,
keep_order=True)` for a reverse-only layer, with the layout's Dense kernels and biases as
the variables and the initial carries of h0 and c0 (Flax's LSTM carry is (c, h)). float64
runs inside `jax.enable_x64(True)`. Needs the `jax` extra.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lstm_ref.adapters.jax_run import precision, require_jax

LSTM_CELLS = ("LSTMCell", "OptimizedLSTMCell")
CELLS = {"gru": "GRUCell", "rnn": "SimpleCell"}
# Flax's merges of the two directions' outputs; merge "none" is not in the layout.
MERGES = {"sum": lambda a, b: a + b, "ave": lambda a, b: (a + b) / 2, "mul": lambda a, b: a * b}


def _linen() -> Any:
    require_jax("Flax", "jax")
    try:
        import flax.linen as nn
    except ImportError:
        raise ImportError("the Flax adapter needs flax: pip install 'lstm-ref[jax]'") from None
    return nn


def _function(name: str) -> Callable[..., Any]:
    """The activation the layout names (Keras's names), as Flax exports it."""
    nn = _linen()
    if name == "linear":
        return lambda v: v
    return getattr(nn, {"softsign": "soft_sign"}.get(name, name))  # type: ignore[no-any-return]


def layer(config: dict[str, Any], lstm_cell: str, dtype: str) -> Any:
    """One layer of the stack: nn.RNN, or nn.Bidirectional of two."""
    import jax.numpy as jnp
    nn = _linen()
    name = lstm_cell if config["cell"] == "lstm" else CELLS[config["cell"]]
    options: dict[str, Any] = {"features": config["features"], "dtype": getattr(jnp, dtype),
                               "param_dtype": getattr(jnp, dtype),
                               "activation_fn": _function(config["activation_fn"])}
    if config["cell"] != "rnn":
        options["gate_fn"] = _function(config["gate_fn"])

    def rnn(**kwargs: Any) -> Any:
        return nn.RNN(getattr(nn, name)(**options), **kwargs)

    if config["direction"] == "bidirectional":
        merge = MERGES.get(config["merge"])
        return nn.Bidirectional(rnn(), rnn(), **({} if merge is None else {"merge_fn": merge}))
    if config["direction"] == "reverse":
        return rnn(reverse=True, keep_order=True)
    return rnn()


def variables(params: dict[str, np.ndarray], k: int, bidirectional: bool) -> dict[str, Any]:
    """Layer k's parameters as Flax's tree: {"cell": {module: {kernel, bias}}} per nn.RNN."""
    trees: dict[str, Any] = {}
    for name, value in params.items():
        layer_name, direction, module, leaf = name.split("/")
        if layer_name != f"layer{k}":
            continue
        rnn = f"{direction}_rnn" if bidirectional else "rnn"
        trees.setdefault(rnn, {"cell": {}})["cell"].setdefault(module, {})[leaf] = value
    if not bidirectional:
        return {"params": next(iter(trees.values()))}
    return {"params": trees}


def _carry(cell: str, h: np.ndarray, c: np.ndarray | None) -> Any:
    return (c, h) if cell == "lstm" else h


def implementation(dtype: str, lstm_cell: str = "LSTMCell") -> Callable[..., Any]:
    """Flax linen's cells in nn.RNN / nn.Bidirectional, computing in `dtype`."""
    if lstm_cell not in LSTM_CELLS:
        raise ValueError(f"`lstm_cell` must be one of {', '.join(LSTM_CELLS)}; got {lstm_cell!r}")
    with precision(dtype):
        _linen()

    def flax_rnn(x, params, h0, c0, seq_lens=None, config=None):  # type: ignore[no-untyped-def]
        if seq_lens is not None:
            raise NotImplementedError("the flax layout sends full-length sequences only")
        cell, bidirectional = config["cell"], config["direction"] == "bidirectional"
        D = 2 if bidirectional else 1
        hs, cs = [], []
        with precision(dtype):
            y = x
            for k in range(config["num_layers"]):
                carries = [_carry(cell, h0[k * D + d], None if c0 is None else c0[k * D + d])
                           for d in range(D)]
                carry, y = layer(config, lstm_cell, dtype).apply(
                    variables(params, k, bidirectional), y,
                    initial_carry=tuple(carries) if bidirectional else carries[0],
                    return_carry=True)
                for final in (carry if bidirectional else (carry,)):
                    c, h = final if cell == "lstm" else (None, final)
                    hs.append(np.asarray(h))
                    if c is not None:
                        cs.append(np.asarray(c))
            return np.asarray(y), np.stack(hs), np.stack(cs) if cs else None

    return flax_rnn
