"""``Array``: an immutable wrapper of a backend ndarray (numpy on CPU, cupy on GPU).

Operators and methods (``+``, ``@``, ``.sum()``, ``.reshape()``, ...) are installed by
``functorch_lite.numpy`` so that arrays and tracers share one definition. ``isinstance(tracer, Array)`` is
True, as for ``jax.Array``, so annotations like ``Float[Array, "batch dim"]`` check under transforms too.

Example:
    >>> import functorch_lite.numpy as fnp
    >>> x = fnp.asarray([1.0, 2.0])
    >>> x * 2
    Array([2., 4.], dtype=float32)
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np


class Array(metaclass=abc.ABCMeta):  # noqa: B024  (ABC only so tracers register as Arrays)
    """An immutable n-dimensional array. Build one with ``fnp.asarray``/``fnp.array``.

    Example: ``fnp.asarray([1, 2, 3]).sum()`` is ``Array(6, dtype=int32)``.
    """

    __slots__ = ("_value", "_weak", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, value: Any, weak_type: bool = False):
        self._value = value
        self._weak = weak_type

    # -- metadata -------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def size(self) -> int:
        return self._value.size

    @property
    def weak_type(self) -> bool:
        return self._weak

    @property
    def aval(self):
        from .trace import ShapedArray

        return ShapedArray(self._value.shape, self._value.dtype, self._weak)

    @property
    def device(self) -> str:
        """``'cpu'`` for numpy-backed arrays, ``'gpu'`` for cupy-backed ones."""
        return "cpu" if isinstance(self._value, (np.ndarray, np.generic)) else "gpu"

    # -- conversions ----------------------------------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = self._value
        if not isinstance(value, (np.ndarray, np.generic)):
            value = value.get()  # cupy -> numpy copy
        if dtype is not None and np.dtype(dtype) != value.dtype:
            return np.asarray(value).astype(dtype)
        if copy:
            return np.array(value, copy=True)
        view = np.asarray(value).view()
        view.flags.writeable = False  # the Array stays immutable even if the caller writes
        return view

    def _dlpack_buffer(self) -> Any:
        value = self._value
        return np.asarray(value) if isinstance(value, np.generic) else value

    def __dlpack__(
        self, *, stream: Any = None, max_version: Any = None, dl_device: Any = None, copy: Any = None
    ) -> Any:
        """Export the buffer through DLPack (``np.from_dlpack(x)``, ``torch.from_dlpack(x)``), zero-copy.

        Consumers must not write to it: Arrays are immutable (new-style consumers see it marked read-only).
        """
        buffer = self._dlpack_buffer()
        kwargs = {
            k: v
            for k, v in (
                ("stream", stream),
                ("max_version", max_version),
                ("dl_device", dl_device),
                ("copy", copy),
            )
            if v is not None
        }
        if isinstance(buffer, np.ndarray) and buffer.flags.writeable:
            if max_version is not None and tuple(max_version) >= (1, 0):
                buffer = buffer.view()
                buffer.flags.writeable = False  # DLPack >= 1.0 can say "read-only"
        try:
            return buffer.__dlpack__(**kwargs)
        except BufferError:
            if not (isinstance(buffer, np.ndarray) and not buffer.flags.writeable):
                raise
            # A read-only buffer (e.g. a broadcast view) cannot go to a legacy consumer: export a copy.
            return np.array(buffer, copy=True).__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple[Any, int]:
        """The DLPack ``(device type, device id)`` of the buffer: ``(1, 0)`` (kDLCPU) for numpy-backed arrays."""
        return self._dlpack_buffer().__dlpack_device__()

    def to_concrete(self) -> Array:
        return self

    def item(self) -> Any:
        """The Python scalar of a one-element array."""
        return self._value.item()

    def tolist(self) -> Any:
        """A nested Python list of the elements."""
        return self._value.tolist()

    def __bool__(self) -> bool:
        return bool(self._value)

    def __int__(self) -> int:
        return int(self._value)

    def __float__(self) -> float:
        return float(self._value)

    def __complex__(self) -> complex:
        return complex(self._value)

    def __index__(self) -> int:
        if self._value.dtype.kind not in "iub":
            raise TypeError(
                f"only integer arrays can be used as an index, got dtype {self._value.dtype}; "
                "use x.astype(fnp.int32)."
            )
        if self._value.ndim:
            raise TypeError(f"only 0-d integer arrays can be used as an index, got shape {self.shape}.")
        return int(self._value)

    def __len__(self) -> int:
        if not self._value.ndim:
            raise TypeError("len() of unsized object (a 0-d Array)")
        return self._value.shape[0]

    def __iter__(self):
        if not self._value.ndim:
            raise TypeError("iteration over a 0-d Array")
        weak = self._weak
        return (Array(row, weak) for row in self._value)

    def __hash__(self) -> int:
        raise TypeError(
            "unhashable type: 'Array'. Arrays are mutable-looking containers and cannot be dict keys or "
            "static arguments; use a tuple or a Python scalar (x.item(), tuple(x.tolist())) instead."
        )

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            "functorch_lite Arrays are immutable, so item assignment is not supported. "
            "Use x = x.at[index].set(value) (or .add/.mul/.min/.max) instead."
        )

    def __reduce__(self):
        return (Array, (np.asarray(self), self._weak))

    # -- printing -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        # JAX's layout: numpy's array2string, then the dtype, pushed right when the last line is long.
        value = np.asarray(self)
        prefix = "Array("
        dtype_str = f"dtype={value.dtype.name}{', weak_type=True' if self._weak else ''})"
        if value.size == 0:
            return f"{prefix}[], shape={value.shape}, {dtype_str}"
        body = np.array2string(value, separator=", ", prefix=prefix, suffix=",", max_line_width=75)
        last_line_len = len(body) - body.rfind("\n") + 1
        separator = " " * len(prefix) if last_line_len + len(dtype_str) + 1 > 75 else " "
        return f"{prefix}{body},{separator}{dtype_str}"

    def __str__(self) -> str:
        return str(np.asarray(self))

    def __format__(self, spec: str) -> str:
        if self._value.ndim == 0:
            return format(self._value.item(), spec)
        return format(str(self), spec)


def wrap_arrays(values: Any, weak: Any) -> list:
    """Arrays around backend values, with the given weak-type flags (no copies, no checks: hot paths)."""
    new = Array.__new__
    out = []
    for value, w in zip(values, weak):
        a = new(Array)
        a._value = value
        a._weak = w
        out.append(a)
    return out
