"""Equinox, run by the built-in adapter (lstm_ref.frameworks.equinox_run) on the golden
cases: every case the equinox layout expresses passes in float32 and float64; a wrong
gate order is caught and named; what the layout refuses says why."""

from __future__ import annotations

import functools

import numpy as np
import pytest

pytest.importorskip("equinox", reason="Equinox is the `jax` extra")

from lstm_ref import check  # noqa: E402
from lstm_ref.frameworks import equinox_run  # noqa: E402
from lstm_ref.golden.load import load_suite  # noqa: E402
from lstm_ref.layouts.equinox import to_equinox  # noqa: E402


@functools.cache
def implementation(dtype):
    return equinox_run.implementation(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cell, passes", [("lstm", 7), ("gru", 3)])
def test_equinox_passes_every_expressible_case(cell, passes, dtype):
    report = check(implementation(dtype), cell=cell, layout="equinox", dtype=dtype)
    assert report.passed, str(report)
    assert report.counts()["pass"] == passes


def test_equinox_refusals_name_their_reason():
    report = check(implementation("float32"), cell="lstm", layout="equinox", dtype="float32")
    reasons = {c.id: c.reason for c in report.cases if c.status == "unsupported"}
    assert reasons["lstm-bi-sum"].startswith(
        "layout 'equinox' cannot express direction='bidirectional', seq_lens shorter than T"
    )
    assert reasons["lstm-act-Relu"] == (
        "layout 'equinox' cannot express activations=('Sigmoid', 'Relu', 'Relu')"
    )
    report = check(implementation("float32"), cell="rnn", layout="equinox", dtype="float32")
    assert report.counts() == {"unsupported": len(report.cases)}
    assert all("cell='rnn'" in c.reason for c in report.cases)


def test_equinox_gru_built_from_canonical_params_reproduces_golden():
    """The mapping against Equinox itself: eqx.nn.GRUCell holding to_equinox's weights
    (bias on the input side, bias_n = b_h[n] inside r * (...)), stepped by hand, gives the
    golden float32 values."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    case = next(c for c in load_suite("standard") if c.id == "gru-long")
    spec = case.spec
    cell = eqx.nn.GRUCell(spec.input_size, spec.hidden_size, key=jax.random.key(0))
    mapped = to_equinox(spec, case.params)
    cell = eqx.tree_at(
        lambda c: (c.weight_ih, c.weight_hh, c.bias, c.bias_n),
        cell,
        tuple(
            jnp.asarray(mapped[n], jnp.float32)
            for n in ("weight_ih", "weight_hh", "bias", "bias_n")
        ),
    )
    x, h0, _ = case.inputs_as("float32")
    step = jax.jit(jax.vmap(cell))
    h, ys = jnp.asarray(h0[0]), []
    for x_t in x:
        h = step(jnp.asarray(x_t), h)
        ys.append(np.asarray(h))
    expected = case.expected("float32")
    # A direct look at the mapped cell against the exact values rounded to float32; the
    # float32 run's error over these few steps is near 1e-7, so 1e-5 only allows for
    # float32 arithmetic. The verdict with proper bounds is the checker's (tests above).
    np.testing.assert_allclose(np.stack(ys), expected["y"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h), expected["h_n"][0], rtol=0, atol=1e-5)


def test_equinox_wrong_gate_order_fails_and_is_named():
    """The i and f blocks exchanged before Equinox sees them: caught, and named."""

    def swapped(x, params, h0, c0, seq_lens=None, config=None):
        moved = {}
        for name, value in params.items():
            i, f, g, o = np.split(value, 4)
            moved[name] = np.concatenate([f, i, g, o])
        return implementation("float32")(x, moved, h0, c0, seq_lens=seq_lens, config=config)

    report = check(swapped, cell="lstm", layout="equinox", dtype="float32")
    assert not report.passed
    assert report.diagnoses == [
        "gate blocks permuted: the weights hold f,i,g,o where i,f,g,o was meant"
    ], report.diagnoses


def equinox_vjp(dtype):
    """jax.vjp through the Equinox cell scanned over time (the runner's own cell and scan),
    in the equinox layout: the gradients of weight_ih, weight_hh, bias (and bias_n)."""
    import jax
    import jax.numpy as jnp

    def vjp(x, params, h0, c0, seq_lens=None, config=None, cotangents=None):
        assert seq_lens is None
        with equinox_run.precision(dtype):

            def run(x, params, h0, c0):
                cell = equinox_run.cell_for(config, params, dtype)
                final, y = equinox_run._scan(cell, x, h0[0] if c0 is None else (h0[0], c0[0]))
                h_n, c_n = (final, None) if c0 is None else final
                return y, h_n[None], None if c_n is None else c_n[None]

            cast = {k: jnp.asarray(v, dtype) for k, v in params.items()}
            c0 = None if c0 is None else jnp.asarray(c0, dtype)
            _, pullback = jax.vjp(run, jnp.asarray(x, dtype), cast, jnp.asarray(h0, dtype), c0)
            wanted = (
                jnp.asarray(cotangents["y"], dtype),
                jnp.asarray(cotangents["h_n"], dtype),
                None if c0 is None else jnp.asarray(cotangents["c_n"], dtype),
            )
            grad_x, grads, grad_h0, grad_c0 = pullback(wanted)
            return (
                np.asarray(grad_x),
                {k: np.asarray(v) for k, v in grads.items()},
                np.asarray(grad_h0),
                None if grad_c0 is None else np.asarray(grad_c0),
            )

    return vjp


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_equinox_gradients_read_back_through_its_record(cell):
    """JAX's gradients of Equinox's summed bias (and GRU's bias_n) read back as the
    canonical b_x and b_h pass against the exact gradients in float64."""
    report = check(
        implementation("float64"),
        cell=cell,
        layout="equinox",
        dtype="float64",
        gradients=True,
        vjp=equinox_vjp("float64"),
    )
    assert report.passed, str(report)
    judged = {o.name for c in report.cases for o in c.outputs}
    assert {"grad.x", "grad.h0"} <= judged
    assert any(".b_h[" in n for n in judged) and any(".b_x[" in n for n in judged)
