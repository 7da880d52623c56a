"""The built-in adapters: real frameworks run as implementations under check.

    lstm-ref check torch [--dtype float32] [--gradients]

Each entry names the module that builds and runs the framework's layer, the checker
layout it speaks, the dtypes it computes in (the first is the default), the extra
that installs it and the distributions whose versions say what was checked (the
results table, lstm_ref.frameworks.table). The module has `implementation(dtype)` and,
when the framework has gradients, `vjp(dtype)` (docs/checker.md). Modules are imported
only when used, so a missing framework costs nothing until it is asked for, and then
says what to install.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from typing import Any

from lstm_ref.layouts.contract import Implementation, VectorJacobianProduct


@dataclass(frozen=True)
class BuiltIn:
    """One framework adapter: where it lives and what it can do."""

    name: str
    module: str
    layout: str
    dtypes: tuple[str, ...]
    extra: str
    packages: tuple[str, ...] = ()  # distributions, as importlib.metadata names them
    gradients: bool = False
    cells: tuple[str, ...] = ("lstm", "gru", "rnn")
    # keyword arguments of the module's `implementation` and `vjp`, for two entries of one module
    options: tuple[tuple[str, str], ...] = ()
    # (dtype, profile) where the framework computes otherwise than the dtype's default profile
    profiles: tuple[tuple[str, str], ...] = ()

    def profile(self, dtype: str) -> str | None:
        """The profile the framework really computes `dtype` with; None: the dtype's default."""
        return dict(self.profiles).get(dtype)

    def versions(self) -> dict[str, str | None]:
        """The installed version of each of `packages`, None where one is missing."""
        found: dict[str, str | None] = {}
        for package in self.packages:
            try:
                found[package] = importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                found[package] = None
        return found

    def load(self) -> Any:
        return importlib.import_module(self.module)

    def implementation(self, dtype: str) -> Implementation:
        if dtype not in self.dtypes:
            raise ValueError(
                f"`--dtype` for {self.name} must be one of {', '.join(self.dtypes)}; got {dtype!r}"
            )
        return self.load().implementation(dtype, **dict(self.options))

    def vjp(self, dtype: str) -> VectorJacobianProduct:
        if not self.gradients:
            raise ValueError(
                f"`--gradients` is not available for {self.name}: its adapter "
                f"checks the forward pass only"
            )
        return self.load().vjp(dtype, **dict(self.options))


# PyTorch's CPU kernels keep the gates and states of a half-precision layer or cell in
# that format (docs/results.md: they fail fp16/bf16, which accumulate in float32, and pass
# the acc16 profiles); the adapters run on the CPU.
TORCH_CPU_PROFILES = (("float16", "fp16-acc16"), ("bfloat16", "bf16-acc16"))

BUILT_IN: dict[str, BuiltIn] = {
    b.name: b
    for b in (
        BuiltIn(
            "torch",
            "lstm_ref.frameworks.torch_run",
            "torch",
            ("float32", "float64", "bfloat16", "float16"),
            "torch",
            ("torch",),
            gradients=True,
            profiles=TORCH_CPU_PROFILES,
        ),
        BuiltIn(
            "torch-cells",
            "lstm_ref.frameworks.torch_run",
            "torch",
            ("float32", "float64", "bfloat16", "float16"),
            "torch",
            ("torch",),
            gradients=True,
            options=(("modules", "cells"),),
            profiles=TORCH_CPU_PROFILES,
        ),
        BuiltIn(
            "onnxruntime",
            "lstm_ref.frameworks.onnxruntime_run",
            "onnx",
            ("float32",),
            "onnx",
            ("onnxruntime", "onnx"),
        ),
        BuiltIn(
            "onnx-reference",
            "lstm_ref.frameworks.onnx_reference_run",
            "onnx",
            ("float32", "float64"),
            "onnx",
            ("onnx",),
        ),
        BuiltIn(
            "keras",
            "lstm_ref.frameworks.keras_run",
            "keras",
            ("float32", "float64"),
            "keras",
            ("keras", "jax"),
        ),
        BuiltIn(
            "flax",
            "lstm_ref.frameworks.flax_run",
            "flax",
            ("float32", "float64"),
            "jax",
            ("flax", "jax"),
        ),
        BuiltIn(
            "flax-optimized",
            "lstm_ref.frameworks.flax_run",
            "flax",
            ("float32", "float64"),
            "jax",
            ("flax", "jax"),
            cells=("lstm",),
            options=(("lstm_cell", "OptimizedLSTMCell"),),
        ),
        BuiltIn(
            "equinox",
            "lstm_ref.frameworks.equinox_run",
            "equinox",
            ("float32", "float64"),
            "jax",
            ("equinox", "jax"),
            cells=("lstm", "gru"),
        ),
    )
}


def built_in(name: str) -> BuiltIn:
    """The adapter called `name`, or an error listing them."""
    if name not in BUILT_IN:
        raise ValueError(f"no built-in adapter {name!r}; they are {', '.join(BUILT_IN)}")
    return BUILT_IN[name]
