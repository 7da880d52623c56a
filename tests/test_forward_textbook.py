"""The exact forward pass against an independent float64 textbook transcription.

Every cell kind and variant; each variant is also shown to change the result,
so a test cannot pass with the option ignored.
"""

from __future__ import annotations

import numpy as np
import pytest

import textbook
from helpers import normwise_relative
from lstm_ref import Spec, forward, random_inputs, random_params

SIZES = dict(input_size=3, hidden_size=4)
ALL_ACTIVATIONS = [
    "Sigmoid",
    "Tanh",
    "Relu",
    "HardSigmoid",
    "HardSigmoid(1/6, 1/2)",
    "LeakyRelu(0.1)",
    "ThresholdedRelu(1/16)",
    "ScaledTanh(1.5, 0.5)",
    "Affine(0.5, 0.25)",
    "Elu(0.75)",
    "Softsign",
    "Softplus",
]

CASES = {
    "lstm": dict(cell="lstm"),
    "lstm-no-bias": dict(cell="lstm", bias=False),
    "lstm-peepholes": dict(cell="lstm", peepholes=True),
    "lstm-proj": dict(cell="lstm", proj_size=2),
    "lstm-coupled": dict(cell="lstm", input_forget=True),
    "lstm-cell-clip": dict(cell="lstm", cell_clip="1/8"),
    "lstm-activation-clip": dict(cell="lstm", activation_clip="1/4"),
    "lstm-activation-clip-ort": dict(cell="lstm", activation_clip="1/4", clip_cell_output=False),
    "lstm-forget-bias": dict(cell="lstm", forget_bias=1),
    "lstm-reverse": dict(cell="lstm", direction="reverse"),
    "lstm-two-layers": dict(cell="lstm", num_layers=2),
    "lstm-all-variants": dict(
        cell="lstm",
        num_layers=2,
        direction="bidirectional",
        proj_size=3,
        peepholes=True,
        cell_clip="1/4",
        activation_clip=2,
    ),
    "gru": dict(cell="gru"),
    "gru-before": dict(cell="gru", gru_reset="before"),
    "gru-no-bias": dict(cell="gru", bias=False, gru_reset="before"),
    "gru-activation-clip": dict(cell="gru", activation_clip="1/4"),
    "gru-three-layers": dict(cell="gru", num_layers=3, direction="bidirectional"),
    "rnn": dict(cell="rnn"),
    "rnn-relu": dict(cell="rnn", nonlinearity="relu"),
    "rnn-output": dict(cell="rnn", output_size=2),
    "rnn-output-bi": dict(
        cell="rnn",
        output_size=3,
        direction="bidirectional",
        merge="ave",
        output_activation="Softplus",
    ),
    "rnn-carry": dict(cell="rnn", padded_outputs="carry", direction="reverse"),
    "lstm-carry": dict(cell="lstm", padded_outputs="carry", output_size=None),
}
for merge in ("concat", "sum", "ave", "mul", "none"):
    CASES[f"lstm-bi-{merge}"] = dict(cell="lstm", direction="bidirectional", merge=merge)
    CASES[f"gru-bi-{merge}"] = dict(
        cell="gru", direction="bidirectional", merge=merge, gru_reset="before"
    )
for act in ALL_ACTIVATIONS:
    CASES[f"lstm-act-{act}"] = dict(cell="lstm", activations=(act, act, act))
    CASES[f"gru-act-{act}"] = dict(cell="gru", activations=("Sigmoid", act))
    CASES[f"rnn-act-{act}"] = dict(cell="rnn", activations=(act,))


def compare(spec, seq_lens, seed=0):
    params = random_params(spec, seed=seed, scale=0.5)
    inputs = random_inputs(spec, steps=5, batch=4, seed=seed, seq_lens=seq_lens)
    exact = forward(spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens, digits=40)
    y, h_n, c_n, y_out = textbook.run(
        spec, dict(params), inputs.x, inputs.h0, inputs.c0, inputs.seq_lens
    )
    pairs = {
        "y": (exact.y, y),
        "h_n": (exact.h_n, h_n),
        "c_n": (exact.c_n, c_n),
        "y_out": (exact.y_out, y_out),
    }
    for name, (mine, theirs) in pairs.items():
        assert (mine is None) == (theirs is None), name
        if mine is not None:
            error = normwise_relative(mine.float64, theirs)
            assert error <= 1e-14, f"{name}: normwise relative error {error:.3g}"
    return exact


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_textbook(name):
    spec = Spec(**SIZES, **CASES[name])
    compare(spec, seq_lens=None)


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if "act-" not in n])
def test_matches_textbook_variable_lengths(name):
    spec = Spec(**SIZES, **CASES[name])
    exact = compare(spec, seq_lens=np.array([5, 0, 2, 1]))
    # the sequence of length 0 keeps its initial state, and outputs zero
    # (or the carried forward output, also zero when nothing ran)
    assert all(v == 0 for v in exact.y.values[:, 1].flat)


VARIANTS = [n for n in CASES if Spec(**SIZES, **CASES[n]) != Spec(**SIZES, cell=CASES[n]["cell"])]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_variant_changes_the_result(name):
    """A variant that left the outputs unchanged would be untested (or ignored)."""
    options = CASES[name]
    spec = Spec(**SIZES, **options)
    base = Spec(**SIZES, cell=options["cell"])
    seq_lens = np.array([5, 3, 2, 1])
    inputs = random_inputs(spec, steps=5, batch=4, seed=0, seq_lens=seq_lens)
    outputs = []
    for s in (spec, base):
        params = dict(random_params(s, seed=0, scale=0.5))
        y, h_n, _, y_out = textbook.run(s, params, inputs.x, None, None, seq_lens)
        outputs.append(
            np.concatenate(
                [np.ravel(y), np.ravel(h_n)] + ([] if y_out is None else [np.ravel(y_out)])
            )
        )
    # A variant that changes the output's shape is visibly not ignored either.
    same_shape = outputs[0].shape == outputs[1].shape
    assert not same_shape or not np.allclose(outputs[0], outputs[1], rtol=1e-6, atol=1e-9)
