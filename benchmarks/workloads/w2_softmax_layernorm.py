"""W2 - softmax, layernorm (eps 1e-5, affine g, b) and layernorm(softmax) over the last axis of (4096, 1024) f32.

Each call returns a new array. functorch_lite and jax are jitted (functorch_lite fuses each into one
row kernel: the reductions and the elementwise work of a row in one pass over memory); numpy and torch
run eagerly (torch's softmax and layer_norm are fused native kernels). ``first_call_s`` is the first call.
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

WORKLOAD = "W2"
SHAPE = (4096, 1024)
EPS = 1e-5


def _inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    x = rng.standard_normal(SHAPE, dtype=np.float32) * 2
    g = rng.standard_normal(SHAPE[-1], dtype=np.float32)
    b = rng.standard_normal(SHAPE[-1], dtype=np.float32)
    return x, g, b


def _make(xp: Any) -> dict[str, Callable]:
    """softmax / layernorm / ln(softmax) written once against a numpy-like module ``xp``."""

    def softmax(x: Any) -> Any:
        e = xp.exp(x - xp.max(x, axis=-1, keepdims=True))
        return e / xp.sum(e, axis=-1, keepdims=True)

    def layernorm(x: Any, g: Any, b: Any) -> Any:
        mu = xp.mean(x, axis=-1, keepdims=True)
        d = x - mu
        var = xp.mean(d * d, axis=-1, keepdims=True)
        return d / xp.sqrt(var + EPS) * g + b

    return {
        "softmax": lambda x, g, b: softmax(x),
        "layernorm": layernorm,
        "ln(softmax)": lambda x, g, b: layernorm(softmax(x), g, b),
    }


def _expected() -> dict[str, np.ndarray]:
    x, g, b = (a.astype(np.float64) for a in _inputs())
    return {k: f(x, g, b).astype(np.float32) for k, f in _make(np).items()}


def _cases(lib: str) -> tuple[dict[str, Callable[[], Any]], str]:
    xn, gn, bn = _inputs()
    if lib == "numpy":
        return {k: (lambda f=f: f(xn, gn, bn)) for k, f in _make(np).items()}, f"numpy {np.__version__}"
    if lib == "functorch_lite":
        import functorch_lite as fl
        import functorch_lite.numpy as fnp

        x, g, b = fnp.asarray(xn), fnp.asarray(gn), fnp.asarray(bn)
        fns = {k: fl.jit(f) for k, f in _make(fnp).items()}
        return {
            k: (lambda f=f: f(x, g, b)) for k, f in fns.items()
        }, "functorch_lite jit (fused C row kernels)"
    if lib == "jax":
        import jax
        import jax.numpy as jnp

        x, g, b = (jax.device_put(a) for a in (xn, gn, bn))
        fns = {k: jax.jit(f) for k, f in _make(jnp).items()}
        cases = {k: (lambda f=f: f(x, g, b).block_until_ready()) for k, f in fns.items()}
        return cases, f"jax {jax.__version__} jit, {jax.default_backend()}"
    if lib == "torch":
        import torch
        import torch.nn.functional as F

        x, g, b = (torch.from_numpy(a) for a in (xn, gn, bn))
        n = SHAPE[-1]
        cases = {
            "softmax": lambda: F.softmax(x, dim=-1),
            "layernorm": lambda: F.layer_norm(x, (n,), g, b, EPS),
            "ln(softmax)": lambda: F.layer_norm(F.softmax(x, dim=-1), (n,), g, b, EPS),
        }
        return cases, f"torch {torch.__version__} eager, {torch.get_num_threads()} threads"
    raise ValueError(lib)


def _to_numpy(out: Any) -> np.ndarray:
    if hasattr(out, "detach"):
        return out.detach().cpu().numpy()
    return np.asarray(out)


def main() -> int:
    args = parse_args(__doc__)
    cases, note = _cases(args.lib)
    expected = _expected()
    settings = quick_settings(args.quick)
    runner = CaseRunner(WORKLOAD, args.lib)
    for case, op in cases.items():

        def body(case: str = case, op: Callable = op) -> tuple[dict[str, Any], str]:
            t0 = time.perf_counter()
            out = op()
            first = time.perf_counter() - t0
            check_close(_to_numpy(out), expected[case], what=f"{args.lib} {case}", atol=1e-5, rtol=1e-4)
            stats = timeit(op, warmup=2, **settings)
            stats["first_call_s"] = first
            return stats, note

        runner.run(case, body)
    return runner.exit_code()


if __name__ == "__main__":
    sys.exit(main())
