"""Keras 3 (JAX backend) as an implementation under check, in the checker's `keras` layout.

    lstm-ref check keras --dtype float32

`implementation(dtype)` builds, for each case, the stack of `keras.layers.LSTM`, `GRU` or
`SimpleRNN` layers the config describes (each wrapped in `keras.layers.Bidirectional`
with the config's `merge_mode` when bidirectional), assigns the layout's kernels and
biases to their variables, and runs the stack on x with the initial states and, when
there are lengths, the mask t < seq_lens[b] passed to every layer. Keras runs on the JAX
backend: this module sets KERAS_BACKEND=jax before importing keras and refuses a keras
already imported with another backend. float64 runs inside `jax.enable_x64(True)`,
restored afterwards. Needs the `keras` extra.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from lstm_ref.frameworks.jax_run import precision
from lstm_ref.layouts.contract import Implementation, given

LAYERS = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}


def keras_on_jax() -> Any:
    """keras, imported on the JAX backend."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "jax"
    try:
        import keras
    except ImportError:
        raise ImportError(
            "the Keras adapter needs keras and jax: pip install 'lstm-ref[keras]'"
        ) from None
    backend = keras.backend.backend()
    if backend != "jax":
        raise RuntimeError(
            f"the Keras adapter runs Keras on the JAX backend, but keras was "
            f"already imported with backend {backend!r}; set KERAS_BACKEND=jax "
            f"before importing keras, or run lstm-ref in a fresh process"
        )
    return keras


def build(
    config: dict[str, Any], params: dict[str, np.ndarray], input_size: int, dtype: str
) -> list[Any]:
    """The Keras layers a keras-layout config describes, one per layer, weights assigned."""
    keras = keras_on_jax()
    kind = getattr(keras.layers, LAYERS[config["cell"]])
    options: dict[str, Any] = {
        "units": config["units"],
        "use_bias": config["use_bias"],
        "activation": config["activation"],
        "return_sequences": True,
        "return_state": True,
        "dtype": dtype,
    }
    if config["cell"] != "rnn":
        options["recurrent_activation"] = config["recurrent_activation"]
    if config["cell"] == "gru":
        options["reset_after"] = config["reset_after"]
    layers = []
    size = input_size
    for k in range(config["num_layers"]):
        layer = kind(**options)
        cells = {"forward": layer.cell}
        if config["bidirectional"]:
            merge = None if config["merge_mode"] == "none" else config["merge_mode"]
            layer = keras.layers.Bidirectional(layer, merge_mode=merge, dtype=dtype)
            cells = {"forward": layer.forward_layer.cell, "backward": layer.backward_layer.cell}
        layer.build((None, None, size))
        for direction, cell in cells.items():
            for weight in ("kernel", "recurrent_kernel", "bias"):
                name = f"layer{k}/{direction}/{weight}"
                if name in params:
                    getattr(cell, weight).assign(params[name])
        layers.append(layer)
        size = config["units"] * (
            2 if config["bidirectional"] and config["merge_mode"] == "concat" else 1
        )
    return layers


def run(
    layers: list[Any],
    config: dict[str, Any],
    x: Any,
    h0: np.ndarray,
    c0: np.ndarray | None,
    seq_lens: np.ndarray | None,
) -> tuple[Any, list[Any], list[Any]]:
    """The stack on batch-major x: y and the final h and c of every layer and direction."""
    directions = 2 if config["bidirectional"] else 1
    mask = None
    if seq_lens is not None:
        mask = np.arange(x.shape[1])[None, :] < np.asarray(seq_lens)[:, None]
    y, hs, cs = x, [], []
    for k, layer in enumerate(layers):
        initial = []
        for d in range(directions):
            initial += [h0[k * directions + d]] + ([] if c0 is None else [c0[k * directions + d]])
        try:
            out = layer(y, initial_state=initial, mask=mask)
        except TypeError as error:
            if "carry output must have equal types" not in str(error):
                raise
            # Keras's own failure on a configuration it offers: an error of the
            # implementation under check, not an option the layout cannot express
            raise RuntimeError(
                f"Keras {keras_on_jax().__version__} on JAX cannot run this layer in float64: "
                f"keras.ops.tanh returns float32 for float64 input, and lax.scan refuses "
                f"the state's change of dtype"
            ) from None
        if config["bidirectional"] and config["merge_mode"] == "none":
            y, states = _stack(out[:2]), out[2:]
        else:
            y, states = out[0], out[1:]
        per = len(states) // directions  # (h, c) for LSTM, (h,) otherwise
        for d in range(directions):
            hs.append(states[d * per])
            if c0 is not None:
                cs.append(states[d * per + 1])
    return y, hs, cs


def _stack(pair: Any) -> Any:
    """merge_mode=None's two outputs as one (B, T, 2, H) array (the layout's y)."""
    import jax.numpy as jnp

    return jnp.stack(pair, axis=2)


def implementation(dtype: str) -> Implementation:
    """Keras 3's layers on the JAX backend, computing in `dtype` (float32 or float64)."""
    with precision(dtype):
        keras_on_jax()

    def keras_layers(
        x: np.ndarray,
        params: dict[str, np.ndarray],
        h0: np.ndarray,
        c0: np.ndarray | None,
        seq_lens: np.ndarray | None = None,
        config: dict[str, Any] | None = None,
    ) -> tuple[Any, ...]:
        config = given(config, "config")
        with precision(dtype):
            layers = build(config, params, x.shape[-1], dtype)
            y, hs, cs = run(layers, config, x, h0, c0, seq_lens)
            h_n = np.stack([np.asarray(h) for h in hs])
            c_n = np.stack([np.asarray(c) for c in cs]) if cs else None
            return np.asarray(y), h_n, c_n

    return keras_layers
