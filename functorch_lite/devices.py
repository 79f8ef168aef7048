"""Devices: ``fl.devices()`` and ``fl.device_put``. Arrays live on the CPU (numpy) or, when CuPy and an NVIDIA
GPU are present, on the GPU (cupy); primitives run on either, since their impls are NumPy functions that
dispatch to CuPy through the array protocols.

Example:
    >>> fl.devices()
    ['cpu']
    >>> x = fl.device_put(fnp.ones(3), "cpu")
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from . import tree_util
from .core.array import Array


@lru_cache(maxsize=1)
def _cupy() -> Any:
    try:
        import cupy
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # noqa: BLE001 - a driver error means there is no usable GPU
        return None
    return cupy


def devices(backend: str | None = None) -> list[str]:
    """The available devices: ``'cpu'``, plus ``'gpu'`` when CuPy finds an NVIDIA GPU.

    Example: ``fl.devices("gpu")`` is ``[]`` on a machine without one.
    """
    found = ["cpu"] + (["gpu"] if _cupy() is not None else [])
    if backend is None:
        return found
    wanted = "gpu" if backend in ("gpu", "cuda") else backend
    return [d for d in found if d == wanted]


def device_put(x: Any, device: str | None = None) -> Any:
    """Copy the arrays in pytree ``x`` to ``device`` (``'cpu'`` or ``'gpu'``; default: the CPU).

    Example: ``params = fl.device_put(params, "gpu")`` (requires CuPy and an NVIDIA GPU).
    """
    target = "cpu" if device is None else ("gpu" if device in ("gpu", "cuda") else device)
    if target not in ("cpu", "gpu"):
        raise ValueError(f"Unknown device {device!r}: use 'cpu' or 'gpu'.")
    cupy = _cupy()
    if target == "gpu" and cupy is None:
        raise RuntimeError(
            "device_put(..., 'gpu') needs CuPy and an NVIDIA GPU, and none was found. Install the 'gpu' extra "
            "(pip install functorch_lite[gpu]) on a machine with a GPU, or keep the arrays on the CPU."
        )

    def put(leaf: Any) -> Any:
        from .numpy import asarray

        arr = asarray(leaf)
        if not isinstance(arr, Array):
            return arr  # a tracer: placement is decided by its concrete inputs
        value = arr._value
        if target == "gpu":
            return Array(cupy.asarray(value), arr.weak_type)
        if not isinstance(value, (np.ndarray, np.generic)):
            value = value.get()
        return Array(np.asarray(value), arr.weak_type)

    return tree_util.tree_map(put, x)
