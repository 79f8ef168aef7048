"""Reductions (reduce_sum/max/min/prod/and/or, argmax/argmin) and cumulative ops (cumsum, cumprod,
cummax, cummin): every rule of each lives in this file.

Params follow jax.lax: ``axes`` is a tuple of non-negative axes; ``argmax`` has ``axes=(k,)`` and
``index_dtype``; cumulative ops have ``axis`` and ``reverse``.

Example:
    >>> reduce_sum_p.bind(fnp.ones((2, 3)), axes=(1,))
    Array([3., 3.], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

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
            raise ValueError(f"{name} takes exactly one axis, got axes={axes}.")
        _reduced_shape(name, x, axes)
        if x.shape[axes[0]] == 0:
            raise ValueError(f"{name} of an empty axis (operand {x.str_short()}, axis {axes[0]}).")
        if np.dtype(index_dtype).kind not in "iu":
            raise TypeError(f"{name} index_dtype must be an integer dtype, got {index_dtype}.")
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
            raise ValueError(
                f"{name}: axis must be in [0, {x.ndim}) for operand {x.str_short()}, got {axis}."
            )
        return x

    return Primitive(name, impl, abstract_eval)


cumsum_p = _cumulative("cumsum", lambda x, axis: np.cumsum(x, axis=axis, dtype=x.dtype), "iufc")
cumprod_p = _cumulative("cumprod", lambda x, axis: np.cumprod(x, axis=axis, dtype=x.dtype), "iufc")
cummax_p = _cumulative("cummax", lambda x, axis: np.maximum.accumulate(x, axis=axis), "iuf")
cummin_p = _cumulative("cummin", lambda x, axis: np.minimum.accumulate(x, axis=axis), "iuf")
