"""The input grid shared by bfloat16 and float16 (docs/design.md, "One input grid for every dtype").

Every generated input and weight is k * 2^-e with |k| < 256 (at most 8 significant
bits, bfloat16's precision) and, unless zero, a magnitude in float16's normal range
[2^-14, 65504]. Such a value is exactly representable in bfloat16, float16,
float32 and float64, so an implementation receives the same numbers in every dtype.
"""

from __future__ import annotations

import numpy as np

SIGNIFICANT_BITS = 8
SMALLEST = 2.0**-14  # float16's smallest normal number
LARGEST = 65504.0  # float16's largest finite number; bfloat16 reaches further


def on_grid(values: np.ndarray) -> np.ndarray:
    """Elementwise: is the value zero, or an 8-bit significand in float16's normal range?

    >>> on_grid(np.array([0.0, 0.1, 0.75, 2.0**-15, 1e6]))
    array([ True, False,  True, False, False])
    """
    a = np.asarray(values, dtype=np.float64)
    mantissa, _ = np.frexp(a)
    scaled = mantissa * 2**SIGNIFICANT_BITS
    magnitude = np.abs(a)
    in_range = (magnitude >= SMALLEST) & (magnitude <= LARGEST)
    return (a == 0) | (in_range & (scaled == np.round(scaled)))


def to_grid(values: np.ndarray) -> np.ndarray:
    """Round to the nearest grid value (ties to even); flush magnitudes below 2^-14 to zero.

    >>> to_grid(np.array([0.1, 1.0 / 3.0, 1e-6]))
    array([0.10009766, 0.33398438, 0.        ])
    """
    a = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(a)) or np.any(np.abs(a) > LARGEST):
        raise ValueError(
            f"`values` must be finite with magnitude <= {LARGEST}; got max {np.max(np.abs(a))}"
        )
    mantissa, exponent = np.frexp(a)
    rounded = np.ldexp(np.rint(mantissa * 2**SIGNIFICANT_BITS), exponent - SIGNIFICANT_BITS)
    if np.any(np.abs(rounded) > LARGEST):  # 65504 and a little below round up to 65536
        raise ValueError(
            f"`values` must round to at most {LARGEST} on the grid; got max "
            f"{np.max(np.abs(a))}, which rounds to {np.max(np.abs(rounded))}"
        )
    return np.where(np.abs(rounded) >= SMALLEST, rounded, 0.0)


class GridSampler:
    """A seeded stream of grid values, identical on every machine and numpy version.

    It draws from PCG64's raw 64-bit output, whose stream numpy keeps stable (as it
    keeps SeedSequence's seeding), and
    maps it with integer arithmetic only: value = k * scale / 256 with k uniform on
    [-255, 255]. `scale` is a power of two in [2^-6, 2^8], so every nonzero value has
    magnitude >= 2^-14 and at most 8 significant bits.

    >>> s = GridSampler(0)
    >>> v = s.draw((2, 3), scale=0.5)
    >>> bool(on_grid(v).all()), bool((np.abs(v) < 0.5).all())
    (True, True)
    """

    def __init__(self, seed: int, stream: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"`seed` must be a non-negative integer; got {seed!r}")
        # Parameters and inputs drawn with one seed come from independent streams.
        self._bits = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(stream,)))

    def draw(self, shape: tuple[int, ...], scale: float) -> np.ndarray:
        mantissa, exponent = np.frexp(scale)
        if mantissa != 0.5 or not -6 <= exponent - 1 <= 8:
            raise ValueError(f"`scale` must be a power of two in [2^-6, 2^8]; got {scale!r}")
        count = int(np.prod(shape, dtype=np.int64))
        raw = self._bits.random_raw(count) if count else np.zeros(0, dtype=np.uint64)
        k = (raw % np.uint64(511)).astype(np.int64) - 255
        return np.ldexp(k.astype(np.float64), int(exponent) - 1 - SIGNIFICANT_BITS).reshape(shape)


def power_of_two_at_most(value: float) -> float:
    """The largest power of two <= value, clamped to the sampler's range [2^-6, 2^8]."""
    exponent = int(np.floor(np.log2(value)))
    return 2.0 ** min(8, max(-6, exponent))
