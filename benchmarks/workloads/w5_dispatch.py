"""W5 - eager per-call dispatch overhead on a float32[10] array (add, sin, x + 1; a no-op call as floor).

Every case is timed as ``lambda: op(...)``, so the lambda call is part of each figure; the ``noop python
call`` row (numpy lib only) measures exactly that floor. JAX results are waited for with
``block_until_ready()``; torch on CPU is synchronous.
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

WORKLOAD = "W5"
N = 10

Op = Callable[[], Any]


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    """The two float32[10] operands."""
    x = np.arange(N, dtype=np.float32)
    y = np.linspace(1.0, 2.0, N, dtype=np.float32)
    return x, y


def _expected() -> dict[str, np.ndarray]:
    """numpy reference outputs for the checked cases."""
    x, y = _inputs()
    return {"add(x, y)": np.add(x, y), "sin(x)": np.sin(x), "x + 1": x + 1}


def _numpy_cases() -> tuple[dict[str, Op], str]:
    x, y = _inputs()

    def noop(a: np.ndarray) -> np.ndarray:
        return a

    cases: dict[str, Op] = {
        "add(x, y)": lambda: np.add(x, y),
        "sin(x)": lambda: np.sin(x),
        "x + 1": lambda: x + 1,
        "noop python call": lambda: noop(x),
    }
    return cases, f"numpy {np.__version__}"


def _functorch_lite_cases() -> tuple[dict[str, Op], str]:
    import functorch_lite.numpy as fnp

    xn, yn = _inputs()
    x = fnp.asarray(xn)
    y = fnp.asarray(yn)
    cases: dict[str, Op] = {
        "add(x, y)": lambda: fnp.add(x, y),
        "sin(x)": lambda: fnp.sin(x),
        "x + 1": lambda: x + 1,
    }
    return cases, f"functorch_lite {getattr(sys.modules['functorch_lite'], '__version__', '?')}"


def _jax_cases() -> tuple[dict[str, Op], str]:
    import jax
    import jax.numpy as jnp

    xn, yn = _inputs()
    x = jnp.asarray(xn)
    y = jnp.asarray(yn)
    cases: dict[str, Op] = {
        "add(x, y)": lambda: jnp.add(x, y).block_until_ready(),
        "sin(x)": lambda: jnp.sin(x).block_until_ready(),
        "x + 1": lambda: (x + 1).block_until_ready(),
    }
    return cases, f"jax {jax.__version__} eager, {jax.default_backend()}, block_until_ready"


def _torch_cases() -> tuple[dict[str, Op], str]:
    import torch

    xn, yn = _inputs()
    x = torch.from_numpy(xn.copy())
    y = torch.from_numpy(yn.copy())
    cases: dict[str, Op] = {
        "add(x, y)": lambda: torch.add(x, y),
        "sin(x)": lambda: torch.sin(x),
        "x + 1": lambda: x + 1,
    }
    return cases, f"torch {torch.__version__} eager, cpu"


def _to_numpy(out: Any, lib: str) -> np.ndarray:
    """Convert a library's result to a numpy array for the check (``np.asarray`` except for torch)."""
    if lib == "torch":
        return out.detach().cpu().numpy()
    return np.asarray(out)


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
    expected = _expected()
    settings = quick_settings(args.quick)
    runner = CaseRunner(WORKLOAD, args.lib)
    for case, op in cases.items():

        def body(case: str = case, op: Op = op) -> tuple[dict[str, Any], str]:
            if case in expected:
                check_close(_to_numpy(op(), args.lib), expected[case], what=f"{args.lib} {case}")
            return timeit(op, warmup=100, **settings), note

        runner.run(case, body)
    return runner.exit_code()


if __name__ == "__main__":
    sys.exit(main())
