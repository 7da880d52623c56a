"""Derivation: local partials in forward quantities, BPTT recurrences, printing."""

from lstm_ref.derivation.partials import Partial, partials

__all__ = ["Partial", "partials"]
