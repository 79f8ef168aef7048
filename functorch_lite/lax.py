"""The lax-level API: one function per primitive, with jax.lax's names, signatures and strictness.

Unlike ``functorch_lite.numpy``, lax does not promote dtypes or broadcast ranks: operands must agree
(Python scalars take the other operand's dtype, as weak types do in JAX). Shapes and dtypes are checked
eagerly too, so a mistake raises the same error with or without ``jit``.

Example:
    >>> from functorch_lite import lax
    >>> lax.add(fnp.ones(3), 2.0)
    Array([3., 3., 3.], dtype=float32)
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .core import dtypes
from .core.array import Array
from .core.trace import Primitive, Tracer, current_trace
from .primitives import decompositions as linalg  # noqa: F401  (lax.linalg.cholesky, qr, svd, ...)
from .primitives import elementwise as ew
from .primitives import indexing as ix
from .primitives import linalg as ln
from .primitives import reductions as red
from .primitives import shape as sh
from .primitives import sorting as srt
from .primitives.common import canonical_axis
from .primitives.control_flow import (  # noqa: F401  (re-exported lax API)
    associative_scan,
    cond,
    fori_loop,
    map,
    scan,
    switch,
    while_loop,
)
from .primitives.conv import (  # noqa: F401  (re-exported lax API)
    ConvDimensionNumbers,
    conv,
    conv_dimension_numbers,
    conv_general_dilated,
    conv_transpose,
    padtype_to_pads,
)
from .primitives.indexing import GatherDimensionNumbers, ScatterDimensionNumbers

_SCALARS = (builtins.bool, int, float, complex)


def _operand(x: Any, like: Any = None) -> Any:
    if isinstance(x, (Array, Tracer)):
        return x
    if type(x) in _SCALARS and like is not None:
        return Array(np.asarray(x, dtype=like.dtype)[()], True)
    dtype, weak = dtypes.dtype_and_weak(x)
    return Array(np.array(x, dtype=dtype), weak)


def _bind(prim: Primitive, *operands: Any, **params: Any) -> Any:
    like = next((x for x in operands if isinstance(x, (Array, Tracer, np.ndarray))), None)
    if like is not None and not isinstance(like, (Array, Tracer)):
        like = _operand(like)
    arrays = [_operand(x, like) for x in operands]
    if current_trace() is None:
        # Eager: check shapes and dtypes exactly as staging would, so errors do not depend on jit.
        prim.abstract_eval(*[a.aval for a in arrays], **params)
    return prim.bind(*arrays, **params)


def _unary(prim: Primitive, doc: str):
    def op(x: Any) -> Any:
        return _bind(prim, x)

    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = f"Elementwise {doc}. Example: ``lax.{prim.name}(fnp.ones(3))``."
    return op


def _binary(prim: Primitive, doc: str):
    def op(x: Any, y: Any) -> Any:
        return _bind(prim, x, y)

    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = f"Elementwise {doc}; operands share a dtype. Example: ``lax.{prim.name}(x, y)``."
    return op


neg = _unary(ew.neg_p, "negation -x")
sign = _unary(ew.sign_p, "sign")
floor = _unary(ew.floor_p, "floor")
ceil = _unary(ew.ceil_p, "ceiling")
is_finite = _unary(ew.is_finite_p, "test for finite values")
exp = _unary(ew.exp_p, "e**x")
exp2 = _unary(ew.exp2_p, "2**x")
log = _unary(ew.log_p, "natural logarithm")
log1p = _unary(ew.log1p_p, "log(1 + x)")
expm1 = _unary(ew.expm1_p, "exp(x) - 1")
tanh = _unary(ew.tanh_p, "hyperbolic tangent")
logistic = _unary(ew.logistic_p, "logistic sigmoid 1 / (1 + exp(-x))")
sin = _unary(ew.sin_p, "sine")
cos = _unary(ew.cos_p, "cosine")
tan = _unary(ew.tan_p, "tangent")
asin = _unary(ew.asin_p, "arcsine")
acos = _unary(ew.acos_p, "arccosine")
atan = _unary(ew.atan_p, "arctangent")
sinh = _unary(ew.sinh_p, "hyperbolic sine")
cosh = _unary(ew.cosh_p, "hyperbolic cosine")
asinh = _unary(ew.asinh_p, "inverse hyperbolic sine")
acosh = _unary(ew.acosh_p, "inverse hyperbolic cosine")
atanh = _unary(ew.atanh_p, "inverse hyperbolic tangent")
sqrt = _unary(ew.sqrt_p, "square root")
rsqrt = _unary(ew.rsqrt_p, "reciprocal square root")
cbrt = _unary(ew.cbrt_p, "cube root")
abs = _unary(ew.abs_p, "absolute value")
erf = _unary(ew.erf_p, "error function")
erfc = _unary(ew.erfc_p, "complementary error function")
erf_inv = _unary(ew.erf_inv_p, "inverse error function")
lgamma = _unary(ew.lgamma_p, "log-gamma")
digamma = _unary(ew.digamma_p, "digamma")
bitwise_not = _unary(ew.not_p, "bitwise (logical for bool) not")
stop_gradient = _unary(ew.stop_gradient_p, "identity whose derivative is zero")

add = _binary(ew.add_p, "addition")
sub = _binary(ew.sub_p, "subtraction")
mul = _binary(ew.mul_p, "multiplication")
div = _binary(ew.div_p, "division (integer division rounds toward zero)")
rem = _binary(ew.rem_p, "remainder with the sign of the dividend")
pow = _binary(ew.pow_p, "power x**y")
atan2 = _binary(ew.atan2_p, "two-argument arctangent")
polygamma = _binary(ew.polygamma_p, "polygamma(m, x): the m-th derivative of digamma")
max = _binary(ew.max_p, "maximum (NaN-propagating)")
min = _binary(ew.min_p, "minimum (NaN-propagating)")
nextafter = _binary(ew.nextafter_p, "next representable value after x towards y")
bitwise_and = _binary(ew.and_p, "bitwise (logical for bool) and")
bitwise_or = _binary(ew.or_p, "bitwise (logical for bool) or")
bitwise_xor = _binary(ew.xor_p, "bitwise (logical for bool) xor")
shift_left = _binary(ew.shift_left_p, "left shift")
shift_right_logical = _binary(ew.shift_right_logical_p, "logical right shift")
shift_right_arithmetic = _binary(ew.shift_right_arithmetic_p, "arithmetic right shift")
eq = _binary(ew.eq_p, "x == y")
ne = _binary(ew.ne_p, "x != y")
lt = _binary(ew.lt_p, "x < y")
le = _binary(ew.le_p, "x <= y")
gt = _binary(ew.gt_p, "x > y")
ge = _binary(ew.ge_p, "x >= y")


def round(x: Any, rounding_method: int = 0) -> Any:
    """Round to integral values: ``rounding_method`` 0 rounds halves away from zero, 1 to even.

    Example: ``lax.round(fnp.asarray([0.5, 1.5]))`` is ``[1., 2.]``.
    """
    return _bind(ew.round_p, x, rounding_method=int(rounding_method))


def integer_pow(x: Any, y: int) -> Any:
    """``x ** y`` for a static Python integer ``y``, by repeated multiplication.

    Example: ``lax.integer_pow(fnp.asarray(3.0), 2)`` is ``9.``.
    """
    return _bind(ew.integer_pow_p, x, y=int(y))


def convert_element_type(operand: Any, new_dtype: Any) -> Any:
    """Cast to ``new_dtype`` (canonicalized: float64 becomes float32 unless x64 is on).

    Example: ``lax.convert_element_type(fnp.arange(3), fnp.float32)``.
    """
    return _bind(
        ew.convert_element_type_p,
        operand,
        new_dtype=dtypes.canonicalize_dtype(new_dtype),
        weak_type=False,
        sharding=None,
    )


def select_n(which: Any, *cases: Any) -> Any:
    """``cases[which]`` elementwise; ``which`` is bool (two cases) or int32.

    Example: ``lax.select_n(x > 0, fnp.zeros(3), x)`` is ``relu(x)``.
    """
    like = next((c for c in cases if isinstance(c, (Array, Tracer))), None)
    return _bind(ew.select_n_p, _operand(which), *[_operand(c, like) for c in cases])


def select(pred: Any, on_true: Any, on_false: Any) -> Any:
    """``on_true`` where ``pred`` else ``on_false`` (a select_n with the cases swapped).

    Example: ``lax.select(x > 0, x, fnp.zeros_like(x))``.
    """
    return select_n(pred, on_false, on_true)


def clamp(min: Any, x: Any, max: Any) -> Any:
    """``min(max(x, min), max)`` with scalar or same-shaped bounds.

    Example: ``lax.clamp(0.0, x, 1.0)``.
    """
    x = _operand(x)
    return _bind(ew.clamp_p, _operand(min, x), x, _operand(max, x))


# ---------------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------------


def _axes(axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(a) for a in axes)


def reduce_sum(operand: Any, axes: Sequence[int]) -> Any:
    """Sum over ``axes``. Example: ``lax.reduce_sum(fnp.ones((2, 3)), (1,))`` is ``[3., 3.]``."""
    return _bind(red.reduce_sum_p, operand, axes=_axes(axes))


def reduce_prod(operand: Any, axes: Sequence[int]) -> Any:
    """Product over ``axes``. Example: ``lax.reduce_prod(x, (0,))``."""
    return _bind(red.reduce_prod_p, operand, axes=_axes(axes))


def reduce_max(operand: Any, axes: Sequence[int]) -> Any:
    """Maximum over ``axes`` (NaN-propagating; -inf for an empty reduction). Example: ``lax.reduce_max(x, (0,))``."""
    return _bind(red.reduce_max_p, operand, axes=_axes(axes))


def reduce_min(operand: Any, axes: Sequence[int]) -> Any:
    """Minimum over ``axes``. Example: ``lax.reduce_min(x, (0,))``."""
    return _bind(red.reduce_min_p, operand, axes=_axes(axes))


def reduce_and(operand: Any, axes: Sequence[int]) -> Any:
    """Logical/bitwise and over ``axes``. Example: ``lax.reduce_and(x > 0, (0,))``."""
    return _bind(red.reduce_and_p, operand, axes=_axes(axes))


def reduce_or(operand: Any, axes: Sequence[int]) -> Any:
    """Logical/bitwise or over ``axes``. Example: ``lax.reduce_or(x > 0, (0,))``."""
    return _bind(red.reduce_or_p, operand, axes=_axes(axes))


def argmax(operand: Any, axis: int, index_dtype: Any) -> Any:
    """Index of the maximum along ``axis`` (the first NaN wins). Example: ``lax.argmax(x, 0, fnp.int32)``."""
    return _bind(red.argmax_p, operand, axes=(int(axis),), index_dtype=dtypes.canonicalize_dtype(index_dtype))


def argmin(operand: Any, axis: int, index_dtype: Any) -> Any:
    """Index of the minimum along ``axis``. Example: ``lax.argmin(x, 0, fnp.int32)``."""
    return _bind(red.argmin_p, operand, axes=(int(axis),), index_dtype=dtypes.canonicalize_dtype(index_dtype))


def _cumulative(prim: Primitive):
    def op(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
        operand = _operand(operand)
        axis = canonical_axis(prim.name, int(axis), operand.ndim)
        return _bind(prim, operand, axis=axis, reverse=builtins.bool(reverse))

    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = f"Cumulative {prim.name[3:]} along ``axis``. Example: ``lax.{prim.name}(x, axis=0)``."
    return op


cumsum = _cumulative(red.cumsum_p)
cumprod = _cumulative(red.cumprod_p)
cummax = _cumulative(red.cummax_p)
cummin = _cumulative(red.cummin_p)

# ---------------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------------


def _shape(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(d) for d in shape)


def broadcast_in_dim(operand: Any, shape: Sequence[int], broadcast_dimensions: Sequence[int]) -> Any:
    """Broadcast ``operand`` to ``shape``, its dim i going to ``broadcast_dimensions[i]``.

    Example: ``lax.broadcast_in_dim(fnp.ones(3), (2, 3), (1,))`` has shape (2, 3).
    """
    return _bind(
        sh.broadcast_in_dim_p,
        operand,
        shape=_shape(shape),
        broadcast_dimensions=_shape(broadcast_dimensions),
        sharding=None,
    )


def broadcast(operand: Any, sizes: Sequence[int]) -> Any:
    """Add leading dimensions of ``sizes``. Example: ``lax.broadcast(fnp.ones(3), (2,))`` is (2, 3)."""
    operand = _operand(operand)
    sizes = _shape(sizes)
    dims = tuple(range(len(sizes), len(sizes) + operand.ndim))
    return broadcast_in_dim(operand, sizes + tuple(operand.shape), dims)


def expand_dims(array: Any, dimensions: Sequence[int]) -> Any:
    """Insert size-1 dimensions at ``dimensions`` (a broadcast_in_dim, as in JAX).

    Example: ``lax.expand_dims(fnp.ones(3), (0,))`` has shape (1, 3).
    """
    array = _operand(array)
    ndim_out = array.ndim + len(dimensions)
    dims = sorted(canonical_axis("expand_dims", int(d), ndim_out) for d in dimensions)
    shape = list(array.shape)
    for d in dims:
        shape.insert(d, 1)
    kept = tuple(i for i in range(ndim_out) if i not in dims)
    return broadcast_in_dim(array, shape, kept)


def reshape(operand: Any, new_sizes: Sequence[int], dimensions: Sequence[int] | None = None) -> Any:
    """Reshape (after transposing by ``dimensions`` if given). Example: ``lax.reshape(x, (3, 2))``."""
    return _bind(
        sh.reshape_p,
        operand,
        new_sizes=_shape(new_sizes),
        dimensions=None if dimensions is None else _shape(dimensions),
        sharding=None,
    )


def transpose(operand: Any, permutation: Sequence[int]) -> Any:
    """Permute the axes. Example: ``lax.transpose(x, (1, 0))``."""
    return _bind(sh.transpose_p, operand, permutation=_shape(permutation))


def squeeze(array: Any, dimensions: Sequence[int]) -> Any:
    """Remove the size-1 ``dimensions``. Example: ``lax.squeeze(fnp.ones((1, 3)), (0,))``."""
    array = _operand(array)
    dims = tuple(sorted(canonical_axis("squeeze", int(d), array.ndim) for d in dimensions))
    return _bind(sh.squeeze_p, array, dimensions=dims)


def rev(operand: Any, dimensions: Sequence[int]) -> Any:
    """Reverse along ``dimensions``. Example: ``lax.rev(fnp.arange(3), (0,))`` is ``[2, 1, 0]``."""
    return _bind(sh.rev_p, operand, dimensions=_shape(dimensions))


def slice(
    operand: Any,
    start_indices: Sequence[int],
    limit_indices: Sequence[int],
    strides: Sequence[int] | None = None,
) -> Any:
    """A static strided slice. Example: ``lax.slice(fnp.arange(5), (1,), (4,))`` is ``[1, 2, 3]``."""
    return _bind(
        sh.slice_p,
        operand,
        start_indices=_shape(start_indices),
        limit_indices=_shape(limit_indices),
        strides=None if strides is None else _shape(strides),
    )


def _index_scalars(indices: Sequence[Any]) -> list:
    out = []
    for i in indices:
        if type(i) in _SCALARS or isinstance(i, (np.integer, np.ndarray)):
            out.append(Array(np.asarray(i, dtype=dtypes.default_int())[()], False))
        else:
            out.append(i)
    return out


def dynamic_slice(operand: Any, start_indices: Sequence[Any], slice_sizes: Sequence[int]) -> Any:
    """A slice of static ``slice_sizes`` at (possibly traced) ``start_indices``, clamped into bounds.

    Example: ``lax.dynamic_slice(fnp.arange(5), (i,), (2,))``.
    """
    return _bind(sh.dynamic_slice_p, operand, *_index_scalars(start_indices), slice_sizes=_shape(slice_sizes))


def dynamic_update_slice(operand: Any, update: Any, start_indices: Sequence[Any]) -> Any:
    """``operand`` with ``update`` written at ``start_indices`` (clamped into bounds).

    Example: ``lax.dynamic_update_slice(fnp.zeros(5), fnp.ones(2), (1,))``.
    """
    operand = _operand(operand)
    return _bind(
        sh.dynamic_update_slice_p, operand, _operand(update, operand), *_index_scalars(start_indices)
    )


def concatenate(operands: Sequence[Any], dimension: int) -> Any:
    """Join ``operands`` along ``dimension``. Example: ``lax.concatenate([x, y], 0)``."""
    return _bind(sh.concatenate_p, *operands, dimension=int(dimension))


def pad(operand: Any, padding_value: Any, padding_config: Sequence[tuple[int, int, int]]) -> Any:
    """Pad with ``(low, high, interior)`` per dimension (negative low/high crop).

    Example: ``lax.pad(fnp.ones(2), 0.0, [(1, 1, 1)])`` is ``[0, 1, 0, 1, 0]``.
    """
    operand = _operand(operand)
    config = tuple((int(lo), int(hi), int(it)) for lo, hi, it in padding_config)
    return _bind(sh.pad_p, operand, _operand(padding_value, operand), padding_config=config)


def iota(dtype: Any, size: int) -> Any:
    """``[0, 1, ..., size-1]``. Example: ``lax.iota(fnp.int32, 3)``."""
    return broadcasted_iota(dtype, (size,), 0)


def broadcasted_iota(dtype: Any, shape: Sequence[int], dimension: int) -> Any:
    """Indices along ``dimension`` broadcast to ``shape``. Example: ``lax.broadcasted_iota(fnp.int32, (2, 3), 1)``."""
    shape = _shape(shape)
    return _bind(
        sh.iota_p,
        dtype=dtypes.canonicalize_dtype(dtype),
        shape=shape,
        dimension=int(dimension),
        sharding=None,
    )


# ---------------------------------------------------------------------------------------------------
# Indexing, contraction, sorting
# ---------------------------------------------------------------------------------------------------


def gather(
    operand: Any,
    start_indices: Any,
    dimension_numbers: GatherDimensionNumbers,
    slice_sizes: Sequence[int],
    *,
    unique_indices: bool = False,
    indices_are_sorted: bool = False,
    mode: Any = None,
    fill_value: Any = None,
) -> Any:
    """XLA's gather: slices of ``slice_sizes`` at the index vectors in the last dim of ``start_indices``.

    Example: rows ``idx`` of a matrix ``x``:
    ``lax.gather(x, idx[:, None], GatherDimensionNumbers((1,), (0,), (0,)), (1, x.shape[1]))``.
    """
    return _bind(
        ix.gather_p,
        operand,
        start_indices,
        dimension_numbers=dimension_numbers,
        slice_sizes=_shape(slice_sizes),
        indices_are_sorted=builtins.bool(indices_are_sorted),
        unique_indices=builtins.bool(unique_indices),
        mode=ix.GatherScatterMode.from_any(mode),
        fill_value=fill_value,
    )


def _scatter_fn(prim: Primitive):
    def op(
        operand: Any,
        scatter_indices: Any,
        updates: Any,
        dimension_numbers: ScatterDimensionNumbers,
        *,
        indices_are_sorted: bool = False,
        unique_indices: bool = False,
        mode: Any = None,
    ) -> Any:
        operand = _operand(operand)
        return _bind(
            prim,
            operand,
            scatter_indices,
            _operand(updates, operand),
            dimension_numbers=dimension_numbers,
            indices_are_sorted=builtins.bool(indices_are_sorted),
            unique_indices=builtins.bool(unique_indices),
            mode=ix.GatherScatterMode.from_any(mode),
            update_jaxpr=None,
            update_consts=(),
        )

    op.__name__ = op.__qualname__ = prim.name.replace("-", "_")
    op.__doc__ = (
        f"XLA's {prim.name}: combine ``updates`` into ``operand`` at ``scatter_indices`` (repeated indices "
        f"{'overwrite, the last wins' if prim.name == 'scatter' else 'accumulate'}).\n\n"
        f"Example: ``lax.{op.__name__}(x, idx[:, None], v, ScatterDimensionNumbers((), (0,), (0,)))``."
    )
    return op


scatter = _scatter_fn(ix.scatter_p)
scatter_add = _scatter_fn(ix.scatter_add_p)
scatter_mul = _scatter_fn(ix.scatter_mul_p)
scatter_min = _scatter_fn(ix.scatter_min_p)
scatter_max = _scatter_fn(ix.scatter_max_p)


def dot_general(
    lhs: Any, rhs: Any, dimension_numbers: Any, precision: Any = None, preferred_element_type: Any = None
) -> Any:
    """General contraction: ``dimension_numbers = ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))``;
    output dims are batch, lhs free, rhs free.

    Example: ``lax.dot_general(x, y, (((1,), (0,)), ((), ())))`` is ``x @ y`` for matrices.
    """
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((_shape(lc), _shape(rc)), (_shape(lb), _shape(rb)))
    preferred = None if preferred_element_type is None else dtypes.canonicalize_dtype(preferred_element_type)
    return _bind(
        ln.dot_general_p,
        lhs,
        rhs,
        dimension_numbers=dn,
        precision=precision,
        preferred_element_type=preferred,
    )


def dot(lhs: Any, rhs: Any, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Vector/matrix products of 1-D and 2-D operands. Example: ``lax.dot(x, y)``."""
    lhs, rhs = _operand(lhs), _operand(rhs)
    return dot_general(lhs, rhs, (((lhs.ndim - 1,), (0,)), ((), ())), precision, preferred_element_type)


def sort(operand: Any, dimension: int = -1, is_stable: bool = True, num_keys: int = 1) -> Any:
    """Sort one array, or several (a sequence) by the first ``num_keys`` of them, along ``dimension``.

    Example: ``lax.sort(fnp.asarray([3, 1, 2]))`` is ``[1, 2, 3]``; ``lax.sort((keys, values))`` sorts both.
    """
    single = not isinstance(operand, (list, tuple))
    operands = [_operand(o) for o in ([operand] if single else operand)]
    dimension = int(dimension) % builtins.max(operands[0].ndim, 1)
    out = _bind(
        srt.sort_p, *operands, dimension=dimension, is_stable=builtins.bool(is_stable), num_keys=int(num_keys)
    )
    return out[0] if single else tuple(out)


def sort_key_val(keys: Any, values: Any, dimension: int = -1, is_stable: bool = True) -> tuple:
    """Sort ``keys`` and permute ``values`` the same way. Example: ``lax.sort_key_val(k, v)``."""
    return sort((keys, values), dimension, is_stable, num_keys=1)
