"""Making Arrays from data, and jax.numpy's implicit promotion of dtypes and ranks.

Example:
    >>> fnp.asarray([1, 2]).dtype
    dtype('int32')
    >>> fnp.asarray(1.0)            # Python scalars are weakly typed
    Array(1., dtype=float32, weak_type=True)
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..core import dtypes
from ..core.array import Array
from ..core.trace import Tracer, _context
from ..primitives import elementwise as ew
from ..primitives import shape as sh

_SCALARS = (builtins.bool, int, float, complex)


def _from_data(x: Any, dtype: Any = None, copy: bool = True) -> Array:
    if type(x) in _SCALARS:
        target = dtypes.canonicalize_dtype(dtype) if dtype is not None else dtypes.dtype_of_python_scalar(x)
        return Array(np.asarray(x, dtype=target), dtype is None and type(x) is not builtins.bool)
    if isinstance(x, (list, tuple)) and any(isinstance(e, (Array, Tracer)) for e in _flat(x)):
        from ._shape import stack

        return stack([asarray(e, dtype) for e in x])
    if hasattr(x, "__dlpack__") and not isinstance(x, (np.ndarray, np.generic)):
        x = _import_dlpack(x)
    value = np.asarray(x)
    if value.dtype == object:
        raise TypeError(f"cannot convert {type(x).__name__} to an Array: it holds Python objects.")
    target = dtypes.canonicalize_dtype(dtype if dtype is not None else value.dtype)
    if value.dtype.kind == "U" or value.dtype.kind == "S":
        raise TypeError(f"cannot convert strings to an Array (got dtype {value.dtype}).")
    return Array(np.array(value, dtype=target, copy=copy or value.dtype != target), False)


def _import_dlpack(x: Any) -> Any:
    """A NumPy view of a DLPack producer on the CPU (a torch tensor, a cupy array, ...). Producers that cannot
    export to the CPU are returned unchanged when they offer ``__array__`` (NumPy then converts them)."""
    try:
        return np.from_dlpack(x)
    except (BufferError, RuntimeError, TypeError, ValueError):
        if hasattr(x, "__array__"):
            return x
        raise


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Array:
    """An Array holding a copy of the data of a DLPack producer (an object with ``__dlpack__``: a torch tensor,
    a NumPy or cupy array, another Array). Dtypes are canonicalised as by ``asarray``.

    Example: ``fnp.from_dlpack(torch.arange(3))`` is ``Array([0, 1, 2], dtype=int32)``.
    """
    if isinstance(x, Tracer):
        raise TypeError("fnp.from_dlpack needs a concrete DLPack producer, got a traced value.")
    if not hasattr(x, "__dlpack__"):
        raise TypeError(f"fnp.from_dlpack: {type(x).__name__} does not implement __dlpack__.")
    try:
        value = np.from_dlpack(x)
    except (BufferError, RuntimeError) as error:
        try:
            import cupy
        except ImportError:
            raise error from None
        value = cupy.asnumpy(cupy.from_dlpack(x))  # a GPU producer: copy its data to the host
    target = dtypes.canonicalize_dtype(value.dtype)
    return Array(np.array(value, dtype=target, copy=True), False)


def _flat(x: Any):
    for e in x:
        if isinstance(e, (list, tuple)):
            yield from _flat(e)
        else:
            yield e


def asarray(a: Any, dtype: Any = None, copy: bool | None = None) -> Any:
    """Convert ``a`` (an array, nested list, NumPy array or scalar) to an Array; Arrays pass through.

    Example: ``fnp.asarray([1.0, 2.0])`` is ``Array([1., 2.], dtype=float32)``.
    """
    if isinstance(a, (Array, Tracer)):
        if dtype is None or np.dtype(dtype) == a.dtype:
            return a
        return convert(a, dtypes.canonicalize_dtype(dtype))
    return _from_data(a, dtype, copy=copy is not False)


def array(object: Any, dtype: Any = None, copy: bool = True) -> Any:
    """Like ``asarray``; Python scalars stay weakly typed as in jax.numpy.

    Example: ``fnp.array([[1, 2], [3, 4]])``.
    """
    return asarray(object, dtype)


def convert(x: Any, dtype: np.dtype, weak_type: bool = False) -> Any:
    """Cast an Array/tracer to ``dtype`` with the convert_element_type primitive (no-op if equal)."""
    if x.dtype == dtype and x.weak_type == weak_type:
        return x
    return ew.convert_element_type_p.bind(x, new_dtype=np.dtype(dtype), weak_type=weak_type, sharding=None)


def _to_operand(x: Any) -> Any:
    # Tracer first: a tracer is only a virtual subclass of Array, and that check goes through abc (slow).
    if isinstance(x, (Tracer, Array)) or type(x) in _SCALARS:
        return x
    return asarray(x)


def promote_dtypes(*args: Any) -> list:
    """Cast all arguments to their common jax.numpy dtype (weak scalars adopt the others' dtype)."""
    args = [_to_operand(a) for a in args]
    if _same_canonical_dtype(args):
        return args  # the common case: nothing to promote, and no dtype lattice walk
    dtype, weak = dtypes.result_type_and_weak(*[dtypes.dtype_and_weak(a) for a in args])
    out = []
    for a in args:
        if type(a) in _SCALARS:
            out.append(Array(np.asarray(a, dtype=dtype)[()], True))
        elif a.dtype != dtype:
            out.append(convert(a, dtype, weak))
        else:
            out.append(a)
    return out


def _same_canonical_dtype(args: list) -> bool:
    """True when all operands are arrays of one canonical dtype, not all weakly typed: then that dtype is
    the promotion result (all-weak operands may promote to the default type instead)."""
    dtype = None
    strong = False
    for a in args:
        if type(a) in _SCALARS:
            return False
        if dtype is None:
            dtype = a.dtype
        elif a.dtype != dtype:
            return False
        strong = strong or not a.weak_type
    return strong and dtypes.canonicalize_dtype(dtype) == dtype


def promote_shapes(*args: Any) -> list:
    """Under tracing, give lower-rank operands leading size-1 dims (rank-0 ones stay scalars).

    Eagerly NumPy broadcasts by itself, so nothing is staged there.
    """
    if _context.trace is None:
        return list(args)
    ranks = {a.ndim for a in args if a.ndim}
    if len(ranks) < 2:
        return list(args)
    top = builtins.max(ranks)
    out = []
    for a in args:
        if a.ndim and a.ndim < top:
            lead = top - a.ndim
            a = sh.broadcast_in_dim_p.bind(
                a,
                shape=(1,) * lead + tuple(a.shape),
                broadcast_dimensions=tuple(range(lead, top)),
                sharding=None,
            )
        out.append(a)
    return out


def promote_args(*args: Any) -> list:
    """jax.numpy's implicit promotion: common dtype, then rank broadcasting."""
    return promote_shapes(*promote_dtypes(*args))


def promote_args_inexact(*args: Any) -> list:
    """Like ``promote_args`` but integers and bools become the default float (for sin, divide, ...)."""
    args = promote_dtypes(*args)
    if args and args[0].dtype.kind not in "fc":
        args = [convert(a, dtypes.default_float(), a.weak_type) for a in args]
    return promote_shapes(*args)
