"""Reductions (reduce_sum/max/min/prod/and/or, argmax/argmin) and cumulative ops (cumsum, cumprod,
cummax, cummin): every rule of each lives in this file.

Params follow jax.lax: ``axes`` is a tuple of non-negative axes; ``argmax`` has ``axes=(k,)`` and
``index_dtype``; cumulative ops have ``axis`` and ``reverse``.

Example:
    >>> reduce_sum_p.bind(fnp.ones((2, 3)), axes=(1,))
    Array([3., 3.], dtype=float32)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.errors import ShapeDtypeError, ShapeError
from ..core.trace import Primitive, ShapedArray
from .common import check_axes, check_kinds


def _reduced_shape(name: str, x: ShapedArray, axes: tuple[int, ...]) -> tuple[int, ...]:
    axes = check_axes(name, axes, x.ndim)
    return tuple(d for i, d in enumerate(x.shape) if i not in axes)


def _reduce_aval(name: str, kinds: str) -> Callable:
    def abstract_eval(x: ShapedArray, axes: tuple[int, ...]) -> ShapedArray:
        check_kinds(name, x, kinds)
        return ShapedArray(_reduced_shape(name, x, axes), x.dtype, x.weak_type)

    return abstract_eval


def _identity_of_max(dtype: np.dtype) -> Any:
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def _identity_of_min(dtype: np.dtype) -> Any:
    if dtype.kind == "f":
        return np.inf
    if dtype.kind == "b":
        return True
    return np.iinfo(dtype).max


def _reduce_sum_impl(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.sum(x, axis=axes, dtype=x.dtype)


def _reduce_prod_impl(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.prod(x, axis=axes, dtype=x.dtype)


def _reduce_max_impl(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    # An empty reduction gives the identity (-inf / the smallest integer), as in JAX.
    return np.max(x, axis=axes, initial=_identity_of_max(x.dtype))


def _reduce_min_impl(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.min(x, axis=axes, initial=_identity_of_min(x.dtype))


def _reduce_and_impl(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    if x.dtype == np.bool_:
        return np.all(x, axis=axes)
    return np.bitwise_and.reduce(x, axis=axes, initial=-1 if x.dtype.kind == "i" else np.iinfo(x.dtype).max)


def _reduce_or_impl(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    if x.dtype == np.bool_:
        return np.any(x, axis=axes)
    return np.bitwise_or.reduce(x, axis=axes, initial=0)


reduce_sum_p = Primitive("reduce_sum", _reduce_sum_impl, _reduce_aval("reduce_sum", "iufc"))
reduce_prod_p = Primitive("reduce_prod", _reduce_prod_impl, _reduce_aval("reduce_prod", "iufc"))
reduce_max_p = Primitive("reduce_max", _reduce_max_impl, _reduce_aval("reduce_max", "biuf"))
reduce_min_p = Primitive("reduce_min", _reduce_min_impl, _reduce_aval("reduce_min", "biuf"))
reduce_and_p = Primitive("reduce_and", _reduce_and_impl, _reduce_aval("reduce_and", "biu"))
reduce_or_p = Primitive("reduce_or", _reduce_or_impl, _reduce_aval("reduce_or", "biu"))


def _arg_aval(name: str) -> Callable:
    def abstract_eval(x: ShapedArray, axes: tuple[int, ...], index_dtype: np.dtype) -> ShapedArray:
        check_kinds(name, x, "biuf")
        if len(axes) != 1:
            raise ShapeError(f"{name} takes exactly one axis, got axes={axes}.")
        _reduced_shape(name, x, axes)
        if x.shape[axes[0]] == 0:
            raise ShapeError(f"{name} of an empty axis (operand {x.str_short()}, axis {axes[0]}).")
        if np.dtype(index_dtype).kind not in "iu":
            raise ShapeDtypeError(f"{name} index_dtype must be an integer dtype, got {index_dtype}.")
        return ShapedArray(_reduced_shape(name, x, axes), index_dtype, False)

    return abstract_eval


def _argmax_impl(x: np.ndarray, axes: tuple[int, ...], index_dtype: np.dtype) -> np.ndarray:
    return np.argmax(x, axis=axes[0]).astype(index_dtype)


def _argmin_impl(x: np.ndarray, axes: tuple[int, ...], index_dtype: np.dtype) -> np.ndarray:
    return np.argmin(x, axis=axes[0]).astype(index_dtype)


argmax_p = Primitive("argmax", _argmax_impl, _arg_aval("argmax"), weak="never")
argmin_p = Primitive("argmin", _argmin_impl, _arg_aval("argmin"), weak="never")


# ---------------------------------------------------------------------------------------------------
# Cumulative
# ---------------------------------------------------------------------------------------------------


def _cumulative(name: str, accumulate: Callable, kinds: str) -> Primitive:
    def impl(x: np.ndarray, axis: int, reverse: bool = False) -> np.ndarray:
        if reverse:
            return np.flip(accumulate(np.flip(x, axis), axis), axis)
        return accumulate(x, axis)

    def abstract_eval(x: ShapedArray, axis: int, reverse: bool = False) -> ShapedArray:
        check_kinds(name, x, kinds)
        if not 0 <= axis < x.ndim:
            raise ShapeError(
                f"{name}: axis must be in [0, {x.ndim}) for operand {x.str_short()}, got {axis}."
            )
        return x

    return Primitive(name, impl, abstract_eval)


cumsum_p = _cumulative("cumsum", lambda x, axis: np.cumsum(x, axis=axis, dtype=x.dtype), "iufc")
cumprod_p = _cumulative("cumprod", lambda x, axis: np.cumprod(x, axis=axis, dtype=x.dtype), "iufc")
cummax_p = _cumulative("cummax", lambda x, axis: np.maximum.accumulate(x, axis=axis), "iuf")
cummin_p = _cumulative("cummin", lambda x, axis: np.minimum.accumulate(x, axis=axis), "iuf")


# ---------------------------------------------------------------------------------------------------
# Differentiation rules
# ---------------------------------------------------------------------------------------------------

from ..core.array import Array  # noqa: E402  (rules below use concrete constants)
from ..core.trace import aval_of  # noqa: E402
from ..transforms.ad import Zero, defjvp_zero, deflinear, jvp_flat, tangent_aval  # noqa: E402
from . import elementwise as _ew  # noqa: E402
from . import shape as _sh  # noqa: E402


def _scalar(dtype: np.dtype, value: float) -> Array:
    return Array(np.asarray(value, dtype=dtype)[()], False)


def _zero_tangent(out: Any) -> Zero:
    return Zero(tangent_aval(aval_of(out)))


def _kept_axes(ndim: int, axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i not in axes)


def _reduce_sum_transpose(ct: Any, x: Any, *, axes: tuple[int, ...]) -> list:
    # Every input element contributed once to its output element: broadcast the cotangent back.
    shape = tuple(x.aval.shape)
    kept = _kept_axes(len(shape), axes)
    return [_sh.broadcast_in_dim_p.bind(ct, shape=shape, broadcast_dimensions=kept, sharding=None)]


deflinear(reduce_sum_p, _reduce_sum_transpose)


def _chooser_reduce_jvp(prim: Primitive) -> None:
    """max/min: the tangent at the chosen locations, averaged over ties (JAX's chooser rule)."""

    def jvp(primals: list, tangents: list, *, axes: tuple[int, ...]) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axes=axes)
        if type(t) is Zero or any(x.shape[a] == 0 for a in axes):
            return out, _zero_tangent(out)
        shape = tuple(x.shape)
        back = _sh.broadcast_in_dim_p.bind(
            out, shape=shape, broadcast_dimensions=_kept_axes(len(shape), axes), sharding=None
        )
        hit = _ew.convert_element_type_p.bind(
            _ew.eq_p.bind(x, back), new_dtype=t.dtype, weak_type=False, sharding=None
        )
        counts = reduce_sum_p.bind(hit, axes=axes)
        picked = reduce_sum_p.bind(_ew.mul_p.bind(t, hit), axes=axes)
        return out, _ew.div_p.bind(picked, counts)

    prim.jvp = jvp


_chooser_reduce_jvp(reduce_max_p)
_chooser_reduce_jvp(reduce_min_p)


def _exclusive_products(x: Any, axis: int) -> tuple[Any, Any]:
    """``(left, right)`` with ``left[i] = x[0] * ... * x[i-1]`` and ``right[i] = x[i+1] * ... * x[n-1]``
    along ``axis`` (empty products are 1). Built from shifted cumulative products, so zeros are exact."""
    one = _scalar(x.dtype, 1.0)
    keep = [(0, 0, 0)] * x.ndim
    to_right = list(keep)
    to_right[axis] = (1, -1, 0)  # shift one place towards the end, a 1 coming in at the start
    to_left = list(keep)
    to_left[axis] = (-1, 1, 0)
    left = cumprod_p.bind(_sh.pad_p.bind(x, one, padding_config=tuple(to_right)), axis=axis, reverse=False)
    right = cumprod_p.bind(_sh.pad_p.bind(x, one, padding_config=tuple(to_left)), axis=axis, reverse=True)
    return left, right


def _reduce_prod_jvp(primals: list, tangents: list, *, axes: tuple[int, ...]) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    out = reduce_prod_p.bind(x, axes=axes)
    if type(t) is Zero:
        return out, _zero_tangent(out)
    if not axes:
        return out, t
    shape = tuple(x.shape)
    n = math.prod(shape[a] for a in axes)
    if n == 0:  # an empty product is the constant 1
        return out, _zero_tangent(out)
    # Move the reduced axes last and merge them, so the product runs along one axis.
    kept = _kept_axes(len(shape), axes)
    flat_shape = tuple(shape[a] for a in kept) + (n,)

    def flatten(v: Any) -> Any:
        if kept + axes != tuple(range(len(shape))):
            v = _sh.transpose_p.bind(v, permutation=kept + axes)
        if tuple(v.shape) != flat_shape:
            v = _sh.reshape_p.bind(v, new_sizes=flat_shape, dimensions=None, sharding=None)
        return v

    last = len(kept)
    left, right = _exclusive_products(flatten(x), last)
    # d(prod)/dx_i = prod_{j != i} x_j = left_i * right_i: no division, so exact with zeros in x.
    partial = _ew.mul_p.bind(left, right)
    return out, reduce_sum_p.bind(_ew.mul_p.bind(flatten(t), partial), axes=(last,))


reduce_prod_p.jvp = _reduce_prod_jvp

for _p in (reduce_and_p, reduce_or_p, argmax_p, argmin_p):
    defjvp_zero(_p)


def _cumsum_transpose(ct: Any, x: Any, *, axis: int, reverse: bool = False) -> list:
    return [cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


deflinear(cumsum_p, _cumsum_transpose)


def _strided(x: Any, axis: int, start: int, limit: int, stride: int = 1) -> Any:
    starts = [0] * x.ndim
    limits = list(x.shape)
    strides = [1] * x.ndim
    starts[axis], limits[axis], strides[axis] = start, limit, stride
    return _sh.slice_p.bind(
        x, start_indices=tuple(starts), limit_indices=tuple(limits), strides=tuple(strides)
    )


def _interleave(evens: Any, odds: Any, axis: int) -> Any:
    """``evens`` at positions 0, 2, 4, ... and ``odds`` at 1, 3, 5, ... along ``axis``."""
    n = evens.shape[axis] + odds.shape[axis]
    zero = _scalar(evens.dtype, 0.0)
    keep = [(0, 0, 0)] * evens.ndim
    spread_evens = list(keep)
    spread_evens[axis] = (0, n - (2 * evens.shape[axis] - 1), 1)
    spread_odds = list(keep)
    spread_odds[axis] = (1, n - 2 * odds.shape[axis], 1)
    return _ew.add_p.bind(
        _sh.pad_p.bind(evens, zero, padding_config=tuple(spread_evens)),
        _sh.pad_p.bind(odds, zero, padding_config=tuple(spread_odds)),
    )


def _associative_scan(combine: Callable, x: Any, axis: int) -> Any:
    """Inclusive scan of ``combine`` along ``axis`` by the recursive odd/even scheme (log depth, linear
    work) out of slice/pad/concatenate binds, so its derivative follows from their rules and
    ``combine``'s. Each element is combined with earlier ones on its left."""
    n = x.shape[axis]
    if n < 2:
        return x
    half = n // 2
    # Combine neighbouring pairs (x0 x1), (x2 x3), ...; their scan gives the outputs at odd positions.
    pairs = combine(_strided(x, axis, 0, 2 * half - 1, 2), _strided(x, axis, 1, n, 2))
    odds = _associative_scan(combine, pairs, axis)
    # Each even position after the first extends the odd output just before it.
    later_evens = _strided(x, axis, 2, n, 2)
    before = _strided(odds, axis, 0, later_evens.shape[axis])
    evens = _sh.concatenate_p.bind(_strided(x, axis, 0, 1), combine(before, later_evens), dimension=axis)
    return _interleave(evens, odds, axis)


def _cumulative_jvp(prim: Primitive, combine: Callable) -> None:
    """JVP of a cumulative op as the JVP of its associative scan: the product rule handles zeros in
    cumprod, and max/min's chooser rule splits the tangent among ties as JAX does."""

    def scan(x: Any, axis: int, reverse: bool) -> Any:
        if not reverse:
            return _associative_scan(combine, x, axis)
        flipped = _sh.rev_p.bind(x, dimensions=(axis,))
        return _sh.rev_p.bind(_associative_scan(combine, flipped, axis), dimensions=(axis,))

    def jvp(primals: list, tangents: list, *, axis: int, reverse: bool = False) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        out = prim.bind(x, axis=axis, reverse=reverse)
        if type(t) is Zero:
            return out, _zero_tangent(out)
        if x.shape[axis] < 2:  # the identity
            return out, t
        _, (tangent_out,) = jvp_flat(lambda v: [scan(v, axis, reverse)], [x], [t])
        return out, tangent_out

    prim.jvp = jvp


_cumulative_jvp(cumprod_p, _ew.mul_p.bind)
_cumulative_jvp(cummax_p, _ew.max_p.bind)
_cumulative_jvp(cummin_p, _ew.min_p.bind)


# ---------------------------------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------------------------------
#
# One batched operand, so each rule renumbers its axes around the batch dim and applies the primitive to
# the whole batch at once.


def _batched_axes(axes: tuple[int, ...], bdim: int) -> tuple[int, ...]:
    """Axes of one batch element renumbered for the batched operand (``bdim`` inserted)."""
    return tuple(a + (a >= bdim) for a in axes)


def _reduction_batch(prim: Primitive) -> None:
    def rule(axis_size: int, vals: list, dims: list, *, axes: tuple[int, ...], **params: Any) -> tuple:
        (x,), (bdim,) = vals, dims
        moved = _batched_axes(tuple(axes), bdim)
        # The batch dim keeps its place among the axes that survive the reduction.
        out_dim = bdim - sum(1 for a in moved if a < bdim)
        return prim.bind(x, axes=moved, **params), out_dim

    prim.batch = rule


for _p in (reduce_sum_p, reduce_prod_p, reduce_max_p, reduce_min_p, reduce_and_p, reduce_or_p, argmax_p,
           argmin_p):  # fmt: skip
    _reduction_batch(_p)


def _cumulative_batch(prim: Primitive) -> None:
    def rule(axis_size: int, vals: list, dims: list, *, axis: int, reverse: bool = False) -> tuple:
        (x,), (bdim,) = vals, dims
        return prim.bind(x, axis=axis + (axis >= bdim), reverse=reverse), bdim

    prim.batch = rule


for _p in (cumsum_p, cumprod_p, cummax_p, cummin_p):
    _cumulative_batch(_p)
