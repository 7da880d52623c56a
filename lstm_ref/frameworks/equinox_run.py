"""Equinox as an implementation under check, in the checker's `equinox` layout.

    lstm-ref check equinox --dtype float32

`implementation(dtype)` builds `eqx.nn.LSTMCell` or `eqx.nn.GRUCell` in `dtype`, puts
the layout's weight_ih, weight_hh, bias (and bias_n) in place of its random ones, and
scans it over time with `jax.lax.scan`, batched with `jax.vmap`, as Equinox's docstrings
show. Equinox's LSTM state is (h, c). float64 runs inside `jax.enable_x64(True)`. Needs
the `jax` extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstm_ref.frameworks.jax_run import precision, require_jax
from lstm_ref.layouts.contract import Implementation, given

CELLS = {"lstm": "LSTMCell", "gru": "GRUCell"}
WEIGHTS = ("weight_ih", "weight_hh", "bias", "bias_n")


def _equinox() -> Any:
    require_jax("Equinox", "jax")
    try:
        import equinox
    except ImportError:
        raise ImportError(
            "the Equinox adapter needs equinox: pip install 'lstm-ref[jax]'"
        ) from None
    return equinox


def cell_for(config: dict[str, Any], params: dict[str, np.ndarray], dtype: str) -> Any:
    """The Equinox cell an equinox-layout config describes, holding `params`."""
    import jax
    import jax.numpy as jnp

    eqx = _equinox()
    kind = getattr(eqx.nn, CELLS[config["cell"]])
    cell = kind(
        config["input_size"],
        config["hidden_size"],
        use_bias=config["use_bias"],
        dtype=getattr(jnp, dtype),
        key=jax.random.key(0),
    )
    names = [n for n in WEIGHTS if n in params]
    return eqx.tree_at(
        lambda c: [getattr(c, n) for n in names],
        cell,
        [jnp.asarray(params[n], dtype=dtype) for n in names],
    )


def _scan(cell: Any, x: Any, state: Any) -> tuple[Any, Any]:
    """The cell over x (T, B, I) from state (per batch row), batched over B."""
    import jax

    def step(state: Any, x_t: Any) -> tuple[Any, Any]:
        state = jax.vmap(cell)(x_t, state)
        return state, state[0] if isinstance(state, tuple) else state

    return jax.lax.scan(step, state, x)


_compiled: dict[str, Any] = {}


def _run(cell: Any, x: Any, state: Any) -> tuple[Any, Any]:
    """`_scan`, compiled once per shape and dtype (equinox.filter_jit caches)."""
    if "scan" not in _compiled:
        _compiled["scan"] = _equinox().filter_jit(_scan)
    return _compiled["scan"](cell, x, state)


def implementation(dtype: str) -> Implementation:
    """Equinox's LSTMCell / GRUCell scanned over time, computing in `dtype`."""
    with precision(dtype):
        _equinox()

    def equinox_cell(
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
    ) -> tuple[Any, ...]:
        config = given(config, "config")
        if seq_lens is not None:
            raise NotImplementedError("the equinox layout sends full-length sequences only")
        import jax.numpy as jnp

        with precision(dtype):
            cell = cell_for(config, params, dtype)
            h = jnp.asarray(h0[0], dtype=dtype)
            state = h if c0 is None else (h, jnp.asarray(c0[0], dtype=dtype))
            final, y = _run(cell, jnp.asarray(x, dtype=dtype), state)
            h_n, c_n = final if c0 is not None else (final, None)
            return (
                np.asarray(y),
                np.asarray(h_n)[None],
                None if c_n is None else np.asarray(c_n)[None],
            )

    return equinox_cell
