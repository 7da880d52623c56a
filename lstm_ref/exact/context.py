"""Working precision, set in one place and restored.

Every exact evaluation runs inside :func:`precision`, which sets mpmath's working
precision for its block and restores the caller's afterwards, even on error.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import mpmath

DEFAULT_DIGITS = 50
MIN_BITS = 64  # float64 inputs convert exactly from 53 bits; keep some room above.
MAX_BITS = 1 << 20


def to_bits(digits: int | None = None, bits: int | None = None) -> int:
    """Bits for a precision given in decimal digits or bits (default 50 digits).

    >>> to_bits(digits=50), to_bits(bits=128)
    (171, 128)
    """
    if digits is not None and bits is not None:
        raise ValueError(f"give `digits` or `bits`, not both; got digits={digits!r}, bits={bits!r}")
    for name, value in (("digits", digits), ("bits", bits)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(f"`{name}` must be a positive integer; got {value!r}")
    if bits is None:
        bits = math.ceil((digits or DEFAULT_DIGITS) * math.log2(10)) + 4
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(
            f"the working precision must be in [{MIN_BITS}, {MAX_BITS}] bits; got {bits}"
        )
    return bits


@contextmanager
def precision(digits: int | None = None, bits: int | None = None) -> Iterator[int]:
    """Run a block at a working precision; yields it in bits.

    >>> with precision(digits=30) as bits:
    ...     print(bits, mpmath.mp.prec == bits)
    104 True
    """
    bits = to_bits(digits, bits)
    with mpmath.workprec(bits):
        yield bits
