"""IMPORT - wall time of `python -c "import <lib>"` in a fresh interpreter, raw and minus interpreter start.

Runs of ``python -c pass`` and ``python -c "import <lib>"`` alternate (after one untimed warm-up of each,
which also writes the .pyc caches); each figure is the median (and best) of 5 runs. "minus interpreter
start" subtracts the median (best) ``python -c pass`` time from the median (best) import time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

from _common import REPO_ROOT, CaseRunner, parse_args  # noqa: E402

WORKLOAD = "IMPORT"
MODULES = {"functorch_lite": "functorch_lite", "numpy": "numpy", "jax": "jax", "torch": "torch"}


def _child_env() -> dict[str, str]:
    """The environment for the child interpreters: the repository root first on PYTHONPATH."""
    env = dict(os.environ)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + old if old else "")
    return env


def _time_once(code: str, env: dict[str, str]) -> float:
    """Seconds for one ``python -c code``; raises with the stderr tail if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"python -c {code!r} exited {proc.returncode}: {tail}")
    return dt


def _fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def main() -> int:
    """Measure interpreter start and the import of the chosen library; one JSON line per case."""
    args = parse_args(__doc__)
    module = MODULES[args.lib]
    runs = 3 if args.quick else 5
    env = _child_env()
    code = f"import {module}"
    runner = CaseRunner(WORKLOAD, args.lib)

    # Warm-up (untimed): fills the OS file cache and writes .pyc files. A failing import stops here.
    _time_once("pass", env)
    try:
        _time_once(code, env)
        probe = f"import sys, {module}; sys.exit(getattr({module}, '__file__', None) is None)"
        is_namespace = subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, check=False
        ).returncode
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        runner.fail("import (raw)", exc)
        return runner.exit_code()

    base: list[float] = []
    imp: list[float] = []
    for _ in range(runs):
        base.append(_time_once("pass", env))
        imp.append(_time_once(code, env))
    base_med, base_best = statistics.median(base), min(base)
    imp_med, imp_best = statistics.median(imp), min(imp)
    common = {"reps": runs, "number": 1}
    start_note = f"interpreter start {_fmt_ms(base_med)} median, {_fmt_ms(base_best)} best"
    if is_namespace:
        start_note += f"; {module} is a namespace package (no __init__.py)"

    if args.lib == "numpy":
        runner.run(
            "python -c pass",
            lambda: ({"median_s": base_med, "best_s": base_best, **common}, "interpreter start (floor)"),
        )
    runner.run(
        "import (raw)",
        lambda: ({"median_s": imp_med, "best_s": imp_best, **common}, f"python -c {code!r}"),
    )
    runner.run(
        "import (minus interpreter start)",
        lambda: ({"median_s": imp_med - base_med, "best_s": imp_best - base_best, **common}, start_note),
    )
    return runner.exit_code()


if __name__ == "__main__":
    sys.exit(main())
