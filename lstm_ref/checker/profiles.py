"""Compute profiles: how an implementation computes, as the tolerance model needs it.

A profile names four formats and one accuracy:

- `storage`: the format of inputs, outputs and the states carried between steps;
- `operands`: the format the matrix products read their operands in (TF32 reads
  float32 operands rounded to 10 bits);
- `accumulation`: the format the sums of the matrix products are carried in;
- `compute`: the format of the elementwise gate arithmetic;
- `activation_ulps`: the accuracy of each activation function, in units of the last
  place of `compute` (a correctly rounded function has 0.5);
- `flush_subnormals`: whether tiny results are flushed to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_ref.exact.rounding import FORMATS, Format

# The formats a profile names: the four binary formats of the golden files, and TF32
# (float32's range with a 10-bit mantissa), which matrix products read operands in.
TF32 = Format("tf32", 11, -126, 127, np.float32)
COMPUTE_FORMATS = {**FORMATS, TF32.name: TF32}


@dataclass(frozen=True)
class Profile:
    """How an implementation computes (see the module docstring)."""

    name: str
    storage: str
    operands: str
    accumulation: str
    compute: str
    activation_ulps: float = 4.0
    flush_subnormals: bool = False
    description: str = ""

    def format(self, role: str) -> Format:
        return COMPUTE_FORMATS[getattr(self, role)]


PROFILES = {
    p.name: p
    for p in (
        Profile(
            "fp64", "float64", "float64", "float64", "float64", description="float64 throughout"
        ),
        Profile(
            "fp32", "float32", "float32", "float32", "float32", description="float32 throughout"
        ),
        Profile(
            "tf32",
            "float32",
            "tf32",
            "float32",
            "float32",
            description="float32 storage; matrix products read TF32 operands (10-bit "
            "mantissa) and accumulate in float32 (NVIDIA Ampere and later)",
        ),
        Profile(
            "fp16",
            "float16",
            "float16",
            "float32",
            "float32",
            description="float16 storage, float32 accumulation and gate arithmetic "
            "(cuDNN, PyTorch autocast)",
        ),
        Profile(
            "fp16-acc16",
            "float16",
            "float16",
            "float16",
            "float16",
            description="float16 throughout, sums accumulated in float16",
        ),
        Profile(
            "bf16",
            "bfloat16",
            "bfloat16",
            "float32",
            "float32",
            description="bfloat16 storage, float32 accumulation and gate arithmetic",
        ),
        Profile(
            "bf16-acc16",
            "bfloat16",
            "bfloat16",
            "bfloat16",
            "bfloat16",
            description="bfloat16 throughout, sums accumulated in bfloat16",
        ),
    )
}

DEFAULT_PROFILE = {"float64": "fp64", "float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def profile_for(dtype: str, name: str | Profile | None = None) -> Profile:
    """The named profile, or the default one for a dtype.

    >>> profile_for("float16").accumulation
    'float32'
    """
    if isinstance(name, Profile):
        return name
    if dtype not in DEFAULT_PROFILE:
        raise ValueError(f"`dtype` must be one of {', '.join(DEFAULT_PROFILE)}; got {dtype!r}")
    chosen = name or DEFAULT_PROFILE[dtype]
    if chosen not in PROFILES:
        raise ValueError(f"`profile` must be one of {', '.join(PROFILES)}; got {chosen!r}")
    profile = PROFILES[chosen]
    if profile.storage != dtype:
        raise ValueError(
            f"`profile` {chosen!r} stores {profile.storage}, but `dtype` is "
            f"{dtype!r}: use one of "
            f"{[p for p, v in PROFILES.items() if v.storage == dtype]}"
        )
    return profile
