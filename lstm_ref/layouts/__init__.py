"""Layouts: how canonical parameters, inputs and outputs look in each framework's terms.

Numpy only: importable without any framework installed. Each framework's conventions are
data (:mod:`lstm_ref.layouts.conventions`); its mapping module reads its record and
refuses, by name, the spec options its framework cannot express. :mod:`.layout` holds
the contract the checker uses to hand a golden case to an implementation.
"""
