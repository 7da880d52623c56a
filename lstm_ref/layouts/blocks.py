"""Gate blocks stacked as a framework's record says (lstm_ref.layouts.conventions).

:func:`stack_blocks` is the one block-stacking helper; :func:`to_layout` maps canonical
parameters for any record whose weights are stacked gate blocks named in its `names`
(PyTorch, ONNX, Keras 3, Equinox), and :func:`from_layout` is its transpose: the
inverse where the record only rearranges blocks, the reading of gradients where it sums
b_x and b_h. Numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lstm_ref.layouts.conventions import IN_OUT, N_INSIDE, OUT_IN, STACKED, TWO, Convention
from lstm_ref.layouts.hypotheses import Arrays
from lstm_ref.params import Params, layer_prefix, parameter_layout
from lstm_ref.spec import Spec


def block(gate: str, kind: str) -> str:
    """The canonical name of one gate's block of a kind of parameter: W_x[i], or W_x
    for the Elman cell's one block."""
    return f"{kind}[{gate}]" if gate else kind


def stack_blocks(
    blocks: Mapping[str, np.ndarray],
    kind: str,
    order: tuple[str, ...],
    orientation: str = OUT_IN,
    zeros: tuple[int, ...] | None = None,
) -> np.ndarray:
    """One layer and direction's blocks of `kind` in `order`, stacked: one under the other,
    or (weights in :data:`IN_OUT`) transposed and side by side. A block that is absent is
    zeros of shape `zeros` when given (else KeyError)."""

    def get(gate: str) -> np.ndarray:
        name = block(gate, kind)
        return blocks[name] if zeros is None or name in blocks else np.zeros(zeros)

    parts = [get(q) for q in order]
    if orientation == IN_OUT and parts[0].ndim == 2:
        return np.concatenate([p.T for p in parts], axis=1)
    return np.concatenate(parts)


def _biases(
    convention: Convention,
    spec: Spec,
    blocks: Mapping[str, np.ndarray],
    order: tuple[str, ...],
    zeros: tuple[int, ...] | None,
) -> Arrays:
    """The biases of one layer and direction, by kind, as the convention splits them."""
    split = convention.bias_split(spec)
    if split == N_INSIDE:
        return {
            "b": np.concatenate(
                [
                    blocks[block(q, "b_x")]
                    if q == "n"
                    else blocks[block(q, "b_x")] + blocks[block(q, "b_h")]
                    for q in order
                ]
            ),
            "b_hn": blocks[block("n", "b_h")],
        }
    b_x = stack_blocks(blocks, "b_x", order, zeros=zeros)
    b_h = stack_blocks(blocks, "b_h", order, zeros=zeros)
    if split == TWO:
        return {"b_x": b_x, "b_h": b_h}
    if split == STACKED:
        return {"b": np.stack([b_x, b_h])}
    return {"b": b_x + b_h}


def _kinds(convention: Convention, spec: Spec, blocks: Mapping[str, np.ndarray]) -> Arrays:
    """Every array of one layer and direction, by kind ("W_x", "W_h", biases, "p", "W_hr")."""
    order = convention.gate_order[spec.cell]
    size, orientation = spec.hidden_size, convention.orientation

    def zeros(*shape: int) -> tuple[int, ...] | None:
        return shape if convention.zero_blocks else None

    arrays = {
        "W_x": stack_blocks(blocks, "W_x", order, orientation, zeros(size, spec.input_size)),
        "W_h": stack_blocks(blocks, "W_h", order, orientation, zeros(size, spec.h_out)),
    }
    if spec.bias:
        arrays |= _biases(convention, spec, blocks, order, zeros(size))
    if spec.peepholes and "p" in convention.names:
        arrays["p"] = stack_blocks(blocks, "p", convention.peephole_order, zeros=(size,))
    if "W_hr" in blocks and "W_hr" in convention.names:
        arrays["W_hr"] = blocks["W_hr"].copy()
    return arrays


def _placements(convention: Convention, spec: Spec) -> list[tuple[int, str]]:
    """The (layer, direction) pairs the names hold: a name without {layer} holds the
    first layer only; without {direction}, the forward one, unless directions stack."""
    pattern = convention.names["W_x"]
    layers = range(spec.num_layers) if "{layer}" in pattern else range(1)
    directions = (
        spec.directions if "{direction}" in pattern or convention.stack_directions else ("forward",)
    )
    return [(layer, direction) for layer in layers for direction in directions]


def to_layout(convention: Convention, spec: Spec, params: Params) -> dict[str, np.ndarray]:
    """Canonical parameters in the framework's names, orientation, gate order and bias
    split (for a record whose weights are stacked gate blocks, named in `names`)."""
    found: dict[str, list[np.ndarray]] = {}
    for layer, direction in _placements(convention, spec):
        where = {"layer": layer, "direction": convention.directions[direction]}
        blocks = params.of(layer_prefix(layer, direction))
        named: dict[str, list[np.ndarray]] = {}
        for kind, array in _kinds(convention, spec, blocks).items():
            named.setdefault(convention.name_of(kind, spec.cell).format(**where), []).append(array)
        for name, parts in named.items():
            found.setdefault(name, []).append(
                parts[0] if len(parts) == 1 else np.concatenate(parts)
            )
    if convention.stack_directions:
        return {name: np.stack(arrays) for name, arrays in found.items()}
    return {name: arrays[0] for name, arrays in found.items()}


def from_layout(convention: Convention, spec: Spec, arrays: Mapping[str, np.ndarray]) -> Params:
    """The transpose of :func:`to_layout`: arrays in the framework's names back as canonical
    parameters. Where :func:`to_layout` only rearranges (two biases, as PyTorch), this is
    its inverse; where it sums b_x and b_h, this reads gradients (the gradient of a summed
    bias is both b_x's and b_h's). Blocks sent as zeros get nothing back. KeyError or
    ValueError name a missing, misshapen or unexpected entry."""
    layout = parameter_layout(spec)
    placements = _placements(convention, spec)
    out: dict[str, np.ndarray] = {}
    used: set[str] = set()
    for index, (layer, direction) in enumerate(placements):
        prefix = layer_prefix(layer, direction) + "."
        zeros = {
            name[len(prefix) :]: np.zeros(shape)
            for name, (shape, _) in layout.items()
            if name.startswith(prefix)
        }
        kinds = _kinds(convention, spec, zeros)
        where = {"layer": layer, "direction": convention.directions[direction]}
        sharing: dict[str, list[str]] = {}
        for kind in kinds:
            sharing.setdefault(convention.name_of(kind, spec.cell).format(**where), []).append(kind)
        for name, shared in sharing.items():
            if name not in arrays:
                raise KeyError(f"no {name!r}; available: {sorted(arrays)}")
            used.add(name)
            value = np.asarray(arrays[name], dtype=np.float64)
            if convention.stack_directions:
                if value.ndim == 0 or value.shape[0] != len(placements):
                    raise ValueError(
                        f"`{name}` must have {len(placements)} directions on its "
                        f"first axis; got shape {value.shape}"
                    )
                value = value[index]
            shape = np.concatenate([kinds[k] for k in shared]).shape
            if value.shape != shape:
                raise ValueError(f"`{name}` must have shape {shape}; got {value.shape}")
            rows = np.cumsum([kinds[k].shape[0] for k in shared])[:-1]
            for kind, part in zip(shared, np.split(value, rows), strict=True):
                out |= _unstack(convention, spec, kind, part, prefix)
    unexpected = sorted(set(arrays) - used)
    if unexpected:
        raise ValueError(f"entries this spec does not use: {unexpected}")
    return Params(spec, {k: out[k] for k in layout if k in out})


def _unstack(
    convention: Convention, spec: Spec, kind: str, value: np.ndarray, prefix: str
) -> dict[str, np.ndarray]:
    """One kind's array (one layer and direction) back as canonical blocks."""
    order, size = convention.gate_order[spec.cell], spec.hidden_size
    if kind == "W_hr":
        return {prefix + "W_hr": value}
    if kind == "b_hn":
        return {prefix + block("n", "b_h"): value}
    if kind == "b" and value.ndim == 2:  # STACKED: the row of b_x, then the row of b_h
        return {
            **_unstack(convention, spec, "b_x", value[0], prefix),
            **_unstack(convention, spec, "b_h", value[1], prefix),
        }
    if kind == "p":
        order = convention.peephole_order
    if value.ndim == 2 and convention.orientation == IN_OUT:
        value = value.T
    split = convention.bias_split(spec) if spec.bias else ""
    out = {}
    for g, q in enumerate(order):
        part = value[g * size : (g + 1) * size]
        if kind != "b":
            out[prefix + block(q, kind)] = part
            continue
        out[prefix + block(q, "b_x")] = part  # b = b_x + b_h: each side gets the sum's
        if not (split == N_INSIDE and q == "n"):
            out[prefix + block(q, "b_h")] = part
    return out
