"""W4/W7 - transform workloads: per-example gradients (W4) and a Hessian (W7), eager and jitted.

Cases:
- ``W4 per-example grads (eager)`` / ``(jit)``: MLP 100-64-1 (tanh), batch 256, squared error, the four
  parameter gradients of every example: ``vmap(grad(loss), in_axes=(None, 0, 0))``. numpy: hand-derived.
- ``W7 hessian (eager)`` / ``(jit)``: Hessian of ``sum(tanh(A @ x)) ** 2`` at x in R^100. numpy: the closed
  form.
- ``W5j jit x + 1``: cache-hit call of a jitted ``x + 1`` on float32[10] (numpy column: plain ``x + 1``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import CaseRunner, check_close, parse_args  # noqa: E402
from _timer import quick_settings, timeit  # noqa: E402

WORKLOAD = "W4/W7"


def _w4_data() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    params = [
        (rng.standard_normal((100, 64)) / 10).astype(np.float32),
        np.zeros(64, np.float32),
        (rng.standard_normal((64, 1)) / 8).astype(np.float32),
        np.zeros(1, np.float32),
    ]
    return (
        params,
        rng.standard_normal((256, 100)).astype(np.float32),
        rng.standard_normal(256).astype(np.float32),
    )


def _w4_numpy(params: list, xs: np.ndarray, ys: np.ndarray) -> list:
    w1, b1, w2, b2 = params
    h = np.tanh(xs @ w1 + b1)  # (B, 64)
    out = (h @ w2 + b2)[:, 0]
    g_out = 2 * (out - ys)  # (B,)
    g_w2 = h[:, :, None] * g_out[:, None, None]
    g_b2 = g_out[:, None]
    g_z = (g_out[:, None] * w2[:, 0][None, :]) * (1 - h * h)
    g_w1 = xs[:, :, None] * g_z[:, None, :]
    return [g_w1, g_z, g_w2, g_b2]


def _w4_loss(np_like: Any):
    def loss(params: list, x: Any, y: Any) -> Any:
        w1, b1, w2, b2 = params
        h = np_like.tanh(x @ w1 + b1)
        out = (h @ w2 + b2)[0]
        return (out - y) ** 2

    return loss


def _w7_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return (rng.standard_normal((100, 100)) / 10).astype(np.float32), rng.standard_normal(100).astype(
        np.float32
    )


def _w7_numpy(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    t = np.tanh(a @ x)
    s = t.sum()
    d = 1 - t * t  # sech^2
    u = a.T @ d  # gradient of sum(tanh(Ax))
    return 2 * np.outer(u, u) + 2 * s * (a.T * (-2 * t * d)) @ a


def _w7_fn(np_like: Any):
    def f(a: Any, x: Any) -> Any:
        return np_like.sum(np_like.tanh(a @ x)) ** 2

    return f


def main() -> int:
    args = parse_args(__doc__)
    settings = quick_settings(args.quick)
    params, xs, ys = _w4_data()
    a, x0 = _w7_data()
    ref_w4 = _w4_numpy(params, xs, ys)
    ref_w7 = _w7_numpy(a, x0)
    small = np.arange(10, dtype=np.float32)
    lib = args.lib
    cases: dict[str, Any] = {}
    if lib == "numpy":
        cases = {
            "W4 per-example grads (eager)": lambda: _w4_numpy(params, xs, ys),
            "W4 per-example grads (jit)": lambda: _w4_numpy(params, xs, ys),
            "W7 hessian (eager)": lambda: _w7_numpy(a, x0),
            "W7 hessian (jit)": lambda: _w7_numpy(a, x0),
            "W5j jit x + 1": lambda: small + 1,
        }
        note = f"numpy {np.__version__} hand-derived"
    elif lib in ("functorch_lite", "jax"):
        if lib == "functorch_lite":
            import functorch_lite as T
            import functorch_lite.numpy as tnp

            block = lambda v: v  # noqa: E731
        else:
            import jax as T
            import jax.numpy as tnp

            block = T.block_until_ready
        p = [tnp.asarray(v) for v in params]
        txs, tys = tnp.asarray(xs), tnp.asarray(ys)
        per_example = T.vmap(T.grad(_w4_loss(tnp)), in_axes=(None, 0, 0))
        per_example_jit = T.jit(per_example)
        ta, tx = tnp.asarray(a), tnp.asarray(x0)
        hess = T.hessian(_w7_fn(tnp), argnums=1)
        hess_jit = T.jit(hess)
        add_one = T.jit(lambda v: v + 1)
        tsmall = tnp.asarray(small)
        cases = {
            "W4 per-example grads (eager)": lambda: block(per_example(p, txs, tys)),
            "W4 per-example grads (jit)": lambda: block(per_example_jit(p, txs, tys)),
            "W7 hessian (eager)": lambda: block(hess(ta, tx)),
            "W7 hessian (jit)": lambda: block(hess_jit(ta, tx)),
            "W5j jit x + 1": lambda: block(add_one(tsmall)),
        }
        note = f"{lib} {getattr(T, '__version__', '')}"
    else:
        return 0  # torch: see the peer baselines (torch.func) in shared/reference

    checks = {
        "W4 per-example grads (eager)": lambda out: [
            check_close(np.asarray(g).reshape(r.shape), r, what=f"W4 grad {k}", rtol=1e-3, atol=1e-5)
            for k, (g, r) in enumerate(zip(out, ref_w4))
        ],
        "W7 hessian (eager)": lambda out: check_close(
            np.asarray(out), ref_w7, what="W7 hessian", rtol=2e-3, atol=2e-3
        ),
    }
    checks["W4 per-example grads (jit)"] = checks["W4 per-example grads (eager)"]
    checks["W7 hessian (jit)"] = checks["W7 hessian (eager)"]
    runner = CaseRunner(WORKLOAD, lib)
    for case, op in cases.items():

        def body(case: str = case, op: Any = op) -> tuple[dict[str, Any], str]:
            if case in checks:
                checks[case](op())
            return timeit(op, warmup=3, **settings), note

        runner.run(case, body)
    return runner.exit_code()


if __name__ == "__main__":
    sys.exit(main())
