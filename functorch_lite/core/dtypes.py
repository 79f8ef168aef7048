"""The dtype policy of jax.numpy: 32-bit defaults, weakly typed Python scalars, JAX's promotion lattice.

A value is *weakly typed* when its dtype came from a Python scalar (``2.0``, ``3``): it takes the dtype of
whatever it meets (``float16_array * 2.0`` stays float16). Promotion finds the least upper bound of the
operands in JAX's lattice, so ``int32 + float32 -> float32``, ``uint8 + int8 -> int16`` and
``int64 + float16 -> float16`` exactly as in JAX (not NumPy's value-based rules).

Example:
    >>> from functorch_lite.core.dtypes import promote_types
    >>> promote_types("int8", "uint8")
    dtype('int16')
"""

from __future__ import annotations

import builtins
from functools import cache
from typing import Any

import numpy as np

from .config import config

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

_WEAK_INT, _WEAK_FLOAT, _WEAK_COMPLEX = "i*", "f*", "c*"

# JAX's promotion lattice: each node lists the nodes directly above it.
_LATTICE: dict[Any, list[Any]] = {
    bool_: [_WEAK_INT],
    _WEAK_INT: [uint8, int8],
    uint8: [int16, uint16],
    uint16: [int32, uint32],
    uint32: [int64, uint64],
    uint64: [_WEAK_FLOAT],
    int8: [int16],
    int16: [int32],
    int32: [int64],
    int64: [_WEAK_FLOAT],
    _WEAK_FLOAT: [float16, _WEAK_COMPLEX],
    float16: [float32],
    float32: [float64, complex64],
    float64: [complex128],
    _WEAK_COMPLEX: [complex64],
    complex64: [complex128],
    complex128: [],
}


def _upper_bounds() -> dict[Any, frozenset]:
    bounds: dict[Any, frozenset] = {}

    def visit(node: Any) -> frozenset:
        if node not in bounds:
            above = {node}
            for parent in _LATTICE[node]:
                above |= visit(parent)
            bounds[node] = frozenset(above)
        return bounds[node]

    for node in _LATTICE:
        visit(node)
    return bounds


_UPPER = _upper_bounds()

_TO_32 = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}


def default_float() -> np.dtype:
    """float64 with x64 enabled, else float32."""
    return float64 if config.enable_x64 else float32


def default_int() -> np.dtype:
    """int64 with x64 enabled, else int32."""
    return int64 if config.enable_x64 else int32


def default_complex() -> np.dtype:
    """complex128 with x64 enabled, else complex64."""
    return complex128 if config.enable_x64 else complex64


def canonicalize_dtype(dtype: Any) -> np.dtype:
    """Map a requested dtype to the one we store: 64-bit types become 32-bit unless x64 is enabled.

    Example: ``canonicalize_dtype("float64")`` is ``float32`` by default.
    """
    dt = np.dtype(dtype)
    if not config.enable_x64:
        return _TO_32.get(dt, dt)
    return dt


def _node(dtype: np.dtype, weak: bool) -> Any:
    if not weak:
        return dtype
    kind = dtype.kind
    if kind in "iu":
        return _WEAK_INT
    if kind == "f":
        return _WEAK_FLOAT
    if kind == "c":
        return _WEAK_COMPLEX
    return dtype


@cache
def _join(a: Any, b: Any) -> Any:
    common = _UPPER[a] & _UPPER[b]
    for candidate in common:
        if _UPPER[candidate] >= common:
            return candidate
    raise TypeError(f"no common type for {a} and {b}")  # unreachable: the lattice has a top


def _materialize(node: Any) -> tuple[np.dtype, bool]:
    if node == _WEAK_INT:
        return default_int(), True
    if node == _WEAK_FLOAT:
        return default_float(), True
    if node == _WEAK_COMPLEX:
        return default_complex(), True
    return canonicalize_dtype(node), False


def promote_types(a: Any, b: Any) -> np.dtype:
    """The dtype both arguments promote to, following JAX's lattice (not NumPy's).

    Example: ``promote_types("int32", "float16")`` is ``float16``; ``promote_types("uint8", "int8")`` is
    ``int16``.
    """
    return _materialize(_join(np.dtype(a), np.dtype(b)))[0]


def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    """Whether ``from_`` converts to ``to`` under NumPy's casting rule (jax.numpy uses NumPy's rule too).

    Example: ``can_cast("int8", "float16")`` is True; ``can_cast("int32", "float32")`` is False.
    """
    source = from_.dtype if hasattr(from_, "dtype") else from_
    return bool(np.can_cast(np.dtype(source), np.dtype(to), casting=casting))


def result_type_and_weak(*pairs: tuple[np.dtype, bool]) -> tuple[np.dtype, bool]:
    """Join ``(dtype, weak_type)`` pairs; the result is weak only if the join is a weak node."""
    node = _node(*pairs[0])
    for pair in pairs[1:]:
        node = _join(node, _node(*pair))
    return _materialize(node)


def is_weakly_typed(x: Any) -> bool:
    """True for Python scalars and weakly typed arrays/tracers."""
    if type(x) in (builtins.bool, int, float, complex):
        return type(x) is not builtins.bool
    return getattr(x, "weak_type", False)


def dtype_of_python_scalar(x: Any) -> np.dtype:
    """The dtype a Python scalar takes: bool, or the default int/float/complex."""
    t = type(x)
    if t is builtins.bool:
        return bool_
    if t is int:
        return default_int()
    if t is float:
        return default_float()
    if t is complex:
        return default_complex()
    raise TypeError(f"not a Python scalar: {x!r}")


def dtype_and_weak(x: Any) -> tuple[np.dtype, bool]:
    """The ``(dtype, weak_type)`` of an array-like or Python scalar, after canonicalization."""
    t = type(x)
    if t in (builtins.bool, int, float, complex):
        return dtype_of_python_scalar(x), t is not builtins.bool
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        dtype = np.asarray(x).dtype
    return canonicalize_dtype(dtype), getattr(x, "weak_type", False)


def result_type(*args: Any) -> np.dtype:
    """The dtype jax.numpy gives an operation on ``args`` (arrays, dtypes or Python scalars).

    Example: ``result_type(fnp.ones(3, "int8"), 2.0)`` is ``float32``; ``result_type(x_f16, 2.0)`` is
    ``float16``.
    """
    pairs = []
    for a in args:
        if isinstance(a, (np.dtype, type, str)) and not isinstance(a, (bool, int, float, complex)):
            pairs.append((np.dtype(a), False))
        else:
            pairs.append(dtype_and_weak(a))
    return result_type_and_weak(*pairs)[0]


def short_name(dtype: np.dtype) -> str:
    """JAX's short dtype names used in jaxprs: f32, i32, u8, bool, c64."""
    if dtype == bool_:
        return "bool"
    return {"f": "f", "i": "i", "u": "u", "c": "c"}.get(dtype.kind, dtype.kind) + str(dtype.itemsize * 8)


def is_float(dtype: np.dtype) -> bool:
    """True for floating dtypes (not complex)."""
    return np.dtype(dtype).kind == "f"


def is_inexact(dtype: np.dtype) -> bool:
    """True for floating and complex dtypes: the ones that carry a gradient."""
    return np.dtype(dtype).kind in "fc"


def is_integer(dtype: np.dtype) -> bool:
    """True for signed and unsigned integer dtypes."""
    return np.dtype(dtype).kind in "iu"
