"""Shape primitives: broadcast_in_dim, reshape, transpose, squeeze, rev, slice, dynamic_slice,
dynamic_update_slice, concatenate, pad, iota. Every rule of each lives in this file.

(``lax.expand_dims`` is not a primitive, as in JAX: it is a ``broadcast_in_dim``.)

Example:
    >>> broadcast_in_dim_p.bind(fnp.ones(3), shape=(2, 3), broadcast_dimensions=(1,), sharding=None)
    Array([[1., 1., 1.],
           [1., 1., 1.]], dtype=float32)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.errors import ShapeDtypeError, ShapeError
from ..core.jaxpr import param_printers
from ..core.trace import Primitive, ShapedArray
from .common import check_axes, same_dtype

# ---------------------------------------------------------------------------------------------------
# broadcast_in_dim
# ---------------------------------------------------------------------------------------------------


def _broadcast_in_dim_impl(
    x: np.ndarray, shape: tuple[int, ...], broadcast_dimensions: tuple[int, ...], sharding: Any = None
) -> np.ndarray:
    sizes = [1] * len(shape)
    for src, dst in enumerate(broadcast_dimensions):
        sizes[dst] = x.shape[src]
    expanded = np.reshape(x, sizes)
    if expanded.shape == tuple(shape):
        return expanded  # only size-1 dims were added: the reshape's view is it (np.broadcast_to is slower)
    return np.broadcast_to(expanded, shape)  # a read-only view, never a copy


def _broadcast_in_dim_aval(
    x: ShapedArray, shape: tuple[int, ...], broadcast_dimensions: tuple[int, ...], sharding: Any = None
) -> ShapedArray:
    if len(broadcast_dimensions) != x.ndim:
        raise ShapeError(
            f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must have one entry per operand "
            f"dimension of {x.str_short()}."
        )
    if any(not 0 <= d < len(shape) for d in broadcast_dimensions) or list(broadcast_dimensions) != sorted(
        set(broadcast_dimensions)
    ):
        raise ShapeError(
            f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must be strictly increasing and "
            f"within the target rank {len(shape)}."
        )
    for src, dst in enumerate(broadcast_dimensions):
        if x.shape[src] not in (1, shape[dst]):
            raise ShapeError(
                f"broadcast_in_dim: operand dimension {src} of size {x.shape[src]} cannot broadcast to "
                f"size {shape[dst]} of target shape {shape}."
            )
    return ShapedArray(shape, x.dtype, x.weak_type)


broadcast_in_dim_p = Primitive("broadcast_in_dim", _broadcast_in_dim_impl, _broadcast_in_dim_aval)


def _broadcast_in_dim_printed_params(params: dict) -> dict:
    # As JAX prints it: the shape is the output's type, and empty/None params are noise.
    shown = {}
    if params["broadcast_dimensions"]:
        shown["broadcast_dimensions"] = params["broadcast_dimensions"]
    if params.get("sharding") is not None:
        shown["sharding"] = params["sharding"]
    return shown


param_printers["broadcast_in_dim"] = _broadcast_in_dim_printed_params

# ---------------------------------------------------------------------------------------------------
# reshape, transpose, squeeze, rev
# ---------------------------------------------------------------------------------------------------


def _reshape_impl(
    x: np.ndarray, new_sizes: tuple[int, ...], dimensions: Any = None, sharding: Any = None
) -> np.ndarray:
    if dimensions is not None:
        x = np.transpose(x, dimensions)
    return np.reshape(x, new_sizes)


def _reshape_aval(
    x: ShapedArray, new_sizes: tuple[int, ...], dimensions: Any = None, sharding: Any = None
) -> ShapedArray:
    if any(d < 0 for d in new_sizes) or math.prod(new_sizes) != math.prod(x.shape):
        raise ShapeError(
            f"reshape: cannot reshape {x.str_short()} ({math.prod(x.shape)} elements) into shape "
            f"{tuple(new_sizes)} ({math.prod(new_sizes)} elements)."
        )
    if dimensions is not None:
        check_axes("reshape", dimensions, x.ndim)
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


reshape_p = Primitive("reshape", _reshape_impl, _reshape_aval)


def _transpose_aval(x: ShapedArray, permutation: tuple[int, ...]) -> ShapedArray:
    if sorted(permutation) != list(range(x.ndim)):
        raise ShapeError(
            f"transpose: permutation {permutation} is not a permutation of the axes of {x.str_short()}."
        )
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


transpose_p = Primitive("transpose", lambda x, permutation: np.transpose(x, permutation), _transpose_aval)


def _squeeze_aval(x: ShapedArray, dimensions: tuple[int, ...]) -> ShapedArray:
    dims = check_axes("squeeze", dimensions, x.ndim)
    if any(x.shape[d] != 1 for d in dims):
        raise ShapeError(f"squeeze: dimensions {dims} of {x.str_short()} must all have size 1.")
    return ShapedArray(tuple(d for i, d in enumerate(x.shape) if i not in dims), x.dtype, x.weak_type)


squeeze_p = Primitive("squeeze", lambda x, dimensions: np.squeeze(x, axis=tuple(dimensions)), _squeeze_aval)


def _rev_aval(x: ShapedArray, dimensions: tuple[int, ...]) -> ShapedArray:
    check_axes("rev", dimensions, x.ndim)
    return x


rev_p = Primitive("rev", lambda x, dimensions: np.flip(x, axis=tuple(dimensions)), _rev_aval)

# ---------------------------------------------------------------------------------------------------
# slice, dynamic_slice, dynamic_update_slice
# ---------------------------------------------------------------------------------------------------


def _slice_impl(x: np.ndarray, start_indices: tuple, limit_indices: tuple, strides: Any = None) -> np.ndarray:
    strides = strides or (1,) * x.ndim
    return x[tuple(slice(s, l, st) for s, l, st in zip(start_indices, limit_indices, strides))]


def _slice_aval(
    x: ShapedArray, start_indices: tuple, limit_indices: tuple, strides: Any = None
) -> ShapedArray:
    strides = strides or (1,) * x.ndim
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise ShapeError(
            f"slice: start_indices {start_indices}, limit_indices {limit_indices} and strides {strides} "
            f"need one entry per dimension of {x.str_short()}."
        )
    shape = []
    for d, s, l, st in zip(x.shape, start_indices, limit_indices, strides):
        if not 0 <= s <= l <= d or st < 1:
            raise ShapeError(
                f"slice: indices start={start_indices} limit={limit_indices} strides={strides} are invalid "
                f"for {x.str_short()} (need 0 <= start <= limit <= size and stride >= 1)."
            )
        shape.append(max(0, -(-(l - s) // st)))
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


slice_p = Primitive("slice", _slice_impl, _slice_aval)


def _clamped_starts(shape: tuple[int, ...], starts: tuple, sizes: tuple[int, ...]) -> list[int]:
    # lax clamps start indices so the whole window stays in bounds.
    return [int(min(max(int(s), 0), d - z)) for s, d, z in zip(starts, shape, sizes)]


def _dynamic_slice_impl(x: np.ndarray, *starts: np.ndarray, slice_sizes: tuple[int, ...]) -> np.ndarray:
    begin = _clamped_starts(x.shape, starts, slice_sizes)
    return x[tuple(slice(b, b + z) for b, z in zip(begin, slice_sizes))]


def _check_start_indices(name: str, x: ShapedArray, starts: tuple[ShapedArray, ...]) -> None:
    if len(starts) != x.ndim:
        raise ShapeError(f"{name}: need {x.ndim} start indices for {x.str_short()}, got {len(starts)}.")
    for s in starts:
        if s.shape != () or s.dtype.kind not in "iu":
            raise ShapeDtypeError(f"{name}: start indices must be integer scalars, got {s.str_short()}.")


def _dynamic_slice_aval(x: ShapedArray, *starts: ShapedArray, slice_sizes: tuple[int, ...]) -> ShapedArray:
    _check_start_indices("dynamic_slice", x, starts)
    if len(slice_sizes) != x.ndim or any(not 0 <= z <= d for z, d in zip(slice_sizes, x.shape)):
        raise ShapeError(f"dynamic_slice: slice_sizes {slice_sizes} must fit in {x.str_short()}.")
    return ShapedArray(tuple(slice_sizes), x.dtype, x.weak_type)


dynamic_slice_p = Primitive(
    "dynamic_slice", _dynamic_slice_impl, _dynamic_slice_aval, weak=lambda x, *starts, **params: x
)


def _dynamic_update_slice_impl(x: np.ndarray, update: np.ndarray, *starts: np.ndarray) -> np.ndarray:
    begin = _clamped_starts(x.shape, starts, update.shape)
    out = np.array(x, copy=True)
    out[tuple(slice(b, b + z) for b, z in zip(begin, update.shape))] = update
    return out


def _dynamic_update_slice_aval(x: ShapedArray, update: ShapedArray, *starts: ShapedArray) -> ShapedArray:
    _check_start_indices("dynamic_update_slice", x, starts)
    same_dtype("dynamic_update_slice", x, update)
    if update.ndim != x.ndim or any(u > d for u, d in zip(update.shape, x.shape)):
        raise ShapeError(
            f"dynamic_update_slice: update {update.str_short()} must have the rank of and fit in {x.str_short()}."
        )
    return x


dynamic_update_slice_p = Primitive(
    "dynamic_update_slice", _dynamic_update_slice_impl, _dynamic_update_slice_aval, weak=lambda x, u, *s: x
)

# ---------------------------------------------------------------------------------------------------
# concatenate, pad, iota
# ---------------------------------------------------------------------------------------------------


def _concatenate_aval(*xs: ShapedArray, dimension: int) -> ShapedArray:
    if not xs:
        raise ShapeError("concatenate needs at least one operand.")
    dtype = same_dtype("concatenate", *xs)
    first = xs[0]
    if not 0 <= dimension < first.ndim:
        raise ShapeError(f"concatenate: dimension {dimension} is out of range for {first.str_short()}.")
    for x in xs[1:]:
        if x.ndim != first.ndim or any(
            a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != dimension
        ):
            shapes = ", ".join(a.str_short() for a in xs)
            raise ShapeError(
                f"concatenate: operands must have equal shapes except along dimension {dimension}, got {shapes}."
            )
    shape = list(first.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(tuple(shape), dtype, all(x.weak_type for x in xs))


concatenate_p = Primitive(
    "concatenate", lambda *xs, dimension: np.concatenate(xs, axis=dimension), _concatenate_aval
)


def _padded_size(d: int, lo: int, hi: int, interior: int) -> int:
    return lo + hi + d + max(d - 1, 0) * interior


def _pad_impl(x: np.ndarray, padding_value: np.ndarray, padding_config: tuple) -> np.ndarray:
    # Pad with the non-negative parts (interior dilation included), then crop the negative ones.
    grown = [_padded_size(d, max(lo, 0), max(hi, 0), it) for d, (lo, hi, it) in zip(x.shape, padding_config)]
    out = np.full(grown, padding_value, dtype=x.dtype)
    inner = tuple(
        slice(max(lo, 0), max(lo, 0) + max(d - 1, 0) * (it + 1) + (1 if d else 0), it + 1)
        for d, (lo, hi, it) in zip(x.shape, padding_config)
    )
    out[inner] = x
    crop = tuple(slice(max(-lo, 0), g - max(-hi, 0)) for g, (lo, hi, it) in zip(grown, padding_config))
    return out[crop]


def _pad_aval(x: ShapedArray, padding_value: ShapedArray, padding_config: tuple) -> ShapedArray:
    same_dtype("pad", x, padding_value)
    if padding_value.shape != ():
        raise ShapeError(f"pad: padding_value must be a scalar, got {padding_value.str_short()}.")
    if len(padding_config) != x.ndim:
        raise ShapeError(
            f"pad: padding_config needs one (lo, hi, interior) per dimension of {x.str_short()}."
        )
    shape = []
    for d, (lo, hi, it) in zip(x.shape, padding_config):
        size = _padded_size(d, lo, hi, it)
        if it < 0 or size < 0:
            raise ShapeError(
                f"pad: padding_config {padding_config} gives a negative size for {x.str_short()}."
            )
        shape.append(size)
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


pad_p = Primitive("pad", _pad_impl, _pad_aval, weak=lambda x, v, padding_config: x)


def _iota_impl(dtype: np.dtype, shape: tuple[int, ...], dimension: int, sharding: Any = None) -> np.ndarray:
    line = np.arange(shape[dimension], dtype=dtype)
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    return np.broadcast_to(line.reshape(expanded), shape)


def _iota_aval(dtype: np.dtype, shape: tuple[int, ...], dimension: int, sharding: Any = None) -> ShapedArray:
    if not 0 <= dimension < len(shape):
        raise ShapeError(f"iota: dimension {dimension} is out of range for shape {shape}.")
    return ShapedArray(shape, dtype, False)


iota_p = Primitive("iota", _iota_impl, _iota_aval, weak="never")


# ---------------------------------------------------------------------------------------------------
# Differentiation rules
# ---------------------------------------------------------------------------------------------------

from ..core.array import Array  # noqa: E402  (rules below use concrete constants)
from ..core.trace import aval_of  # noqa: E402
from ..transforms.ad import Zero, defjvp_zero, deflinear, instantiate, is_undefined, tangent_aval  # noqa: E402


def _zero_scalar(dtype: np.dtype) -> Array:
    return Array(np.zeros((), dtype=dtype)[()], False)


def _zeros(shape: tuple[int, ...], dtype: np.dtype) -> Any:
    return broadcast_in_dim_p.bind(
        _zero_scalar(dtype), shape=tuple(shape), broadcast_dimensions=(), sharding=None
    )


def _shape_of(v: Any) -> tuple[int, ...]:
    return tuple(v.aval.shape) if is_undefined(v) else tuple(aval_of(v).shape)


def _broadcast_in_dim_transpose(
    ct: Any, x: Any, *, shape: tuple[int, ...], broadcast_dimensions: tuple[int, ...], sharding: Any = None
) -> list:
    # Sum over the new dims and over the dims expanded from size 1, then restore the size-1 dims.
    in_shape = tuple(x.aval.shape)
    summed = {d for d in range(len(shape)) if d not in broadcast_dimensions}
    summed |= {dst for src, dst in enumerate(broadcast_dimensions) if in_shape[src] == 1 and shape[dst] != 1}
    from .reductions import reduce_sum_p

    out = reduce_sum_p.bind(ct, axes=tuple(sorted(summed))) if summed else ct
    if tuple(out.shape) != in_shape:
        out = reshape_p.bind(out, new_sizes=in_shape, dimensions=None, sharding=None)
    return [out]


deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)


def _reshape_transpose(
    ct: Any, x: Any, *, new_sizes: tuple[int, ...], dimensions: Any = None, sharding: Any = None
) -> list:
    in_shape = tuple(x.aval.shape)
    if dimensions is None:
        return [reshape_p.bind(ct, new_sizes=in_shape, dimensions=None, sharding=None)]
    permuted = tuple(in_shape[d] for d in dimensions)
    back = reshape_p.bind(ct, new_sizes=permuted, dimensions=None, sharding=None)
    return [transpose_p.bind(back, permutation=tuple(int(i) for i in np.argsort(dimensions)))]


deflinear(reshape_p, _reshape_transpose)
deflinear(
    transpose_p,
    lambda ct, x, permutation: [
        transpose_p.bind(ct, permutation=tuple(int(i) for i in np.argsort(permutation)))
    ],
)
deflinear(
    squeeze_p,
    lambda ct, x, dimensions: [
        reshape_p.bind(ct, new_sizes=tuple(x.aval.shape), dimensions=None, sharding=None)
    ],
)
deflinear(rev_p, lambda ct, x, dimensions: [rev_p.bind(ct, dimensions=dimensions)])


def _slice_transpose(
    ct: Any, x: Any, *, start_indices: tuple, limit_indices: tuple, strides: Any = None
) -> list:
    # Scatter the cotangent back into zeros: pad before the start, between strided elements, and after
    # the last element taken.
    in_shape = tuple(x.aval.shape)
    strides = strides or (1,) * len(in_shape)
    config = []
    for d, start, n, stride in zip(in_shape, start_indices, ct.shape, strides):
        end = start + (n - 1) * stride + 1 if n else start
        config.append((int(start), int(d - end), int(stride - 1)))
    return [pad_p.bind(ct, _zero_scalar(ct.dtype), padding_config=tuple(config))]


deflinear(slice_p, _slice_transpose)


def _pad_transpose(ct: Any, x: Any, padding_value: Any, *, padding_config: tuple) -> list:
    from . import elementwise as ew
    from .reductions import reduce_sum_p

    # Undo lo/hi (a negative one cropped elements of x, whose cotangent is zero: pad those back), then
    # take every (interior + 1)-th element.
    unpadded = pad_p.bind(
        ct, _zero_scalar(ct.dtype), padding_config=tuple((-lo, -hi, 0) for lo, hi, _ in padding_config)
    )
    ct_x = slice_p.bind(
        unpadded,
        start_indices=(0,) * ct.ndim,
        limit_indices=tuple(unpadded.shape),
        strides=tuple(interior + 1 for _, _, interior in padding_config),
    )
    ct_value = None
    if is_undefined(padding_value):
        # Every output element that is not an element of x is the padding value.
        everything = tuple(range(ct.ndim))
        ct_value = ew.sub_p.bind(
            reduce_sum_p.bind(ct, axes=everything), reduce_sum_p.bind(ct_x, axes=everything)
        )
    return [ct_x if is_undefined(x) else None, ct_value]


deflinear(pad_p, _pad_transpose)


def _concatenate_transpose(ct: Any, *xs: Any, dimension: int) -> list:
    out = []
    offset = 0
    for x in xs:
        size = _shape_of(x)[dimension]
        if is_undefined(x):
            starts = [0] * ct.ndim
            limits = list(ct.shape)
            starts[dimension], limits[dimension] = offset, offset + size
            out.append(
                slice_p.bind(ct, start_indices=tuple(starts), limit_indices=tuple(limits), strides=None)
            )
        else:
            out.append(None)
        offset += size
    return out


deflinear(concatenate_p, _concatenate_transpose)


def _dynamic_slice_jvp(primals: list, tangents: list, *, slice_sizes: tuple[int, ...]) -> tuple[Any, Any]:
    x, *starts = primals
    out = dynamic_slice_p.bind(x, *starts, slice_sizes=slice_sizes)
    if type(tangents[0]) is Zero:
        return out, Zero(tangent_aval(aval_of(out)))
    return out, dynamic_slice_p.bind(tangents[0], *starts, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct: Any, x: Any, *starts: Any, slice_sizes: tuple[int, ...]) -> list:
    if any(is_undefined(s) for s in starts):
        raise TypeError("dynamic_slice is not linear in its start indices; this is a bug in a JVP rule.")
    zeros = _zeros(tuple(x.aval.shape), ct.dtype)
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + [None] * len(starts)


dynamic_slice_p.jvp = _dynamic_slice_jvp
dynamic_slice_p.transpose = _dynamic_slice_transpose


def _dynamic_update_slice_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    x, update, *starts = primals
    tx, tu = tangents[:2]
    out = dynamic_update_slice_p.bind(x, update, *starts)
    if type(tx) is Zero and type(tu) is Zero:
        return out, Zero(tangent_aval(aval_of(out)))
    return out, dynamic_update_slice_p.bind(instantiate(tx), instantiate(tu), *starts)


def _dynamic_update_slice_transpose(ct: Any, x: Any, update: Any, *starts: Any) -> list:
    if any(is_undefined(s) for s in starts):
        raise TypeError(
            "dynamic_update_slice is not linear in its start indices; this is a bug in a JVP rule."
        )
    update_shape = _shape_of(update)
    ct_x = ct_update = None
    if is_undefined(x):  # the overwritten window gets nothing
        ct_x = dynamic_update_slice_p.bind(ct, _zeros(update_shape, ct.dtype), *starts)
    if is_undefined(update):
        ct_update = dynamic_slice_p.bind(ct, *starts, slice_sizes=update_shape)
    return [ct_x, ct_update] + [None] * len(starts)


dynamic_update_slice_p.jvp = _dynamic_update_slice_jvp
dynamic_update_slice_p.transpose = _dynamic_update_slice_transpose

defjvp_zero(iota_p)


# ---------------------------------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------------------------------
#
# Each rule works on the whole batch at once: axis parameters are renumbered around the batch dim (or the
# batch is moved to the front and prepended to the shape parameters). Start indices that differ along the
# batch turn dynamic_slice into a gather and dynamic_update_slice into a scatter with a pair of batching dims
# (element b reads or writes its own operand at its own start).

from ..transforms.batching import bdim_at_front, broadcast_batch, move_axis  # noqa: E402


def _shifted(dims: tuple[int, ...], bdim: int) -> tuple[int, ...]:
    """Dims of one batch element renumbered for the batched value (``bdim`` inserted)."""
    return tuple(int(d) + (d >= bdim) for d in dims)


def _broadcast_in_dim_batch(
    axis_size: int, vals: list, dims: list, *, shape: tuple, broadcast_dimensions: tuple, sharding: Any = None
) -> tuple[Any, int]:
    (x,), (bdim,) = vals, dims
    x = move_axis(x, bdim, 0)
    out = broadcast_in_dim_p.bind(
        x,
        shape=(axis_size,) + tuple(shape),
        broadcast_dimensions=(0,) + tuple(d + 1 for d in broadcast_dimensions),
        sharding=sharding,
    )
    return out, 0


def _reshape_batch(
    axis_size: int, vals: list, dims: list, *, new_sizes: tuple, dimensions: Any = None, sharding: Any = None
) -> tuple[Any, int]:
    (x,), (bdim,) = vals, dims
    x = move_axis(x, bdim, 0)
    if dimensions is not None:
        x = transpose_p.bind(x, permutation=(0,) + tuple(d + 1 for d in dimensions))
    out = reshape_p.bind(x, new_sizes=(axis_size,) + tuple(new_sizes), dimensions=None, sharding=sharding)
    return out, 0


def _transpose_batch(axis_size: int, vals: list, dims: list, *, permutation: tuple) -> tuple[Any, int]:
    (x,), (bdim,) = vals, dims
    # The batch dim stays where it is; the element's dims around it are permuted.
    perm = list(_shifted(tuple(permutation), bdim))
    perm.insert(bdim, bdim)
    return transpose_p.bind(x, permutation=tuple(perm)), bdim


def _squeeze_batch(axis_size: int, vals: list, dims: list, *, dimensions: tuple) -> tuple[Any, int]:
    (x,), (bdim,) = vals, dims
    moved = _shifted(tuple(dimensions), bdim)
    return squeeze_p.bind(x, dimensions=moved), bdim - sum(1 for d in moved if d < bdim)


def _rev_batch(axis_size: int, vals: list, dims: list, *, dimensions: tuple) -> tuple[Any, int]:
    (x,), (bdim,) = vals, dims
    return rev_p.bind(x, dimensions=_shifted(tuple(dimensions), bdim)), bdim


def _slice_batch(
    axis_size: int, vals: list, dims: list, *, start_indices: tuple, limit_indices: tuple, strides: Any = None
) -> tuple[Any, int]:
    (x,), (bdim,) = vals, dims
    starts, limits = list(start_indices), list(limit_indices)
    starts.insert(bdim, 0)
    limits.insert(bdim, axis_size)
    if strides is not None:
        strides = list(strides)
        strides.insert(bdim, 1)
        strides = tuple(strides)
    out = slice_p.bind(x, start_indices=tuple(starts), limit_indices=tuple(limits), strides=strides)
    return out, bdim


def _index_dtype(starts: list) -> np.dtype:
    """One integer dtype for all the start indices (they may differ): the widest of them."""
    if not starts:
        return np.dtype(np.int32)
    return np.dtype(np.result_type(*[s.dtype for s in starts]))


def _stacked_starts(axis_size: int, starts: list, start_dims: list, dtype: np.dtype) -> Any:
    """The start indices as one ``(B, n)`` array of index vectors, batch first."""
    from .elementwise import convert_element_type_p

    columns = []
    for s, d in zip(starts, start_dims):
        s = bdim_at_front(s, d, axis_size)
        if s.dtype != dtype:
            s = convert_element_type_p.bind(s, new_dtype=dtype, weak_type=False, sharding=None)
        columns.append(reshape_p.bind(s, new_sizes=(axis_size, 1), dimensions=None, sharding=None))
    return concatenate_p.bind(*columns, dimension=1)


def _zero_index(starts: list) -> Array:
    return Array(np.zeros((), dtype=_index_dtype(starts))[()], False)


def _dynamic_slice_batch(axis_size: int, vals: list, dims: list, *, slice_sizes: tuple) -> tuple[Any, int]:
    x, *starts = vals
    x_dim, *start_dims = dims
    if all(d is None for d in start_dims):
        # Shared starts: the whole batch dim is one more (full) slice dim, starting at 0.
        starts = list(starts)
        starts.insert(x_dim, _zero_index(starts))
        sizes = list(slice_sizes)
        sizes.insert(x_dim, axis_size)
        return dynamic_slice_p.bind(x, *starts, slice_sizes=tuple(sizes)), x_dim
    from .indexing import GatherDimensionNumbers, GatherScatterMode, gather_p

    # Per-element starts: a gather whose index vectors (one per batch element) read windows of
    # ``slice_sizes``; CLIP mode clamps the windows into bounds exactly as dynamic_slice does.
    rank = len(slice_sizes)
    indices = _stacked_starts(axis_size, starts, start_dims, _index_dtype(starts))
    window = tuple(range(1, rank + 1))
    if x_dim is None:
        dn = GatherDimensionNumbers(
            offset_dims=window, collapsed_slice_dims=(), start_index_map=tuple(range(rank))
        )
        sizes = tuple(slice_sizes)
    else:
        x = move_axis(x, x_dim, 0)
        dn = GatherDimensionNumbers(
            offset_dims=window,
            collapsed_slice_dims=(),
            start_index_map=window,
            operand_batching_dims=(0,),
            start_indices_batching_dims=(0,),
        )
        sizes = (1,) + tuple(slice_sizes)
    out = gather_p.bind(
        x,
        indices,
        dimension_numbers=dn,
        slice_sizes=sizes,
        indices_are_sorted=False,
        unique_indices=False,
        mode=GatherScatterMode.CLIP,
        fill_value=None,
    )
    return out, 0


def _dynamic_update_slice_batch(axis_size: int, vals: list, dims: list) -> tuple[Any, int]:
    x, update, *starts = vals
    x_dim, update_dim, *start_dims = dims
    # The result differs along the batch: both arrays get the batch dim first (materialised if missing).
    x = bdim_at_front(x, x_dim, axis_size)
    update = bdim_at_front(update, update_dim, axis_size)
    if all(d is None for d in start_dims):
        return dynamic_update_slice_p.bind(x, update, _zero_index(list(starts)), *starts), 0
    from .indexing import GatherScatterMode, ScatterDimensionNumbers, scatter_p

    # Per-element starts: a scatter of each element's update window into its own operand.
    rank = x.ndim - 1
    window = tuple(range(1, rank + 1))
    dn = ScatterDimensionNumbers(
        update_window_dims=window,
        inserted_window_dims=(),
        scatter_dims_to_operand_dims=window,
        operand_batching_dims=(0,),
        scatter_indices_batching_dims=(0,),
    )
    indices = _stacked_starts(axis_size, list(starts), list(start_dims), _index_dtype(list(starts)))
    out = scatter_p.bind(
        x,
        indices,
        update,
        dimension_numbers=dn,
        indices_are_sorted=True,
        unique_indices=True,
        mode=GatherScatterMode.CLIP,
        update_jaxpr=None,
        update_consts=(),
    )
    return out, 0


def _concatenate_batch(axis_size: int, vals: list, dims: list, *, dimension: int) -> tuple[Any, int]:
    xs = [bdim_at_front(x, d, axis_size) for x, d in zip(vals, dims)]
    return concatenate_p.bind(*xs, dimension=dimension + 1), 0


def _pad_batch(axis_size: int, vals: list, dims: list, *, padding_config: tuple) -> tuple[Any, int]:
    x, value = vals
    x_dim, value_dim = dims
    if value_dim is None:  # the common case: no padding along the batch dim
        config = list(padding_config)
        config.insert(x_dim, (0, 0, 0))
        return pad_p.bind(x, value, padding_config=tuple(config)), x_dim
    from .elementwise import select_n_p

    # A padding value per element: pad with anything, then choose the element's value wherever the output
    # is padding (a mask computed by padding a block of True with False).
    x = bdim_at_front(x, x_dim, axis_size)
    config = ((0, 0, 0),) + tuple(padding_config)
    padded = pad_p.bind(x, _zero_scalar(x.dtype), padding_config=config)
    true = Array(np.ones(tuple(x.shape[1:]), dtype=np.bool_), False)
    mask = pad_p.bind(true, Array(np.bool_(False), False), padding_config=tuple(padding_config))
    mask = broadcast_batch(mask, axis_size, 0)
    value = move_axis(value, value_dim, 0)
    fill = broadcast_in_dim_p.bind(value, shape=tuple(padded.shape), broadcast_dimensions=(0,), sharding=None)
    return select_n_p.bind(mask, fill, padded), 0


def _iota_batch(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, None]:
    # iota has no operands, so vmap never has a batched one to give it: the result is the same everywhere.
    return iota_p.bind(**params), None


broadcast_in_dim_p.batch = _broadcast_in_dim_batch
reshape_p.batch = _reshape_batch
transpose_p.batch = _transpose_batch
squeeze_p.batch = _squeeze_batch
rev_p.batch = _rev_batch
slice_p.batch = _slice_batch
dynamic_slice_p.batch = _dynamic_slice_batch
dynamic_update_slice_p.batch = _dynamic_update_slice_batch
concatenate_p.batch = _concatenate_batch
pad_p.batch = _pad_batch
iota_p.batch = _iota_batch
