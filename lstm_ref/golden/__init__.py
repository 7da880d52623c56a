"""Golden vectors: a catalogue of cases, certified values, a language-neutral format.

- :func:`generate` writes a suite (smoke, standard, edge, full) as JSON files with a manifest.
- :func:`load_suite` reads one back as numpy arrays in float64, float32, float16 or bfloat16.
- :func:`verify` checks checksums and schema, and recomputes every value.
"""

from lstm_ref.golden.catalogue import CATALOGUE, FLAGS, SUITES, Case, suite
from lstm_ref.golden.format import FORMAT_VERSION, GoldenFormatError
from lstm_ref.golden.generate import generate
from lstm_ref.golden.load import GoldenCase, load_suite
from lstm_ref.golden.verify import verify

__all__ = [
    "CATALOGUE",
    "FLAGS",
    "FORMAT_VERSION",
    "SUITES",
    "Case",
    "GoldenCase",
    "GoldenFormatError",
    "generate",
    "load_suite",
    "suite",
    "verify",
]
