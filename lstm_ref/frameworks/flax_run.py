"""Flax linen as an implementation under check, in the checker's `flax` layout.

    lstm-ref check flax --dtype float32
    lstm-ref check flax-optimized          # nn.OptimizedLSTMCell in place of nn.LSTMCell

`implementation(dtype, lstm_cell=...)` runs, layer by layer, `nn.RNN` over the config's
cell (`nn.LSTMCell` or `nn.OptimizedLSTMCell`, `nn.GRUCell`, `nn.SimpleCell`), or
`nn.Bidirectional` of two of them with the config's merge, or `nn.RNN(reverse=True,
keep_order=True)` for a reverse-only layer, with the layout's Dense kernels and biases as
the variables and the initial carries of h0 and c0 (Flax's LSTM carry is (c, h)). float64
runs inside `jax.enable_x64(True)`. The stack runs under `jax.jit`, compiled once per
config and shape. Needs the `jax` extra.

`seq_lens` goes to every layer as Flax's `seq_lengths`. h_n and c_n are Flax's final
carry as it computes it (the carry after step seq_lens[b] - 1, per direction). The next
layer gets Flax's outputs as they are, padding included; only the stack's y is changed:
past each sequence's length it is set to zero here, because Flax leaves those outputs
unspecified (nn.RNN's docstring: "NOT zeroed out"; they continue the recurrence over the
padding) and the flax layout asks for the reference's `padded_outputs="zero"`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from lstm_ref.frameworks.jax_run import precision, require_jax
from lstm_ref.layouts.contract import Implementation, given

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
    return getattr(nn, {"softsign": "soft_sign"}.get(name, name))


def layer(config: dict[str, Any], lstm_cell: str, dtype: str) -> Any:
    """One layer of the stack: nn.RNN, or nn.Bidirectional of two."""
    import jax.numpy as jnp

    nn = _linen()
    name = lstm_cell if config["cell"] == "lstm" else CELLS[config["cell"]]
    options: dict[str, Any] = {
        "features": config["features"],
        "dtype": getattr(jnp, dtype),
        "param_dtype": getattr(jnp, dtype),
        "activation_fn": _function(config["activation_fn"]),
    }
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


def zero_padding(y: np.ndarray, seq_lens: np.ndarray | None) -> np.ndarray:
    """y (B, T, ...) with the steps past each sequence's length set to zero: the layout's
    convention, imposed on values Flax does not define."""
    if seq_lens is None:
        return y
    y = y.copy()
    for b, n in enumerate(seq_lens):
        y[b, int(n) :] = 0
    return y


@functools.cache
def _stack(key: tuple[tuple[str, Any], ...], lstm_cell: str, dtype: str) -> Callable[..., Any]:
    """The whole stack as one jitted function of (variables per layer, x, initial carries
    per layer, lengths or None): compiled once per config and shape, not per call."""
    import jax

    config = dict(key)

    def run(
        trees: list[dict[str, Any]], x: Any, carries: list[Any], lengths: Any
    ) -> tuple[Any, list[Any]]:
        finals, y = [], x
        for k, tree in enumerate(trees):
            carry, y = layer(config, lstm_cell, dtype).apply(
                tree, y, initial_carry=carries[k], seq_lengths=lengths, return_carry=True
            )
            finals.append(carry)
        return y, finals

    return jax.jit(run)


def implementation(dtype: str, lstm_cell: str = "LSTMCell") -> Implementation:
    """Flax linen's cells in nn.RNN / nn.Bidirectional, computing in `dtype`."""
    if lstm_cell not in LSTM_CELLS:
        raise ValueError(f"`lstm_cell` must be one of {', '.join(LSTM_CELLS)}; got {lstm_cell!r}")
    with precision(dtype):
        _linen()

    def flax_rnn(
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
    ) -> tuple[Any, ...]:
        config = given(config, "config")
        cell, bidirectional = config["cell"], config["direction"] == "bidirectional"
        D = 2 if bidirectional else 1
        layers = range(config["num_layers"])
        carries = [
            tuple(
                _carry(cell, h0[k * D + d], None if c0 is None else c0[k * D + d]) for d in range(D)
            )
            for k in layers
        ]
        with precision(dtype):
            y, finals = _stack(tuple(sorted(config.items())), lstm_cell, dtype)(
                [variables(params, k, bidirectional) for k in layers],
                x,
                [c if bidirectional else c[0] for c in carries],
                seq_lens,
            )
            hs, cs = [], []
            for carry in finals:
                for final in carry if bidirectional else (carry,):
                    c, h = final if cell == "lstm" else (None, final)
                    hs.append(np.asarray(h))
                    if c is not None:
                        cs.append(np.asarray(c))
            return (
                zero_padding(np.asarray(y), seq_lens),
                np.stack(hs),
                (np.stack(cs) if cs else None),
            )

    return flax_rnn
