"""Canonical parameters of a layer stack, their shapes, and a seeded generator on the grid.

Parameters are a flat mapping from names to float64 arrays. A name is
`"{prefix}.{parameter}"` where the prefix is `layer{l}` for a forward-running
direction, `layer{l}_reverse` for a backward-running one, and `output` for the
Elman output layer. The parameter names are the step equations' own
(:mod:`lstm_ref.equations`), per gate q:

============  ================  =============================================
name          shape             meaning
============  ================  =============================================
W_x[q]        (H, I_l)          input weights (I_l: I for layer 0, else the
                                merged size of the layer below)
W_h[q]        (H, H_out)        recurrent weights
b_x[q]        (H,)              input-side bias (only with bias=True)
b_h[q]        (H,)              recurrent-side bias (only with bias=True)
p[q]          (H,)              LSTM peepholes, q in i, f, o
W_hr          (H_out, H)        LSTM projection (proj_size > 0)
W_y, b_y      (O, H_y), (O,)    Elman output layer (output_size set)
============  ================  =============================================

LSTM gates q are i, f, g, o (no f with input_forget); GRU r, z, n; the RNN's one
block has no gate index (W_x, W_h, b_x, b_h). float64 holds every value exactly,
so the exact evaluator reads them as the dyadic rationals they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import mpmath
import numpy as np

from lstm_ref.equations import output_program, step_program
from lstm_ref.grid import GridSampler, power_of_two_at_most
from lstm_ref.spec import Spec


def layer_prefix(layer: int, direction: str) -> str:
    """`layer{l}` for the forward-running direction, `layer{l}_reverse` for the other."""
    return f"layer{layer}" + ("_reverse" if direction == "reverse" else "")


def parameter_layout(spec: Spec) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every parameter's name, shape and shape in named dimensions, in canonical order.

    >>> layout = parameter_layout(Spec("rnn", input_size=3, hidden_size=2))
    >>> layout["layer0.W_x"]
    ((2, 3), '(H, I)')
    """
    layout: dict[str, tuple[tuple[int, ...], str]] = {}
    for layer in range(spec.num_layers):
        program = step_program(spec, layer)
        for direction in spec.directions:
            prefix = layer_prefix(layer, direction)
            for name, shape in program.parameters.items():
                layout[f"{prefix}.{name}"] = (shape, program.dims[name])
    out = output_program(spec)
    if out is not None:
        for name, shape in out.parameters.items():
            layout[f"output.{name}"] = (shape, out.dims[name])
    return layout


class Params(Mapping[str, np.ndarray]):
    """Validated canonical parameters: exactly the names of :func:`parameter_layout`.

    Arrays are copied to read-only float64; any finite float is accepted (it is an
    exact dyadic rational), grid values are what :func:`random_params` draws.

    >>> spec = Spec("rnn", input_size=1, hidden_size=1, bias=False)
    >>> Params(spec, {"layer0.W_x": [[0.5]], "layer0.W_h": [[0.25]]})["layer0.W_h"]
    array([[0.25]])
    """

    def __init__(self, spec: Spec, arrays: Mapping[str, object]) -> None:
        if not isinstance(arrays, Mapping):
            raise TypeError(
                f"`params` must be a mapping of names to arrays; got {type(arrays).__name__}"
            )
        layout = parameter_layout(spec)
        missing = [name for name in layout if name not in arrays]
        unexpected = [name for name in arrays if name not in layout]
        if missing or unexpected:
            raise ValueError(
                "`params` must have exactly the parameters of this spec; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and unexpected else "")
                + (f"unexpected {unexpected}" if unexpected else "")
                + f". Expected: {list(layout)}"
            )
        self.spec = spec
        self._arrays: dict[str, np.ndarray] = {}
        for name, (shape, dims) in layout.items():
            array = as_real_array(arrays[name], f"params[{name!r}]")
            if array.shape != shape:
                raise ValueError(
                    f"`params[{name!r}]` must have shape {dims} = {shape}; got {array.shape}"
                )
            array.setflags(write=False)
            self._arrays[name] = array

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._arrays[name]
        except KeyError:
            raise KeyError(f"no parameter {name!r}; available: {list(self._arrays)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def of(self, prefix: str) -> dict[str, np.ndarray]:
        """The parameters of one layer and direction (or "output"), without the prefix."""
        start = prefix + "."
        return {k[len(start) :]: v for k, v in self._arrays.items() if k.startswith(start)}


def random_params(spec: Spec, seed: int = 0, scale: float | None = None) -> Params:
    """Parameters drawn uniformly on the shared bfloat16/float16 grid.

    `scale` bounds the magnitudes; by default the largest power of two <= 1/sqrt(H)
    (PyTorch's initialisation range; the output layer uses its own fan-in).
    Different gates get different random values, so permuted gate blocks show.

    >>> p = random_params(Spec("lstm", input_size=3, hidden_size=4), seed=1)
    >>> p["layer0.W_x[f]"].shape, float(abs(p["layer0.W_x[f]"]).max()) < 0.5
    ((4, 3), True)
    """
    sampler = GridSampler(seed, stream=0)
    arrays = {}
    for name, (shape, _) in parameter_layout(spec).items():
        fan_in = spec.hidden_size if not name.startswith("output.") else spec.merged_size
        bound = scale if scale is not None else power_of_two_at_most(fan_in**-0.5)
        arrays[name] = sampler.draw(shape, bound)
    return Params(spec, arrays)


def as_real_array(value: object, name: str) -> np.ndarray:
    """`value` as a new finite real array, refused with a clear error otherwise.

    Integer and floating arrays become float64 (exactly). Object arrays of mpmath
    `mpf` values are kept as they are: they are exact dyadic rationals too, and let a
    caller step off float64's grid (finite differences, perturbation studies).
    """
    array = np.array(value, copy=True)
    if array.dtype == object:
        if not all(isinstance(v, mpmath.mpf) for v in array.flat):
            kinds = sorted({type(v).__name__ for v in array.flat})
            raise TypeError(
                f"`{name}` must be a real array or an array of mpmath mpf; got "
                f"elements of type {', '.join(kinds)}"
            )
        finite = np.array([mpmath.isfinite(v) for v in array.flat], dtype=bool).reshape(array.shape)
    elif array.dtype.kind not in "iuf":
        raise TypeError(
            f"`{name}` must be a real array (integer or floating); got dtype {array.dtype}"
        )
    else:
        original = array
        array = array.astype(np.float64)
        finite = np.isfinite(array)
        if finite.all() and original.dtype != np.float64:
            with np.errstate(over="ignore", invalid="ignore"):
                inexact = array.astype(original.dtype) != original
            if original.dtype.kind in "iu":  # int64 beyond 2^53 compares equal after the cast
                inexact |= np.abs(array) > 2.0**53
            if inexact.any():
                where = tuple(int(i) for i in np.argwhere(inexact)[0])
                raise ValueError(
                    f"`{name}` must hold values float64 represents exactly; got "
                    f"{original[where]!r} at index {where}"
                )
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"`{name}` must be finite; got {array[where]} at index {where}")
    return array
