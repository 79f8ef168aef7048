"""``x.at[index]``: functional indexed updates (``set``, ``add``, ``multiply``, ``min``, ``max``, ...) and
``get``, with jax.numpy's semantics, each lowered to one ``scatter``/``gather``.

Any NumPy index works: integers, slices (any step), ``None``, ``...``, integer arrays (broadcast together and
placed where NumPy puts them) and concrete boolean masks. The index becomes an ``indices`` array whose
last dim holds index vectors: one component per operand dim indexed by an integer array, an integer or a
strided slice, plus the start of each partial contiguous slice (a window). Dims taken whole are windows
with no component. Updates are broadcast to the shape of ``x[index]`` and laid out as the scatter wants.

Repeated indices accumulate for ``add``/``multiply``/``min``/``max`` and the last update wins for ``set``.
Negative indices count from the end. Out-of-bounds updates are dropped (``mode='drop'``, the default) or
clamped (``mode='clip'``); ``get`` clamps by default and fills with ``mode='fill'``.

Example:
    >>> x = fnp.zeros(4)
    >>> x.at[fnp.asarray([0, 0, 2])].add(1.0)
    Array([2., 0., 1., 0.], dtype=float32)
    >>> x.at[1:3].set(7.0)
    Array([0., 7., 7., 0.], dtype=float32)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..core.array import Array
from ..core.trace import Tracer, _context
from ..primitives import indexing as ix
from ..primitives import shape as sh
from ._convert import asarray, convert

_INDEX = np.dtype(np.int32)
_INDEX_MIN, _INDEX_MAX = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)


class _Plan(NamedTuple):
    """How ``x[index]`` maps onto gather/scatter operands (see the module docstring)."""

    indices: Any  # int32 array (S..., k): the index vectors
    index_dims: tuple[int, ...]  # the operand dim each index-vector component addresses
    collapsed: tuple[int, ...]  # sorted operand dims indexed element by element (window size 1, dropped)
    window_sizes: tuple[int, ...]  # per operand dim: 1 if collapsed, else the window length
    batch_rank: int  # len(S): the scatter/gather batch dims come first in the canonical layout
    result_shape: tuple[int, ...]  # the shape of x[index] (NumPy's rules), None dims included
    core_shape: tuple[int, ...]  # result_shape without the None dims
    perm: tuple[int, ...]  # canonical axis c is core axis perm[c]
    reversed_axes: tuple[int, ...]  # core axes that slices with step -1 read backwards


# ---------------------------------------------------------------------------------------------------
# Index analysis
# ---------------------------------------------------------------------------------------------------


def _is_bool(item: Any) -> bool:
    if isinstance(item, (bool, np.bool_)):
        return True
    dtype = getattr(item, "dtype", None)
    return dtype is not None and np.dtype(dtype) == np.bool_


def _parse(index: Any, ndim: int) -> list:
    """The index as a list of entries ("new",), ("slice", s), ("adv", value) or ("mask", arrays, shape), with
    the Ellipsis expanded to full slices."""
    from ._advanced_indexing import _boolean_to_integer

    items = index if isinstance(index, tuple) else (index,)
    entries: list = []
    ellipses = 0
    for item in items:
        if item is None:
            entries.append(("new",))
        elif item is Ellipsis:
            ellipses += 1
            entries.append(("ellipsis",))
        elif isinstance(item, slice):
            entries.append(("slice", item))
        else:
            if isinstance(item, list):
                item = np.asarray(item)
                if item.size == 0:
                    item = item.astype(_INDEX)
            if _is_bool(item):
                if getattr(item, "ndim", 0) == 0:
                    raise IndexError("scalar boolean indices are not supported in .at[]; use fnp.where.")
                entries.append(("mask", _boolean_to_integer(item), tuple(item.shape)))
            elif isinstance(item, (int, np.integer)):
                entries.append(("adv", np.asarray(item)))
            elif isinstance(item, (Array, Tracer, np.ndarray)):
                if np.dtype(item.dtype).kind not in "iu":
                    raise IndexError(
                        "indices must be integers, slices, None, ..., or integer/boolean arrays; got an "
                        f"array of dtype {np.dtype(item.dtype).name}."
                    )
                entries.append(("adv", item))
            else:
                raise IndexError(
                    f"indices must be integers, slices, None, ..., or integer/boolean arrays; got "
                    f"{type(item).__name__}."
                )
    if ellipses > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(len(e[1]) if e[0] == "mask" else 1 for e in entries if e[0] in ("slice", "adv", "mask"))
    if consumed > ndim:
        raise IndexError(
            f"too many indices for array: array is {ndim}-dimensional, but {consumed} were indexed"
        )
    fill = [("slice", slice(None))] * (ndim - consumed)
    if not ellipses:
        return entries + fill
    k = next(i for i, e in enumerate(entries) if e[0] == "ellipsis")
    return entries[:k] + fill + entries[k + 1 :]


def _index_array(value: Any, size: int, wrap: bool) -> Any:
    """An integer index as int32 (values beyond int32 saturate, so they stay out of bounds), with negative
    values counted from the end when ``wrap``."""
    if not isinstance(value, Tracer):
        v = np.asarray(value)
        if v.dtype == _INDEX:  # the common case: no saturation needed
            if wrap:
                negative = v < 0
                if negative.any():
                    v = np.where(negative, v + np.int32(size), v)
            return v
        if v.dtype == np.uint64:
            v = np.minimum(v, np.uint64(_INDEX_MAX))
        v = v.astype(np.int64)
        if wrap:
            v = np.where(v < 0, v + size, v)
        return np.clip(v, _INDEX_MIN, _INDEX_MAX).astype(_INDEX)
    from ._math import add, less, maximum, minimum
    from ._math import where as select

    t = value
    if t.dtype != _INDEX:
        if t.dtype.itemsize >= 4:
            t = minimum(t, _INDEX_MAX)
            if t.dtype.kind == "i":
                t = maximum(t, _INDEX_MIN)
        t = convert(t, _INDEX)
    if wrap:
        t = select(less(t, 0), add(t, size), t)
    return t


def _plan(shape: tuple[int, ...], index: Any, wrap: bool) -> _Plan:
    ndim = len(shape)
    entries = _parse(index, ndim)
    desc: list = []  # result dims in order, before the advanced block is placed
    advanced: list = []  # (operand dim, index value)
    positions: list = []  # entry positions of the advanced indices
    first_slot = None
    dim = 0
    for pos, entry in enumerate(entries):
        kind = entry[0]
        if kind == "new":
            desc.append(("new",))
        elif kind == "slice":
            size = shape[dim]
            start, stop, step = entry[1].indices(size)
            length = len(range(start, stop, step))
            if length <= 1 or step == 1:
                desc.append(("window", dim, start if length else 0, length, False))
            elif step == -1:
                desc.append(("window", dim, start - length + 1, length, True))
            else:
                desc.append(("strided", dim, np.arange(start, stop, step)))
            dim += 1
        else:
            if first_slot is None:
                first_slot = len(desc)
            positions.append(pos)
            if kind == "mask":
                mask_shape = entry[2]
                if tuple(shape[dim : dim + len(mask_shape)]) != mask_shape:
                    raise IndexError(
                        f"boolean index of shape {mask_shape} does not match the indexed dims "
                        f"{tuple(shape[dim : dim + len(mask_shape)])} of an array of shape {shape}."
                    )
                for arr in entry[1]:
                    advanced.append((dim, _index_array(arr, shape[dim], wrap)))
                    dim += 1
            else:
                advanced.append((dim, _index_array(entry[1], shape[dim], wrap)))
                dim += 1

    shapes = [tuple(a.shape) for _, a in advanced]
    try:
        adv_shape = tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise IndexError(
            f"shape mismatch: indexing arrays could not be broadcast together with shapes {shapes}"
        ) from None
    if advanced:
        adjacent = positions == list(range(positions[0], positions[0] + len(positions)))
        slot = first_slot if adjacent else 0
        desc[slot:slot] = [("adv", j) for j in range(len(adv_shape))]

    strided = [e for e in desc if e[0] == "strided"]
    windows = [e for e in desc if e[0] == "window"]
    nb = len(adv_shape)
    batch_shape = adv_shape + tuple(len(e[2]) for e in strided)
    rank = len(batch_shape)

    components: list = []
    index_dims: list = []
    for d, arr in advanced:
        target = adv_shape + (1,) * len(strided)
        if isinstance(arr, Tracer):
            from ._shape import broadcast_to, reshape

            components.append(reshape(broadcast_to(arr, adv_shape), target))
        else:
            components.append(np.broadcast_to(arr, adv_shape).reshape(target))
        index_dims.append(d)
    for m, entry in enumerate(strided):
        axis_shape = [1] * rank
        axis_shape[nb + m] = len(entry[2])
        components.append(entry[2].astype(_INDEX).reshape(axis_shape))
        index_dims.append(entry[1])
    for _, d, start, length, _ in windows:
        if start != 0 or length != shape[d]:
            components.append(np.full((1,) * rank, start, _INDEX))
            index_dims.append(d)
    indices = _stack(components, batch_shape)

    collapsed = tuple(sorted([d for d, _ in advanced] + [e[1] for e in strided]))
    window_length = {e[1]: e[3] for e in windows}
    window_sizes = tuple(1 if d in collapsed else window_length[d] for d in range(ndim))

    core = [e for e in desc if e[0] != "new"]
    window_rank = {e[1]: k for k, e in enumerate(windows)}
    strided_rank = {e[1]: k for k, e in enumerate(strided)}
    canonical = []
    for e in core:
        if e[0] == "adv":
            canonical.append(e[1])
        elif e[0] == "strided":
            canonical.append(nb + strided_rank[e[1]])
        else:
            canonical.append(rank + window_rank[e[1]])
    perm = tuple(int(i) for i in np.argsort(canonical))
    core_sizes = [_entry_size(e, adv_shape) for e in core]
    result_shape = tuple(1 if e[0] == "new" else _entry_size(e, adv_shape) for e in desc)
    reversed_axes = tuple(i for i, e in enumerate(core) if e[0] == "window" and e[4])
    return _Plan(
        indices=indices,
        index_dims=tuple(index_dims),
        collapsed=collapsed,
        window_sizes=window_sizes,
        batch_rank=rank,
        result_shape=result_shape,
        core_shape=tuple(core_sizes),
        perm=perm,
        reversed_axes=reversed_axes,
    )


def _entry_size(entry: tuple, adv_shape: tuple[int, ...]) -> int:
    if entry[0] == "adv":
        return adv_shape[entry[1]]
    if entry[0] == "strided":
        return len(entry[2])
    return entry[3]


def _stack(components: list, batch_shape: tuple[int, ...]) -> Any:
    """The components broadcast to ``batch_shape`` and stacked along a new last axis (a constant when all are
    concrete)."""
    if not components:
        return Array(np.zeros(batch_shape + (0,), _INDEX), False)
    if not any(isinstance(c, Tracer) for c in components):
        if len(components) == 1 and np.shape(components[0]) == batch_shape:
            return Array(np.asarray(components[0], _INDEX)[..., None], False)
        return Array(np.stack([np.broadcast_to(c, batch_shape) for c in components], axis=-1), False)
    from ._shape import broadcast_to, stack

    return stack(
        [broadcast_to(c if isinstance(c, Tracer) else Array(c, False), batch_shape) for c in components],
        axis=-1,
    )


# ---------------------------------------------------------------------------------------------------
# Applying a plan
# ---------------------------------------------------------------------------------------------------


def _scatter_mode(mode: Any) -> ix.GatherScatterMode:
    return ix.GatherScatterMode.from_any(mode)


def _gather_mode(mode: Any) -> ix.GatherScatterMode:
    # Reads clamp by default (jax.numpy's rule for x[idx]); "fill" returns fill_value out of bounds.
    return ix.GatherScatterMode.CLIP if mode is None else ix.GatherScatterMode.from_any(mode)


_EAGER_UPDATES = {
    "scatter": None,
    "scatter-add": np.add,
    "scatter-mul": np.multiply,
    "scatter-min": np.minimum,
    "scatter-max": np.maximum,
}


def _eager_basic_update(prim: Any, x: Array, index: Any, values: Any) -> Any:
    """The direct NumPy update for an eager Array, in-bounds integer/slice indices and a Python scalar or
    same-dtype Array update (basic indices never repeat, so NumPy's in-place ops agree with the scatter);
    None when the general path is needed."""
    value = x._value
    if not isinstance(value, np.ndarray):
        return None
    items = index if type(index) is tuple else (index,)
    if len(items) > value.ndim:
        return None
    for dim, item in enumerate(items):
        t = type(item)
        if t is int:
            if not -value.shape[dim] <= item < value.shape[dim]:
                return None
        elif t is not slice:
            return None
    t = type(values)
    if t is Array:
        if values._value.dtype != value.dtype:
            return None
        update = values._value
    elif (t is float and value.dtype.kind in "fc") or (t is int and value.dtype.kind in "iufc"):
        try:
            update = np.asarray(values, dtype=value.dtype)
        except OverflowError:
            return None
    else:
        return None
    out = value.copy()
    target = out[items]
    if np.ndim(update) > np.ndim(target):
        return None
    combine = _EAGER_UPDATES[prim.name]
    with np.errstate(all="ignore"):
        if isinstance(target, np.ndarray):
            update = np.broadcast_to(update, target.shape)  # raises ValueError when they do not broadcast
            if combine is None:
                out[items] = update
            else:
                combine(target, update, out=target)  # target is a view into out
        else:  # a single element
            out[items] = update if combine is None else combine(target, update)
    return Array(out, x._weak)


def _scatter(
    prim: Any,
    x: Any,
    index: Any,
    values: Any,
    indices_are_sorted: bool,
    unique_indices: bool,
    mode: Any,
    wrap: bool,
) -> Any:
    from ._shape import broadcast_to, transpose

    if type(x) is Array and _context.trace is None and wrap:
        out = _eager_basic_update(prim, x, index, values)
        if out is not None:
            return out
    x = asarray(x)
    plan = _plan(tuple(x.shape), index, wrap)
    v = asarray(values)
    if v.dtype != x.dtype:
        v = convert(v, x.dtype)
    v = broadcast_to(v, plan.result_shape)
    if 0 in plan.result_shape:
        return x
    if plan.core_shape != plan.result_shape:
        v = sh.reshape_p.bind(v, new_sizes=plan.core_shape, dimensions=None, sharding=None)
    if plan.reversed_axes:
        v = sh.rev_p.bind(v, dimensions=plan.reversed_axes)
    if plan.perm != tuple(range(len(plan.perm))):
        v = transpose(v, plan.perm)
    window_rank = x.ndim - len(plan.collapsed)
    dnums = ix.ScatterDimensionNumbers(
        update_window_dims=tuple(range(plan.batch_rank, plan.batch_rank + window_rank)),
        inserted_window_dims=plan.collapsed,
        scatter_dims_to_operand_dims=plan.index_dims,
    )
    return prim.bind(
        x,
        plan.indices,
        v,
        dimension_numbers=dnums,
        indices_are_sorted=bool(indices_are_sorted),
        unique_indices=bool(unique_indices),
        mode=_scatter_mode(mode),
        update_jaxpr=None,
        update_consts=(),
    )


def _gather(
    x: Any, index: Any, indices_are_sorted: bool, unique_indices: bool, mode: Any, fill_value: Any, wrap: bool
) -> Any:
    from ._shape import transpose

    x = asarray(x)
    plan = _plan(tuple(x.shape), index, wrap)
    if 0 in plan.result_shape:
        return Array(np.zeros(plan.result_shape, x.dtype), x.weak_type)
    window_rank = x.ndim - len(plan.collapsed)
    dnums = ix.GatherDimensionNumbers(
        offset_dims=tuple(range(plan.batch_rank, plan.batch_rank + window_rank)),
        collapsed_slice_dims=plan.collapsed,
        start_index_map=plan.index_dims,
    )
    out = ix.gather_p.bind(
        x,
        plan.indices,
        dimension_numbers=dnums,
        slice_sizes=plan.window_sizes,
        indices_are_sorted=bool(indices_are_sorted),
        unique_indices=bool(unique_indices),
        mode=_gather_mode(mode),
        fill_value=fill_value,
    )
    if plan.perm != tuple(range(len(plan.perm))):
        out = transpose(out, tuple(int(i) for i in np.argsort(plan.perm)))
    if plan.reversed_axes:
        out = sh.rev_p.bind(out, dimensions=plan.reversed_axes)
    if plan.core_shape != plan.result_shape:
        out = sh.reshape_p.bind(out, new_sizes=plan.result_shape, dimensions=None, sharding=None)
    return out


# ---------------------------------------------------------------------------------------------------
# The public helper objects
# ---------------------------------------------------------------------------------------------------


class _IndexUpdateRef:
    """``x.at[index]``: call ``.set(v)``, ``.add(v)``, ``.multiply(v)``, ``.divide(v)``, ``.power(v)``,
    ``.min(v)``, ``.max(v)`` or ``.get()``. Each returns a new array; ``x`` is unchanged.

    Keyword arguments (all methods): ``indices_are_sorted``, ``unique_indices`` (promises passed on to the
    primitive), ``mode`` ('drop'/'fill', 'clip' or 'promise_in_bounds'), ``wrap_negative_indices``.
    Example: ``x.at[0, ::2].multiply(2.0)``.
    """

    __slots__ = ("array", "index")

    def __init__(self, array: Any, index: Any):
        self.array = array
        self.index = index

    def __repr__(self) -> str:
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(
        self,
        *,
        indices_are_sorted: bool = False,
        unique_indices: bool = False,
        mode: Any = None,
        fill_value: Any = None,
        wrap_negative_indices: bool = True,
    ) -> Any:
        """``x[index]``; out-of-bounds indices clamp, or read ``fill_value`` with ``mode='fill'``.

        Example: ``fnp.arange(3).at[5].get(mode='fill', fill_value=-1)`` is ``-1``.
        """
        return _gather(
            self.array,
            self.index,
            indices_are_sorted,
            unique_indices,
            mode,
            fill_value,
            wrap_negative_indices,
        )

    def _update(self, prim: Any, values: Any, kw: dict) -> Any:
        return _scatter(
            prim,
            self.array,
            self.index,
            values,
            kw.get("indices_are_sorted", False),
            kw.get("unique_indices", False),
            kw.get("mode"),
            kw.get("wrap_negative_indices", True),
        )

    def set(self, values: Any, **kwargs: Any) -> Any:
        """``x[index] = values`` (for repeated indices the last update wins). Example: ``x.at[1].set(5.0)``."""
        return self._update(ix.scatter_p, values, _check_kwargs(kwargs))

    def add(self, values: Any, **kwargs: Any) -> Any:
        """``x[index] += values`` (repeated indices accumulate). Example: ``x.at[idx].add(1.0)``."""
        return self._update(ix.scatter_add_p, values, _check_kwargs(kwargs))

    def multiply(self, values: Any, **kwargs: Any) -> Any:
        """``x[index] *= values`` (repeated indices accumulate). Example: ``x.at[idx].multiply(2.0)``."""
        return self._update(ix.scatter_mul_p, values, _check_kwargs(kwargs))

    mul = multiply

    def divide(self, values: Any, **kwargs: Any) -> Any:
        """``x[index] /= values``: ``x / ones_like(x).at[index].multiply(values)`` (so integer arrays give a
        float result, as in jax.numpy). Example: ``x.at[0].divide(2.0)``."""
        from ._creation import ones_like
        from ._math import true_divide

        x = asarray(self.array)
        scale = _IndexUpdateRef(ones_like(x), self.index).multiply(values, **kwargs)
        return true_divide(x, scale)

    def power(self, values: Any, **kwargs: Any) -> Any:
        """``x[index] **= values``: ``x ** ones_like(x).at[index].multiply(values)``. Example: ``x.at[0].power(2)``."""
        from ._creation import ones_like
        from ._math import power

        x = asarray(self.array)
        exponent = _IndexUpdateRef(ones_like(x), self.index).multiply(values, **kwargs)
        return power(x, exponent)

    def min(self, values: Any, **kwargs: Any) -> Any:
        """``x[index] = minimum(x[index], values)``, accumulating over repeated indices. Example: ``x.at[i].min(0.0)``."""
        return self._update(ix.scatter_min_p, values, _check_kwargs(kwargs))

    def max(self, values: Any, **kwargs: Any) -> Any:
        """``x[index] = maximum(x[index], values)``, accumulating over repeated indices. Example: ``x.at[i].max(0.0)``."""
        return self._update(ix.scatter_max_p, values, _check_kwargs(kwargs))


_UPDATE_KWARGS = ("indices_are_sorted", "unique_indices", "mode", "wrap_negative_indices")


def _check_kwargs(kwargs: dict) -> dict:
    unknown = set(kwargs) - set(_UPDATE_KWARGS)
    if unknown:
        raise TypeError(
            f".at[] update got unexpected keyword arguments {sorted(unknown)}; allowed: {_UPDATE_KWARGS}."
        )
    return kwargs


class _IndexUpdateHelper:
    """The ``x.at`` property: index it (``x.at[index]``) to get an updatable reference.

    Example: ``x.at[fnp.asarray([0, 2])].set(0.0)``.
    """

    __slots__ = ("array",)

    def __init__(self, array: Any):
        self.array = array

    def __getitem__(self, index: Any) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.array, index)

    def __repr__(self) -> str:
        return f"_IndexUpdateHelper({self.array!r})"


def at(x: Any) -> _IndexUpdateHelper:
    """The object behind the ``x.at`` property. Example: ``fnp.zeros(3).at[1].set(2.0)``."""
    return _IndexUpdateHelper(x)


_KINDS = {
    "set": ix.scatter_p,
    "add": ix.scatter_add_p,
    "multiply": ix.scatter_mul_p,
    "mul": ix.scatter_mul_p,
    "min": ix.scatter_min_p,
    "max": ix.scatter_max_p,
}


def scatter_at(x: Any, index: Any, values: Any, kind: str, **kwargs: Any) -> Any:
    """``x.at[index].<kind>(values, **kwargs)`` as a function (used by nonzero, unique, bincount).

    Example: ``scatter_at(fnp.zeros(3), fnp.asarray([0, 0]), 1.0, "add")`` is ``[2., 0., 0.]``.
    """
    return _IndexUpdateRef(x, index)._update(_KINDS[kind], values, _check_kwargs(kwargs))
