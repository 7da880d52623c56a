"""The exact forward pass against torch.nn.LSTM, GRU and RNN in float64,
through the canonical <-> PyTorch parameter mapping, tested against torch itself."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import normwise_relative
from lstm_ref import Spec, forward, random_inputs, random_params
from lstm_ref.layouts.torch import check_expressible, from_torch, to_torch

torch = pytest.importorskip("torch", reason="PyTorch is the `torch` extra (torch==2.13.0)")

CASES = {
    "lstm": dict(cell="lstm"),
    "lstm-no-bias": dict(cell="lstm", bias=False),
    "lstm-bi": dict(cell="lstm", direction="bidirectional"),
    "lstm-2-layers": dict(cell="lstm", num_layers=2),
    "lstm-bi-2-layers-proj": dict(
        cell="lstm", num_layers=2, direction="bidirectional", proj_size=2
    ),
    "lstm-proj": dict(cell="lstm", proj_size=3),
    "gru": dict(cell="gru"),
    "gru-bi-2-layers": dict(cell="gru", num_layers=2, direction="bidirectional"),
    "gru-no-bias": dict(cell="gru", bias=False),
    "rnn-tanh": dict(cell="rnn"),
    "rnn-relu": dict(cell="rnn", nonlinearity="relu"),
    "rnn-relu-bi-2-layers": dict(
        cell="rnn", nonlinearity="relu", num_layers=2, direction="bidirectional"
    ),
}


def torch_module(spec: Spec):
    kwargs = dict(
        input_size=spec.input_size,
        hidden_size=spec.hidden_size,
        num_layers=spec.num_layers,
        bias=spec.bias,
        bidirectional=spec.direction == "bidirectional",
        dtype=torch.float64,
    )
    if spec.cell == "lstm":
        return torch.nn.LSTM(proj_size=spec.proj_size, **kwargs)
    if spec.cell == "gru":
        return torch.nn.GRU(**kwargs)
    return torch.nn.RNN(nonlinearity=spec.nonlinearity, **kwargs)


def run_torch(module, spec, inputs, packed):
    x = torch.from_numpy(np.array(inputs.x))
    state = torch.from_numpy(np.array(inputs.h0))
    if spec.cell == "lstm":
        state = (state, torch.from_numpy(np.array(inputs.c0)))
    with torch.no_grad():
        if packed:
            lengths = torch.from_numpy(np.array(inputs.seq_lens))
            x = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        y, state = module(x, state)
        if packed:
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=inputs.steps)
    h_n, c_n = state if spec.cell == "lstm" else (state, None)
    return y.numpy(), h_n.numpy(), None if c_n is None else c_n.numpy()


def assert_agree(exact, theirs, tolerance):
    for name, mine, other in zip(
        ("y", "h_n", "c_n"), (exact.y, exact.h_n, exact.c_n), theirs, strict=True
    ):
        assert (mine is None) == (other is None), name
        if mine is not None:
            error = normwise_relative(mine.float64, other)
            assert error <= tolerance, f"{name}: normwise relative error {error:.3g}"


@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_torch_runs_canonical_parameters(name, packed):
    """to_torch: torch, loaded with the mapped canonical parameters, reproduces the reference."""
    spec = Spec(input_size=3, hidden_size=4, **CASES[name])
    params = random_params(spec, seed=3)
    seq_lens = np.array([6, 2, 5]) if packed else None
    inputs = random_inputs(spec, steps=6, batch=3, seed=3, seq_lens=seq_lens)
    exact = forward(spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens, digits=40)
    module = torch_module(spec)
    state = {k: torch.from_numpy(v) for k, v in to_torch(spec, params).items()}
    module.load_state_dict(state, strict=True)
    assert_agree(exact, run_torch(module, spec, inputs, packed), 1e-13)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_runs_torch_parameters(name):
    """from_torch: the reference, given torch's own initialised parameters, reproduces torch."""
    spec = Spec(input_size=3, hidden_size=4, **CASES[name])
    torch.manual_seed(0)
    module = torch_module(spec)
    params = from_torch(spec, module.state_dict())
    inputs = random_inputs(spec, steps=4, batch=2, seed=1)
    exact = forward(spec, params, inputs.x, inputs.h0, inputs.c0, digits=40)
    assert_agree(exact, run_torch(module, spec, inputs, packed=False), 1e-13)
    back = to_torch(spec, params)
    for key, value in module.state_dict().items():
        np.testing.assert_array_equal(back[key], value.numpy())


@pytest.mark.parametrize(
    "options, refused",
    [
        (dict(cell="lstm", peepholes=True), "peepholes=True"),
        (dict(cell="gru", gru_reset="before"), "gru_reset='before'"),
        (dict(cell="lstm", direction="bidirectional", merge="sum"), "merge='sum'"),
        (dict(cell="lstm", direction="reverse"), "direction='reverse'"),
        (dict(cell="rnn", activations=("Softsign",)), "activations=('Softsign',)"),
        (dict(cell="lstm", forget_bias=1), "forget_bias='1'"),
    ],
)
def test_inexpressible_options_are_refused_by_name(options, refused):
    spec = Spec(input_size=2, hidden_size=2, **options)
    with pytest.raises(ValueError, match="cannot express") as info:
        check_expressible(spec)
    assert refused in str(info.value)
