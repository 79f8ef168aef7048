"""W6 - trace + compile cost of jit: `x @ w1`, 25 elementwise ops, `@ w2`, 25 elementwise ops.

x (64, 128), w1 and w2 (128, 128), float32; the elementwise ops cycle through tanh, `*c`, `+c`, exp, `-c`,
maximum, `h*h` and sin. Every figure comes from fresh subprocesses (5, or 3 with ``--quick``), each running
this script again with ``W6_CHILD=1``; a row is the median (and best) over them. In each process the inputs
are converted first (for jax this also starts the backend), then the jitted function's first call is timed,
checked against numpy and followed by a steady-state timing. "compile" is the first call minus that
process's median steady call. functorch_lite's "cold" processes get a new, empty
``FUNCTORCH_LITE_CACHE_DIR``, so they probe the compiler and build the kernels; the kernel runtime is the
one pip built at install time (``setup.py``), except in the "runtime not prebuilt" row
(``FUNCTORCH_LITE_PREBUILT_RUNTIME=0``), where the first jit also builds the runtime, in a second compiler
process beside the kernels' (what a machine without the install-time build pays once). The "warm disk
cache" process reuses the directory the cold one filled. jax has no persistent compilation cache unless one
is configured (it is unset here), so a new jax process always compiles cold and has no warm-cache row.
"2nd jit in the same process" is a second function (other constants) jitted after the first. numpy and
torch have no jit here: their columns stay empty.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

import numpy as np  # noqa: E402
from _common import REPO_ROOT, CaseRunner, check_close, parse_args  # noqa: E402
from _timer import quick_settings, timeit  # noqa: E402

WORKLOAD = "W6"
CHILD_ENV = "W6_CHILD"
FIRST = "first call, cold (empty disk cache)"
FIRST_NO_PREBUILT = "first call, cold, runtime not prebuilt"
COLD = "compile, cold (empty disk cache)"
WARM = "compile, new process, warm disk cache"
SECOND = "compile, 2nd jit in the same process"
STEADY = "steady call"


def make(k: int, m: Any) -> Any:
    """The W6 function; ``m`` is numpy, functorch_lite.numpy or jax.numpy; ``k`` varies the constants."""
    c = 1.0 + 0.001 * k
    ops = [
        m.tanh,
        lambda h: h * (0.9 * c),
        lambda h: h + 0.1 * c,
        m.exp,
        lambda h: h - c,
        lambda h: m.maximum(h, -0.25 * c),
        lambda h: h * h,
        m.sin,
    ]

    def f(x: Any, w1: Any, w2: Any) -> Any:
        h = x @ w1
        for i in range(25):
            h = ops[i % len(ops)](h)
        h = h @ w2
        for i in range(25):
            h = ops[i % len(ops)](h)
        return h

    return f


def arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 128), dtype=np.float32)
    w1 = (rng.standard_normal((128, 128), dtype=np.float32) / np.float32(np.sqrt(128))).astype(np.float32)
    w2 = (rng.standard_normal((128, 128), dtype=np.float32) / np.float32(np.sqrt(128))).astype(np.float32)
    return x, w1, w2


def child(lib: str, quick: bool) -> int:
    """In a fresh process: per function, the first call's time and the steady-state timing (one JSON line)."""
    if lib == "functorch_lite":
        import functorch_lite as fl
        import functorch_lite.numpy as m

        jit, sync = fl.jit, lambda out: out
        args = [m.asarray(a) for a in arrays()]
        note = f"functorch_lite {getattr(fl, '__version__', '?')} jit (fused C kernels)"
    else:
        import jax
        import jax.numpy as m

        jit, sync = jax.jit, jax.block_until_ready
        args = jax.block_until_ready([jax.device_put(a) for a in arrays()])
        note = f"jax {jax.__version__} jit, {jax.default_backend()}"
    results = []
    for k in (0, 1):
        fn = jit(make(k, m))
        t0 = time.perf_counter()
        out = sync(fn(*args))
        first = time.perf_counter() - t0
        want = make(k, np)(*arrays())
        check_close(np.asarray(out), want, what=f"{lib} W6 function {k}", rtol=1e-4, atol=1e-5)
        steady = timeit(lambda fn=fn: sync(fn(*args)), warmup=2, **quick_settings(quick))
        results.append(
            {"first_s": first, "compile_s": first - steady["median_s"], "steady_s": steady["median_s"]}
        )
    print(json.dumps({"note": note, "functions": results}))
    return 0


def spawn(lib: str, quick: bool, cache_dir: str, prebuilt_runtime: bool = True) -> dict[str, Any]:
    """Run ``child`` in a fresh interpreter and return what it printed."""
    env = dict(os.environ, FUNCTORCH_LITE_CACHE_DIR=cache_dir)
    env["FUNCTORCH_LITE_PREBUILT_RUNTIME"] = "1" if prebuilt_runtime else "0"
    env[CHILD_ENV] = "1"
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    # An installed package imports from .pyc files; without them every import recompiles the source.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = [sys.executable, __file__, "--lib", lib] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        tail = " ".join(proc.stderr.strip().splitlines()[-1:])
        raise RuntimeError(f"child process exited {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "median_s": statistics.median(values),
        "best_s": min(values),
        "worst_s": max(values),
        "reps": len(values),
        "number": 1,
    }


def main() -> int:
    """Spawn the fresh processes, then report one row per case."""
    args = parse_args(__doc__)
    if os.environ.get(CHILD_ENV):
        return child(args.lib, args.quick)
    if args.lib not in ("functorch_lite", "jax"):  # no jit in numpy; torch.compile is not compared here
        return 0
    runner = CaseRunner(WORKLOAD, args.lib)
    cold: list[dict[str, Any]] = []
    warm: list[dict[str, Any]] = []
    no_prebuilt: list[dict[str, Any]] = []
    ours = args.lib == "functorch_lite"
    try:
        for _ in range(3 if args.quick else 5):
            with tempfile.TemporaryDirectory(prefix="w6_cache_") as cache_dir:
                cold.append(spawn(args.lib, args.quick, cache_dir))
                if ours:
                    warm.append(spawn(args.lib, args.quick, cache_dir))
            if ours:
                with tempfile.TemporaryDirectory(prefix="w6_cache_") as cache_dir:
                    no_prebuilt.append(spawn(args.lib, args.quick, cache_dir, prebuilt_runtime=False))
    except Exception as exc:  # noqa: BLE001 - a failed process fails every row
        for case in (FIRST, FIRST_NO_PREBUILT, COLD, WARM, SECOND, STEADY):
            if case not in (WARM, FIRST_NO_PREBUILT) or ours:
                runner.fail(case, exc)
        return runner.exit_code()

    note = cold[0]["note"]

    def rows(runs: list[dict[str, Any]], fn: int, key: str) -> tuple[dict[str, Any], str]:
        """The median over processes of function ``fn``'s ``key``."""
        return summary([r["functions"][fn][key] for r in runs]), note

    runner.run(FIRST, lambda: rows(cold, 0, "first_s"))
    if no_prebuilt:
        runner.run(FIRST_NO_PREBUILT, lambda: rows(no_prebuilt, 0, "first_s"))
    runner.run(COLD, lambda: rows(cold, 0, "compile_s"))
    if warm:
        runner.run(WARM, lambda: rows(warm, 0, "compile_s"))
    runner.run(SECOND, lambda: rows(cold, 1, "compile_s"))
    runner.run(STEADY, lambda: rows(cold, 0, "steady_s"))
    return runner.exit_code()


if __name__ == "__main__":
    sys.exit(main())
