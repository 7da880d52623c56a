"""Diagnosis hypotheses: named mistakes, as typed objects.

A hypothesis says what an implementation that made one mistake computes: `mistaken`
returns the outputs and per-element bounds of the mistaken reference for a failing case,
or None where the mistake cannot show on that case. There are four kinds, tried in this
order (the order of the names in a report):

- :class:`ModelChange`: another spec or other parameters (a permuted gate order, a bias
  dropped);
- :class:`InputChange`: other inputs (sequence lengths ignored);
- :class:`OutputRearrangement`: the right outputs, rearranged (h_n and c_n exchanged);
- :class:`ProfileShortfall`: less accuracy than the profile promises.

The checker (lstm_ref.checker.diagnose) holds the mistakes anyone can make; each
framework's record (lstm_ref.layouts.conventions) holds its known deviations. This
module sits below both: it knows no framework and imports nothing of the checker; a
mistaken reference is computed with the `evaluate` the checker hands it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from lstm_ref.golden.load import GoldenCase
from lstm_ref.inputs import Inputs
from lstm_ref.params import Params
from lstm_ref.spec import Spec

if TYPE_CHECKING:  # for the annotations only: the checker imports this module
    from lstm_ref.checker.profiles import Profile

Arrays = dict[str, np.ndarray]


class Evaluation(Protocol):
    """What the checker computes for a case: exact outputs and their per-element bounds."""

    @property
    def outputs(self) -> Mapping[str, np.ndarray]: ...

    @property
    def bounds(self) -> Mapping[str, np.ndarray]: ...


Evaluate = Callable[[Spec, Params, Inputs, "Profile"], Evaluation]
"""The checker's reference: `evaluate(spec, params, inputs, profile)`."""

Mistaken = tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]]
"""A mistaken reference: its outputs and their bounds."""

Change = Callable[[Spec, Arrays], "tuple[Spec, Arrays] | None"]
Rearrange = Callable[[Spec, Inputs, Evaluation], "Mistaken | None"]


class Hypothesis(ABC):
    """A named mistake. `mistaken` computes what the mistake gives on `case`, or None."""

    name: str

    @abstractmethod
    def mistaken(
        self, case: GoldenCase, reference: Evaluation, profile: Profile, evaluate: Evaluate
    ) -> Mistaken | None:
        """The mistaken reference's outputs and bounds; None if the mistake cannot show."""


@dataclass(frozen=True)
class ModelChange(Hypothesis):
    """The implementation computes another model: `change(spec, params)` returns it (or
    None where the mistake does not apply)."""

    name: str
    change: Change

    def mistaken(
        self, case: GoldenCase, reference: Evaluation, profile: Profile, evaluate: Evaluate
    ) -> Mistaken | None:
        changed = self.change(case.spec, dict(case.params))
        if changed is None:
            return None
        spec, params = changed
        result = evaluate(spec, Params(spec, params), case.inputs, profile)
        return result.outputs, result.bounds


@dataclass(frozen=True)
class InputChange(Hypothesis):
    """The implementation reads other inputs: `change(spec, inputs)` returns them (or
    None). With `keep_padding`, the outputs past each real length stay zero, as a masked
    output is."""

    name: str
    change: Callable[[Spec, Inputs], Inputs | None]
    keep_padding: bool = False

    def mistaken(
        self, case: GoldenCase, reference: Evaluation, profile: Profile, evaluate: Evaluate
    ) -> Mistaken | None:
        inputs = self.change(case.spec, case.inputs)
        if inputs is None:
            return None
        result = evaluate(case.spec, case.params, inputs, profile)
        outputs = {k: v.copy() for k, v in result.outputs.items()}
        if self.keep_padding:
            for name in ("y", "y_out"):
                if name in outputs:
                    for b, n in enumerate(case.inputs.seq_lens):
                        outputs[name][n:, b] = 0.0
        return outputs, result.bounds


@dataclass(frozen=True)
class OutputRearrangement(Hypothesis):
    """The implementation computes the right values but returns them rearranged:
    `rearrange(spec, inputs, reference)` (or None)."""

    name: str
    rearrange: Rearrange

    def mistaken(
        self, case: GoldenCase, reference: Evaluation, profile: Profile, evaluate: Evaluate
    ) -> Mistaken | None:
        return self.rearrange(case.spec, case.inputs, reference)


@dataclass(frozen=True)
class ProfileShortfall(Hypothesis):
    """The implementation computes with less accuracy than the profile says:
    `shortfall(profile)` is the profile it really has (or None)."""

    name: str
    shortfall: Callable[[Profile], Profile | None]

    def mistaken(
        self, case: GoldenCase, reference: Evaluation, profile: Profile, evaluate: Evaluate
    ) -> Mistaken | None:
        really = self.shortfall(profile)
        if really is None:
            return None
        result = evaluate(case.spec, case.params, case.inputs, really)
        return result.outputs, result.bounds


KINDS: tuple[type[Hypothesis], ...] = (
    ModelChange,
    InputChange,
    OutputRearrangement,
    ProfileShortfall,
)


def ordered(hypotheses: Iterable[Hypothesis]) -> tuple[Hypothesis, ...]:
    """The hypotheses by kind (:data:`KINDS`), keeping their order within a kind."""

    def kind(hypothesis: Hypothesis) -> int:
        return next(i for i, k in enumerate(KINDS) if isinstance(hypothesis, k))

    return tuple(sorted(hypotheses, key=kind))


def full_lengths(spec: Spec, inputs: Inputs) -> Inputs | None:
    """The inputs with every sequence at full length T; None if they all are."""
    lens = inputs.seq_lens
    if np.all(lens == inputs.steps):
        return None
    return replace(inputs, seq_lens=np.full_like(lens, inputs.steps))
