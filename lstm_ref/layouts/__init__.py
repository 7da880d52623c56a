"""Layouts: how canonical parameters, inputs and outputs look in each framework's terms.

Numpy only: importable without any framework installed, and below the checker (it
imports nothing of lstm_ref.checker). Each framework's conventions are data, one record
per framework (:mod:`lstm_ref.layouts.conventions`); its module (:mod:`.torch`,
:mod:`.onnx`, :mod:`.keras`, :mod:`.flax`, :mod:`.equinox`) maps canonical parameters
with that record, refuses by name the spec options the framework cannot express, and
defines its :class:`~lstm_ref.layouts.contract.Layout`, the contract the checker uses
to hand a golden case to an implementation. :data:`LAYOUTS` lists them.
"""

from __future__ import annotations

from lstm_ref.layouts import canonical, equinox, flax, keras, onnx, torch
from lstm_ref.layouts.contract import Implementation, Layout, VectorJacobianProduct

LAYOUTS: dict[str, Layout] = {
    chosen.name: chosen
    for chosen in (
        canonical.LAYOUT,
        torch.LAYOUT,
        onnx.LAYOUT,
        keras.LAYOUT,
        flax.LAYOUT,
        equinox.LAYOUT,
    )
}

DEFAULT_LAYOUT = torch.LAYOUT.name
"""The layout `lstm_ref.check` and the pytest plugin use when none is named."""


def layout(name: str) -> Layout:
    """The layout of that name."""
    if name not in LAYOUTS:
        raise ValueError(f"`layout` must be one of {', '.join(LAYOUTS)}; got {name!r}")
    return LAYOUTS[name]


__all__ = [
    "DEFAULT_LAYOUT",
    "LAYOUTS",
    "Implementation",
    "Layout",
    "VectorJacobianProduct",
    "layout",
]
