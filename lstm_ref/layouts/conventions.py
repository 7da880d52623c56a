"""Framework conventions as data: gate order, bias split, what can be expressed.

One record per framework (docs/design.md, "Framework conventions"). Gate names are the
canonical ones: LSTM i, f, g (the candidate, C-tilde), o; GRU r, z, n.
"""

from __future__ import annotations

from dataclasses import dataclass

from lstm_ref.spec import Activation, Spec, show_value


@dataclass(frozen=True)
class Convention:
    """How one framework lays out and parameterises recurrent layers.

    - `gate_order`: per cell, the order of the gate blocks in its stacked weights.
    - `two_biases`: whether it keeps an input-side and a recurrent-side bias.
    - `gru_reset`: where its GRU applies the reset gate ("after" or "before").
    - `directions`, `merges`: the values of those spec options it can express.
    - `activations`: per cell, the activation tuples it can express.
    """

    name: str
    gate_order: dict[str, tuple[str, ...]]
    two_biases: bool
    gru_reset: str
    directions: tuple[str, ...]
    merges: tuple[str | None, ...]
    activations: dict[str, tuple[tuple[Activation, ...], ...]]

    def refusals(self, spec: Spec) -> list[str]:
        """The spec options this framework cannot express, as `name=value` strings."""
        found = []
        defaults = Spec(spec.cell, spec.input_size, spec.hidden_size)
        for option in ("peepholes", "input_forget", "cell_clip", "activation_clip", "forget_bias",
                       "output_size", "padded_outputs"):
            if getattr(spec, option) != getattr(defaults, option):
                found.append(f"{option}={show_value(getattr(spec, option))}")
        if spec.cell == "gru" and spec.gru_reset != self.gru_reset:
            found.append(f"gru_reset={spec.gru_reset!r}")
        if spec.direction not in self.directions:
            found.append(f"direction={spec.direction!r}")
        if spec.merge not in self.merges:
            found.append(f"merge={spec.merge!r}")
        if spec.activations not in self.activations[spec.cell]:
            found.append(f"activations={show_value(spec.activations)}")
        return found


TORCH = Convention(
    name="PyTorch",
    gate_order={"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ("",)},
    two_biases=True,
    gru_reset="after",
    directions=("forward", "bidirectional"),
    merges=(None, "concat"),
    activations={
        "lstm": ((Activation("Sigmoid"), Activation("Tanh"), Activation("Tanh")),),
        "gru": ((Activation("Sigmoid"), Activation("Tanh")),),
        "rnn": ((Activation("Tanh"),), (Activation("Relu"),)),
    },
)
