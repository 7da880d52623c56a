"""Framework conventions as data (lstm_ref.layouts.conventions): each record's gate order,
names and bias split drive its mapping (lstm_ref.layouts.blocks); from_layout is
to_layout's transpose (the inverse where to_layout only rearranges); the diagnosis names
the gate orders the records hold; every refusal says why."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lstm_ref import Spec, random_params
from lstm_ref.checker.diagnose import HYPOTHESES
from lstm_ref.layouts import LAYOUTS, conventions, equinox, flax, keras, onnx, torch
from lstm_ref.layouts.blocks import block, from_layout, to_layout
from lstm_ref.layouts.conventions import (
    CANONICAL_ORDER,
    CONVENTIONS,
    EQUINOX,
    KERAS,
    ONNX,
    TORCH,
    known_orders,
)
from lstm_ref.params import Params, parameter_layout

MAPPED = {
    "torch": (TORCH, torch.to_torch),
    "onnx": (ONNX, onnx.to_onnx),
    "keras": (KERAS, keras.to_keras),
    "equinox": (EQUINOX, equinox.to_equinox),
}

SPECS = {
    "torch": [
        Spec("lstm", 3, 2, num_layers=2, direction="bidirectional"),
        Spec("lstm", 3, 4, proj_size=2),
        Spec("gru", 2, 3, bias=False),
        Spec("rnn", 2, 3, direction="bidirectional", nonlinearity="relu"),
    ],
    "onnx": [
        Spec("lstm", 3, 2, direction="bidirectional", merge="none", peepholes=True),
        Spec("lstm", 3, 2, input_forget=True, peepholes=True),
        Spec("gru", 2, 3, gru_reset="before"),
        Spec("rnn", 2, 3, bias=False),
    ],
    "keras": [
        Spec("lstm", 3, 2, num_layers=2),
        Spec("gru", 2, 3, direction="bidirectional"),
        Spec("gru", 2, 3, gru_reset="before"),
        Spec("rnn", 2, 3),
    ],
    "equinox": [Spec("lstm", 3, 2), Spec("gru", 2, 3), Spec("gru", 2, 3, bias=False)],
}
CASES = [(name, spec) for name, specs in SPECS.items() for spec in specs]


def labelled(spec):
    """Parameters whose every block says which gate it is: gate g's entries are g + 1
    plus a small distinct fraction (so blocks and elements are told apart)."""
    arrays = {}
    for name, (shape, _) in parameter_layout(spec).items():
        gate = name[-2] if name.endswith("]") else ""
        order = CANONICAL_ORDER[spec.cell]
        base = order.index(gate) + 1 if gate in order else 0
        arrays[name] = base + np.arange(np.prod(shape)).reshape(shape) / 1024
    return Params(spec, arrays)


@pytest.mark.parametrize("layout, spec", CASES, ids=[f"{n}-{s.cell}" for n, s in CASES])
def test_the_mapping_is_the_records(layout, spec):
    """Each mapping function gives exactly what the generic mapping makes of its record."""
    record, mapping = MAPPED[layout]
    params = random_params(spec, seed=3)
    ours, generic = mapping(spec, params), to_layout(record, spec, params)
    assert list(ours) == list(generic)
    for name in ours:
        np.testing.assert_array_equal(ours[name], generic[name])


@pytest.mark.parametrize("layout", sorted(MAPPED))
def test_the_records_gate_order_drives_the_mapping(layout, monkeypatch):
    """The weights hold the blocks in the record's order; with another order in the record,
    the mapping function follows it."""
    record, mapping = MAPPED[layout]
    spec = Spec("lstm", 3, 2)
    params = labelled(spec)
    kernel = record.name_of("W_x", "lstm").format(layer=0, direction=record.directions["forward"])

    def gates_of(arrays):
        value = arrays[kernel][0] if record.stack_directions else arrays[kernel]
        value = value.T if record.orientation == conventions.IN_OUT else value
        return [int(row[0]) for row in value[::2]]  # H = 2 rows per block

    def expected(order):
        return [CANONICAL_ORDER["lstm"].index(q) + 1 for q in order]

    assert gates_of(mapping(spec, params)) == expected(record.gate_order["lstm"])
    backwards = {**record.gate_order, "lstm": record.gate_order["lstm"][::-1]}
    monkeypatch.setattr(
        mapping.__module__ + "." + _record_name(record),
        dataclasses.replace(record, gate_order=backwards),
    )
    assert gates_of(mapping(spec, params)) == expected(backwards["lstm"])


def _record_name(record):
    return next(name for name, value in vars(conventions).items() if value is record)


def test_flax_names_and_order_come_from_its_record(monkeypatch):
    spec = Spec("gru", 2, 3)
    names = list(flax.to_flax(spec, random_params(spec)))
    assert names[:2] == ["layer0/forward/ir/kernel", "layer0/forward/hr/kernel"]
    assert names[-1] == "layer0/forward/hn/bias"
    renamed = dataclasses.replace(
        conventions.FLAX,
        names={**conventions.FLAX.names, "W_x": "{layer}.{direction}.x_{gate}"},
        gate_order={**conventions.FLAX.gate_order, "gru": ("z", "r", "n")},
    )
    monkeypatch.setattr(flax, "FLAX", renamed)
    assert list(flax.to_flax(spec, random_params(spec)))[0] == "0.forward.x_z"


@pytest.mark.parametrize("layout, spec", CASES, ids=[f"{n}-{s.cell}" for n, s in CASES])
def test_from_layout_is_the_transpose_of_to_layout(layout, spec):
    """<M p, g> = <p, M^T g> for random canonical p and layout-shaped g: reading gradients
    back is exact linear algebra, whatever the record's split and orientation."""
    record, _ = MAPPED[layout]
    rng = np.random.default_rng(7)
    p = Params(spec, {n: rng.standard_normal(s) for n, (s, _) in parameter_layout(spec).items()})
    mapped = to_layout(record, spec, p)
    g = {n: rng.standard_normal(v.shape) for n, v in mapped.items()}
    back = from_layout(record, spec, g)
    forward = sum(float(np.sum(mapped[n] * g[n])) for n in mapped)
    transposed = sum(float(np.sum(p[n] * back[n])) for n in p)
    assert forward == pytest.approx(transposed, rel=1e-12)


@pytest.mark.parametrize("spec", SPECS["torch"], ids=lambda s: s.cell)
def test_from_layout_inverts_a_rearrangement(spec):
    params = random_params(spec, seed=5)
    back = from_layout(TORCH, spec, to_layout(TORCH, spec, params))
    assert list(back) == list(params)
    for name in params:
        np.testing.assert_array_equal(back[name], params[name])


def test_from_layout_names_what_is_wrong():
    spec = Spec("gru", 2, 3)
    arrays = to_layout(EQUINOX, spec, random_params(spec))
    with pytest.raises(KeyError, match="no 'bias_n'"):
        from_layout(EQUINOX, spec, {k: v for k, v in arrays.items() if k != "bias_n"})
    with pytest.raises(ValueError, match=r"`bias` must have shape \(9,\); got \(8,\)"):
        from_layout(EQUINOX, spec, {**arrays, "bias": np.zeros(8)})
    with pytest.raises(ValueError, match=r"entries this spec does not use: \['extra'\]"):
        from_layout(EQUINOX, spec, {**arrays, "extra": np.zeros(1)})


def test_a_summed_bias_gradient_is_both_sides():
    spec = Spec("gru", 2, 3)
    arrays = to_layout(EQUINOX, spec, random_params(spec))
    grads = {k: np.ones_like(v) for k, v in arrays.items()}
    grads["bias"] = np.arange(9.0)
    grads["bias_n"] = np.full(3, -1.0)
    back = from_layout(EQUINOX, spec, grads)
    np.testing.assert_array_equal(back["layer0.b_x[r]"], [0, 1, 2])
    np.testing.assert_array_equal(back["layer0.b_h[r]"], [0, 1, 2])
    np.testing.assert_array_equal(back["layer0.b_x[n]"], [6, 7, 8])
    np.testing.assert_array_equal(back["layer0.b_h[n]"], [-1, -1, -1])


def test_the_diagnosis_names_the_gate_orders_one_record_holds(monkeypatch):
    assert known_orders("lstm") == {
        ("i", "o", "f", "g"): "ONNX i,o,f,c",
        ("i", "g", "f", "o"): "TF1 i,c,f,o",
    }
    assert known_orders("gru") == {}  # z,r,n is ONNX's and Keras's: not one framework's
    names = [h.name for h in HYPOTHESES]
    assert (
        "gate blocks permuted: the weights hold i,o,f,g where i,f,g,o was meant "
        "(ONNX i,o,f,c read as canonical)"
    ) in names
    mine = dataclasses.replace(
        conventions.CUDNN, name="Mine", gate_order={"lstm": ("o", "g", "f", "i")}
    )
    monkeypatch.setattr(conventions, "CONVENTIONS", (*CONVENTIONS, mine))
    assert known_orders("lstm")[("o", "g", "f", "i")] == "Mine o,g,f,i"


def test_every_refusal_says_why_and_layouts_refuse_what_their_record_does():
    for record in CONVENTIONS:
        for refusal in record.refuses:
            assert refusal.reason and refusal.option, (record.name, refusal)
    spec = Spec("lstm", 3, 2, peepholes=True, direction="reverse")
    assert TORCH.refusals(spec) == ["peepholes=True", "direction='reverse'"]
    assert KERAS.refusals(spec) == ["peepholes=True", "direction='reverse'"]
    assert ONNX.refusals(spec) == []
    for name, chosen in LAYOUTS.items():
        assert (chosen.convention is None) == (name == "canonical")


def test_records_hold_their_deviations_and_the_checker_tries_them():
    deviations = [h for record in CONVENTIONS for h in record.deviations]
    assert {h.name for h in deviations} <= {h.name for h in HYPOTHESES}
    assert any("ONNX Runtime" in h.name for h in ONNX.deviations)
    assert [h.name for h in KERAS.deviations] == [
        "activations only float32-accurate in a float64 computation (Keras 3 on JAX: "
        "keras.ops.tanh returns float32 for float64 input)"
    ]


def test_block_names():
    assert block("i", "W_x") == "W_x[i]" and block("", "b_h") == "b_h"
