"""Exact evaluation: integer matrix products, mpmath activations, one working precision."""

from lstm_ref.exact.backward import Gradients, backward
from lstm_ref.exact.context import precision
from lstm_ref.exact.forward import forward
from lstm_ref.exact.result import ForwardResult, MPArray
from lstm_ref.exact.rounding import FORMATS, round_array

__all__ = [
    "FORMATS",
    "ForwardResult",
    "Gradients",
    "MPArray",
    "backward",
    "forward",
    "precision",
    "round_array",
]
