"""What the JAX-based adapters (keras_run on the JAX backend, flax_run, equinox_run) share:
the dtypes they compute in and JAX's 64-bit mode, switched on for float64 only while a
case runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

DTYPES = ("float32", "float64")


def require_jax(adapter: str, extra: str) -> Any:
    """jax, or an ImportError saying what to install."""
    try:
        import jax
    except ImportError:
        raise ImportError(
            f"the {adapter} adapter needs jax: pip install 'lstm-ref[{extra}]'"
        ) from None
    return jax


@contextlib.contextmanager
def precision(dtype: str) -> Iterator[None]:
    """JAX's 64-bit mode for float64 (without it JAX silently computes float64 arrays in
    float32), restored on exit."""
    if dtype not in DTYPES:
        raise ValueError(f"`dtype` must be one of {', '.join(DTYPES)}; got {dtype!r}")
    import jax

    with jax.enable_x64(dtype == "float64"):
        yield
