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


@dataclass(frozen=True)
class Format:
    """A binary format's unit roundoff and smallest spacing, for error bounds."""

    name: str
    precision: int  # significand bits, hidden bit included
    emin: int

    @property
    def unit(self) -> float:
        """u = 2^-p: the largest relative error of rounding to nearest."""
        return 2.0 ** -self.precision

    def tiny(self, flush: bool) -> float:
        """The largest absolute error of rounding near zero (half the subnormal spacing,
        or the smallest normal number when subnormals are flushed)."""
        return 2.0 ** self.emin if flush else 2.0 ** (self.emin - self.precision)


FORMATS = {
    f.name: f for f in (
        Format("float64", 53, -1022),
        Format("float32", 24, -126),
        Format("tf32", 11, -126),
        Format("float16", 11, -14),
        Format("bfloat16", 8, -126),
    )
}


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
        return FORMATS[getattr(self, role)]


PROFILES = {
    p.name: p for p in (
        Profile("fp64", "float64", "float64", "float64", "float64",
                description="float64 throughout"),
        Profile("fp32", "float32", "float32", "float32", "float32",
                description="float32 throughout"),
        Profile("tf32", "float32", "tf32", "float32", "float32",
                description="float32 storage; matrix products read TF32 operands (10-bit "
                            "mantissa) and accumulate in float32 (NVIDIA Ampere and later)"),
        Profile("fp16", "float16", "float16", "float32", "float32",
                description="float16 storage, float32 accumulation and gate arithmetic "
                            "(cuDNN, PyTorch autocast)"),
        Profile("fp16-acc16", "float16", "float16", "float16", "float16",
                description="float16 throughout, sums accumulated in float16"),
        Profile("bf16", "bfloat16", "bfloat16", "float32", "float32",
                description="bfloat16 storage, float32 accumulation and gate arithmetic"),
        Profile("bf16-acc16", "bfloat16", "bfloat16", "bfloat16", "bfloat16",
                description="bfloat16 throughout, sums accumulated in bfloat16"),
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
        raise ValueError(f"`profile` {chosen!r} stores {profile.storage}, but `dtype` is "
                         f"{dtype!r}: use one of "
                         f"{[p for p, v in PROFILES.items() if v.storage == dtype]}")
    return profile
