"""W3 - MLP 784-512-512-10, batch 128: eager gradient of a tanh MLP's loss, and a jitted ReLU SGD step.

Cases:
- ``grad tanh MLP (eager)``: loss value and the gradients of all six parameters of a 3-layer tanh MLP with a
  mean softmax cross-entropy (no jit). numpy: a hand-written backward pass. jax: ``jax.value_and_grad``
  without jit. torch: ``loss.backward()``.
- ``SGD step ReLU MLP (jit)``: the same network with ReLU, ``value_and_grad`` plus ``p - 0.01 * g`` inside
  one jitted function (numpy: the hand-written step). The step's loss is checked against numpy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import CaseRunner, check_close, parse_args  # noqa: E402
from _timer import quick_settings, timeit  # noqa: E402

WORKLOAD = "W3"
SIZES = (784, 512, 512, 10)
BATCH = 128


def _data() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32))
        params.append(np.zeros(fan_out, np.float32))
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    labels = rng.integers(0, SIZES[-1], BATCH)
    onehot = np.eye(SIZES[-1], dtype=np.float32)[labels]
    return params, x, onehot


def _numpy_loss_and_grads(params: list, x: np.ndarray, y: np.ndarray, act: str) -> tuple[float, list]:
    w1, b1, w2, b2, w3, b3 = params
    z1 = x @ w1 + b1
    h1 = np.tanh(z1) if act == "tanh" else np.maximum(z1, 0)
    z2 = h1 @ w2 + b2
    h2 = np.tanh(z2) if act == "tanh" else np.maximum(z2, 0)
    logits = h2 @ w3 + b3
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -(logp * y).sum() / BATCH
    g_logits = (np.exp(logp) - y) / BATCH
    g_w3, g_b3 = h2.T @ g_logits, g_logits.sum(0)
    g_h2 = g_logits @ w3.T
    g_z2 = g_h2 * (1 - h2 * h2) if act == "tanh" else g_h2 * (z2 > 0)
    g_w2, g_b2 = h1.T @ g_z2, g_z2.sum(0)
    g_h1 = g_z2 @ w2.T
    g_z1 = g_h1 * (1 - h1 * h1) if act == "tanh" else g_h1 * (z1 > 0)
    g_w1, g_b1 = x.T @ g_z1, g_z1.sum(0)
    return loss, [g_w1, g_b1, g_w2, g_b2, g_w3, g_b3]


def _fnp_loss(fnp: Any, act: str):
    def loss(params: list, x: Any, y: Any) -> Any:
        w1, b1, w2, b2, w3, b3 = params
        f = fnp.tanh if act == "tanh" else (lambda z: fnp.maximum(z, 0.0))
        h1 = f(x @ w1 + b1)
        h2 = f(h1 @ w2 + b2)
        logits = h2 @ w3 + b3
        shifted = logits - fnp.max(logits, axis=1, keepdims=True)
        logp = shifted - fnp.log(fnp.sum(fnp.exp(shifted), axis=1, keepdims=True))
        return -fnp.sum(logp * y) / BATCH

    return loss


def main() -> int:
    args = parse_args(__doc__)
    settings = quick_settings(args.quick)
    params, x, y = _data()
    ref_loss, ref_grads = _numpy_loss_and_grads(params, x, y, "tanh")
    ref_relu_loss, _ = _numpy_loss_and_grads(params, x, y, "relu")
    runner = CaseRunner(WORKLOAD, args.lib)
    lib = args.lib

    if lib == "numpy":
        cases = {
            "grad tanh MLP (eager)": lambda: _numpy_loss_and_grads(params, x, y, "tanh"),
            "SGD step ReLU MLP (jit)": lambda: _numpy_step(params, x, y),
        }
        note = f"numpy {np.__version__} hand-written backward"
        check = {"grad tanh MLP (eager)": lambda out: _check_grads(out, ref_loss, ref_grads)}
    elif lib == "functorch_lite":
        import functorch_lite as fl
        import functorch_lite.numpy as fnp

        fp = [fnp.asarray(p) for p in params]
        fx, fy = fnp.asarray(x), fnp.asarray(y)
        grad_fn = fl.value_and_grad(_fnp_loss(fnp, "tanh"))
        relu_loss = _fnp_loss(fnp, "relu")

        @fl.jit
        def step(p: list, xb: Any, yb: Any) -> Any:
            loss, g = fl.value_and_grad(relu_loss)(p, xb, yb)
            return loss, [w - 0.01 * gw for w, gw in zip(p, g)]

        cases = {
            "grad tanh MLP (eager)": lambda: grad_fn(fp, fx, fy),
            "SGD step ReLU MLP (jit)": lambda: step(fp, fx, fy),
        }
        note = "functorch_lite"
        check = {
            "grad tanh MLP (eager)": lambda out: _check_grads((out[0], out[1]), ref_loss, ref_grads),
            "SGD step ReLU MLP (jit)": lambda out: check_close(
                np.float32(out[0]), np.float32(ref_relu_loss), what="step loss", rtol=1e-4
            ),
        }
    elif lib == "jax":
        import jax
        import jax.numpy as jnp

        jp = [jnp.asarray(p) for p in params]
        jx, jy = jnp.asarray(x), jnp.asarray(y)
        grad_fn = jax.value_and_grad(_fnp_loss(jnp, "tanh"))
        relu_loss = _fnp_loss(jnp, "relu")

        @jax.jit
        def step(p: list, xb: Any, yb: Any) -> Any:
            loss, g = jax.value_and_grad(relu_loss)(p, xb, yb)
            return loss, [w - 0.01 * gw for w, gw in zip(p, g)]

        cases = {
            "grad tanh MLP (eager)": lambda: jax.block_until_ready(grad_fn(jp, jx, jy)),
            "SGD step ReLU MLP (jit)": lambda: jax.block_until_ready(step(jp, jx, jy)),
        }
        note = f"jax {jax.__version__}"
        check = {"grad tanh MLP (eager)": lambda out: _check_grads(out, ref_loss, ref_grads)}
    else:
        import torch

        torch.set_num_threads(2)
        tp = [torch.tensor(p, requires_grad=True) for p in params]
        tx, ty = torch.tensor(x), torch.tensor(y)

        def torch_grads() -> Any:
            for p in tp:
                p.grad = None
            w1, b1, w2, b2, w3, b3 = tp
            h = torch.tanh(torch.tanh(tx @ w1 + b1) @ w2 + b2)
            loss = -(torch.log_softmax(h @ w3 + b3, dim=1) * ty).sum() / BATCH
            loss.backward()
            return loss.detach(), [p.grad for p in tp]

        cases = {"grad tanh MLP (eager)": torch_grads}
        note = f"torch {torch.__version__}"
        check = {
            "grad tanh MLP (eager)": lambda out: _check_grads(
                (out[0].numpy(), [g.numpy() for g in out[1]]), ref_loss, ref_grads
            )
        }

    for case, op in cases.items():

        def body(case: str = case, op: Any = op) -> tuple[dict[str, Any], str]:
            if case in check:
                check[case](op())
            return timeit(op, warmup=3, **settings), note

        runner.run(case, body)
    return runner.exit_code()


def _check_grads(out: Any, ref_loss: float, ref_grads: list) -> None:
    loss, grads = out
    check_close(np.float32(np.asarray(loss)), np.float32(ref_loss), what="loss", rtol=1e-4, atol=1e-5)
    for k, (g, r) in enumerate(zip(grads, ref_grads)):
        check_close(np.asarray(g), r.astype(np.float32), what=f"grad {k}", rtol=1e-3, atol=2e-5)


def _numpy_step(params: list, x: np.ndarray, y: np.ndarray) -> tuple[float, list]:
    loss, grads = _numpy_loss_and_grads(params, x, y, "relu")
    return loss, [p - 0.01 * g for p, g in zip(params, grads)]


if __name__ == "__main__":
    sys.exit(main())
