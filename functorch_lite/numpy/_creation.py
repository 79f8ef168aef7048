"""Array creation for ``functorch_lite.numpy``: zeros, ones, full, arange, linspace, logspace, geomspace, eye,
tri/tril/triu, diag, meshgrid, indices, array, copy and the ``*_like`` functions.

Example:
    >>> fnp.zeros((2, 3)).dtype
    dtype('float32')
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import dtypes
from ..core.array import Array
from ..core.errors import ConcretizationTypeError
from ..core.trace import Tracer
from ..primitives import shape as sh
from ..primitives.common import canonical_axis
from ._convert import array as _array
from ._convert import asarray, convert
from ._math import (
    add,
    floor,
    greater_equal,
    log10,
    logical_not,
    multiply,
    power,
    sign,
    subtract,
    true_divide,
    where,
)
from ._shape import _concrete, broadcast_shapes, broadcast_to, concatenate, moveaxis, ravel, reshape, stack


def _shape_tuple(shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, Tracer) or (
        isinstance(shape, (tuple, list)) and any(isinstance(d, Tracer) for d in shape)
    ):
        dims = shape if isinstance(shape, (tuple, list)) else (shape,)
        shown = ", ".join(f"traced {d.aval.str_short()}" if isinstance(d, Tracer) else repr(d) for d in dims)
        raise ConcretizationTypeError(
            f"Shapes must be 1D sequences of concrete values of integer type, got ({shown}): the array's size "
            "would depend on data. Fix: mark the argument static (jit(f, static_argnums=...)), or compute the "
            "size from other static shapes (x.shape[0])."
        )
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def full(shape: int | Sequence[int], fill_value: Any, dtype: Any = None) -> Any:
    """An array of ``shape`` filled with ``fill_value``. Example: ``fnp.full((2,), 7)``."""
    value = asarray(fill_value, dtype)
    if dtype is None and value.weak_type:
        value = asarray(np.asarray(value), value.dtype)  # a concrete fill gets a strong dtype, as in JAX
    return broadcast_to(value, _shape_tuple(shape))


def zeros(shape: int | Sequence[int], dtype: Any = None) -> Any:
    """An array of zeros (float32 by default). Example: ``fnp.zeros((2, 3))``."""
    return full(shape, 0, dtypes.canonicalize_dtype(dtype or dtypes.default_float()))


def ones(shape: int | Sequence[int], dtype: Any = None) -> Any:
    """An array of ones (float32 by default). Example: ``fnp.ones(3)``."""
    return full(shape, 1, dtypes.canonicalize_dtype(dtype or dtypes.default_float()))


def empty(shape: int | Sequence[int], dtype: Any = None) -> Any:
    """Like ``zeros`` (arrays are immutable, so uninitialised memory has no use). Example: ``fnp.empty(3)``."""
    return zeros(shape, dtype)


def zeros_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Zeros with ``a``'s shape and dtype. Example: ``fnp.zeros_like(x)``."""
    a = asarray(a)
    return full(a.shape if shape is None else shape, 0, dtype or a.dtype)


def ones_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Ones with ``a``'s shape and dtype. Example: ``fnp.ones_like(x)``."""
    a = asarray(a)
    return full(a.shape if shape is None else shape, 1, dtype or a.dtype)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Any = None) -> Any:
    """``fill_value`` with ``a``'s shape and dtype. Example: ``fnp.full_like(x, 2.0)``."""
    a = asarray(a)
    return full(a.shape if shape is None else shape, fill_value, dtype or a.dtype)


def empty_like(a: Any, dtype: Any = None, shape: Any = None) -> Any:
    """Like ``zeros_like``. Example: ``fnp.empty_like(x)``."""
    return zeros_like(a, dtype, shape)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Any:
    """Evenly spaced values in ``[start, stop)`` (static bounds). Example: ``fnp.arange(3)`` is ``[0, 1, 2]``."""
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    if dtype is None:
        python_ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = dtypes.default_int() if python_ints else dtypes.default_float()
    dtype = dtypes.canonicalize_dtype(dtype)
    values = np.arange(start, stop, step)
    if start == 0 and step == 1 and dtype.kind in "iu":
        return sh.iota_p.bind(dtype=dtype, shape=(values.size,), dimension=0, sharding=None)
    return asarray(values, dtype)


def _static_num(num: Any, name: str) -> int:
    """``num`` as a Python int: it fixes the output's shape, so it cannot be traced (as in jax.numpy)."""
    if isinstance(num, Tracer):
        num = num.to_concrete()
        if num is None:
            raise ConcretizationTypeError(
                f"fnp.{name}: num must be a static integer, got a traced value: the output's shape would depend "
                "on data. Fix: mark it static (jit(f, static_argnums=...)) or pass a Python int."
            )
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"fnp.{name}: the number of samples, {num}, must be non-negative.")
    return num


def _inexact(dtype: np.dtype) -> np.dtype:
    return dtype if dtypes.is_inexact(dtype) else dtypes.default_float()


def _bounds(start: Any, stop: Any, dtype: Any) -> tuple[Any, Any, np.dtype]:
    """``start`` and ``stop`` broadcast together and cast to the dtype the samples are computed in (a float or
    complex one), and the output dtype: ``dtype``, or as in jax.numpy the inexact result type of the bounds."""
    start, stop = asarray(start), asarray(stop)
    dtype = _inexact(dtypes.result_type(start, stop)) if dtype is None else dtypes.canonicalize_dtype(dtype)
    compute = _inexact(dtype)
    shape = broadcast_shapes(start.shape, stop.shape)
    return broadcast_to(convert(start, compute), shape), broadcast_to(convert(stop, compute), shape), dtype


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
) -> Any:
    """``num`` evenly spaced samples from ``start`` to ``stop`` (``stop`` excluded when ``endpoint`` is False).

    ``start`` and ``stop`` may be traced and may be arrays, which broadcast together: the samples then run
    along a new axis ``axis``. ``num`` is static. With ``retstep`` the spacing is returned too (NaN when
    there is none to measure). Integer dtypes round the samples down, as NumPy does.

    Example: ``fnp.linspace(0, 1, 5)`` is ``[0., 0.25, 0.5, 0.75, 1.]``; ``fnp.linspace(fnp.asarray([0.0,
    1.0]), 2.0, 3, axis=1)`` is ``[[0., 1., 2.], [1., 1.5, 2.]]``.
    """
    num = _static_num(num, "linspace")
    start, stop, dtype = _bounds(start, stop, dtype)
    compute = start.dtype
    axis = canonical_axis("linspace", int(axis), start.ndim + 1)
    ends_shape = start.shape[:axis] + (1,) + start.shape[axis:]  # the bounds, with the sample axis inserted
    first, last = reshape(start, ends_shape), reshape(stop, ends_shape)
    div = num - 1 if endpoint else num
    if num > 1:
        # start * (1 - t) + stop * t, as jax.numpy: exact at t = 0, and no rounding error that grows with i
        # (unlike start + i * step).
        real = np.finfo(compute).dtype
        t_shape = tuple(div if d == axis else 1 for d in range(len(ends_shape)))
        t = true_divide(sh.iota_p.bind(dtype=real, shape=t_shape, dimension=axis, sharding=None), div)
        t = convert(t, compute)
        out = add(multiply(first, subtract(1, t)), multiply(last, t))
        if endpoint:
            out = concatenate([out, last], axis)  # stop exactly, even when start is infinite
    else:
        out = broadcast_to(first, ends_shape[:axis] + (num,) + ends_shape[axis + 1 :])  # [start], or none
    if dtypes.is_integer(dtype):
        out = floor(out)
    out = convert(out, dtype)
    if not retstep:
        return out
    step = true_divide(subtract(stop, start), div) if div > 0 else asarray(np.nan, compute)
    return out, step


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:
    """The identity matrix (ones on diagonal ``k``). Example: ``fnp.eye(3)``."""
    return Array(np.eye(N, M, k, dtype=dtypes.canonicalize_dtype(dtype or dtypes.default_float())))


def identity(n: int, dtype: Any = None) -> Any:
    """The ``n`` x ``n`` identity. Example: ``fnp.identity(2)``."""
    return eye(n, dtype=dtype)


def array(object: Any, dtype: Any = None, copy: bool = True, order: str | None = "K", ndmin: int = 0) -> Any:
    """An Array from ``object`` (data, an Array, a nested list); Python scalars stay weakly typed as in
    jax.numpy; ``ndmin`` prepends size-1 dimensions up to that rank.

    Example: ``fnp.array([1, 2], ndmin=3).shape`` is ``(1, 1, 2)``.
    """
    if order not in (None, "K", "A", "C"):
        raise NotImplementedError(f"fnp.array supports order='C' (or 'K'/'A'/None) only, got {order!r}.")
    out = _array(object, dtype, copy)
    ndmin = int(ndmin)
    if ndmin > out.ndim:
        out = reshape(out, (1,) * (ndmin - out.ndim) + tuple(out.shape))
    return out


def copy(a: Any, order: str | None = None) -> Any:
    """A copy of ``a`` (Arrays are immutable, so an Array is returned as it is).

    Example: ``fnp.copy(fnp.arange(3))`` is ``[0, 1, 2]``.
    """
    return array(a, copy=True, order=order)


def logspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    base: Any = 10.0,
    dtype: Any = None,
    axis: int = 0,
) -> Any:
    """``num`` samples ``base ** t`` for ``t`` evenly spaced from ``start`` to ``stop`` (as ``linspace``: the
    bounds may be traced arrays that broadcast together, ``num`` is static).

    Example: ``fnp.logspace(0, 3, 4)`` is ``[1., 10., 100., 1000.]``.
    """
    start, stop, dtype = _bounds(start, stop, dtype)
    exponents = linspace(start, stop, num, endpoint, dtype=start.dtype, axis=axis)
    return convert(power(base, exponents), dtype)


def geomspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None, axis: int = 0
) -> Any:
    """``num`` samples evenly spaced on a log scale from ``start`` to ``stop`` (nonzero, of one sign; as
    ``linspace``: the bounds may be traced arrays that broadcast together, ``num`` is static).

    Example: ``fnp.geomspace(1, 1000, 4)`` is ``[1., 10., 100., 1000.]``.
    """
    num = _static_num(num, "geomspace")
    start, stop, dtype = _bounds(start, stop, dtype)
    for bound in (start, stop):
        value = _concrete(bound)  # traced bounds cannot be checked: a zero gives NaNs, as in jax.numpy
        if value is not None and np.any(value == 0):
            raise ValueError("fnp.geomspace: a geometric sequence cannot include zero.")
    s = sign(start)
    out = multiply(s, logspace(log10(true_divide(start, s)), log10(true_divide(stop, s)), num, endpoint))
    # The bounds exactly, as in NumPy: 10 ** log10(x) can be an ulp away from x.
    index = np.arange(num).reshape((num,) + (1,) * start.ndim)
    out = where(index == 0, start, out)
    if endpoint and num > 1:
        out = where(index == num - 1, stop, out)
    return convert(moveaxis(out, 0, canonical_axis("geomspace", int(axis), out.ndim)), dtype)


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> list:
    """Coordinate grids from 1-D coordinate vectors. ``indexing='xy'`` (Cartesian) swaps the first two
    output dimensions, ``'ij'`` (matrix) does not; ``sparse=True`` keeps size-1 dimensions instead of
    broadcasting.

    Example: ``X, Y = fnp.meshgrid(fnp.arange(3), fnp.arange(2))`` gives two arrays of shape ``(2, 3)``.
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"fnp.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}.")
    arrays = [asarray(x) for x in xi]
    if any(a.ndim != 1 for a in arrays):
        raise ValueError(
            f"Arguments to fnp.meshgrid must be 1D, got shapes {[tuple(a.shape) for a in arrays]}."
        )
    rank = len(arrays)
    positions = list(range(rank))
    if indexing == "xy" and rank >= 2:
        positions[0], positions[1] = 1, 0
    full_shape = [0] * rank
    for a, p in zip(arrays, positions):
        full_shape[p] = a.shape[0]
    out = []
    for a, p in zip(arrays, positions):
        if sparse:
            out.append(reshape(a, tuple(a.shape[0] if d == p else 1 for d in range(rank))))
        else:
            out.append(
                sh.broadcast_in_dim_p.bind(
                    a, shape=tuple(full_shape), broadcast_dimensions=(p,), sharding=None
                )
            )
    return out


def indices(dimensions: Sequence[int], dtype: Any = None, sparse: bool = False) -> Any:
    """The index of every position of a grid of shape ``dimensions``, one array per dimension (stacked
    into one array of shape ``(len(dimensions), *dimensions)`` unless ``sparse``).

    Example: ``fnp.indices((2, 3))[1]`` is ``[[0, 1, 2], [0, 1, 2]]``.
    """
    dims = tuple(int(d) for d in dimensions)
    dtype = dtypes.canonicalize_dtype(dtype or dtypes.default_int())
    rank = len(dims)
    out = []
    for i, d in enumerate(dims):
        grid = tuple(d if j == i else 1 for j in range(rank)) if sparse else dims
        out.append(sh.iota_p.bind(dtype=dtype, shape=grid, dimension=i, sharding=None))
    if sparse:
        return tuple(out)
    return stack(out) if out else zeros((0,), dtype)


def _lower_mask(n: int, m: int, k: int) -> Any:
    """A bool ``(n, m)`` mask, True on and below diagonal ``k`` (where ``j <= i + k``), built from iotas."""
    k = max(min(int(k), m), -n)  # further out changes nothing, and keeps the sum inside int32
    index = dtypes.default_int()
    rows = sh.iota_p.bind(dtype=index, shape=(n, m), dimension=0, sharding=None)
    cols = sh.iota_p.bind(dtype=index, shape=(n, m), dimension=1, sharding=None)
    return greater_equal(add(rows, k), cols)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:
    """An ``N x M`` array with ones on and below diagonal ``k`` and zeros elsewhere (float32 by default).

    Example: ``fnp.tri(3, k=-1)`` is ``[[0, 0, 0], [1, 0, 0], [1, 1, 0]]`` (as floats).
    """
    N = int(N)
    M = N if M is None else int(M)
    dtype = dtypes.canonicalize_dtype(dtype or dtypes.default_float())
    return convert(_lower_mask(N, M, k), dtype)


def _zeros_of(x: Any) -> Any:
    """Zeros with ``x``'s shape, dtype and weak type."""
    return broadcast_to(Array(np.zeros((), x.dtype), x.weak_type), x.shape)


def tril(m: Any, k: int = 0) -> Any:
    """The lower triangle (on and below diagonal ``k``) of the last two axes; the rest is zeroed.

    Example: ``fnp.tril(fnp.ones((2, 2)))`` is ``[[1, 0], [1, 1]]``.
    """
    m = asarray(m)
    if m.ndim < 2:
        raise ValueError(f"Argument to fnp.tril must be at least 2D, got shape {tuple(m.shape)}.")
    return where(_lower_mask(m.shape[-2], m.shape[-1], k), m, _zeros_of(m))


def triu(m: Any, k: int = 0) -> Any:
    """The upper triangle (on and above diagonal ``k``) of the last two axes; the rest is zeroed.

    Example: ``fnp.triu(fnp.ones((2, 2)))`` is ``[[1, 1], [0, 1]]``.
    """
    m = asarray(m)
    if m.ndim < 2:
        raise ValueError(f"Argument to fnp.triu must be at least 2D, got shape {tuple(m.shape)}.")
    above = logical_not(_lower_mask(m.shape[-2], m.shape[-1], int(k) - 1))
    return where(above, m, _zeros_of(m))


def diag(v: Any, k: int = 0) -> Any:
    """For 1-D ``v``: the square matrix with ``v`` on diagonal ``k``. For 2-D ``v``: its diagonal ``k``.

    The 1-D case is one interior-padding ``pad`` (the entries are ``n + 1`` apart in the flattened
    matrix) and a reshape, so it is linear and cheap to differentiate.

    Example: ``fnp.diag(fnp.asarray([1, 2]))`` is ``[[1, 0], [0, 2]]``.
    """
    v = asarray(v)
    k = int(k)
    if v.ndim == 2:
        from ._einsum import diagonal

        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"fnp.diag input must be 1d or 2d, got shape {tuple(v.shape)}.")
    length = v.shape[0]
    n = length + abs(k)
    low = k if k >= 0 else -k * n
    used = length + max(length - 1, 0) * n
    flat = sh.pad_p.bind(
        v, Array(np.zeros((), v.dtype), v.weak_type), padding_config=((low, n * n - low - used, n),)
    )
    return reshape(flat, (n, n))


def diagflat(v: Any, k: int = 0) -> Any:
    """The square matrix with the flattened ``v`` on diagonal ``k``.

    Example: ``fnp.diagflat(fnp.asarray([[1, 2]]))`` is ``[[1, 0], [0, 2]]``.
    """
    return diag(ravel(v), k)
