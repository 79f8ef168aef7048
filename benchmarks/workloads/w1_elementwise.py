"""W1 - fused elementwise gelu-tanh 0.5*x*(1+tanh(0.7978845608*(x+0.044715*x**3))), float32, n = 1e3..1e7.

Each call returns a new array (jit libraries may recycle the memory of results the caller dropped, as
allocators do). The ``in place`` cases donate the input (``donate_argnums``) so the result is written over
it; since each call feeds gelu its own last output, the values decay towards 0 and ``x*x*x`` passes through
the subnormal range for many calls, which costs IEEE arithmetic (numpy's, ours) tens of cycles per element but
not XLA, which flushes subnormals to zero: compare the in-place rows across libraries with that in mind.
numpy spells ``x**3`` as ``x*x*x`` (its float32 ``x**3`` goes through ``pow``, 10-45x slower; jax and
functorch_lite lower integer powers to multiplications). ``first_call_s`` is the first call: trace and
compile (for functorch_lite: a C compiler call, or a disk-cache hit).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

import numpy as np  # noqa: E402
from _common import CaseRunner, check_close, parse_args  # noqa: E402
from _timer import quick_settings, timeit  # noqa: E402

WORKLOAD = "W1"
SIZES = (1_000, 100_000, 1_000_000, 10_000_000)
C1, C2 = 0.7978845608, 0.044715


def _input(n: int) -> np.ndarray:
    return np.random.default_rng(1).standard_normal(n, dtype=np.float32) * 3


def _expected(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(C1 * (x + C2 * (x * x * x))))


def _case(n: int, suffix: str = "") -> str:
    return f"n=1e{len(str(n)) - 1}{suffix}"


def _cases(lib: str) -> tuple[dict[str, tuple[Callable[[], Any], Any, Any]], str]:
    """case -> (call, checked output maker, donation step or None)."""
    cases: dict[str, tuple[Callable[[], Any], Any, Any]] = {}
    if lib == "numpy":
        for n in SIZES:
            x = _input(n)
            cases[_case(n)] = (lambda x=x: 0.5 * x * (1 + np.tanh(C1 * (x + C2 * (x * x * x)))), None, None)
        return cases, f"numpy {np.__version__} (x*x*x)"
    if lib == "functorch_lite":
        import functorch_lite as fl
        import functorch_lite.numpy as fnp

        def gelu(x: Any) -> Any:
            return 0.5 * x * (1 + fnp.tanh(C1 * (x + C2 * x**3)))

        f = fl.jit(gelu)
        f_donate = fl.jit(gelu, donate_argnums=0)
        for n in SIZES:
            x = fnp.asarray(_input(n))
            cases[_case(n)] = (lambda x=x: f(x), None, None)
            state = {"x": fnp.asarray(_input(n))}

            def step(state: dict = state) -> Any:
                state["x"] = f_donate(state["x"])
                return state["x"]

            cases[_case(n, " in place")] = (step, None, "donate")
        return cases, "functorch_lite jit (fused C kernel)"
    if lib == "jax":
        import jax
        import jax.numpy as jnp

        def gelu_j(x: Any) -> Any:
            return 0.5 * x * (1 + jnp.tanh(C1 * (x + C2 * x**3)))

        f = jax.jit(gelu_j)
        f_donate = jax.jit(gelu_j, donate_argnums=0)
        for n in SIZES:
            x = jax.device_put(_input(n))
            cases[_case(n)] = (lambda x=x: f(x).block_until_ready(), None, None)
            state = {"x": jax.device_put(_input(n))}

            def step(state: dict = state) -> Any:
                state["x"] = f_donate(state["x"])
                return state["x"].block_until_ready()

            cases[_case(n, " in place")] = (step, None, "donate")
        return cases, f"jax {jax.__version__} jit, {jax.default_backend()}"
    if lib == "torch":
        import torch

        for n in SIZES:
            x = torch.from_numpy(_input(n))
            cases[_case(n)] = (lambda x=x: 0.5 * x * (1 + torch.tanh(C1 * (x + C2 * x**3))), None, None)
        return cases, f"torch {torch.__version__} eager, {torch.get_num_threads()} threads"
    raise ValueError(lib)


def _to_numpy(out: Any) -> np.ndarray:
    if hasattr(out, "detach"):
        return out.detach().cpu().numpy()
    return np.asarray(out)


def main() -> int:
    args = parse_args(__doc__)
    cases, note = _cases(args.lib)
    settings = quick_settings(args.quick)
    runner = CaseRunner(WORKLOAD, args.lib)
    for case, (op, _, donate) in cases.items():

        def body(case: str = case, op: Callable = op, donate: Any = donate) -> tuple[dict[str, Any], str]:
            n = 10 ** int(case.split("e")[1].split()[0])
            t0 = time.perf_counter()
            out = op()
            first = time.perf_counter() - t0
            if donate is None:
                check_close(
                    _to_numpy(out), _expected(_input(n)), what=f"{args.lib} {case}", atol=2e-6, rtol=2e-6
                )
            stats = timeit(op, warmup=2, **settings)
            stats["first_call_s"] = first
            return stats, note

        runner.run(case, body)
    return runner.exit_code()


if __name__ == "__main__":
    sys.exit(main())
