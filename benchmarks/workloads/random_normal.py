"""RNG - drawing 1e6 float32 standard normals (and uniforms) under jit from a threefry key.

functorch_lite and JAX draw from ``PRNGKey(0)`` inside a jitted function (JAX results are waited for with
``block_until_ready()``); numpy draws with ``Generator.standard_normal``/``random`` from one
``default_rng(0)`` (a different generator, so its values are only checked for their moments).
functorch_lite and JAX are also checked against the first values JAX 0.10.2 gives for this key.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

import numpy as np  # noqa: E402
from _common import CaseRunner, parse_args  # noqa: E402
from _timer import quick_settings, timeit  # noqa: E402

WORKLOAD = "RNG"
N = 1_000_000

Op = Callable[[], Any]

# jax.random.normal(PRNGKey(0), (N,))[:4] and jax.random.uniform(PRNGKey(0), (N,))[:4] (JAX 0.10.2).
_JAX_NORMAL_HEAD = np.array([1.6226422, 2.0252647, -0.43359444, -0.07861735], np.float32)
_JAX_UNIFORM_HEAD = np.array([0.947667, 0.9785799, 0.33229148, 0.46866846], np.float32)


def _check(out: Any, case: str, lib: str) -> None:
    """Shape, dtype, moments; for the threefry libraries also JAX's first values."""
    arr = np.asarray(out)
    what = f"{lib} {case}"
    if arr.shape != (N,) or arr.dtype != np.float32:
        raise AssertionError(f"{what}: got shape {arr.shape} dtype {arr.dtype}, expected ({N},) float32")
    mean, std = float(arr.mean(dtype=np.float64)), float(arr.std(dtype=np.float64))
    want_mean, want_std = (0.0, 1.0) if case.startswith("normal") else (0.5, np.sqrt(1 / 12))
    if abs(mean - want_mean) > 0.01 or abs(std - want_std) > 0.01:
        raise AssertionError(f"{what}: mean {mean:.4f}, std {std:.4f}; expected {want_mean}, {want_std:.4f}")
    if lib in ("functorch_lite", "jax"):
        head = _JAX_NORMAL_HEAD if case.startswith("normal") else _JAX_UNIFORM_HEAD
        np.testing.assert_allclose(arr[:4], head, rtol=2e-6, atol=1e-7, err_msg=f"{what}: not JAX's values")


def _numpy_cases() -> tuple[dict[str, Op], str]:
    rng = np.random.default_rng(0)
    cases: dict[str, Op] = {
        "normal 1e6 f32": lambda: rng.standard_normal(N, dtype=np.float32),
        "uniform 1e6 f32": lambda: rng.random(N, dtype=np.float32),
    }
    return cases, f"numpy {np.__version__} default_rng (PCG64), not the same stream"


def _functorch_lite_cases() -> tuple[dict[str, Op], str]:
    import functorch_lite as fl
    from functorch_lite import random

    key = random.PRNGKey(0)
    normal = fl.jit(lambda k: random.normal(k, (N,)))
    uniform = fl.jit(lambda k: random.uniform(k, (N,)))
    cases: dict[str, Op] = {"normal 1e6 f32": lambda: normal(key), "uniform 1e6 f32": lambda: uniform(key)}
    fused = "fused kernels" in normal.lower(key).compile().as_text()
    backend = "fused C kernels" if fused else "numpy kernels (no fused C kernels)"
    return cases, f"functorch_lite {fl.__version__} jit, {backend}, threefry2x32"


def _jax_cases() -> tuple[dict[str, Op], str]:
    import jax

    key = jax.random.PRNGKey(0)
    normal = jax.jit(lambda k: jax.random.normal(k, (N,)))
    uniform = jax.jit(lambda k: jax.random.uniform(k, (N,)))
    cases: dict[str, Op] = {
        "normal 1e6 f32": lambda: normal(key).block_until_ready(),
        "uniform 1e6 f32": lambda: uniform(key).block_until_ready(),
    }
    return cases, f"jax {jax.__version__} jit, {jax.default_backend()}, block_until_ready"


def _torch_cases() -> tuple[dict[str, Op], str]:
    import torch

    gen = torch.Generator().manual_seed(0)
    cases: dict[str, Op] = {
        "normal 1e6 f32": lambda: torch.randn(N, generator=gen, dtype=torch.float32),
        "uniform 1e6 f32": lambda: torch.rand(N, generator=gen, dtype=torch.float32),
    }
    return cases, f"torch {torch.__version__} eager, cpu, Philox/MT generator (not the same stream)"


def main() -> int:
    """Check, then time, every case of the chosen library; one JSON line per case."""
    args = parse_args(__doc__)
    builders = {
        "numpy": _numpy_cases,
        "functorch_lite": _functorch_lite_cases,
        "jax": _jax_cases,
        "torch": _torch_cases,
    }
    cases, note = builders[args.lib]()
    settings = quick_settings(args.quick)
    runner = CaseRunner(WORKLOAD, args.lib)
    for case, op in cases.items():

        def body(case: str = case, op: Op = op) -> tuple[dict[str, Any], str]:
            out = op()
            _check(out.numpy() if args.lib == "torch" else out, case, args.lib)
            return timeit(op, warmup=3, **settings), note

        runner.run(case, body)
    return runner.exit_code()


if __name__ == "__main__":
    sys.exit(main())
