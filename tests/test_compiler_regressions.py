"""Regressions found by the benchmarks: a jitted training step must compile and match eager."""

import warnings

import numpy as np

import functorch_lite as fl
import functorch_lite.numpy as fnp


def _mlp_step_inputs():
    rng = np.random.default_rng(0)
    sizes = (64, 48, 32, 10)
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [fnp.asarray(rng.standard_normal((a, b)).astype(np.float32) / np.sqrt(a)), fnp.zeros(b)]
    x = fnp.asarray(rng.standard_normal((128, sizes[0])).astype(np.float32))
    y = fnp.asarray(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)])
    return params, x, y


def _loss(params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    h = fnp.maximum(x @ w1 + b1, 0.0)
    h = fnp.maximum(h @ w2 + b2, 0.0)
    logits = h @ w3 + b3
    shifted = logits - fnp.max(logits, axis=1, keepdims=True)
    logp = shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=1, keepdims=True))
    return -fnp.sum(logp * y) / 128


def _step(params, x, y):
    loss, grads = fl.value_and_grad(_loss)(params, x, y)
    return loss, [p - 0.01 * g for p, g in zip(params, grads)]


def test_jitted_sgd_step_matches_eager():
    params, x, y = _mlp_step_inputs()
    loss, new = _step(params, x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an unfused fallback warns
        jloss, jnew = fl.jit(_step)(params, x, y)
    np.testing.assert_allclose(np.asarray(jloss), np.asarray(loss), rtol=1e-5)
    for a, b in zip(jnew, new):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)


def test_jitted_sgd_step_fuses_without_falling_back():
    params, x, y = _mlp_step_inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fl.jit(_step)(params, x, y)
