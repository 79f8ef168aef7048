"""Indexing primitives: ``gather`` and the scatter family (``scatter``, ``scatter-add``, ``scatter-mul``,
``scatter-min``, ``scatter-max``); every rule of each lives in this file.

The dimension numbers follow jax.lax (and XLA/StableHLO): the last dimension of the indices array holds the
index vectors; every other indices dimension is a *batch* (scatter) dimension. Impls compute, with
broadcasting, the operand index of every (batch, window) element at once — no per-element Python loops.

Out-of-bounds handling (``mode``) follows JAX: ``CLIP`` clamps each start index so the whole slice/window
is in bounds; ``FILL_OR_DROP`` makes gather return ``fill_value`` for a slice that is not fully in bounds
and makes scatter skip such an update window; ``PROMISE_IN_BOUNDS`` is what XLA does natively (gather
clamps, scatter drops).

Example (``x[idx]`` on a matrix, rows gathered):
    >>> dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
    >>> gather_p.bind(x, idx[:, None], dimension_numbers=dn, slice_sizes=(1, x.shape[1]),
    ...               indices_are_sorted=False, unique_indices=False,
    ...               mode=GatherScatterMode.PROMISE_IN_BOUNDS, fill_value=None)
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..core.errors import ShapeDtypeError, ShapeError
from ..core.trace import Primitive, ShapedArray

# ---------------------------------------------------------------------------------------------------
# Parameter types (hashable, printed as in JAX)
# ---------------------------------------------------------------------------------------------------


class GatherScatterMode(enum.Enum):
    """How gather/scatter treat out-of-bounds indices (JAX's enum; prints ``GatherScatterMode.CLIP``).

    Example:
        >>> GatherScatterMode.from_any("clip")
        <GatherScatterMode.CLIP: 1>
    """

    CLIP = enum.auto()
    FILL_OR_DROP = enum.auto()
    PROMISE_IN_BOUNDS = enum.auto()

    @staticmethod
    def from_any(s: str | GatherScatterMode | None) -> GatherScatterMode:
        """Parse ``None`` / ``"clip"`` / ``"fill"`` / ``"drop"`` / ``"promise_in_bounds"`` or a mode."""
        if isinstance(s, GatherScatterMode):
            return s
        if s == "clip":
            return GatherScatterMode.CLIP
        if s is None or s == "fill" or s == "drop":
            return GatherScatterMode.FILL_OR_DROP
        if s == "promise_in_bounds":
            return GatherScatterMode.PROMISE_IN_BOUNDS
        raise ValueError(
            f"Unknown gather/scatter mode {s!r}: use one of 'clip', 'fill', 'drop', 'promise_in_bounds' "
            "or a GatherScatterMode."
        )


class GatherDimensionNumbers(NamedTuple):
    """How operand, start_indices and output dimensions of a gather relate (as jax.lax).

    ``offset_dims``: output dims holding the slice (window) dims, sorted. ``collapsed_slice_dims``: operand
    dims whose slice size is 1 and that do not appear in the output. ``start_index_map``: the operand dim
    each component of an index vector indexes. ``operand_batching_dims`` / ``start_indices_batching_dims``:
    paired dims indexed together (as under vmap).

    Example (``x[idx]`` for a 2-d ``x``):
        >>> GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
    """

    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
    """How operand, indices and updates dimensions of a scatter relate (as jax.lax).

    ``update_window_dims``: updates dims that are window dims, sorted. ``inserted_window_dims``: operand
    dims of window size 1 absent from updates. ``scatter_dims_to_operand_dims``: the operand dim each
    index-vector component indexes. ``operand_batching_dims`` / ``scatter_indices_batching_dims``: paired
    dims indexed together.

    Example (``x.at[idx].add(v)`` for a 2-d ``x`` and ``v`` of shape ``(len(idx), x.shape[1])``):
        >>> ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
        ...                         scatter_dims_to_operand_dims=(0,))
    """

    update_window_dims: tuple[int, ...]
    inserted_window_dims: tuple[int, ...]
    scatter_dims_to_operand_dims: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    scatter_indices_batching_dims: tuple[int, ...] = ()


def default_fill_value(dtype: np.dtype) -> Any:
    """JAX's gather fill: NaN for inexact, the minimum for signed, the maximum for unsigned, True for bool."""
    dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind == "i":
        return np.iinfo(dtype).min
    if dtype.kind == "u":
        return np.iinfo(dtype).max
    return True


# ---------------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------------


def _check_dims(name: str, field: str, dims: Sequence[int], bound: int, what: str, sort: bool) -> None:
    dims = tuple(dims)
    if any(not 0 <= d < bound for d in dims) or len(set(dims)) != len(dims):
        raise ShapeError(
            f"{name}: dimension_numbers.{field}={dims} must be distinct dims of the {what} in [0, {bound})."
        )
    if sort and list(dims) != sorted(dims):
        raise ShapeError(f"{name}: dimension_numbers.{field}={dims} must be sorted in increasing order.")


def _check_indices(name: str, indices: ShapedArray) -> None:
    if indices.dtype.kind not in "iu":
        raise ShapeDtypeError(
            f"{name}: indices must have an integer dtype, got {indices.str_short()}. "
            "Convert with indices.astype(int32)."
        )
    if indices.ndim < 1:
        raise ShapeError(
            f"{name}: indices must have rank >= 1 (the last dimension holds the index vectors), got "
            f"{indices.str_short()}. Add a trailing axis: indices[..., None]."
        )


def _check_batching(
    name: str,
    operand: ShapedArray,
    indices: ShapedArray,
    operand_dims: Sequence[int],
    index_dims: Sequence[int],
    fields: tuple[str, str],
) -> None:
    if len(operand_dims) != len(index_dims):
        raise ShapeError(
            f"{name}: {fields[0]}={tuple(operand_dims)} and {fields[1]}={tuple(index_dims)} must have the "
            "same length (they are paired)."
        )
    for od, idim in zip(operand_dims, index_dims):
        if operand.shape[od] != indices.shape[idim]:
            raise ShapeError(
                f"{name}: batching dims must have equal sizes, but operand {operand.str_short()} dim {od} "
                f"has size {operand.shape[od]} and indices {indices.str_short()} dim {idim} has size "
                f"{indices.shape[idim]}."
            )


# ---------------------------------------------------------------------------------------------------
# Shared index computation
# ---------------------------------------------------------------------------------------------------


def _as_index_array(component: np.ndarray) -> np.ndarray:
    """An index-vector component as int64 (uint64 values past int64's range saturate instead of wrapping)."""
    if component.dtype == np.uint64:
        component = np.minimum(component, np.uint64(np.iinfo(np.int64).max))
    return component.astype(np.int64, copy=False)


def _start_indices(
    indices: np.ndarray,
    index_map: Sequence[int],
    operand_shape: tuple[int, ...],
    window_size: Callable[[int], int],
    clamp: bool,
) -> tuple[dict[int, np.ndarray], np.ndarray | None]:
    """Per indexed operand dim, the start index (shape ``indices.shape[:-1]``), clamped so the window fits,
    and the mask of index vectors whose window is fully in bounds (``None`` when ``clamp``)."""
    starts: dict[int, np.ndarray] = {}
    in_bounds = None
    for k, d in enumerate(index_map):
        s = _as_index_array(indices[..., k])
        hi = operand_shape[d] - window_size(d)
        if not clamp:
            ok = (s >= 0) & (s <= hi)
            in_bounds = ok if in_bounds is None else in_bounds & ok
        starts[d] = np.clip(s, 0, max(hi, 0))
    if not clamp and in_bounds is None:
        in_bounds = np.ones(indices.shape[:-1], dtype=bool)
    return starts, in_bounds


def _batch_iota(batch_shape: tuple[int, ...], axis: int) -> np.ndarray:
    """``arange(batch_shape[axis])`` shaped to broadcast along ``axis`` of an array of ``batch_shape``."""
    shape = [1] * len(batch_shape)
    shape[axis] = batch_shape[axis]
    return np.arange(batch_shape[axis], dtype=np.int64).reshape(shape)


def _window_iota(size: int, position: int, rank: int) -> np.ndarray:
    shape = [1] * rank
    shape[position] = size
    return np.arange(size, dtype=np.int64).reshape(shape)


# ---------------------------------------------------------------------------------------------------
# gather
# ---------------------------------------------------------------------------------------------------


def _gather_abstract_eval(
    operand: ShapedArray,
    indices: ShapedArray,
    *,
    dimension_numbers: GatherDimensionNumbers,
    slice_sizes: tuple[int, ...],
    indices_are_sorted: bool = False,
    unique_indices: bool = False,
    mode: Any = None,
    fill_value: Any = None,
) -> ShapedArray:
    name = "gather"
    dn = dimension_numbers
    GatherScatterMode.from_any(mode)
    _check_indices(name, indices)
    rank = operand.ndim
    batch_rank = indices.ndim - 1
    _check_dims(name, "collapsed_slice_dims", dn.collapsed_slice_dims, rank, "operand", True)
    _check_dims(name, "operand_batching_dims", dn.operand_batching_dims, rank, "operand", True)
    _check_dims(name, "start_index_map", dn.start_index_map, rank, "operand", False)
    _check_dims(
        name,
        "start_indices_batching_dims",
        dn.start_indices_batching_dims,
        batch_rank,
        "indices (excluding the last, index-vector dim)",
        False,
    )
    if set(dn.collapsed_slice_dims) & set(dn.operand_batching_dims):
        raise ShapeError(
            f"{name}: collapsed_slice_dims={dn.collapsed_slice_dims} and operand_batching_dims="
            f"{dn.operand_batching_dims} must be disjoint."
        )
    if set(dn.start_index_map) & set(dn.operand_batching_dims):
        raise ShapeError(
            f"{name}: start_index_map={dn.start_index_map} and operand_batching_dims="
            f"{dn.operand_batching_dims} must be disjoint (batching dims are not indexed)."
        )
    if len(dn.start_index_map) != indices.shape[-1]:
        raise ShapeError(
            f"{name}: the last dim of indices {indices.str_short()} has size {indices.shape[-1]}, but "
            f"start_index_map={dn.start_index_map} has {len(dn.start_index_map)} entries; they must match."
        )
    _check_batching(
        name,
        operand,
        indices,
        dn.operand_batching_dims,
        dn.start_indices_batching_dims,
        ("operand_batching_dims", "start_indices_batching_dims"),
    )
    slice_sizes = tuple(slice_sizes)
    if len(slice_sizes) != rank:
        raise ShapeError(
            f"{name}: slice_sizes={slice_sizes} must have one entry per operand dim ({operand.str_short()})."
        )
    # With no index vectors nothing is read, so (as in JAX) slices may be larger than the operand: e.g. the
    # sort JVP's take-along gather of an empty array has slice size 1 on its empty axis.
    no_reads = 0 in indices.shape[:-1]
    for d, (size, dim) in enumerate(zip(slice_sizes, operand.shape)):
        if size < 0 or (size > dim and not no_reads):
            raise ShapeError(
                f"{name}: slice_sizes[{d}]={size} must be in [0, {dim}] for operand {operand.str_short()}."
            )
    for d in dn.collapsed_slice_dims + tuple(dn.operand_batching_dims):
        if slice_sizes[d] > 1:
            raise ShapeError(
                f"{name}: collapsed and batching operand dims need slice size <= 1, but slice_sizes[{d}]="
                f"{slice_sizes[d]}."
            )
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(rank) if d not in dropped]
    out_rank = batch_rank + len(window_dims)
    _check_dims(name, "offset_dims", dn.offset_dims, out_rank, "output", True)
    if len(dn.offset_dims) != len(window_dims):
        raise ShapeError(
            f"{name}: offset_dims={dn.offset_dims} must have one entry per operand dim that is neither "
            f"collapsed nor batching ({len(window_dims)} for operand {operand.str_short()})."
        )
    batch_dims = iter(indices.shape[:-1])
    window_sizes = iter(slice_sizes[d] for d in window_dims)
    offset = set(dn.offset_dims)
    shape = tuple(next(window_sizes) if i in offset else next(batch_dims) for i in range(out_rank))
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _gather_impl(
    operand: np.ndarray,
    indices: np.ndarray,
    *,
    dimension_numbers: GatherDimensionNumbers,
    slice_sizes: tuple[int, ...],
    indices_are_sorted: bool = False,
    unique_indices: bool = False,
    mode: Any = None,
    fill_value: Any = None,
) -> np.ndarray:
    dn = dimension_numbers
    mode = GatherScatterMode.from_any(mode)
    batch_shape = indices.shape[:-1]
    nb = len(batch_shape)
    dropped = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(operand.ndim) if d not in dropped]
    out_shape = list(batch_shape)
    for k, d in enumerate(window_dims):
        out_shape.insert(dn.offset_dims[k], slice_sizes[d])
    # Nothing to read (an empty output, or an empty collapsed slice): zeros, whether or not the slices fit
    # in the operand.
    if 0 in out_shape or any(slice_sizes[d] == 0 for d in dropped):
        return np.zeros(out_shape, operand.dtype)

    fill = mode is GatherScatterMode.FILL_OR_DROP
    starts, in_bounds = _start_indices(
        indices, dn.start_index_map, operand.shape, lambda d: slice_sizes[d], clamp=not fill
    )
    for od, idim in zip(dn.operand_batching_dims, dn.start_indices_batching_dims):
        starts[od] = _batch_iota(batch_shape, idim)

    # Window dims read whole (start 0, full size) become plain slices; the rest get index arrays.
    full = [d for d in window_dims if d not in starts and slice_sizes[d] == operand.shape[d]]
    indexed = [d for d in range(operand.ndim) if d not in full]
    partial = [d for d in indexed if d in window_dims]
    index_rank = nb + len(partial)
    gathered_shape = tuple(batch_shape) + tuple(slice_sizes[d] for d in partial + full)
    if indexed:
        index_arrays = []
        for d in indexed:
            start = starts.get(d)
            idx = np.zeros((1,) * index_rank, np.int64) if start is None else start
            idx = idx.reshape(idx.shape + (1,) * (index_rank - idx.ndim))
            if d in partial:
                idx = idx + _window_iota(slice_sizes[d], nb + partial.index(d), index_rank)
            index_arrays.append(idx)
        transposed = operand.transpose(indexed + full) if full else operand
        gathered = np.asarray(transposed[tuple(index_arrays)])  # 0-d results come back as scalars
        if gathered.shape != gathered_shape:  # an index pattern that does not vary over some batch dim
            gathered = np.broadcast_to(gathered, gathered_shape).copy()
    else:
        gathered = np.broadcast_to(operand, gathered_shape).copy()

    if fill and not in_bounds.all():
        value = default_fill_value(operand.dtype) if fill_value is None else fill_value
        # gathered is a fresh array here (fancy indexing or a copy), so writing into it is safe.
        gathered[~in_bounds] = np.asarray(value).astype(operand.dtype)

    # gathered is (batch..., partial windows..., full windows...); put windows at offset_dims.
    order = partial + full
    perm = [0] * len(out_shape)
    batch_positions = [i for i in range(len(out_shape)) if i not in set(dn.offset_dims)]
    for b, pos in enumerate(batch_positions):
        perm[pos] = b
    for k, d in enumerate(window_dims):
        perm[dn.offset_dims[k]] = nb + order.index(d)
    if perm != list(range(len(perm))):
        gathered = gathered.transpose(perm)
    return gathered


gather_p = Primitive(
    "gather",
    _gather_impl,
    _gather_abstract_eval,
    weak=lambda operand_weak, indices_weak, **params: operand_weak,
)


# ---------------------------------------------------------------------------------------------------
# scatter family
# ---------------------------------------------------------------------------------------------------


def _scatter_abstract_eval(name: str) -> Callable:
    def abstract_eval(
        operand: ShapedArray,
        indices: ShapedArray,
        updates: ShapedArray,
        *,
        dimension_numbers: ScatterDimensionNumbers,
        indices_are_sorted: bool = False,
        unique_indices: bool = False,
        mode: Any = None,
        update_jaxpr: Any = None,
        update_consts: tuple = (),
    ) -> ShapedArray:
        dn = dimension_numbers
        GatherScatterMode.from_any(mode)
        _check_indices(name, indices)
        if updates.dtype != operand.dtype:
            raise ShapeDtypeError(
                f"{name}: updates {updates.str_short()} must have the operand's dtype "
                f"({operand.str_short()}). Convert with updates.astype(operand.dtype)."
            )
        rank = operand.ndim
        batch_rank = indices.ndim - 1
        _check_dims(name, "update_window_dims", dn.update_window_dims, updates.ndim, "updates", True)
        _check_dims(name, "inserted_window_dims", dn.inserted_window_dims, rank, "operand", True)
        _check_dims(name, "operand_batching_dims", dn.operand_batching_dims, rank, "operand", True)
        _check_dims(
            name, "scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims, rank, "operand", False
        )
        _check_dims(
            name,
            "scatter_indices_batching_dims",
            dn.scatter_indices_batching_dims,
            batch_rank,
            "indices (excluding the last, index-vector dim)",
            False,
        )
        if set(dn.inserted_window_dims) & set(dn.operand_batching_dims):
            raise ShapeError(
                f"{name}: inserted_window_dims={dn.inserted_window_dims} and operand_batching_dims="
                f"{dn.operand_batching_dims} must be disjoint."
            )
        if set(dn.scatter_dims_to_operand_dims) & set(dn.operand_batching_dims):
            raise ShapeError(
                f"{name}: scatter_dims_to_operand_dims={dn.scatter_dims_to_operand_dims} and "
                f"operand_batching_dims={dn.operand_batching_dims} must be disjoint."
            )
        if len(dn.scatter_dims_to_operand_dims) != indices.shape[-1]:
            raise ShapeError(
                f"{name}: the last dim of indices {indices.str_short()} has size {indices.shape[-1]}, but "
                f"scatter_dims_to_operand_dims={dn.scatter_dims_to_operand_dims} has "
                f"{len(dn.scatter_dims_to_operand_dims)} entries; they must match."
            )
        _check_batching(
            name,
            operand,
            indices,
            dn.operand_batching_dims,
            dn.scatter_indices_batching_dims,
            ("operand_batching_dims", "scatter_indices_batching_dims"),
        )
        dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
        window_dims = [d for d in range(rank) if d not in dropped]
        if len(dn.update_window_dims) != len(window_dims):
            raise ShapeError(
                f"{name}: update_window_dims={dn.update_window_dims} must have one entry per operand dim "
                f"that is neither inserted nor batching ({len(window_dims)} for operand "
                f"{operand.str_short()})."
            )
        if updates.ndim != batch_rank + len(window_dims):
            raise ShapeError(
                f"{name}: updates {updates.str_short()} must have rank {batch_rank + len(window_dims)} "
                f"(indices batch dims {indices.shape[:-1]} plus {len(window_dims)} window dims)."
            )
        scatter_sizes = tuple(s for i, s in enumerate(updates.shape) if i not in set(dn.update_window_dims))
        if scatter_sizes != indices.shape[:-1]:
            raise ShapeError(
                f"{name}: the non-window dims of updates {updates.str_short()} have sizes {scatter_sizes}, "
                f"but must equal the batch dims of indices {indices.str_short()}, {indices.shape[:-1]}."
            )
        # With no index vectors nothing is written, so windows may be larger than the operand, as a gather's
        # slices may: then the transpose of every valid gather is a valid scatter (JAX rejects this case).
        no_writes = 0 in indices.shape[:-1]
        for k, d in enumerate(window_dims):
            size = updates.shape[dn.update_window_dims[k]]
            if size > operand.shape[d] and not no_writes:
                raise ShapeError(
                    f"{name}: update window dim {dn.update_window_dims[k]} of updates {updates.str_short()} "
                    f"has size {size}, larger than operand {operand.str_short()} dim {d}."
                )
        return ShapedArray(operand.shape, operand.dtype, operand.weak_type)

    return abstract_eval


def _scatter_targets(
    operand: np.ndarray, indices: np.ndarray, updates: np.ndarray, dn: ScatterDimensionNumbers, mode: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Flat operand positions and matching update values of every applied update element, ordered by
    scatter index (row-major) then window position, with out-of-bounds windows dropped unless clipping."""
    mode = GatherScatterMode.from_any(mode)
    batch_shape = indices.shape[:-1]
    nb = len(batch_shape)
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(operand.ndim) if d not in dropped]
    nw = len(window_dims)
    # Canonical layout: (scatter dims..., window dims in operand order...).
    canonical = np.moveaxis(updates, dn.update_window_dims, range(nb, nb + nw)) if nw else updates
    sizes = {d: canonical.shape[nb + k] for k, d in enumerate(window_dims)}
    clip = mode is GatherScatterMode.CLIP
    starts, in_bounds = _start_indices(
        indices, dn.scatter_dims_to_operand_dims, operand.shape, lambda d: sizes.get(d, 1), clamp=clip
    )
    for od, idim in zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims):
        starts[od] = _batch_iota(batch_shape, idim)

    rank = nb + nw
    strides = np.cumprod((operand.shape[1:] + (1,))[::-1])[::-1]  # C-order element strides
    flat: Any = 0
    for d in range(operand.ndim):
        idx: Any = starts.get(d, 0)
        if isinstance(idx, np.ndarray):
            idx = idx.reshape(idx.shape + (1,) * (rank - idx.ndim))
        if d in sizes:
            idx = idx + _window_iota(sizes[d], nb + window_dims.index(d), rank)
        flat = flat + idx * int(strides[d])
    flat = np.broadcast_to(np.asarray(flat, dtype=np.int64), canonical.shape)
    if in_bounds is None:
        return flat.reshape(-1), canonical.reshape(-1)
    keep = np.broadcast_to(in_bounds.reshape(batch_shape + (1,) * nw), canonical.shape)
    return flat[keep], canonical[keep]


def _scatter_impl(combine: np.ufunc | None) -> Callable:
    def impl(
        operand: np.ndarray,
        indices: np.ndarray,
        updates: np.ndarray,
        *,
        dimension_numbers: ScatterDimensionNumbers,
        indices_are_sorted: bool = False,
        unique_indices: bool = False,
        mode: Any = None,
        update_jaxpr: Any = None,
        update_consts: tuple = (),
    ) -> np.ndarray:
        out = np.array(operand, order="C", copy=True)
        if out.size == 0:
            return out
        positions, values = _scatter_targets(operand, indices, updates, dimension_numbers, mode)
        flat_out = out.reshape(-1)
        if combine is None:
            flat_out[positions] = values  # sequential assignment: the last update wins
        else:
            with np.errstate(all="ignore"):  # NaN comparisons, float overflow: no warnings, as in JAX
                combine.at(flat_out, positions, values)
        return out

    return impl


def _scatter(name: str, combine: np.ufunc | None) -> Primitive:
    return Primitive(
        name,
        _scatter_impl(combine),
        _scatter_abstract_eval(name),
        weak=lambda operand_weak, indices_weak, updates_weak, **params: operand_weak,
    )


scatter_p = _scatter("scatter", None)
scatter_add_p = _scatter("scatter-add", np.add)
scatter_mul_p = _scatter("scatter-mul", np.multiply)
scatter_min_p = _scatter("scatter-min", np.minimum)
scatter_max_p = _scatter("scatter-max", np.maximum)


# ---------------------------------------------------------------------------------------------------
# Differentiation rules
# ---------------------------------------------------------------------------------------------------
#
# gather, scatter-add and scatter (set) are linear in their array operands; their JVPs apply the primitive
# to the tangents and they have transpose rules. scatter-mul/min/max have JVP rules only. Indices never get
# a tangent (their tangent type is float0).

from ..core.array import Array  # noqa: E402  (rules below build constants)
from ..core.trace import aval_of  # noqa: E402
from ..transforms.ad import Zero, add_tangents, is_undefined, tangent_aval  # noqa: E402
from . import elementwise as _ew  # noqa: E402
from . import shape as _sh  # noqa: E402


def _aval(x: Any) -> ShapedArray:
    """The type of an argument of a transpose rule (an UndefinedPrimal or a value)."""
    return x.aval if is_undefined(x) else aval_of(x)


def _filled(shape: Sequence[int], dtype: Any, value: Any) -> Any:
    """An array of ``shape`` filled with ``value``: a 0-d constant broadcast with ``broadcast_in_dim``."""
    const = Array(np.asarray(value, dtype=dtype)[()], False)
    if not tuple(shape):
        return const
    return _sh.broadcast_in_dim_p.bind(const, shape=tuple(shape), broadcast_dimensions=(), sharding=None)


def _zero_tangent(out: Any) -> Zero:
    return Zero(tangent_aval(aval_of(out)))


def _materialize(t: Any) -> Any:
    """A tangent with symbolic zeros made concrete (as a broadcast constant of the tangent's type)."""
    return _filled(t.aval.shape, t.aval.dtype, 0) if type(t) is Zero else t


def _scatter_dnums_of(dn: GatherDimensionNumbers) -> ScatterDimensionNumbers:
    """The scatter that puts each slice a gather reads back where it came from."""
    return ScatterDimensionNumbers(
        update_window_dims=tuple(dn.offset_dims),
        inserted_window_dims=tuple(dn.collapsed_slice_dims),
        scatter_dims_to_operand_dims=tuple(dn.start_index_map),
        operand_batching_dims=tuple(dn.operand_batching_dims),
        scatter_indices_batching_dims=tuple(dn.start_indices_batching_dims),
    )


def _gather_dnums_of(dn: ScatterDimensionNumbers) -> GatherDimensionNumbers:
    """The gather that reads, for each update element, the operand element a scatter writes it to."""
    return GatherDimensionNumbers(
        offset_dims=tuple(dn.update_window_dims),
        collapsed_slice_dims=tuple(dn.inserted_window_dims),
        start_index_map=tuple(dn.scatter_dims_to_operand_dims),
        operand_batching_dims=tuple(dn.operand_batching_dims),
        start_indices_batching_dims=tuple(dn.scatter_indices_batching_dims),
    )


def _gather_like_scatter(
    x: Any, indices: Any, updates_shape: Sequence[int], fill_value: Any, params: dict
) -> Any:
    """Gather from ``x`` (of the operand's shape) the element each update of a scatter with ``params`` targets;
    the result has the updates' shape. Update windows a scatter would drop read ``fill_value``."""
    dn = params["dimension_numbers"]
    if any(x.shape[d] == 0 for d in dn.inserted_window_dims):
        # An empty inserted dim has no position for any index: the scatter wrote no update, whatever the
        # mode. The gather would need slice size 1 on that empty dim, which gather rejects for non-empty
        # indices (as JAX's does: there grad of zeros(0).at[i].add(w, mode="drop") raises instead of zeros).
        fill = default_fill_value(x.dtype) if fill_value is None else fill_value
        return _filled(updates_shape, x.dtype, fill)
    dropped = set(dn.inserted_window_dims) | set(dn.operand_batching_dims)
    window_sizes = iter(updates_shape[d] for d in dn.update_window_dims)
    slice_sizes = tuple(1 if d in dropped else next(window_sizes) for d in range(x.ndim))
    return gather_p.bind(
        x,
        indices,
        dimension_numbers=_gather_dnums_of(dn),
        slice_sizes=slice_sizes,
        indices_are_sorted=params["indices_are_sorted"],
        unique_indices=params["unique_indices"],
        mode=params["mode"],
        fill_value=fill_value,
    )


# -- gather -------------------------------------------------------------------------------------------


def _gather_jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
    operand, indices = primals
    t = tangents[0]
    out = gather_p.bind(operand, indices, **params)
    if type(t) is Zero:
        return out, _zero_tangent(out)
    # Out-of-bounds slices read the fill value, a constant: their tangent is zero.
    return out, gather_p.bind(t, indices, **{**params, "fill_value": 0})


def _gather_transpose(
    ct: Any,
    operand: Any,
    indices: Any,
    *,
    dimension_numbers: GatherDimensionNumbers,
    slice_sizes: tuple[int, ...],
    indices_are_sorted: bool = False,
    unique_indices: bool = False,
    mode: Any = None,
    fill_value: Any = None,
) -> list:
    if is_undefined(indices):
        raise TypeError("gather is not linear in its indices; this is a bug in a JVP rule.")
    if not is_undefined(operand) or type(ct) is Zero:
        return [None, None]
    zeros = _filled(operand.aval.shape, operand.aval.dtype, 0)
    operand_ct = scatter_add_p.bind(
        zeros,
        indices,
        ct,
        dimension_numbers=_scatter_dnums_of(dimension_numbers),
        indices_are_sorted=indices_are_sorted,
        unique_indices=unique_indices,
        mode=mode,
        update_jaxpr=None,
        update_consts=(),
    )
    return [operand_ct, None]


gather_p.jvp = _gather_jvp
gather_p.transpose = _gather_transpose


# -- scatter-add --------------------------------------------------------------------------------------


def _scatter_add_jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    out = scatter_add_p.bind(operand, indices, updates, **params)
    if type(t_updates) is Zero:
        return out, t_operand if type(t_operand) is not Zero else _zero_tangent(out)
    return out, scatter_add_p.bind(_materialize(t_operand), indices, t_updates, **params)


def _scatter_add_transpose(ct: Any, operand: Any, indices: Any, updates: Any, **params: Any) -> list:
    if is_undefined(indices):
        raise TypeError("scatter-add is not linear in its indices; this is a bug in a JVP rule.")
    if type(ct) is Zero:
        return [None, None, None]
    operand_ct = ct if is_undefined(operand) else None
    updates_ct = None
    if is_undefined(updates):
        updates_ct = _gather_like_scatter(ct, indices, updates.aval.shape, 0, params)
    return [operand_ct, None, updates_ct]


scatter_add_p.jvp = _scatter_add_jvp
scatter_add_p.transpose = _scatter_add_transpose


# -- scatter (set) ------------------------------------------------------------------------------------


def _scatter_jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
    # Which update lands where (and which of repeated indices wins) does not depend on the values, so the
    # tangent is the same scatter applied to the tangents: linear in (operand, updates) jointly.
    operand, indices, updates = primals
    t_operand, _, t_updates = tangents
    out = scatter_p.bind(operand, indices, updates, **params)
    if type(t_operand) is Zero and type(t_updates) is Zero:
        return out, _zero_tangent(out)
    return out, scatter_p.bind(_materialize(t_operand), indices, _materialize(t_updates), **params)


def _scatter_winners(
    operand_shape: Sequence[int], indices: Any, updates_shape: Sequence[int], params: dict
) -> Any:
    """A boolean mask over the updates: True for the update element that wins its operand position (the
    last of repeated indices), False for overwritten or dropped ones. Computed by scattering update ids."""
    size = int(np.prod(updates_shape, dtype=np.int64))
    id_dtype = np.int32 if size < np.iinfo(np.int32).max else np.int64
    ids = _sh.iota_p.bind(dtype=np.dtype(id_dtype), shape=(size,), dimension=0, sharding=None)
    ids = _ew.add_p.bind(ids, Array(np.asarray(1, dtype=id_dtype)[()], False))  # 0 marks "no update"
    ids = _sh.reshape_p.bind(ids, new_sizes=tuple(updates_shape), dimensions=None, sharding=None)
    placed = scatter_p.bind(_filled(operand_shape, id_dtype, 0), indices, ids, **params)
    landed = _gather_like_scatter(placed, indices, updates_shape, 0, params)
    return _ew.eq_p.bind(landed, ids)


def _scatter_transpose(ct: Any, operand: Any, indices: Any, updates: Any, **params: Any) -> list:
    if is_undefined(indices):
        raise TypeError("scatter is not linear in its indices; this is a bug in a JVP rule.")
    if type(ct) is Zero:
        return [None, None, None]
    updates_aval = _aval(updates)
    operand_ct = updates_ct = None
    if is_undefined(operand):
        # Every position some update writes is overwritten: the operand's cotangent is zero there.
        zeros = _filled(updates_aval.shape, ct.dtype, 0)
        operand_ct = scatter_p.bind(ct, indices, zeros, **params)
    if is_undefined(updates):
        gathered = _gather_like_scatter(ct, indices, updates_aval.shape, 0, params)
        won = _scatter_winners(_aval(operand).shape, indices, updates_aval.shape, params)
        updates_ct = _ew.select_n_p.bind(won, _filled(updates_aval.shape, ct.dtype, 0), gathered)
    return [operand_ct, None, updates_ct]


scatter_p.jvp = _scatter_jvp
scatter_p.transpose = _scatter_transpose


# -- scatter-mul ----------------------------------------------------------------------------------------


def _scatter_mul_jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
    # out[p] = x[p] * prod_k y_k over the updates k landing on p. Product rule:
    #   d out[p] = tx[p] * prod_k y_k + x[p] * sum_k ty_k * prod_{j != k} y_j.
    # prod_{j != k} y_j is computed without dividing by zero from the product P of the nonzero updates at p
    # and their number of zeros Z: P / y_k if y_k != 0 and Z == 0; P if y_k == 0 and Z == 1; else 0.
    x, indices, y = primals
    tx, _, ty = tangents
    out = scatter_mul_p.bind(x, indices, y, **params)
    total: Any = _zero_tangent(out)
    if type(tx) is Zero and type(ty) is Zero:
        return out, total
    ones_x = _filled(x.shape, x.dtype, 1)
    if type(tx) is not Zero:
        total = _ew.mul_p.bind(tx, scatter_mul_p.bind(ones_x, indices, y, **params))
    if type(ty) is not Zero:
        zeros_y, ones_y = _filled(y.shape, y.dtype, 0), _filled(y.shape, y.dtype, 1)
        is_zero = _ew.eq_p.bind(y, zeros_y)
        safe_y = _ew.select_n_p.bind(is_zero, y, ones_y)
        nonzero_product = scatter_mul_p.bind(ones_x, indices, safe_y, **params)
        zero_count = scatter_add_p.bind(
            _filled(x.shape, x.dtype, 0), indices, _ew.select_n_p.bind(is_zero, zeros_y, ones_y), **params
        )
        product_at = _gather_like_scatter(nonzero_product, indices, y.shape, 1, params)
        count_at = _gather_like_scatter(zero_count, indices, y.shape, 0, params)
        if_nonzero = _ew.select_n_p.bind(
            _ew.eq_p.bind(count_at, zeros_y), zeros_y, _ew.div_p.bind(product_at, safe_y)
        )
        if_zero = _ew.select_n_p.bind(_ew.eq_p.bind(count_at, ones_y), zeros_y, product_at)
        others = _ew.select_n_p.bind(is_zero, if_nonzero, if_zero)
        summed = scatter_add_p.bind(
            _filled(x.shape, x.dtype, 0), indices, _ew.mul_p.bind(ty, others), **params
        )
        total = add_tangents(total, _ew.mul_p.bind(x, summed))
    return out, total


scatter_mul_p.jvp = _scatter_mul_jvp


# -- scatter-min / scatter-max -------------------------------------------------------------------------


def _scatter_extremum_jvp(prim: Primitive) -> Callable:
    def jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
        # The output takes the tangent of the element (operand or update) that won; ties share it equally.
        x, indices, y = primals
        tx, _, ty = tangents
        out = prim.bind(x, indices, y, **params)
        if type(tx) is Zero and type(ty) is Zero:
            return out, _zero_tangent(out)
        zeros_x, ones_x = _filled(x.shape, x.dtype, 0), _filled(x.shape, x.dtype, 1)
        zeros_y, ones_y = _filled(y.shape, y.dtype, 0), _filled(y.shape, y.dtype, 1)
        x_won = _ew.eq_p.bind(x, out)
        # A dropped update reads the fill value (NaN) here, so it never wins.
        y_won = _ew.eq_p.bind(y, _gather_like_scatter(out, indices, y.shape, None, params))
        count = _ew.add_p.bind(
            _ew.select_n_p.bind(x_won, zeros_x, ones_x),
            scatter_add_p.bind(zeros_x, indices, _ew.select_n_p.bind(y_won, zeros_y, ones_y), **params),
        )
        count = _ew.max_p.bind(count, ones_x)
        total: Any = _zero_tangent(out)
        if type(tx) is not Zero:
            total = _ew.select_n_p.bind(x_won, zeros_x, tx)
        if type(ty) is not Zero:
            chosen = _ew.select_n_p.bind(y_won, zeros_y, ty)
            total = add_tangents(total, scatter_add_p.bind(zeros_x, indices, chosen, **params))
        return out, _ew.div_p.bind(total, count)

    return jvp


scatter_min_p.jvp = _scatter_extremum_jvp(scatter_min_p)
scatter_max_p.jvp = _scatter_extremum_jvp(scatter_max_p)


# ---------------------------------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------------------------------
#
# The vmapped dimension is expressed in the dimension numbers, so one gather/scatter handles the whole batch:
#
# - operand and indices both batched: the two batch dims become a pair of batching dims
#   (``operand_batching_dims`` / ``start_indices_batching_dims``), i.e. element b reads its own operand;
# - only the operand batched: its batch dim is one more window dim of full size (every index reads all of it);
# - only the indices batched: their batch dim is one more index batch dim.
#
# Scatter outputs have the operand's shape, so an unbatched operand is materialised when indices or updates
# are batched; the updates then carry the batch as the window dim or scatter dim matching the above.

from ..transforms.batching import broadcast_batch, move_axis  # noqa: E402


def _shift_past(dims: Sequence[int], bdim: int) -> tuple[int, ...]:
    """Dimension indices of an unbatched value renumbered for its batched version (``bdim`` inserted)."""
    return tuple(int(d) + (d >= bdim) for d in dims)


def _insert_position(kept: Sequence[int], k: int, rank: int) -> int:
    """Where a new dimension goes so that it is the ``k``-th of ``kept`` (sorted dims of an array of ``rank``
    dims): before the current ``k``-th one, or at the end."""
    return kept[k] if k < len(kept) else rank


def _sorted_pairs(first: Sequence[int], second: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Paired batching dims, ordered by the first (operand) dims, which must be sorted."""
    pairs = sorted(zip(first, second))
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _index_bdim_not_last(indices: Any, bdim: int) -> tuple[Any, int]:
    """The last dim of indices holds the index vectors: a batch dim there moves to the front."""
    if bdim == indices.ndim - 1:
        return move_axis(indices, bdim, 0), 0
    return indices, bdim


def _gather_batch(
    axis_size: int,
    vals: list,
    dims: list,
    *,
    dimension_numbers: GatherDimensionNumbers,
    slice_sizes: tuple[int, ...],
    **params: Any,
) -> tuple[Any, int]:
    operand, indices = vals
    op_bdim, idx_bdim = dims
    dn = dimension_numbers
    offset = tuple(dn.offset_dims)
    collapsed = tuple(dn.collapsed_slice_dims)
    index_map = tuple(dn.start_index_map)
    op_batching = tuple(dn.operand_batching_dims)
    idx_batching = tuple(dn.start_indices_batching_dims)
    sizes = list(slice_sizes)
    out_rank = indices.ndim - (idx_bdim is not None) - 1 + len(offset)  # rank of one element's output
    if op_bdim is not None:
        collapsed = _shift_past(collapsed, op_bdim)
        index_map = _shift_past(index_map, op_bdim)
        op_batching = _shift_past(op_batching, op_bdim)
    if idx_bdim is None:
        # Only the operand is batched: read the whole batch dim as one more window dim.
        sizes.insert(op_bdim, operand.shape[op_bdim])
        dropped = set(collapsed) | set(op_batching)
        window = [d for d in range(operand.ndim) if d not in dropped]
        k = window.index(op_bdim)
        out_dim = _insert_position(offset, k, out_rank)
        offset = offset[:k] + (out_dim,) + tuple(o + 1 for o in offset[k:])
    else:
        indices, idx_bdim = _index_bdim_not_last(indices, idx_bdim)
        # The indices' batch dim is the idx_bdim-th output batch (non-offset) dim.
        batch_positions = [j for j in range(out_rank) if j not in set(offset)]
        out_dim = _insert_position(batch_positions, idx_bdim, out_rank)
        offset = tuple(o + (o >= out_dim) for o in offset)
        idx_batching = _shift_past(idx_batching, idx_bdim)
        if op_bdim is not None:  # both batched: element b's indices read element b's operand
            sizes.insert(op_bdim, 1)
            op_batching, idx_batching = _sorted_pairs(op_batching + (op_bdim,), idx_batching + (idx_bdim,))
    new_dn = GatherDimensionNumbers(
        offset_dims=offset,
        collapsed_slice_dims=collapsed,
        start_index_map=index_map,
        operand_batching_dims=op_batching,
        start_indices_batching_dims=idx_batching,
    )
    out = gather_p.bind(operand, indices, dimension_numbers=new_dn, slice_sizes=tuple(sizes), **params)
    return out, out_dim


def _scatter_batch(prim: Primitive) -> Callable:
    def rule(
        axis_size: int,
        vals: list,
        dims: list,
        *,
        dimension_numbers: ScatterDimensionNumbers,
        **params: Any,
    ) -> tuple[Any, int]:
        operand, indices, updates = vals
        op_bdim, idx_bdim, upd_bdim = dims
        dn = dimension_numbers
        if op_bdim is None:  # every batch element writes into its own copy of the operand
            operand, op_bdim = broadcast_batch(operand, axis_size, 0), 0
        updates_rank = updates.ndim - (upd_bdim is not None)  # rank of one element's updates
        window_dims = tuple(dn.update_window_dims)
        inserted = _shift_past(dn.inserted_window_dims, op_bdim)
        to_operand = _shift_past(dn.scatter_dims_to_operand_dims, op_bdim)
        op_batching = _shift_past(dn.operand_batching_dims, op_bdim)
        idx_batching = tuple(dn.scatter_indices_batching_dims)
        if idx_bdim is None:
            # Shared indices: the batch dim is one more (full-size) update window dim.
            dropped = set(inserted) | set(op_batching)
            window = [d for d in range(operand.ndim) if d not in dropped]
            k = window.index(op_bdim)
            upd_dim = _insert_position(window_dims, k, updates_rank)
            window_dims = window_dims[:k] + (upd_dim,) + tuple(w + 1 for w in window_dims[k:])
        else:
            indices, idx_bdim = _index_bdim_not_last(indices, idx_bdim)
            # The indices' batch dim is the idx_bdim-th scatter (non-window) dim of the updates.
            scatter_positions = [j for j in range(updates_rank) if j not in set(window_dims)]
            upd_dim = _insert_position(scatter_positions, idx_bdim, updates_rank)
            window_dims = tuple(w + (w >= upd_dim) for w in window_dims)
            idx_batching = _shift_past(idx_batching, idx_bdim)
            op_batching, idx_batching = _sorted_pairs(op_batching + (op_bdim,), idx_batching + (idx_bdim,))
        if upd_bdim is None:
            updates = broadcast_batch(updates, axis_size, upd_dim)
        else:
            updates = move_axis(updates, upd_bdim, upd_dim)
        new_dn = ScatterDimensionNumbers(
            update_window_dims=window_dims,
            inserted_window_dims=inserted,
            scatter_dims_to_operand_dims=to_operand,
            operand_batching_dims=op_batching,
            scatter_indices_batching_dims=idx_batching,
        )
        return prim.bind(operand, indices, updates, dimension_numbers=new_dn, **params), op_bdim

    return rule


gather_p.batch = _gather_batch
for _p in (scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p):
    _p.batch = _scatter_batch(_p)
