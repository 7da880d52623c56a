"""Adapters: mappings between canonical parameters and each framework's layout.

A framework's conventions are data (:mod:`lstm_ref.adapters.conventions`); each
adapter module reads its record and refuses, by name, the spec options its
framework cannot express.
"""
