"""Installs Python operators and array methods on ``Array`` and ``Tracer`` from one table.

Both classes get exactly the same definitions, so a traced value behaves like a concrete one.

Example:
    >>> (fnp.ones(3) * 2).sum()
    Array(6., dtype=float32)
"""

from __future__ import annotations

from typing import Any

from ..core import dtypes
from ..core.array import Array
from ..core.trace import Tracer
from . import _math as m
from . import _reductions as r
from . import _shape as s
from . import _sorting as srt
from ._at import at as _at
from ._convert import convert
from ._indexing import getitem
from ._linalg import matmul


def _reflected(op: Any) -> Any:
    def reflected(self: Any, other: Any) -> Any:
        return op(other, self)

    return reflected


def _reshape(self: Any, *shape: Any, order: str = "C") -> Any:
    """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = tuple(shape[0])
    return s.reshape(self, shape, order)


def _transpose(self: Any, *axes: Any) -> Any:
    """``x.transpose()``, ``x.transpose(1, 0)`` or ``x.transpose((1, 0))``."""
    if len(axes) == 1 and not isinstance(axes[0], int):
        axes = axes[0]
    return s.transpose(self, axes or None)


def _astype(self: Any, dtype: Any) -> Any:
    """``x.astype(fnp.int32)``."""
    return convert(self, dtypes.canonicalize_dtype(dtype))


def _dot(self: Any, other: Any) -> Any:
    from ._linalg import dot

    return dot(self, other)


def _round(self: Any, decimals: int = 0) -> Any:
    return m.round(self, decimals)


def _clip(self: Any, min: Any = None, max: Any = None) -> Any:
    return m.clip(self, min, max)


_OPERATORS = {
    "__add__": m.add,
    "__radd__": _reflected(m.add),
    "__sub__": m.subtract,
    "__rsub__": _reflected(m.subtract),
    "__mul__": m.multiply,
    "__rmul__": _reflected(m.multiply),
    "__truediv__": m.true_divide,
    "__rtruediv__": _reflected(m.true_divide),
    "__floordiv__": m.floor_divide,
    "__rfloordiv__": _reflected(m.floor_divide),
    "__mod__": m.remainder,
    "__rmod__": _reflected(m.remainder),
    "__pow__": m.power,
    "__rpow__": _reflected(m.power),
    "__matmul__": matmul,
    "__rmatmul__": _reflected(matmul),
    "__and__": m.bitwise_and,
    "__rand__": _reflected(m.bitwise_and),
    "__or__": m.bitwise_or,
    "__ror__": _reflected(m.bitwise_or),
    "__xor__": m.bitwise_xor,
    "__rxor__": _reflected(m.bitwise_xor),
    "__lshift__": m.left_shift,
    "__rlshift__": _reflected(m.left_shift),
    "__rshift__": m.right_shift,
    "__rrshift__": _reflected(m.right_shift),
    "__eq__": m.equal,
    "__ne__": m.not_equal,
    "__lt__": m.less,
    "__le__": m.less_equal,
    "__gt__": m.greater,
    "__ge__": m.greater_equal,
    "__neg__": m.negative,
    "__pos__": m.positive,
    "__abs__": m.absolute,
    "__invert__": m.invert,
    "__getitem__": getitem,
}

_METHODS = {
    "sum": r.sum,
    "mean": r.mean,
    "max": r.max,
    "min": r.min,
    "prod": r.prod,
    "var": r.var,
    "std": r.std,
    "all": r.all,
    "any": r.any,
    "argmax": r.argmax,
    "argmin": r.argmin,
    "cumsum": r.cumsum,
    "cumprod": r.cumprod,
    "ptp": r.ptp,
    "sort": srt.sort,
    "argsort": srt.argsort,
    "argpartition": srt.argpartition,
    "nonzero": srt.nonzero,
    "searchsorted": srt.searchsorted,
    "reshape": _reshape,
    "transpose": _transpose,
    "ravel": s.ravel,
    "flatten": s.ravel,
    "squeeze": s.squeeze,
    "swapaxes": s.swapaxes,
    "astype": _astype,
    "clip": _clip,
    "round": _round,
    "dot": _dot,
}


def _T(self: Any) -> Any:
    return s.transpose(self)


def _mT(self: Any) -> Any:
    return s.swapaxes(self, -1, -2)


def install() -> None:
    """Attach the operator and method tables to Array and Tracer (called once at import)."""
    for cls in (Array, Tracer):
        for name, fn in {**_OPERATORS, **_METHODS}.items():
            setattr(cls, name, fn)
        cls.T = property(_T)
        cls.mT = property(_mT)
        cls.at = property(
            _at, doc="Functional indexed updates: ``x.at[idx].set(v)``, ``.add(v)``, ``.get()``, ..."
        )
