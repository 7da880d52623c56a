"""The canonical layout: lstm_ref's own parameter names (docs/conventions.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lstm_ref.golden.load import GoldenCase
from lstm_ref.layouts.contract import Layout
from lstm_ref.params import Params
from lstm_ref.spec import Spec


def output_names(case: GoldenCase) -> tuple[str, ...]:
    """y, h_n, c_n, and y_out where the spec has an Elman output layer."""
    names = ("y", "h_n", "c_n")
    return (*names, "y_out") if case.spec.output_size is not None else names


def read_gradients(spec: Spec, grads: Mapping[str, Any]) -> Params:
    """Gradients named like the canonical parameters."""
    return Params(spec, grads)


LAYOUT = Layout(
    "canonical",
    lambda case: [],
    lambda case: dict(case.params),
    lambda case: case.spec.to_json(),
    read_gradients=read_gradients,
    output_names=output_names,
)
