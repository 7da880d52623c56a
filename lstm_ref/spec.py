"""The canonical model: a frozen, validated description of a recurrent layer stack.

A :class:`Spec` says *what* is computed (cell kind, sizes, variants); parameters
and inputs live elsewhere (:mod:`lstm_ref.params`). Every option is either
implemented by the equations in :mod:`lstm_ref.equations` or refused here by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from typing import Any

Number = int | float | str | Fraction

CELLS = ("lstm", "gru", "rnn")
DIRECTIONS = ("forward", "reverse", "bidirectional")
MERGES = ("concat", "sum", "ave", "mul", "none")
GRU_RESETS = ("after", "before")
PADDED_OUTPUTS = ("zero", "carry")

# ONNX's activation list; each entry gives the defaults of (alpha, beta) or None
# where the function takes no such argument. Defaults are ONNX's, as exact rationals.
ACTIVATIONS: dict[str, tuple[Fraction | None, Fraction | None]] = {
    "Sigmoid": (None, None),
    "Tanh": (None, None),
    "Relu": (None, None),
    "HardSigmoid": (Fraction(1, 5), Fraction(1, 2)),
    "LeakyRelu": (Fraction(1, 100), None),
    "ThresholdedRelu": (Fraction(1), None),
    "ScaledTanh": (Fraction(1), Fraction(1)),
    "Affine": (Fraction(1), Fraction(0)),
    "Elu": (Fraction(1), None),
    "Softsign": (None, None),
    "Softplus": (None, None),
}

# Activations per cell kind, in ONNX's order: LSTM (f, g, h): gates, candidate,
# cell output; GRU (f, g): gates, candidate; RNN (f,): the one block.
DEFAULT_ACTIVATIONS = {
    "lstm": ("Sigmoid", "Tanh", "Tanh"),
    "gru": ("Sigmoid", "Tanh"),
    "rnn": ("Tanh",),
}
ACTIVATION_ROLES = {
    "lstm": ("gates", "candidate", "cell output"),
    "gru": ("gates", "candidate"),
    "rnn": ("block",),
}
NONLINEARITIES = {"tanh": "Tanh", "relu": "Relu"}

# Sizes above these need `force=True`: exact evaluation is O(T * H^2) big-integer
# products per layer and direction, and beyond this it takes hours, not minutes.
SIZE_LIMITS = {"input_size": 4096, "hidden_size": 4096, "num_layers": 8, "output_size": 4096}


class SpecError(ValueError):
    """A spec option is unknown, out of range, or contradicts another option."""


def exact(value: Any, name: str) -> Fraction:
    """Return `value` as an exact rational; floats are taken at their binary value.

    Strings are parsed exactly ("0.2" is 1/5, "1/6" is 1/6).

    >>> exact("0.2", "alpha"), exact(0.5, "alpha")
    (Fraction(1, 5), Fraction(1, 2))
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Fraction)):
        raise SpecError(f"`{name}` must be a number (int, float, str or Fraction); got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"`{name}` must be finite; got {value!r}")
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise SpecError(
            f"`{name}` must be a number such as '0.2' or '1/6'; got {value!r}"
        ) from None


@dataclass(frozen=True, init=False)
class Activation:
    """One of ONNX's activation functions, with its `alpha` and `beta` as exact rationals.

    >>> Activation("hardsigmoid")
    Activation(name='HardSigmoid', alpha=Fraction(1, 5), beta=Fraction(1, 2))
    >>> Activation("HardSigmoid", alpha="1/6").alpha
    Fraction(1, 6)
    """

    name: str
    alpha: Fraction | None
    beta: Fraction | None

    def __init__(self, name: str, alpha: Number | None = None, beta: Number | None = None) -> None:
        # Written out, not generated: `alpha` and `beta` may be any Number, and
        # __post_init__ makes them exact.
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "beta", beta)
        self.__post_init__()

    def __post_init__(self) -> None:
        """Check the arguments and normalise them in place: until this returns, the
        fields hold the arguments as given."""
        names = {n.lower(): n for n in ACTIVATIONS}
        if not isinstance(self.name, str) or self.name.lower() not in names:
            raise SpecError(
                f"`activation` must be one of {', '.join(ACTIVATIONS)}; got {self.name!r}"
            )
        name = names[self.name.lower()]
        default_alpha, default_beta = ACTIVATIONS[name]
        object.__setattr__(self, "name", name)
        for arg, default in (("alpha", default_alpha), ("beta", default_beta)):
            value = getattr(self, arg)
            if default is None:
                if value is not None:
                    raise SpecError(f"`{arg}` is not a parameter of {name}; got {arg}={value!r}")
            else:
                value = default if value is None else exact(value, f"{name}.{arg}")
                object.__setattr__(self, arg, value)

    @classmethod
    def parse(cls, value: Activation | str) -> Activation:
        """Accept an Activation, a name, or "Name(alpha, beta)" / "Name(alpha)"."""
        if isinstance(value, Activation):
            return value
        if not isinstance(value, str):
            raise SpecError(f"`activations` entries must be names or Activation; got {value!r}")
        name, _, rest = value.partition("(")
        if not rest:
            return cls(name.strip())
        if not rest.endswith(")"):
            raise SpecError(f"`activations` entry must read Name(alpha, beta); got {value!r}")
        args = [a.strip() for a in rest[:-1].split(",")]
        if len(args) > 2 or not all(args):
            raise SpecError(f"`activations` entry must read Name(alpha, beta); got {value!r}")
        return cls(name.strip(), *args)

    def __str__(self) -> str:
        args = [str(a) for a in (self.alpha, self.beta) if a is not None]
        return f"{self.name}({', '.join(args)})" if args else self.name


@dataclass(frozen=True, init=False)
class Spec:
    """A recurrent layer stack, in the project's canonical conventions.

    Arguments (the sizes are the named dimensions used in every docstring):

    - `cell`: "lstm", "gru" or "rnn" (Elman).
    - `input_size` I, `hidden_size` H, `num_layers` L.
    - `direction`: "forward", "reverse" or "bidirectional" (D = 2 if bidirectional else 1).
    - `merge`: how a bidirectional layer combines its two directions' outputs:
      "concat" (default), "sum", "ave", "mul" or "none" (only for L = 1: `y` keeps
      the direction axis). The merged output feeds the next layer.
    - `bias`: whether the b^x and b^h biases exist.
    - `proj_size` (LSTM): 0 or P < H; h_t = W_hr (o_t * h(C_t)), H_out = P.
    - `peepholes` (LSTM): i and f see C_{t-1}, o sees C_t.
    - `input_forget` (LSTM): coupled gates, f_t = 1 - i_t; the forget gate has no parameters.
    - `cell_clip` (LSTM): C_t is clipped to [-cell_clip, cell_clip] (TF1, Keras).
    - `activation_clip`: the input of every activation is clipped to
      [-activation_clip, activation_clip] (ONNX's `clip`).
    - `clip_cell_output` (LSTM, with activation_clip): whether that clip also applies to
      C_t where the cell-output activation reads it (ONNX: yes, the default; ONNX
      Runtime's LSTM: no). The stored C_t is never clipped by it.
    - `forget_bias` (LSTM): a constant added to the forget gate's pre-activation at
      run time (TF1's forget_bias).
    - `activations`: ONNX's list, per cell kind: LSTM (f, g, h), GRU (f, g), RNN (f,);
      names or :class:`Activation`, e.g. ("Sigmoid", "Tanh", "HardSigmoid(0.2, 0.5)").
    - `nonlinearity` (RNN): "tanh" or "relu"; shorthand for `activations=("Relu",)`.
    - `gru_reset`: "after" the recurrent matmul (PyTorch, cuDNN, Keras) or "before"
      (the original paper, ONNX's default).
    - `output_size` (RNN): O, adds the Elman output layer y_t = g(W_y h_t + b_y) on the
      stack's output, with `output_activation` g (default Sigmoid).
    - `padded_outputs`: outputs past a sequence's length are "zero" (PyTorch, ONNX) or
      "carry" the last output in processing order (Keras masking).
    - `force`: accept sizes above :data:`SIZE_LIMITS`.

    The options are stored normalised: `merge` is "concat" for a bidirectional stack
    when not given, the clips and `forget_bias` are Fractions, `activations` is a tuple
    of :class:`Activation` (the cell's defaults when not given) and `output_activation`
    an Activation.

    >>> spec = Spec("lstm", input_size=3, hidden_size=2, direction="bidirectional")
    >>> spec.num_directions, spec.h_out, spec.merge
    (2, 2, 'concat')
    """

    cell: str
    input_size: int
    hidden_size: int
    num_layers: int
    direction: str
    merge: str | None
    bias: bool
    proj_size: int
    peepholes: bool
    input_forget: bool
    cell_clip: Fraction | None
    activation_clip: Fraction | None
    clip_cell_output: bool
    forget_bias: Fraction
    activations: tuple[Activation, ...]
    nonlinearity: str | None
    gru_reset: str
    output_size: int | None
    output_activation: Activation
    padded_outputs: str
    force: bool = field(compare=False, repr=False)

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        direction: str = "forward",
        merge: str | None = None,
        bias: bool = True,
        proj_size: int = 0,
        peepholes: bool = False,
        input_forget: bool = False,
        cell_clip: Number | None = None,
        activation_clip: Number | None = None,
        clip_cell_output: bool = True,
        forget_bias: Number = 0,
        activations: tuple[Activation | str, ...] | None = None,
        nonlinearity: str | None = None,
        gru_reset: str = "after",
        output_size: int | None = None,
        output_activation: Activation | str = "Sigmoid",
        padded_outputs: str = "zero",
        force: bool = False,
    ) -> None:
        # Written out, not generated: the arguments' types are wider than the fields'
        # (a clip may be any Number, an activation a name); __post_init__ normalises them.
        arguments = locals()  # self and every argument, as given
        for f in fields(self):
            object.__setattr__(self, f.name, arguments[f.name])
        self.__post_init__()

    def __post_init__(self) -> None:
        """Check the arguments and normalise them in place: until this returns, the
        fields hold the arguments as given."""
        _choice("cell", self.cell, CELLS)
        for name, minimum in (("input_size", 1), ("hidden_size", 1), ("num_layers", 1)):
            _integer(name, getattr(self, name), minimum)
        _choice("direction", self.direction, DIRECTIONS)
        _choice("gru_reset", self.gru_reset, GRU_RESETS)
        _choice("padded_outputs", self.padded_outputs, PADDED_OUTPUTS)
        for name in ("bias", "peepholes", "input_forget", "force", "clip_cell_output"):
            if not isinstance(getattr(self, name), bool):
                raise SpecError(f"`{name}` must be True or False; got {getattr(self, name)!r}")
        _integer("proj_size", self.proj_size, 0)
        if self.output_size is not None:
            _integer("output_size", self.output_size, 1)

        bidirectional = self.direction == "bidirectional"
        if self.merge is None:
            object.__setattr__(self, "merge", "concat" if bidirectional else None)
        else:
            _choice("merge", self.merge, MERGES)
            if not bidirectional:
                raise SpecError(
                    f"`merge` combines the two directions of a bidirectional layer; got "
                    f"merge={self.merge!r} with direction={self.direction!r}"
                )
        if self.merge == "none" and self.num_layers > 1:
            raise SpecError(
                f"`merge`='none' keeps the directions apart, so nothing can feed a next layer; "
                f"got num_layers={self.num_layers}: use merge='concat' or num_layers=1"
            )

        for name in ("cell_clip", "activation_clip"):
            value = getattr(self, name)
            if value is not None:
                value = exact(value, name)
                if value <= 0:
                    raise SpecError(f"`{name}` must be positive; got {value}")
                object.__setattr__(self, name, value)
        object.__setattr__(self, "forget_bias", exact(self.forget_bias, "forget_bias"))
        lstm_only = {
            "proj_size": self.proj_size != 0,
            "peepholes": self.peepholes,
            "input_forget": self.input_forget,
            "cell_clip": self.cell_clip is not None,
            "forget_bias": self.forget_bias != 0,
        }
        for name, used in lstm_only.items():
            if used and self.cell != "lstm":
                raise SpecError(
                    f"`{name}` is an LSTM option; got {name}={show_value(getattr(self, name))} "
                    f"with cell={self.cell!r}"
                )
        if self.cell != "gru" and self.gru_reset != "after":
            raise SpecError(
                f"`gru_reset` is a GRU option; got gru_reset={self.gru_reset!r} with "
                f"cell={self.cell!r}"
            )
        if self.proj_size >= self.hidden_size and self.proj_size:
            raise SpecError(
                f"`proj_size` must be smaller than hidden_size={self.hidden_size}; "
                f"got {self.proj_size}"
            )
        if not self.clip_cell_output and (self.cell != "lstm" or self.activation_clip is None):
            raise SpecError(
                f"`clip_cell_output`=False only changes an LSTM with an activation_clip; got "
                f"cell={self.cell!r}, activation_clip={show_value(self.activation_clip)}"
            )
        if self.input_forget and self.forget_bias:
            raise SpecError(
                f"`forget_bias` has no effect with input_forget=True (f_t = 1 - i_t); "
                f"got forget_bias={self.forget_bias}"
            )

        if self.padded_outputs == "carry" and self.direction == "bidirectional":
            raise SpecError(
                "`padded_outputs`='carry' is Keras's masking of a unidirectional RNN; Keras's "
                "Bidirectional zeroes padded outputs (force_zero_output_for_mask): got "
                "direction='bidirectional': use padded_outputs='zero'"
            )
        self._set_activations()
        if self.output_size is None and (
            Activation.parse(self.output_activation) != Activation("Sigmoid")
        ):
            raise SpecError(
                f"`output_activation` belongs to the Elman output layer; got "
                f"output_activation={str(Activation.parse(self.output_activation))!r} without "
                f"output_size: set output_size, or leave output_activation out"
            )
        if self.output_size is not None:
            if self.cell != "rnn":
                raise SpecError(
                    f"`output_size` adds the Elman output layer, an RNN option; got "
                    f"output_size={self.output_size} with cell={self.cell!r}"
                )
            if self.merge == "none":
                raise SpecError(
                    "`output_size` needs one output per step; got merge='none': use another merge"
                )
        object.__setattr__(self, "output_activation", Activation.parse(self.output_activation))

        if not self.force:
            for name, limit in SIZE_LIMITS.items():
                value = getattr(self, name)
                if value is not None and value > limit:
                    raise SpecError(
                        f"`{name}` above {limit} makes exact evaluation take hours; got "
                        f"{value}: pass force=True if you mean it"
                    )

    def _set_activations(self) -> None:
        defaults = DEFAULT_ACTIVATIONS[self.cell]
        if self.nonlinearity is not None:
            if self.cell != "rnn":
                raise SpecError(
                    f"`nonlinearity` is an RNN option; got nonlinearity={self.nonlinearity!r} "
                    f"with cell={self.cell!r}: use `activations`"
                )
            _choice("nonlinearity", self.nonlinearity, tuple(NONLINEARITIES))
            implied = (Activation(NONLINEARITIES[self.nonlinearity]),)
            if (
                self.activations is not None
                and tuple(Activation.parse(a) for a in self.activations) != implied
            ):
                raise SpecError(
                    f"`nonlinearity`={self.nonlinearity!r} contradicts "
                    f"activations={tuple(str(a) for a in self.activations)}: give one of them"
                )
            object.__setattr__(self, "activations", implied)
            return
        given = self.activations if self.activations is not None else defaults
        if isinstance(given, (str, Activation)) or not isinstance(given, (tuple, list)):
            raise SpecError(
                f"`activations` must be a sequence of {len(defaults)} names for cell="
                f"{self.cell!r} ({', '.join(ACTIVATION_ROLES[self.cell])}); got {given!r}"
            )
        if len(given) != len(defaults):
            raise SpecError(
                f"`activations` for cell={self.cell!r} must have {len(defaults)} entries "
                f"({', '.join(ACTIVATION_ROLES[self.cell])}); got {len(given)}: {tuple(given)!r}"
            )
        acts = tuple(Activation.parse(a) for a in given)
        object.__setattr__(self, "activations", acts)
        if self.cell == "rnn":
            inverse = {v: k for k, v in NONLINEARITIES.items()}
            if acts[0] == Activation(acts[0].name) and acts[0].name in inverse:
                object.__setattr__(self, "nonlinearity", inverse[acts[0].name])

    def options(self) -> list[str]:
        """The options that differ from their defaults, as `name=value` strings.

        >>> Spec("gru", input_size=3, hidden_size=2, gru_reset="before").options()
        ["gru_reset='before'"]
        """
        base = Spec(self.cell, self.input_size, self.hidden_size)
        shorthand = self.cell == "rnn" and self.nonlinearity == "relu"
        changed = [
            f"{f.name}={show_value(getattr(self, f.name))}"
            for f in fields(self)
            if f.compare
            and f.name not in ("cell", "input_size", "hidden_size", "nonlinearity")
            and getattr(self, f.name) != getattr(base, f.name)
            and not (f.name == "merge" and self.merge == "concat")
            and not (f.name == "activations" and shorthand)
        ]
        return changed + (["nonlinearity='relu'"] if shorthand else [])

    def __str__(self) -> str:
        """The sizes, then only the options that differ from their defaults.

        >>> print(Spec("gru", input_size=3, hidden_size=2, gru_reset="before"))
        Spec('gru', input_size=3, hidden_size=2, gru_reset='before')
        """
        sizes = f"{self.cell!r}, input_size={self.input_size}, hidden_size={self.hidden_size}"
        return f"Spec({', '.join([sizes, *self.options()])})"

    def to_json(self) -> dict[str, Any]:
        """Every option as JSON values: rationals as exact strings, activations as names.

        >>> Spec("lstm", 3, 2, cell_clip="0.5").to_json()["cell_clip"]
        '1/2'
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            if not f.compare:
                continue
            value = getattr(self, f.name)
            if isinstance(value, Fraction):
                value = str(value)
            elif isinstance(value, Activation):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], force: bool = False) -> Spec:
        """The inverse of :meth:`to_json`; unknown keys are refused by name."""
        if not isinstance(data, dict):
            raise SpecError(f"`spec` must be a JSON object; got {type(data).__name__}")
        known = {f.name for f in fields(cls) if f.compare}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"`spec` has unknown options {unknown}; known: {sorted(known)}")
        values = dict(data)
        if isinstance(values.get("activations"), list):
            values["activations"] = tuple(values["activations"])
        if values.get("cell") == "rnn" and values.get("nonlinearity") is not None:
            implied = [NONLINEARITIES.get(values["nonlinearity"], values["nonlinearity"])]
            if values.get("activations") in (implied, tuple(implied)):
                values.pop("activations")  # to_json writes both; they agree
        return cls(**values, force=force)

    # Derived sizes, named as in the docstrings.
    @property
    def num_directions(self) -> int:
        """D: 2 for a bidirectional stack, else 1."""
        return 2 if self.direction == "bidirectional" else 1

    @property
    def h_out(self) -> int:
        """H_out: the size of h_t, proj_size if set, else hidden_size."""
        return self.proj_size or self.hidden_size

    @property
    def merged_size(self) -> int:
        """The size of one step of the merged output, which feeds the next layer."""
        return self.h_out * (2 if self.merge == "concat" else 1)

    def output_shapes(self, steps: int, batch: int) -> dict[str, tuple[int, ...]]:
        """The shapes of the outputs for T = `steps`, B = `batch`: y, h_n, c_n (LSTM),
        y_out (with an Elman output layer).

        >>> Spec("lstm", input_size=3, hidden_size=4, direction="bidirectional").output_shapes(5, 2)
        {'y': (5, 2, 8), 'h_n': (2, 2, 4), 'c_n': (2, 2, 4)}
        """
        states = self.num_layers * self.num_directions
        y = (
            (steps, batch, 2, self.h_out)
            if self.merge == "none"
            else (steps, batch, self.merged_size)
        )
        shapes: dict[str, tuple[int, ...]] = {"y": y, "h_n": (states, batch, self.h_out)}
        if self.cell == "lstm":
            shapes["c_n"] = (states, batch, self.hidden_size)
        if self.output_size is not None:
            shapes["y_out"] = (steps, batch, self.output_size)
        return shapes

    def layer_input_size(self, layer: int) -> int:
        """I for layer 0, the merged output size of the layer below otherwise."""
        return self.input_size if layer == 0 else self.merged_size

    @property
    def directions(self) -> tuple[str, ...]:
        """The running directions of each layer, in the order of h_n's direction axis."""
        return {"forward": ("forward",), "reverse": ("reverse",)}.get(
            self.direction, ("forward", "reverse")
        )

    def replace(self, **changes: Any) -> Spec:
        """A copy with some options changed, validated again."""
        return replace(self, **changes)


def show_value(value: Any) -> str:
    if isinstance(value, Fraction):
        return repr(str(value))
    if isinstance(value, tuple):
        return repr(tuple(str(v) for v in value))
    if isinstance(value, Activation):
        return repr(str(value))
    return repr(value)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SpecError(f"`{name}` must be one of {', '.join(map(repr, allowed))}; got {value!r}")


def _integer(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f"`{name}` must be an integer >= {minimum}; got {value!r}")
