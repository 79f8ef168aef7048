"""RNN - Elman RNN via lax.scan: jit(value_and_grad) of an MSE loss (hidden 256, batch 32, 100 steps).

The model is ``h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)`` with inputs of width 128; the loss is the mean of
``(h_t - target_t) ** 2`` over every step, and the gradient is taken with respect to ``(Wx, Wh, b)``.
functorch_lite and JAX run the same code (``jit(value_and_grad(loss))`` with ``lax.scan``); the numpy
column is hand-written backpropagation through time, the floor a Python framework can hope for. A second
case times the forward pass alone (``jit(loss)``). Every result (loss and the three gradients) is checked
against numpy's in float32 first.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

import numpy as np  # noqa: E402
from _common import CaseRunner, check_close, parse_args  # noqa: E402
from _timer import quick_settings, timeit  # noqa: E402

WORKLOAD = "RNN"
STEPS, BATCH, HIDDEN, INPUT = 100, 32, 256, 128
GRAD_CASE = "jit(value_and_grad(loss)) 100 steps"
FORWARD_CASE = "jit(loss) forward only"

Op = Callable[[], Any]


def _inputs() -> dict[str, np.ndarray]:
    """Weights, inputs and targets (float32, fixed seed)."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    return {
        "wx": (rng.standard_normal((INPUT, HIDDEN)) / np.sqrt(INPUT)).astype(f32),
        "wh": (0.9 * rng.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)).astype(f32),
        "b": (0.1 * rng.standard_normal(HIDDEN)).astype(f32),
        "xs": rng.standard_normal((STEPS, BATCH, INPUT)).astype(f32),
        "targets": (0.5 * rng.standard_normal((STEPS, BATCH, HIDDEN))).astype(f32),
        "h0": np.zeros((BATCH, HIDDEN), f32),
    }


def numpy_value_and_grad(wx, wh, b, xs, targets, h0) -> tuple[np.float32, tuple[np.ndarray, ...]]:
    """The loss and its gradient by hand-written backpropagation through time."""
    hs = np.empty((STEPS, BATCH, HIDDEN), np.float32)
    h = h0
    for t in range(STEPS):
        h = np.tanh(xs[t] @ wx + h @ wh + b)
        hs[t] = h
    diff = hs - targets
    loss = np.mean(diff * diff, dtype=np.float32)
    dhs = diff * np.float32(2.0 / diff.size)
    dwx, dwh, db = np.zeros_like(wx), np.zeros_like(wh), np.zeros_like(b)
    dh_next = np.zeros_like(h0)
    for t in range(STEPS - 1, -1, -1):
        dpre = (dhs[t] + dh_next) * (1 - hs[t] * hs[t])
        h_prev = hs[t - 1] if t else h0
        dwx += xs[t].T @ dpre
        dwh += h_prev.T @ dpre
        db += dpre.sum(0)
        dh_next = dpre @ wh.T
    return loss, (dwx, dwh, db)


def _expected() -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    d = _inputs()
    loss, grads = numpy_value_and_grad(d["wx"], d["wh"], d["b"], d["xs"], d["targets"], d["h0"])
    return np.asarray(loss, np.float32), grads


def _numpy_cases() -> tuple[dict[str, Op], str]:
    d = _inputs()

    def forward() -> np.float32:
        h = d["h0"]
        hs = np.empty((STEPS, BATCH, HIDDEN), np.float32)
        for t in range(STEPS):
            h = np.tanh(d["xs"][t] @ d["wx"] + h @ d["wh"] + d["b"])
            hs[t] = h
        diff = hs - d["targets"]
        return np.mean(diff * diff, dtype=np.float32)

    cases: dict[str, Op] = {
        GRAD_CASE: lambda: numpy_value_and_grad(d["wx"], d["wh"], d["b"], d["xs"], d["targets"], d["h0"]),
        FORWARD_CASE: forward,
    }
    return cases, f"numpy {np.__version__}, hand-written BPTT"


def _rnn_loss(np_mod: Any, scan: Callable, h0: Any) -> Callable:
    """The same loss for functorch_lite and JAX (``np_mod`` is fnp or jax.numpy)."""

    def loss(params: tuple, xs: Any, targets: Any) -> Any:
        wx, wh, b = params

        def step(h: Any, x: Any) -> tuple[Any, Any]:
            h = np_mod.tanh(x @ wx + h @ wh + b)
            return h, h

        _, hs = scan(step, h0, xs)
        return np_mod.mean((hs - targets) ** 2)

    return loss


def _functorch_lite_cases() -> tuple[dict[str, Op], str]:
    import functorch_lite as fl
    import functorch_lite.numpy as fnp
    from functorch_lite import lax

    scan = getattr(lax, "scan", None)
    if scan is None:  # until functorch_lite.lax re-exports the control-flow functions
        from functorch_lite.primitives.control_flow import scan

    d = {k: fnp.asarray(v) for k, v in _inputs().items()}
    loss = _rnn_loss(fnp, scan, d["h0"])
    params = (d["wx"], d["wh"], d["b"])
    value_and_grad = fl.jit(fl.value_and_grad(loss))
    forward = fl.jit(loss)
    cases: dict[str, Op] = {
        GRAD_CASE: lambda: value_and_grad(params, d["xs"], d["targets"]),
        FORWARD_CASE: lambda: forward(params, d["xs"], d["targets"]),
    }
    return cases, f"functorch_lite {getattr(sys.modules['functorch_lite'], '__version__', '?')}"


def _jax_cases() -> tuple[dict[str, Op], str]:
    import jax
    import jax.numpy as jnp

    d = {k: jnp.asarray(v) for k, v in _inputs().items()}
    loss = _rnn_loss(jnp, jax.lax.scan, d["h0"])
    params = (d["wx"], d["wh"], d["b"])
    value_and_grad = jax.jit(jax.value_and_grad(loss))
    forward = jax.jit(loss)
    cases: dict[str, Op] = {
        GRAD_CASE: lambda: jax.block_until_ready(value_and_grad(params, d["xs"], d["targets"])),
        FORWARD_CASE: lambda: forward(params, d["xs"], d["targets"]).block_until_ready(),
    }
    return cases, f"jax {jax.__version__} jit, {jax.default_backend()}, block_until_ready"


def _check(case: str, out: Any, lib: str) -> None:
    loss, grads = _expected()
    if case == FORWARD_CASE:
        check_close(np.asarray(out), loss, what=f"{lib} loss", rtol=1e-4, atol=1e-6)
        return
    got_loss, got_grads = out
    check_close(np.asarray(got_loss), loss, what=f"{lib} loss", rtol=1e-4, atol=1e-6)
    for name, got, want in zip(("dWx", "dWh", "db"), got_grads, grads):
        check_close(np.asarray(got), want, what=f"{lib} {name}", rtol=2e-3, atol=2e-6)


def main() -> int:
    """Check, then time, every case of the chosen library; one JSON line per case."""
    args = parse_args(__doc__)
    builders = {"numpy": _numpy_cases, "functorch_lite": _functorch_lite_cases, "jax": _jax_cases}
    if args.lib not in builders:  # no torch version: its column stays empty
        return 0
    runner = CaseRunner(WORKLOAD, args.lib)
    cases, note = builders[args.lib]()
    settings = quick_settings(args.quick)
    for case, op in cases.items():

        def body(case: str = case, op: Op = op) -> tuple[dict[str, Any], str]:
            _check(case, op(), args.lib)
            return timeit(op, warmup=2, **settings), note

        runner.run(case, body)
    return runner.exit_code()


if __name__ == "__main__":
    sys.exit(main())
