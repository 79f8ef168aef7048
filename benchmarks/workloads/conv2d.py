"""CONV2D - eager conv2d: f32 NCHW (32, 64, 32, 32) input, 3x3 kernel, 64->64 channels, SAME, stride 1.

functorch_lite runs ``conv_general_dilated`` eagerly (its im2col + one matmul impl); the numpy column is a
reference im2col (``sliding_window_view`` + one matmul) written here; torch runs
``torch.nn.functional.conv2d``; JAX runs ``jax.lax.conv_general_dilated`` eagerly with
``block_until_ready()``. Every library's output is checked against a float64 numpy reference first.
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

WORKLOAD = "CONV2D"
CASE = "conv2d f32[32,64,32,32] * f32[64,64,3,3], SAME, stride 1"
BATCH, CHANNELS, SIZE, OUT_CHANNELS, KERNEL = 32, 64, 32, 64, 3

Op = Callable[[], Any]


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    """The NCHW input and the OIHW kernel (float32, fixed seed)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, CHANNELS, SIZE, SIZE), dtype=np.float32)
    w = rng.standard_normal((OUT_CHANNELS, CHANNELS, KERNEL, KERNEL), dtype=np.float32) / 24.0
    return x, w


def numpy_conv2d_same(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Stride-1 SAME convolution of NCHW ``x`` with OIHW ``w`` (odd kernel): pad, im2col, one matmul."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    padded = np.zeros((n, h + kh - 1, wd + kw - 1, c), x.dtype)
    padded[:, kh // 2 : kh // 2 + h, kw // 2 : kw // 2 + wd, :] = x.transpose(0, 2, 3, 1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))  # n h w c kh kw
    cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * wd, kh * kw * c)
    out = cols @ w.transpose(2, 3, 1, 0).reshape(kh * kw * c, o)
    return out.reshape(n, h, wd, o).transpose(0, 3, 1, 2)


def _expected() -> np.ndarray:
    x, w = _inputs()
    return numpy_conv2d_same(x.astype(np.float64), w.astype(np.float64)).astype(np.float32)


def _numpy_case() -> tuple[Op, str]:
    x, w = _inputs()
    return (lambda: numpy_conv2d_same(x, w)), f"numpy {np.__version__}, im2col + matmul reference"


def _functorch_lite_case() -> tuple[Op, str]:
    import functorch_lite as fl
    import functorch_lite.numpy as fnp

    conv_general_dilated = getattr(fl.lax, "conv_general_dilated", None)
    if conv_general_dilated is None:  # not re-exported from lax yet
        from functorch_lite.primitives.conv import conv_general_dilated
    xn, wn = _inputs()
    x, w = fnp.asarray(xn), fnp.asarray(wn)
    version = getattr(fl, "__version__", "?")
    return (lambda: conv_general_dilated(x, w, (1, 1), "SAME")), f"functorch_lite {version} eager"


def _jax_case() -> tuple[Op, str]:
    import jax
    import jax.numpy as jnp

    xn, wn = _inputs()
    x, w = jnp.asarray(xn), jnp.asarray(wn)
    op = lambda: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME").block_until_ready()
    return op, f"jax {jax.__version__} eager, {jax.default_backend()}, block_until_ready"


def _torch_case() -> tuple[Op, str]:
    import torch
    import torch.nn.functional as F

    xn, wn = _inputs()
    x, w = torch.from_numpy(xn.copy()), torch.from_numpy(wn.copy())

    def op() -> Any:
        with torch.no_grad():
            return F.conv2d(x, w, padding=KERNEL // 2)

    return op, f"torch {torch.__version__} eager, cpu, {torch.get_num_threads()} threads"


def _to_numpy(out: Any, lib: str) -> np.ndarray:
    """Convert a library's result to a numpy array for the check."""
    if lib == "torch":
        return out.detach().cpu().numpy()
    return np.asarray(out)


def main() -> int:
    """Check, then time, the convolution of the chosen library; one JSON line."""
    args = parse_args(__doc__)
    builders = {
        "numpy": _numpy_case,
        "functorch_lite": _functorch_lite_case,
        "jax": _jax_case,
        "torch": _torch_case,
    }
    runner = CaseRunner(WORKLOAD, args.lib)

    def body() -> tuple[dict[str, Any], str]:
        op, note = builders[args.lib]()
        check_close(_to_numpy(op(), args.lib), _expected(), what=f"{args.lib} {CASE}", rtol=1e-4, atol=1e-4)
        return timeit(op, warmup=2, **quick_settings(args.quick)), note

    runner.run(CASE, body)
    return runner.exit_code()


if __name__ == "__main__":
    sys.exit(main())
