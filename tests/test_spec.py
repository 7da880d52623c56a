"""Bad specs are refused with messages that name the argument, the expectation and the value."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lstm_ref import Activation, Spec, SpecError

BAD = [
    (dict(cell="lstm2"), "`cell` must be one of 'lstm', 'gru', 'rnn'; got 'lstm2'"),
    (dict(hidden_size=0), "`hidden_size` must be an integer >= 1; got 0"),
    (dict(input_size=2.5), "`input_size` must be an integer >= 1; got 2.5"),
    (dict(num_layers=True), "`num_layers` must be an integer >= 1; got True"),
    (
        dict(cell="gru", proj_size=2),
        "`proj_size` is an LSTM option; got proj_size=2 with cell='gru'",
    ),
    (
        dict(cell="rnn", peepholes=True),
        "`peepholes` is an LSTM option; got peepholes=True with cell='rnn'",
    ),
    (
        dict(cell="gru", cell_clip=3),
        "`cell_clip` is an LSTM option; got cell_clip='3' with cell='gru'",
    ),
    (
        dict(merge="sum"),
        "`merge` combines the two directions of a bidirectional layer; got merge='sum' with "
        "direction='forward'",
    ),
    (
        dict(direction="bidirectional", merge="avg"),
        "`merge` must be one of 'concat', 'sum', 'ave', 'mul', 'none'; got 'avg'",
    ),
    (
        dict(direction="bidirectional", merge="none", num_layers=2),
        "`merge`='none' keeps the directions apart, so nothing can feed a next layer; got "
        "num_layers=2: use merge='concat' or num_layers=1",
    ),
    (dict(proj_size=4), "`proj_size` must be smaller than hidden_size=4; got 4"),
    (dict(cell_clip=-1), "`cell_clip` must be positive; got -1"),
    (
        dict(activation_clip="x"),
        "`activation_clip` must be a number such as '0.2' or '1/6'; got 'x'",
    ),
    (
        dict(input_forget=True, forget_bias=1),
        "`forget_bias` has no effect with input_forget=True (f_t = 1 - i_t); got forget_bias=1",
    ),
    (
        dict(activations=("Sigmoid", "Tanh")),
        "`activations` for cell='lstm' must have 3 entries (gates, candidate, cell output); "
        "got 2: ('Sigmoid', 'Tanh')",
    ),
    (
        dict(activations=("Sigmoid", "Tanh", "Swish")),
        "`activation` must be one of Sigmoid, Tanh, Relu, HardSigmoid, LeakyRelu, ThresholdedRelu, "
        "ScaledTanh, Affine, Elu, Softsign, Softplus; got 'Swish'",
    ),
    (
        dict(activations=("Sigmoid", "Tanh", "Tanh(2)")),
        "`alpha` is not a parameter of Tanh; got alpha='2'",
    ),
    (
        dict(cell="gru", nonlinearity="relu"),
        "`nonlinearity` is an RNN option; got nonlinearity='relu' with cell='gru': use "
        "`activations`",
    ),
    (
        dict(cell="rnn", nonlinearity="relu", activations=("Tanh",)),
        "`nonlinearity`='relu' contradicts activations=('Tanh',): give one of them",
    ),
    (
        dict(cell="rnn", nonlinearity="sigmoid"),
        "`nonlinearity` must be one of 'tanh', 'relu'; got 'sigmoid'",
    ),
    (
        dict(cell="lstm", gru_reset="before"),
        "`gru_reset` is a GRU option; got gru_reset='before' with cell='lstm'",
    ),
    (
        dict(cell="lstm", output_size=2),
        "`output_size` adds the Elman output layer, an RNN option; got output_size=2 with "
        "cell='lstm'",
    ),
    (
        dict(cell="rnn", output_size=2, direction="bidirectional", merge="none"),
        "`output_size` needs one output per step; got merge='none': use another merge",
    ),
    (dict(padded_outputs="keep"), "`padded_outputs` must be one of 'zero', 'carry'; got 'keep'"),
    (
        dict(hidden_size=5000),
        "`hidden_size` above 4096 makes exact evaluation take hours; got 5000: pass force=True if "
        "you mean it",
    ),
    (dict(bias=1), "`bias` must be True or False; got 1"),
    (
        dict(direction="bidirectional", padded_outputs="carry"),
        "`padded_outputs`='carry' is Keras's masking of a unidirectional RNN; Keras's "
        "Bidirectional zeroes padded outputs (force_zero_output_for_mask): got "
        "direction='bidirectional': use padded_outputs='zero'",
    ),
    (
        dict(clip_cell_output=False),
        "`clip_cell_output`=False only changes an LSTM with an activation_clip; got "
        "cell='lstm', activation_clip=None",
    ),
    (
        dict(output_activation="Tanh"),
        "`output_activation` belongs to the Elman output layer; got output_activation='Tanh' "
        "without output_size: set output_size, or leave output_activation out",
    ),
]


@pytest.mark.parametrize("changes, message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_spec_message(changes, message):
    options = dict(cell="lstm", input_size=3, hidden_size=4) | changes
    with pytest.raises(SpecError) as info:
        Spec(**options)
    assert str(info.value) == message


def test_force_allows_large_sizes():
    assert Spec("rnn", input_size=3, hidden_size=5000, force=True).hidden_size == 5000


def test_exact_option_values():
    spec = Spec(
        "lstm",
        3,
        4,
        cell_clip="0.1",
        forget_bias=0.5,
        activations=("HardSigmoid(1/6)", "Tanh", Activation("ScaledTanh", "3/2", 2)),
    )
    assert spec.cell_clip == Fraction(1, 10)
    assert spec.forget_bias == Fraction(1, 2)
    assert spec.activations[0] == Activation("HardSigmoid", Fraction(1, 6), Fraction(1, 2))
    assert spec.activations[2].alpha == Fraction(3, 2) and spec.activations[2].beta == 2


def test_nonlinearity_and_activations_agree():
    relu = Spec("rnn", 3, 4, nonlinearity="relu")
    assert relu.activations == (Activation("Relu"),)
    assert Spec("rnn", 3, 4, activations=("relu",)) == relu
    assert Spec("rnn", 3, 4).nonlinearity == "tanh"
    assert Spec("rnn", 3, 4, activations=("Softsign",)).nonlinearity is None


def test_derived_sizes():
    spec = Spec("lstm", 3, 5, num_layers=2, direction="bidirectional", proj_size=2)
    assert (spec.num_directions, spec.h_out, spec.merged_size) == (2, 2, 4)
    assert (spec.layer_input_size(0), spec.layer_input_size(1)) == (3, 4)
    assert Spec("gru", 3, 5, direction="bidirectional", merge="sum").merged_size == 5
    assert Spec("gru", 3, 5, direction="reverse").directions == ("reverse",)


def test_spec_is_frozen_and_hashable():
    spec = Spec("gru", 3, 4)
    with pytest.raises(AttributeError):
        spec.hidden_size = 5
    assert spec == Spec("gru", 3, 4) and hash(spec) == hash(Spec("gru", 3, 4))


def test_from_json_refuses_contradictions_and_round_trips():
    for spec in (
        Spec("rnn", 3, 4, nonlinearity="relu"),
        Spec("rnn", 3, 4, activations=("Elu",)),
        Spec("lstm", 3, 4, cell_clip="1/4", activations=("HardSigmoid(1/6)", "Tanh", "Tanh")),
    ):
        assert Spec.from_json(spec.to_json()) == spec
    data = Spec("rnn", 3, 4).to_json() | {"activations": ["Relu"]}
    contradiction = "`nonlinearity`='tanh' contradicts activations=\\('Relu',\\)"
    with pytest.raises(SpecError, match=contradiction):
        Spec.from_json(data)
    with pytest.raises(SpecError, match="`spec` has unknown options \\['clip'\\]"):
        Spec.from_json(Spec("gru", 3, 4).to_json() | {"clip": 3})


def test_output_shapes_are_those_of_the_forward_pass():
    # The generator sizes cotangents from Spec.output_shapes without evaluating.
    from lstm_ref import forward
    from lstm_ref.golden.catalogue import suite

    for case in suite("full"):
        params, inputs = case.draw()
        r = forward(case.spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens, bits=64)
        computed = {"y": r.y, "h_n": r.h_n, "c_n": r.c_n, "y_out": r.y_out}
        assert case.spec.output_shapes(*inputs.x.shape[:2]) == {
            k: v.shape for k, v in computed.items() if v is not None
        }, case.id
