"""Exact gradients against torch.autograd in float64 (PyTorch is the `torch` extra)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import normwise_relative
from lstm_ref import Spec, backward, forward, random_inputs, random_params
from test_gradients import cotangents_for

torch = pytest.importorskip("torch", reason="PyTorch is the `torch` extra (torch==2.13.0)")
from lstm_ref.layouts.torch import from_torch, to_torch  # noqa: E402
from test_forward_torch import CASES as TORCH_CASES  # noqa: E402
from test_forward_torch import torch_module  # noqa: E402


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_gradients_match_torch_autograd(name):
    spec = Spec(input_size=3, hidden_size=4, **TORCH_CASES[name])
    params = random_params(spec, seed=4)
    inputs = random_inputs(spec, steps=5, batch=3, seed=4, seq_lens=np.array([5, 2, 4]))
    args = (spec, params, inputs.x, inputs.h0, inputs.c0, inputs.seq_lens)
    cot = cotangents_for(forward(*args), seed=4)
    exact = backward(*args, cotangents=cot, digits=40)

    module = torch_module(spec)
    module.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch(spec, params).items()})
    x = torch.tensor(inputs.x, requires_grad=True)
    h0 = torch.tensor(inputs.h0, requires_grad=True)
    c0 = None if inputs.c0 is None else torch.tensor(inputs.c0, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, torch.tensor(inputs.seq_lens), enforce_sorted=False
    )
    y, state = module(packed, h0 if c0 is None else (h0, c0))
    y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, total_length=inputs.steps)
    h_n, c_n = (state, None) if c0 is None else state
    total = (y * torch.tensor(cot["y"])).sum() + (h_n * torch.tensor(cot["h_n"])).sum()
    if c_n is not None:
        total = total + (c_n * torch.tensor(cot["c_n"])).sum()
    total.backward()

    pairs = [(exact.x, x.grad), (exact.h0, h0.grad)] + ([] if c0 is None else [(exact.c0, c0.grad)])
    theirs = from_torch(spec, {k: v.grad for k, v in module.named_parameters()})
    pairs += [(exact.params[k], theirs[k]) for k in theirs]
    for mine, other in pairs:
        assert normwise_relative(mine.float64, np.asarray(other)) <= 1e-12
