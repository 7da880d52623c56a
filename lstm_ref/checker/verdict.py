"""The three-valued verdict on an implementation's outputs: PASS, SUSPICIOUS or FAIL.

Each output element is judged against two bounds around a reference value
(:mod:`lstm_ref.checker.bounds`):

- beyond the rigorous bound no correct implementation under the profile can land:
  FAIL;
- beyond the realistic bound correct arithmetic lands with probability below
  tail_probability(REALISTIC_SIGMAS) per element: SUSPICIOUS;
- within both: PASS.

The reference is the tightest one available. Where y shows every state (one layer,
merge None, "concat" or "none") and is finite, every step is judged from the
implementation's own previous state (teacher forcing), so an error is charged to
the step that makes it and nothing is propagated through the weights; elsewhere the
reference is the exact free-running trajectory and the bounds are propagated along it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_ref.checker.bounds import Trajectory, trajectory
from lstm_ref.checker.profiles import Profile
from lstm_ref.checker.propagation import REALISTIC_SIGMAS, tail_probability
from lstm_ref.exact.schedule import Schedule
from lstm_ref.inputs import Inputs
from lstm_ref.params import Params
from lstm_ref.spec import Spec

PASS, SUSPICIOUS, FAIL = "pass", "suspicious", "fail"
VERDICTS = (PASS, SUSPICIOUS, FAIL)  # in increasing severity
PROBABILITY = tail_probability(REALISTIC_SIGMAS)
# An implementation's y is fed back step by step only while it is at most this many
# times the scale of the exact outputs (1 + max |y|): far beyond any rounding error.
REPLAY_LIMIT = 2.0**16


@dataclass(frozen=True)
class Reference:
    """What one output is judged against: the reference value, both bounds, and how it
    was obtained (`local`: step by step from the implementation's own state)."""

    desired: np.ndarray
    bound: np.ndarray
    realistic: np.ndarray
    local: bool


def references(
    spec: Spec,
    params: Params,
    inputs: Inputs,
    profile: Profile,
    actual: dict[str, np.ndarray],
    free: Trajectory | None = None,
) -> dict[str, Reference]:
    """The reference of every output in `actual` (canonical names and shapes), local
    wherever teacher forcing applies. `free` is the free-running trajectory, if the
    caller has it already."""
    free = free or trajectory(spec, params, inputs, profile)
    local = None
    y = actual.get("y")
    if Schedule(spec, inputs.seq_lens).visible() and y is not None and _replayable(y, free):
        local = trajectory(spec, params, inputs, profile, forced_y=y)
    out = {}
    for name in actual:
        source = local if local is not None else free
        out[name] = Reference(
            source.outputs[name], source.bounds[name], source.realistic[name], local is not None
        )
    return out


def _replayable(y: np.ndarray, free: Trajectory) -> bool:
    """Whether the implementation's y can be fed back to the exact evaluator: the right
    shape, finite, and no larger than REPLAY_LIMIT times the exact outputs' scale. A
    larger y is wrong anyway (judged free-running, it fails), and exact activations of
    huge arguments would cost memory without bound (sigmoid(-1e20) has 1e20 bits)."""
    exact = free.outputs["y"]
    if y.shape != exact.shape or not bool(np.all(np.isfinite(y))):
        return False
    scale = 1.0 + float(np.max(np.abs(exact), initial=0.0))
    return float(np.max(np.abs(y), initial=0.0)) <= REPLAY_LIMIT * scale


def classify(error: np.ndarray, reference: Reference) -> np.ndarray:
    """Each element's verdict index into VERDICTS (a NaN error or bound fails)."""
    error = np.where(np.isnan(error) | np.isnan(reference.bound), np.inf, error)
    realistic = np.where(np.isnan(reference.realistic), -np.inf, reference.realistic)
    return np.where(error > reference.bound, 2, np.where(error > realistic, 1, 0))
