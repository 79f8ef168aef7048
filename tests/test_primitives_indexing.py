"""Tests for the gather and scatter primitives (functorch_lite/primitives/indexing.py).

The impls are checked against a plain reference written here with Python loops over every output/update
element (a direct transcription of the dimension-numbers semantics), on hypothesis-generated dimension
numbers, shapes, indices (including out-of-bounds ones) and modes; plus NumPy's indexing idioms.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functorch_lite.core.array import Array
from functorch_lite.core.errors import ShapeDtypeError, ShapeError
from functorch_lite.core.staging import make_jaxpr
from functorch_lite.core.trace import ShapedArray
from functorch_lite.primitives.indexing import (
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
    gather_p,
    scatter_add_p,
    scatter_max_p,
    scatter_min_p,
    scatter_mul_p,
    scatter_p,
)

CLIP = GatherScatterMode.CLIP
FILL = GatherScatterMode.FILL_OR_DROP
PROMISE = GatherScatterMode.PROMISE_IN_BOUNDS
MODES = [CLIP, FILL, PROMISE]


def gather(operand, indices, dn, slice_sizes, mode=PROMISE, fill_value=None) -> np.ndarray:
    params = dict(
        dimension_numbers=dn,
        slice_sizes=tuple(slice_sizes),
        indices_are_sorted=False,
        unique_indices=False,
        mode=mode,
        fill_value=fill_value,
    )
    out = gather_p.impl(operand, indices, **params)
    aval = gather_p.abstract_eval(
        ShapedArray(operand.shape, operand.dtype), ShapedArray(indices.shape, indices.dtype), **params
    )
    assert isinstance(out, np.ndarray)
    assert out.shape == aval.shape and out.dtype == aval.dtype, (out.shape, out.dtype, aval)
    return out


def scatter(prim, operand, indices, updates, dn, mode=FILL) -> np.ndarray:
    params = dict(
        dimension_numbers=dn,
        indices_are_sorted=False,
        unique_indices=False,
        mode=mode,
        update_jaxpr=None,
        update_consts=(),
    )
    before = operand.copy()
    out = prim.impl(operand, indices, updates, **params)
    np.testing.assert_array_equal(operand, before)  # the operand is never written
    avals = [ShapedArray(a.shape, a.dtype) for a in (operand, indices, updates)]
    aval = prim.abstract_eval(*avals, **params)
    assert isinstance(out, np.ndarray)
    assert out.shape == aval.shape and out.dtype == aval.dtype
    return out


# ---------------------------------------------------------------------------------------------------
# Loop references
# ---------------------------------------------------------------------------------------------------


def _clamped_start(vec, index_map, operand_shape, window_size) -> tuple[list[int], bool]:
    start = [0] * len(operand_shape)
    in_bounds = True
    for k, d in enumerate(index_map):
        s = int(vec[k])
        hi = operand_shape[d] - window_size(d)
        in_bounds = in_bounds and 0 <= s <= hi
        start[d] = min(max(s, 0), max(hi, 0))
    return start, in_bounds


def ref_gather(operand, indices, dn, slice_sizes, mode, fill_value=None) -> np.ndarray:
    rank = operand.ndim
    window_dims = [
        d for d in range(rank) if d not in dn.collapsed_slice_dims and d not in dn.operand_batching_dims
    ]
    out_rank = indices.ndim - 1 + len(window_dims)
    batch_positions = [i for i in range(out_rank) if i not in dn.offset_dims]
    shape = [0] * out_rank
    for i, size in zip(batch_positions, indices.shape[:-1]):
        shape[i] = size
    for i, d in zip(dn.offset_dims, window_dims):
        shape[i] = slice_sizes[d]
    if fill_value is None:
        kind = operand.dtype.kind
        fill_value = {"f": np.nan, "c": np.nan, "b": True}.get(kind)
        if fill_value is None:
            info = np.iinfo(operand.dtype)
            fill_value = info.min if kind == "i" else info.max
    out = np.zeros(shape, operand.dtype)
    for out_index in itertools.product(*map(range, shape)):
        batch = tuple(out_index[i] for i in batch_positions)
        start, in_bounds = _clamped_start(
            indices[batch], dn.start_index_map, operand.shape, lambda d: slice_sizes[d]
        )
        for od, idim in zip(dn.operand_batching_dims, dn.start_indices_batching_dims):
            start[od] = batch[idim]
        for i, d in zip(dn.offset_dims, window_dims):
            start[d] += out_index[i]
        if mode is FILL and not in_bounds:
            out[out_index] = fill_value
        else:
            out[out_index] = operand[tuple(start)]
    return out


COMBINE = {
    scatter_p: lambda old, new: new,
    scatter_add_p: lambda old, new: old + new,
    scatter_mul_p: lambda old, new: old * new,
    scatter_min_p: lambda old, new: min(old, new),
    scatter_max_p: lambda old, new: max(old, new),
}


def ref_scatter(prim, operand, indices, updates, dn, mode) -> np.ndarray:
    out = operand.copy()
    rank = operand.ndim
    window_dims = [
        d for d in range(rank) if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims
    ]
    scatter_positions = [i for i in range(updates.ndim) if i not in dn.update_window_dims]
    window_sizes = [updates.shape[i] for i in dn.update_window_dims]
    size_of = dict(zip(window_dims, window_sizes))
    for batch in itertools.product(*map(range, indices.shape[:-1])):
        start, in_bounds = _clamped_start(
            indices[batch], dn.scatter_dims_to_operand_dims, operand.shape, lambda d: size_of.get(d, 1)
        )
        if mode is not CLIP and not in_bounds:
            continue
        for od, idim in zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims):
            start[od] = batch[idim]
        for window in itertools.product(*map(range, window_sizes)):
            target = list(start)
            update_index = [0] * updates.ndim
            for i, b in zip(scatter_positions, batch):
                update_index[i] = b
            for k, (d, w) in enumerate(zip(window_dims, window)):
                target[d] += w
                update_index[dn.update_window_dims[k]] = w
            target = tuple(target)
            out[target] = COMBINE[prim](out[target], updates[tuple(update_index)])
    return out


# ---------------------------------------------------------------------------------------------------
# Hypothesis strategies for general dimension numbers
# ---------------------------------------------------------------------------------------------------


@st.composite
def index_problem(draw: Any) -> dict:
    """Operand shape, per-dim roles, index batch layout and indices shared by gather and scatter cases."""
    rank = draw(st.integers(0, 3))
    operand_shape = tuple(draw(st.lists(st.integers(0, 4), min_size=rank, max_size=rank)))
    roles = []
    for size in operand_shape:
        choices = ["window", "indexed_window"]
        if size >= 1:
            choices += ["collapsed", "batching"]
        roles.append(draw(st.sampled_from(choices)))
    batching = [d for d, r in enumerate(roles) if r == "batching"]
    collapsed = [d for d, r in enumerate(roles) if r == "collapsed"]
    # Collapsed dims may or may not be indexed; windows marked indexed_window are indexed too.
    indexed = [d for d, r in enumerate(roles) if r == "indexed_window"]
    indexed += [d for d in collapsed if draw(st.booleans())]
    index_map = tuple(draw(st.permutations(indexed)))
    # Index batch dims: some free ones plus one per batching dim, in a random order.
    free_batch = draw(st.lists(st.integers(0, 3), max_size=2))
    slots = ["free"] * len(free_batch) + ["batch"] * len(batching)
    slots = draw(st.permutations(slots))
    batch_shape, free_iter, batch_iter = [], iter(free_batch), iter(batching)
    indices_batching = []
    for position, slot in enumerate(slots):
        if slot == "free":
            batch_shape.append(next(free_iter))
        else:
            d = next(batch_iter)
            batch_shape.append(operand_shape[d])
            indices_batching.append(position)
    window_dims = [d for d in range(rank) if d not in collapsed and d not in batching]
    window_sizes = {d: draw(st.integers(0, operand_shape[d])) for d in window_dims}
    indices_shape = tuple(batch_shape) + (len(index_map),)
    index_dtype = draw(st.sampled_from([np.int32, np.int64, np.uint8]))
    low = 0 if index_dtype == np.uint8 else -2
    count = int(np.prod(indices_shape))
    values = draw(st.lists(st.integers(low, 6), min_size=count, max_size=count))
    indices = np.array(values, dtype=index_dtype).reshape(indices_shape)
    return dict(
        operand_shape=operand_shape,
        collapsed=tuple(collapsed),
        batching=tuple(batching),
        index_map=index_map,
        indices_batching=tuple(indices_batching),
        window_dims=window_dims,
        window_sizes=window_sizes,
        indices=indices,
        mode=draw(st.sampled_from(MODES)),
    )


def _operand(shape, dtype, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-4, 5, size=shape).astype(dtype)


@settings(max_examples=60, deadline=None)
@given(index_problem(), st.sampled_from([np.float32, np.int32, np.uint8, np.bool_]), st.data())
def test_gather_matches_reference(problem: dict, dtype: Any, data: Any) -> None:
    p = problem
    indices = p["indices"]
    out_rank = indices.ndim - 1 + len(p["window_dims"])
    offset_dims = tuple(sorted(data.draw(st.permutations(range(out_rank)))[: len(p["window_dims"])]))
    dn = GatherDimensionNumbers(
        offset_dims=offset_dims,
        collapsed_slice_dims=p["collapsed"],
        start_index_map=p["index_map"],
        operand_batching_dims=p["batching"],
        start_indices_batching_dims=p["indices_batching"],
    )
    slice_sizes = [p["window_sizes"].get(d, 1) for d in range(len(p["operand_shape"]))]
    operand = _operand(p["operand_shape"], dtype, 0)
    fill = data.draw(st.sampled_from([None, 7]))
    got = gather(operand, indices, dn, slice_sizes, p["mode"], fill)
    want = ref_gather(operand, indices, dn, slice_sizes, p["mode"], fill)
    np.testing.assert_array_equal(got, want)


SCATTERS = [scatter_p, scatter_add_p, scatter_mul_p, scatter_min_p, scatter_max_p]


@settings(max_examples=60, deadline=None)
@given(index_problem(), st.sampled_from(SCATTERS), st.sampled_from([np.float32, np.int32]), st.data())
def test_scatter_matches_reference(problem: dict, prim: Any, dtype: Any, data: Any) -> None:
    p = problem
    indices = p["indices"]
    batch_shape = indices.shape[:-1]
    window_dims = p["window_dims"]
    updates_rank = len(batch_shape) + len(window_dims)
    update_window_dims = tuple(sorted(data.draw(st.permutations(range(updates_rank)))[: len(window_dims)]))
    shape = [0] * updates_rank
    for i, size in zip([i for i in range(updates_rank) if i not in update_window_dims], batch_shape):
        shape[i] = size
    for i, d in zip(update_window_dims, window_dims):
        shape[i] = p["window_sizes"][d]
    dn = ScatterDimensionNumbers(
        update_window_dims=update_window_dims,
        inserted_window_dims=p["collapsed"],
        scatter_dims_to_operand_dims=p["index_map"],
        operand_batching_dims=p["batching"],
        scatter_indices_batching_dims=p["indices_batching"],
    )
    operand = _operand(p["operand_shape"], dtype, 1)
    updates = _operand(tuple(shape), dtype, 2)
    got = scatter(prim, operand, indices, updates, dn, p["mode"])
    want = ref_scatter(prim, operand, indices, updates, dn, p["mode"])
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------------------
# NumPy indexing idioms
# ---------------------------------------------------------------------------------------------------

RNG = np.random.default_rng(0)
X3 = RNG.standard_normal((4, 5, 6)).astype(np.float32)


def test_take_rows() -> None:  # x[idx]
    idx = np.array([3, 0, 0, 2, 1, 3], np.int32)
    dn = GatherDimensionNumbers(offset_dims=(1, 2), collapsed_slice_dims=(0,), start_index_map=(0,))
    np.testing.assert_array_equal(gather(X3, idx[:, None], dn, (1, 5, 6)), X3[idx])
    idx2 = np.array([[1, 2], [3, 3]], np.int32)  # a 2-d index array
    np.testing.assert_array_equal(
        gather(X3, idx2[..., None], dn.__class__((2, 3), (0,), (0,)), (1, 5, 6)), X3[idx2]
    )


def test_take_middle_axis() -> None:  # x[:, idx]
    idx = np.array([4, 1, 1, 0], np.int32)
    dn = GatherDimensionNumbers(offset_dims=(0, 2), collapsed_slice_dims=(1,), start_index_map=(1,))
    np.testing.assert_array_equal(gather(X3, idx[:, None], dn, (4, 1, 6)), X3[:, idx])


def test_two_index_arrays() -> None:  # x[i, j]
    i = np.array([0, 3, 2, 3], np.int32)
    j = np.array([4, 0, 2, 4], np.int32)
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0, 1), start_index_map=(0, 1))
    np.testing.assert_array_equal(gather(X3, np.stack([i, j], -1), dn, (1, 1, 6)), X3[i, j])
    # x[i, :, j]: index map (0, 2), the window is the middle axis.
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0, 2), start_index_map=(0, 2))
    j = np.array([5, 0, 2, 1], np.int32)
    np.testing.assert_array_equal(gather(X3, np.stack([i, j], -1), dn, (1, 5, 1)), X3[i, :, j])


def test_take_along_axis_with_batching_dims() -> None:
    x = RNG.standard_normal((3, 5)).astype(np.float32)
    idx = RNG.integers(0, 5, size=(3, 7)).astype(np.int32)
    dn = GatherDimensionNumbers(
        offset_dims=(),
        collapsed_slice_dims=(1,),
        start_index_map=(1,),
        operand_batching_dims=(0,),
        start_indices_batching_dims=(0,),
    )
    np.testing.assert_array_equal(gather(x, idx[..., None], dn, (1, 1)), np.take_along_axis(x, idx, 1))
    # The same without batching dims: index vectors (row, col) with an iota for the row.
    rows = np.broadcast_to(np.arange(3, dtype=np.int32)[:, None], idx.shape)
    dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0, 1), start_index_map=(0, 1))
    np.testing.assert_array_equal(
        gather(x, np.stack([rows, idx], -1), dn, (1, 1)), np.take_along_axis(x, idx, 1)
    )


def test_dynamic_slice_clamps_like_jax() -> None:
    x = np.arange(10, dtype=np.float32)
    dn = GatherDimensionNumbers(offset_dims=(0,), collapsed_slice_dims=(), start_index_map=(0,))
    for start, want in [(8, x[6:10]), (-3, x[0:4]), (2, x[2:6])]:
        np.testing.assert_array_equal(gather(x, np.array([start], np.int32), dn, (4,), CLIP), want)


@pytest.mark.parametrize(
    "dtype, fill",
    [(np.float32, np.nan), (np.int32, np.iinfo(np.int32).min), (np.uint8, 255), (np.bool_, True)],
)
def test_gather_fill_defaults(dtype: Any, fill: Any) -> None:
    x = np.zeros((3, 2), dtype)
    idx = np.array([[0], [3], [-1], [2]], np.int32)
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
    out = gather(x, idx, dn, (1, 2), FILL)
    want = np.zeros((4, 2), dtype)
    want[1:3] = fill
    np.testing.assert_array_equal(out, want)
    out = gather(x, idx, dn, (1, 2), FILL, fill_value=1)
    want[1:3] = 1
    np.testing.assert_array_equal(out, want)


def test_gather_fill_whole_slice_out_of_bounds() -> None:
    # A slice that starts in bounds but runs past the end is out of bounds as a whole.
    x = np.arange(5, dtype=np.float32)
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(), start_index_map=(0,))
    out = gather(x, np.array([[1], [3]], np.int32), dn, (3,), FILL)
    np.testing.assert_array_equal(out, [[1, 2, 3], [np.nan] * 3])


ROW_DN = ScatterDimensionNumbers(
    update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
)


@pytest.mark.parametrize(
    "prim, ufunc",
    [
        (scatter_add_p, np.add),
        (scatter_mul_p, np.multiply),
        (scatter_min_p, np.minimum),
        (scatter_max_p, np.maximum),
    ],
)
def test_at_update_with_repeated_indices(prim: Any, ufunc: Any) -> None:  # x.at[idx].add(v)
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    idx = np.array([1, 4, 1, 1, 0, 4], np.int32)
    v = RNG.standard_normal((6, 3)).astype(np.float32)
    want = x.copy()
    ufunc.at(want, idx, v)
    np.testing.assert_allclose(scatter(prim, x, idx[:, None], v, ROW_DN), want, rtol=1e-6)


def test_scatter_add_integers_wrap_and_1d() -> None:
    x = np.array([2**31 - 1, 0, 5], np.int32)
    idx = np.array([[0], [0], [2]], np.int32)
    dn = ScatterDimensionNumbers(
        update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    out = scatter(scatter_add_p, x, idx, np.array([1, 1, -5], np.int32), dn)
    np.testing.assert_array_equal(out, np.array([-(2**31) + 1, 0, 0], np.int32))


def test_scatter_set_last_update_wins_and_drops_out_of_bounds() -> None:
    x = np.zeros((4, 2), np.float32)
    idx = np.array([[2], [7], [2], [-1], [0], [2]], np.int32)
    v = np.arange(12, dtype=np.float32).reshape(6, 2)
    out = scatter(scatter_p, x, idx, v, ROW_DN)  # FILL_OR_DROP: rows 7 and -1 are dropped
    np.testing.assert_array_equal(out, [[8, 9], [0, 0], [10, 11], [0, 0]])
    out = scatter(scatter_p, x, idx, v, ROW_DN, PROMISE)
    np.testing.assert_array_equal(out, [[8, 9], [0, 0], [10, 11], [0, 0]])
    out = scatter(scatter_add_p, x, idx, v, ROW_DN, CLIP)  # 7 -> 3, -1 -> 0
    np.testing.assert_array_equal(out, [[6 + 8, 7 + 9], [0, 0], [0 + 4 + 10, 1 + 5 + 11], [2, 3]])


def test_scatter_window_partly_out_of_bounds_is_dropped() -> None:
    x = np.zeros(5, np.float32)
    dn = ScatterDimensionNumbers(
        update_window_dims=(1,), inserted_window_dims=(), scatter_dims_to_operand_dims=(0,)
    )
    out = scatter(scatter_add_p, x, np.array([[3], [1]], np.int32), np.ones((2, 3), np.float32), dn)
    np.testing.assert_array_equal(out, [0, 1, 1, 1, 0])
    out = scatter(scatter_add_p, x, np.array([[3], [1]], np.int32), np.ones((2, 3), np.float32), dn, CLIP)
    np.testing.assert_array_equal(out, [0, 1, 2, 2, 1])


def test_scatter_min_max_propagate_nan() -> None:
    x = np.array([1.0, 2.0], np.float32)
    idx = np.array([[0], [1]], np.int32)
    dn = ScatterDimensionNumbers(
        update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    v = np.array([np.nan, 5.0], np.float32)
    np.testing.assert_array_equal(scatter(scatter_min_p, x, idx, v, dn), [np.nan, 2.0])
    np.testing.assert_array_equal(scatter(scatter_max_p, x, idx, v, dn), [np.nan, 5.0])


# ---------------------------------------------------------------------------------------------------
# Modes, printing, binding, errors
# ---------------------------------------------------------------------------------------------------


def test_mode_from_any() -> None:
    assert GatherScatterMode.from_any(None) is FILL
    assert GatherScatterMode.from_any("fill") is FILL
    assert GatherScatterMode.from_any("drop") is FILL
    assert GatherScatterMode.from_any("clip") is CLIP
    assert GatherScatterMode.from_any("promise_in_bounds") is PROMISE
    assert GatherScatterMode.from_any(CLIP) is CLIP
    with pytest.raises(ValueError, match="Unknown gather/scatter mode"):
        GatherScatterMode.from_any("wrap")
    assert str(CLIP) == "GatherScatterMode.CLIP"


def test_jaxpr_prints_like_jax() -> None:
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))

    def f(x, i, v):
        g = gather_p.bind(
            x,
            i,
            dimension_numbers=dn,
            slice_sizes=(1, 4),
            indices_are_sorted=False,
            unique_indices=False,
            mode=PROMISE,
            fill_value=None,
        )
        return scatter_add_p.bind(
            x,
            i,
            v,
            dimension_numbers=ROW_DN,
            indices_are_sorted=False,
            unique_indices=False,
            mode=FILL,
            update_jaxpr=None,
            update_consts=(),
        ), g

    text = str(
        make_jaxpr(f)(
            Array(np.ones((3, 4), np.float32)),
            Array(np.zeros((5, 1), np.int32)),
            Array(np.ones((5, 4), np.float32)),
        )
    )
    assert (
        "dimension_numbers=GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), "
        "start_index_map=(0,), operand_batching_dims=(), start_indices_batching_dims=())"
    ) in text
    assert "d:f32[5,4] = gather[" in text
    assert "mode=GatherScatterMode.PROMISE_IN_BOUNDS" in text
    assert "slice_sizes=(1, 4)" in text
    assert "= scatter-add[" in text
    assert (
        "ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,), "
        "scatter_dims_to_operand_dims=(0,), operand_batching_dims=(), scatter_indices_batching_dims=())"
    ) in text


def test_eager_bind_keeps_operand_weak_type() -> None:
    x = Array(np.arange(4, dtype=np.float32), weak_type=True)
    dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,))
    out = gather_p.bind(
        x,
        Array(np.array([[1], [3]], np.int32)),
        dimension_numbers=dn,
        slice_sizes=(1,),
        indices_are_sorted=False,
        unique_indices=False,
        mode=CLIP,
        fill_value=None,
    )
    assert out.weak_type
    np.testing.assert_array_equal(np.asarray(out), [1, 3])


def _gather_aval(operand_shape, indices_shape, dn, slice_sizes, dtype=np.float32, index_dtype=np.int32):
    return gather_p.abstract_eval(
        ShapedArray(operand_shape, dtype),
        ShapedArray(indices_shape, index_dtype),
        dimension_numbers=dn,
        slice_sizes=slice_sizes,
        indices_are_sorted=False,
        unique_indices=False,
        mode=CLIP,
        fill_value=None,
    )


def test_gather_errors() -> None:
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
    with pytest.raises(ShapeDtypeError, match="gather: indices must have an integer dtype"):
        _gather_aval((3, 4), (2, 1), dn, (1, 4), index_dtype=np.float32)
    with pytest.raises(ShapeError, match="start_index_map=.* has 1 entries"):
        _gather_aval((3, 4), (2, 2), dn, (1, 4))
    with pytest.raises(ShapeError, match=r"slice_sizes\[1\]=5 must be in \[0, 4\]"):
        _gather_aval((3, 4), (2, 1), dn, (1, 5))
    # Slices larger than the operand only when there are no index vectors (nothing is read), as in jax.
    assert _gather_aval((0, 4), (0, 1), dn, (1, 5)) == ShapedArray((0, 5), np.float32)
    with pytest.raises(ShapeError, match=r"slice_sizes\[0\]=1 must be in \[0, 0\]"):
        _gather_aval((0, 4), (2, 1), dn, (1, 4))
    with pytest.raises(ShapeError, match="slice size <= 1"):
        _gather_aval((3, 4), (2, 1), dn, (2, 4))
    with pytest.raises(ShapeError, match="offset_dims"):
        _gather_aval((3, 4), (2, 1), GatherDimensionNumbers((0, 1), (0,), (0,)), (1, 4))
    with pytest.raises(ShapeError, match="must be sorted"):
        _gather_aval((3, 4, 2), (2, 1), GatherDimensionNumbers((2, 1), (0,), (0,)), (1, 4, 2))
    with pytest.raises(ShapeError, match="batching dims must have equal sizes"):
        _gather_aval((3, 4), (2, 1), GatherDimensionNumbers((1,), (), (1,), (0,), (0,)), (1, 1))
    with pytest.raises(ShapeError, match="rank >= 1"):
        _gather_aval((3,), (), GatherDimensionNumbers((), (0,), ()), (1,))


def test_scatter_errors() -> None:
    def aval(operand, indices, updates, dn=ROW_DN, dtype=np.float32, udtype=np.float32):
        return scatter_add_p.abstract_eval(
            ShapedArray(operand, dtype),
            ShapedArray(indices, np.int32),
            ShapedArray(updates, udtype),
            dimension_numbers=dn,
            indices_are_sorted=False,
            unique_indices=False,
            mode=FILL,
            update_jaxpr=None,
            update_consts=(),
        )

    assert aval((5, 3), (4, 1), (4, 3)) == ShapedArray((5, 3), np.float32)
    with pytest.raises(ShapeDtypeError, match="scatter-add: updates f16.* must have the operand's dtype"):
        aval((5, 3), (4, 1), (4, 3), udtype=np.float16)
    with pytest.raises(ShapeError, match="must equal the batch dims of indices"):
        aval((5, 3), (4, 1), (2, 3))
    with pytest.raises(ShapeError, match="larger than operand"):
        aval((5, 3), (4, 1), (4, 4))
    assert aval((5, 3), (0, 1), (0, 4)) == ShapedArray((5, 3), np.float32)  # no index vectors: no writes
    with pytest.raises(ShapeError, match="must have rank 2"):
        aval((5, 3), (4, 1), (4, 3, 1))
