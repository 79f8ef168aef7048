"""FORI - jit(fori_loop) of 1000 tiny elementwise steps on float32[8]: per-iteration overhead.

The body is ``x * 0.999 + 0.001 * i`` (the loop index is used, so it cannot be folded away). Each call runs
the whole 1000-step loop; the ``per iteration`` row is the same timing divided by 1000. The numpy column is a
plain Python ``for`` loop of the same numpy operations (the floor for any per-step dispatch in Python).
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

WORKLOAD = "FORI"
STEPS, N = 1000, 8
CALL_CASE = f"jit fori_loop, {STEPS} steps (one call)"
STEP_CASE = "per iteration (one call / 1000)"

Op = Callable[[], Any]


def _x0() -> np.ndarray:
    return np.linspace(-1.0, 1.0, N, dtype=np.float32)


def _expected() -> np.ndarray:
    x = _x0()
    for i in range(STEPS):
        x = x * np.float32(0.999) + np.float32(0.001) * np.float32(i)
    return x


def _numpy_op() -> tuple[Op, str]:
    x0 = _x0()
    a, b = np.float32(0.999), np.float32(0.001)

    def run() -> np.ndarray:
        x = x0
        for i in range(STEPS):
            x = x * a + b * np.float32(i)
        return x

    return run, f"numpy {np.__version__}, Python for loop"


def _functorch_lite_op() -> tuple[Op, str]:
    import functorch_lite as fl
    import functorch_lite.numpy as fnp
    from functorch_lite import lax

    fori_loop = getattr(lax, "fori_loop", None)
    if fori_loop is None:  # until functorch_lite.lax re-exports the control-flow functions
        from functorch_lite.primitives.control_flow import fori_loop

    f = fl.jit(lambda x: fori_loop(0, STEPS, lambda i, x: x * 0.999 + 0.001 * i, x))
    x0 = fnp.asarray(_x0())
    return (lambda: f(x0)), f"functorch_lite {getattr(sys.modules['functorch_lite'], '__version__', '?')}"


def _jax_op() -> tuple[Op, str]:
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda x: jax.lax.fori_loop(0, STEPS, lambda i, x: x * 0.999 + 0.001 * i, x))
    x0 = jnp.asarray(_x0())
    return (lambda: f(x0).block_until_ready()), f"jax {jax.__version__} jit, {jax.default_backend()}"


def main() -> int:
    """Check, then time the 1000-step call; report it and its per-iteration share."""
    args = parse_args(__doc__)
    builders = {"numpy": _numpy_op, "functorch_lite": _functorch_lite_op, "jax": _jax_op}
    if args.lib not in builders:  # no torch version: its column stays empty
        return 0
    runner = CaseRunner(WORKLOAD, args.lib)
    op, note = builders[args.lib]()
    settings = quick_settings(args.quick)
    result: dict[str, Any] = {}

    def call() -> tuple[dict[str, Any], str]:
        check_close(np.asarray(op()), _expected(), what=f"{args.lib} fori_loop", rtol=1e-4, atol=1e-5)
        result.update(timeit(op, warmup=3, **settings))
        return dict(result), note

    def per_step() -> tuple[dict[str, Any], str]:
        if not result:
            raise RuntimeError("the one-call case failed")
        scaled = {k: (v / STEPS if k.endswith("_s") else v) for k, v in result.items()}
        return scaled, note

    runner.run(CALL_CASE, call)
    runner.run(STEP_CASE, per_step)
    return runner.exit_code()


if __name__ == "__main__":
    sys.exit(main())
