"""Frameworks: real implementations run under check, and the results table.

Each runner module builds and runs one framework's layers (or cells) following a
layout's contract (:mod:`lstm_ref.layouts`); :mod:`.builtin` lists them for `lstm-ref
check NAME` and :mod:`.table` checks them all. A framework is imported only when its
runner is used.
"""
