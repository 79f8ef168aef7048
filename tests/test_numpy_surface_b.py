"""The jax.numpy surface, part B: NaN-aware and masked reductions, order statistics, sorting and searching,
data-dependent shapes (``nonzero``, ``unique``, ``bincount``), ``x.at[]`` updates and DLPack.

Values are checked against NumPy; dtypes and the places where jax.numpy differs from NumPy against facts
recorded from JAX 0.10 (``jax`` itself is not imported). Transformations: staged (``make_jaxpr`` +
``eval_jaxpr``) equals eager, ``grad`` equals finite differences, a few ``vmap`` checks.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import SETTINGS, assert_same, run_all_ways, shapes

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core.errors import ConcretizationTypeError, NonConcreteBooleanIndexError
from functorch_lite.test_util import check_grads

A = fnp.asarray
NAN = np.nan


def quiet(fn, *args, **kwargs):
    """NumPy's reference result, with its all-NaN / empty-slice warnings silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def close(got, want, rtol=2e-5, atol=2e-5, dtype=None):
    """``got`` matches ``want`` in shape, NaN positions and value (within tolerance); dtype is ``dtype``
    (default: ``want``'s)."""
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.dtype == np.dtype(dtype or want.dtype), (got.dtype, dtype or want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind == "f" or got.dtype.kind == "f":
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)


_with_nans = st.one_of(st.floats(-8, 8, width=32), st.just(np.float32(np.nan)))
_ties = st.sampled_from([np.float32(v) for v in (-2.0, -0.0, 0.0, 1.0, 1.5, 3.0, np.nan)])


@st.composite
def array_and_axis(draw, elements=_with_nans, min_rank=0, min_side=0, dtype=np.float32):
    shape = draw(shapes(min_rank, 3, min_side, 4))
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    ndim = len(shape)
    choices = [st.none()]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
        choices.append(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple))
    axis = draw(st.one_of(*choices))
    return x, axis


def _reduced_size(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


# ---------------------------------------------------------------------------------------------------
# NaN-aware reductions
# ---------------------------------------------------------------------------------------------------

NAN_REDUCTIONS = {
    "nansum": (fnp.nansum, np.nansum),
    "nanprod": (fnp.nanprod, np.nanprod),
    "nanmean": (fnp.nanmean, np.nanmean),
    "nanvar": (fnp.nanvar, np.nanvar),
    "nanstd": (fnp.nanstd, np.nanstd),
    "nanmax": (fnp.nanmax, np.nanmax),
    "nanmin": (fnp.nanmin, np.nanmin),
}


@pytest.mark.parametrize("name", sorted(NAN_REDUCTIONS))
@SETTINGS
@given(data=array_and_axis(), keepdims=st.booleans())
def test_nan_reductions_match_numpy(name, data, keepdims):
    x, axis = data
    ours, theirs = NAN_REDUCTIONS[name]
    if name in ("nanmax", "nanmin") and _reduced_size(x.shape, axis) == 0:
        with pytest.raises(ValueError):
            ours(A(x), axis=axis, keepdims=keepdims)
        return
    want = quiet(theirs, x.astype(np.float64), axis=axis, keepdims=keepdims)
    got = ours(A(x), axis=axis, keepdims=keepdims)
    close(got, np.asarray(want).astype(np.float32), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["nanargmax", "nanargmin"])
@SETTINGS
@given(data=array_and_axis(min_rank=1, min_side=1), keepdims=st.booleans())
def test_nanargmax_nanargmin(name, data, keepdims):
    x, axis = data
    if isinstance(axis, tuple):
        axis = axis[0] if axis else None
    got = np.asarray(getattr(fnp, name)(A(x), axis=axis, keepdims=keepdims))
    assert got.dtype == np.int32
    # NumPy raises on an all-NaN slice; jax.numpy (and we) return -1 there.
    flat = x.reshape(-1) if axis is None else np.moveaxis(x, axis, -1)
    all_nan = np.all(np.isnan(flat), axis=-1)
    safe = np.where(np.isnan(flat), -np.inf if name == "nanargmax" else np.inf, flat)
    want = np.where(all_nan, -1, getattr(np, name[3:])(safe, axis=-1))
    if keepdims:
        want = np.reshape(want, [1] * x.ndim) if axis is None else np.expand_dims(want, axis)
    np.testing.assert_array_equal(got, want)


@SETTINGS
@given(data=array_and_axis())
def test_nancumsum_nancumprod(data):
    x, axis = data
    axis = axis if isinstance(axis, int) else None
    if x.ndim == 0 and axis is not None:
        axis = None
    close(fnp.nancumsum(A(x), axis=axis), np.nancumsum(x, axis=axis), rtol=1e-5, atol=1e-4)
    close(
        fnp.nancumprod(A(x), axis=axis),
        np.nancumprod(x.astype(np.float64), axis=axis).astype(np.float32),
        rtol=1e-4,
        atol=1e-4,
    )


# ---------------------------------------------------------------------------------------------------
# where= masks, initial=, and the other reductions
# ---------------------------------------------------------------------------------------------------


@st.composite
def masked_array(draw):
    x, axis = draw(array_and_axis(elements=st.floats(-8, 8, width=32)))
    mask = draw(hnp.arrays(np.bool_, x.shape))
    return x, mask, axis


@SETTINGS
@given(data=masked_array(), keepdims=st.booleans())
def test_where_masks_match_numpy(data, keepdims):
    x, mask, axis = data
    kw = dict(axis=axis, keepdims=keepdims, where=mask)
    close(fnp.sum(A(x), **kw), np.sum(x, **kw), rtol=1e-5, atol=1e-4)
    close(fnp.prod(A(x), **kw), np.prod(x.astype(np.float64), **kw).astype(np.float32), rtol=1e-4)
    close(fnp.max(A(x), initial=-100.0, **kw), np.max(x, initial=-100.0, **kw))
    close(fnp.min(A(x), initial=100.0, **kw), np.min(x, initial=100.0, **kw))
    assert_same(fnp.all(A(x) > 0, **kw), np.all(x > 0, **kw))
    assert_same(fnp.any(A(x) > 0, **kw), np.any(x > 0, **kw))
    close(
        fnp.mean(A(x), **kw),
        quiet(np.mean, x.astype(np.float64), **kw).astype(np.float32),
        rtol=1e-5,
        atol=1e-5,
    )
    want_var = quiet(np.var, x.astype(np.float64), ddof=1, **kw)
    close(fnp.var(A(x), ddof=1, **kw), want_var.astype(np.float32), rtol=1e-4, atol=1e-4)
    close(
        fnp.std(A(x), **kw),
        quiet(np.std, x.astype(np.float64), **kw).astype(np.float32),
        rtol=1e-4,
        atol=1e-4,
    )


@SETTINGS
@given(data=array_and_axis(elements=st.floats(-8, 8, width=32)), keepdims=st.booleans())
def test_ptp_count_nonzero_average(data, keepdims):
    x, axis = data
    x = np.round(x)  # zeros for count_nonzero
    if _reduced_size(x.shape, axis):
        close(fnp.ptp(A(x), axis=axis, keepdims=keepdims), np.ptp(x, axis=axis, keepdims=keepdims))
    close(
        fnp.count_nonzero(A(x), axis=axis, keepdims=keepdims),
        np.count_nonzero(x, axis=axis, keepdims=keepdims).astype(np.int32),
    )
    if x.size == 0 or _reduced_size(x.shape, axis) == 0:
        return
    w = np.abs(x) + 1
    avg, total = fnp.average(A(x), axis=axis, weights=A(w), returned=True, keepdims=keepdims)
    want_avg, want_total = quiet(
        np.average, x.astype(np.float64), axis=axis, weights=w, returned=True, keepdims=keepdims
    )
    close(avg, np.asarray(want_avg, np.float32), rtol=1e-5, atol=1e-5)
    close(total, np.asarray(want_total, np.float32), rtol=1e-5, atol=1e-5)


def test_average_1d_weights_and_errors():
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    w = np.array([1.0, 2.0, 0.5, 4.0], np.float32)
    close(fnp.average(A(x), axis=1, weights=A(w)), np.average(x, axis=1, weights=w).astype(np.float32))
    close(fnp.average(A(x), axis=-1, weights=A(w)), np.average(x, axis=-1, weights=w).astype(np.float32))
    # JAX facts: unweighted returned=True gives the element count; ints average in float32.
    avg, count = fnp.average(fnp.arange(4), returned=True)
    assert_same(avg, np.float32(1.5))
    assert_same(count, np.float32(4.0))
    with pytest.raises(TypeError):
        fnp.average(A(x), weights=A(w))
    with pytest.raises(ValueError):
        fnp.average(A(x), axis=0, weights=A(w))


@pytest.mark.parametrize(
    "fn, dtype, want",
    [
        (fnp.nansum, "int8", "int32"),
        (fnp.nanprod, "uint8", "uint32"),
        (fnp.nansum, "bool", "int32"),
        (fnp.nanmean, "int32", "float32"),
        (fnp.nanmax, "int32", "int32"),
        (fnp.nanvar, "int16", "float32"),
        (fnp.var, "uint8", "float32"),
        (fnp.var, "float16", "float16"),
        (fnp.median, "int32", "float32"),
        (fnp.median, "float16", "float16"),
        (lambda x: fnp.quantile(x, 0.5, method="lower"), "int32", "float32"),
        (fnp.nancumsum, "int8", "int8"),
        (fnp.cumsum, "uint8", "uint8"),
        (fnp.cumprod, "int16", "int16"),
        (fnp.cumsum, "bool", "int32"),
        (fnp.ptp, "uint8", "uint8"),
        (fnp.count_nonzero, "float32", "int32"),
        (fnp.nanargmax, "float32", "int32"),
        (fnp.average, "int32", "float32"),
        (lambda x: fnp.max(x, initial=1.5), "int32", "int32"),
    ],
)
def test_jax_result_dtypes(fn, dtype, want):
    assert fn(A(np.arange(1, 4).astype(dtype))).dtype == np.dtype(want)


def test_jax_facts_for_edge_cases():
    # Values recorded from jax.numpy 0.10.
    assert_same(fnp.nanargmax(A([[NAN, NAN], [1.0, 2.0]]), axis=1), np.array([-1, 1], np.int32))
    assert_same(fnp.nanargmin(A([NAN, NAN])), np.int32(-1))
    assert_same(fnp.nanvar(A([1.0, NAN]), ddof=1), np.float32(NAN))
    assert_same(fnp.nanvar(A([1.0, 2.0, NAN]), ddof=1), np.float32(0.5))
    assert_same(fnp.var(A([1.0]), ddof=1), np.float32(NAN))
    assert_same(fnp.var(A([1.0]), ddof=2), np.float32(NAN))
    assert_same(fnp.var(A([1.0, 3.0]), correction=1), np.float32(2.0))
    assert_same(fnp.mean(fnp.arange(4.0), where=A([False] * 4)), np.float32(NAN))
    assert_same(fnp.nanmean(A([NAN])), np.float32(NAN))
    assert_same(fnp.nanmax(A([NAN, NAN])), np.float32(NAN))
    assert_same(fnp.nanmax(A([NAN, 1.0]), where=A([True, False]), initial=0.0), np.float32(0.0))
    assert_same(fnp.max(fnp.zeros((0, 3)), axis=0, initial=2.0), np.full(3, 2.0, np.float32))
    assert_same(
        fnp.min(A([[0.0, 1.0], [2.0, 3.0]]), axis=1, keepdims=True, where=A([True, False]), initial=10.0),
        np.array([[0.0], [2.0]], np.float32),
    )
    assert_same(fnp.all(A([0, 1]), where=A([False, True])), np.bool_(True))
    assert_same(fnp.any(A([1, 0]), where=A([False, True])), np.bool_(False))
    with pytest.raises(ValueError, match="initial"):
        fnp.max(A([1.0, 2.0]), where=A([True, False]))
    with pytest.raises(ValueError, match="zero-size"):
        fnp.min(fnp.zeros((0, 3)), axis=0)
    with pytest.raises(ValueError, match="ddof and correction"):
        fnp.var(A([1.0]), ddof=1, correction=1)
    assert_same(fnp.sum(A([1, 2]), initial=10), np.int32(13))
    assert_same(fnp.argmax(A([[1, 5], [7, 2]]), keepdims=True), np.array([[2]], np.int32))


# ---------------------------------------------------------------------------------------------------
# Quantiles and medians
# ---------------------------------------------------------------------------------------------------

DYADIC_Q = [0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0]  # q * (n - 1) is exact in float32


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "midpoint"])
@SETTINGS
@given(
    data=array_and_axis(min_side=1),
    q=st.lists(st.sampled_from(DYADIC_Q), min_size=0, max_size=3),
    keepdims=st.booleans(),
    scalar_q=st.booleans(),
)
def test_quantile_matches_numpy(method, data, q, keepdims, scalar_q):
    x, axis = data
    if x.size == 0:
        return
    q = np.float32(q[0] if q else 0.5) if scalar_q else np.array(q, np.float32)
    for ours, theirs in ((fnp.quantile, np.quantile), (fnp.nanquantile, np.nanquantile)):
        want = quiet(
            theirs, x.astype(np.float64), q.astype(np.float64), axis=axis, method=method, keepdims=keepdims
        )
        got = ours(A(x), A(q), axis=axis, method=method, keepdims=keepdims)
        close(got, np.asarray(want, np.float32), rtol=1e-5, atol=1e-5)
    got = fnp.percentile(A(x), A(q * 100), axis=axis, method=method, keepdims=keepdims)
    want = quiet(
        np.percentile,
        x.astype(np.float64),
        q.astype(np.float64) * 100,
        axis=axis,
        method=method,
        keepdims=keepdims,
    )
    close(got, np.asarray(want, np.float32), rtol=1e-5, atol=1e-5)


@SETTINGS
@given(data=array_and_axis(min_side=1), keepdims=st.booleans())
def test_median_nanmedian_match_numpy(data, keepdims):
    x, axis = data
    close(
        fnp.median(A(x), axis=axis, keepdims=keepdims),
        quiet(np.median, x.astype(np.float64), axis=axis, keepdims=keepdims).astype(np.float32),
    )
    close(
        fnp.nanmedian(A(x), axis=axis, keepdims=keepdims),
        quiet(np.nanmedian, x.astype(np.float64), axis=axis, keepdims=keepdims).astype(np.float32),
    )


def test_quantile_jax_facts():
    qs = A([0.125, 0.375, 0.5, 0.625, 0.875])
    # 'nearest' sends a tie (fraction 0.5) to the lower neighbour in jax.numpy (NumPy rounds half to even).
    assert_same(fnp.quantile(fnp.arange(5), qs, method="nearest"), np.array([0, 1, 2, 2, 3], np.float32))
    assert_same(
        fnp.quantile(fnp.arange(4.0), A([1 / 6, 0.5, 5 / 6]), method="nearest"),
        np.array([0, 1, 2], np.float32),
    )
    assert_same(fnp.quantile(fnp.arange(5), qs, method="lower"), np.array([0, 1, 2, 2, 3], np.float32))
    assert_same(fnp.quantile(A([1.0, NAN, 2.0]), 0.5), np.float32(NAN))
    assert_same(fnp.nanquantile(A([1.0, NAN, 2.0]), 0.5), np.float32(1.5))
    assert_same(fnp.nanquantile(A([NAN, NAN]), 0.5), np.float32(NAN))
    assert_same(fnp.quantile(fnp.arange(5.0), 1.5), np.float32(4.0))  # q outside [0, 1] clamps
    assert fnp.quantile(fnp.ones((2, 3, 4)), A([0.1, 0.2]), axis=(0, 2), keepdims=True).shape == (2, 1, 3, 1)
    assert fnp.quantile(fnp.ones((2, 3, 4)), A([0.1, 0.2]), axis=1).shape == (2, 2, 4)
    assert_same(fnp.median(A(3.0)), np.float32(3.0))
    assert_same(fnp.median(fnp.zeros((0,))), np.float32(NAN))
    with pytest.raises(ValueError, match="method"):
        fnp.quantile(fnp.arange(3.0), 0.5, method="hazen")


# ---------------------------------------------------------------------------------------------------
# Sorting
# ---------------------------------------------------------------------------------------------------


def _stable_descending_argsort(x, axis):
    n = x.shape[axis]
    rev = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return np.flip(n - 1 - rev, axis)


@SETTINGS
@given(data=array_and_axis(elements=_ties, min_rank=1), descending=st.booleans())
def test_sort_argsort_match_numpy(data, descending):
    x, axis = data
    axis = axis if isinstance(axis, int) else None
    flat = x.reshape(-1) if axis is None else x
    ax = -1 if axis is None else axis
    want = np.sort(flat, axis=ax, kind="stable")
    want_idx = np.argsort(flat, axis=ax, kind="stable").astype(np.int32)
    if descending:
        want = np.flip(want, ax)
        want_idx = _stable_descending_argsort(flat, ax).astype(np.int32)
    assert_same(fnp.sort(A(x), axis=axis, descending=descending), want)
    assert_same(fnp.argsort(A(x), axis=axis, descending=descending), want_idx)
    assert_same(A(x).sort(axis=ax if axis is not None else None, descending=descending), want)


def test_sort_jax_facts():
    assert_same(fnp.sort(A([1.0, NAN, 3.0, -1.0]), descending=True), np.array([NAN, 3, 1, -1], np.float32))
    assert_same(fnp.argsort(A([1, 2, 1, 2]), descending=True), np.array([1, 3, 0, 2], np.int32))
    assert_same(fnp.sort(A([[3, 1], [2, 0]]), axis=None), np.array([0, 1, 2, 3], np.int32))
    assert_same(fnp.lexsort((A([1, 2, 3, 4]), A([1, 1, 0, 0]))), np.array([2, 3, 0, 1], np.int32))
    with pytest.raises(ValueError):
        fnp.sort(A(3.0))
    with pytest.raises(ValueError):
        fnp.argsort(A(3.0))


@SETTINGS
@given(
    keys=st.integers(1, 3).flatmap(
        lambda k: st.tuples(*[hnp.arrays(np.int32, (2, 5), elements=st.integers(0, 2))] * k)
    ),
    axis=st.sampled_from([0, 1, -1]),
)
def test_lexsort_matches_numpy(keys, axis):
    assert_same(fnp.lexsort([A(k) for k in keys], axis=axis), np.lexsort(keys, axis=axis).astype(np.int32))


@SETTINGS
@given(
    data=array_and_axis(elements=st.integers(-5, 5), min_rank=1, min_side=1, dtype=np.int32),
    k=st.integers(0, 100),
)
def test_partition_and_argpartition(data, k):
    x, axis = data
    axis = axis if isinstance(axis, int) else -1
    kth = k % x.shape[axis]
    part = np.asarray(fnp.partition(A(x), kth, axis=axis))
    idx = np.asarray(fnp.argpartition(A(x), kth, axis=axis))
    pivot = np.take(np.sort(x, axis=axis), [kth], axis=axis)
    for p in (part, np.take_along_axis(x, idx, axis=axis)):
        assert np.array_equal(np.take(p, [kth], axis=axis), pivot)
        assert np.all(np.take(p, range(kth), axis=axis) <= pivot)
        assert np.all(np.take(p, range(kth + 1, x.shape[axis]), axis=axis) >= pivot)
    with pytest.raises(ValueError):
        fnp.partition(A(x), x.shape[axis], axis=axis)


# ---------------------------------------------------------------------------------------------------
# searchsorted / digitize
# ---------------------------------------------------------------------------------------------------


@SETTINGS
@given(
    a=hnp.arrays(np.float32, st.integers(0, 9), elements=_ties),
    v=hnp.arrays(np.float32, shapes(0, 2, 0, 4), elements=_ties),
    side=st.sampled_from(["left", "right"]),
)
def test_searchsorted_matches_numpy(a, v, side):
    sorted_a = np.sort(a)
    want = np.searchsorted(sorted_a, v, side=side).astype(np.int32)
    assert_same(fnp.searchsorted(A(sorted_a), A(v), side=side), want)
    sorter = np.argsort(a, kind="stable")
    assert_same(fnp.searchsorted(A(a), A(v), side=side, sorter=A(sorter.astype(np.int32))), want)


def test_searchsorted_jax_facts():
    a = A([1.0, 2.0, 2.0, NAN])
    v = A([2.0, NAN, 0.0, 5.0])
    assert_same(fnp.searchsorted(a, v), np.array([1, 3, 0, 3], np.int32))
    assert_same(fnp.searchsorted(a, v, side="right"), np.array([3, 4, 0, 3], np.int32))
    assert_same(fnp.searchsorted(fnp.arange(3), 1.5), np.int32(2))  # int a, float v: promoted
    assert_same(fnp.searchsorted(A([-0.0, 0.0]), 0.0), np.int32(0))
    assert_same(A([1, 3, 5]).searchsorted(A([3, 4])), np.array([1, 2], np.int32))
    with pytest.raises(ValueError):
        fnp.searchsorted(fnp.ones((2, 2)), 1.0)


@SETTINGS
@given(
    x=hnp.arrays(np.float32, shapes(0, 2, 0, 5), elements=st.floats(-4, 4, width=32)),
    bins=hnp.arrays(np.float32, st.integers(0, 5), elements=st.integers(-3, 3).map(np.float32)),
    right=st.booleans(),
    decreasing=st.booleans(),
)
def test_digitize_matches_numpy(x, bins, right, decreasing):
    bins = np.sort(bins)[::-1].copy() if decreasing else np.sort(bins)
    want = np.digitize(x, bins, right=right).astype(np.int32)
    assert_same(fnp.digitize(A(x), A(bins), right=right), want)


# ---------------------------------------------------------------------------------------------------
# nonzero / argwhere / flatnonzero / unique / bincount
# ---------------------------------------------------------------------------------------------------


def _padded(values, size, fill):
    values = np.asarray(values)[:size]
    return np.concatenate([values, np.full(size - values.shape[0], fill, values.dtype)])


@SETTINGS
@given(
    x=hnp.arrays(np.int32, shapes(1, 3, 0, 4), elements=st.integers(0, 2)),
    size=st.integers(0, 8),
    fill=st.integers(-3, 3),
)
def test_nonzero_argwhere_flatnonzero(x, size, fill):
    want = [i.astype(np.int32) for i in np.nonzero(x)]
    got = fnp.nonzero(A(x))
    assert len(got) == x.ndim
    for g, w in zip(got, want):
        assert_same(g, w)
    for g, w in zip(fnp.nonzero(A(x), size=size, fill_value=fill), want):
        assert_same(g, _padded(w, size, fill))
    assert_same(fnp.argwhere(A(x)), np.argwhere(x).astype(np.int32))
    assert_same(fnp.flatnonzero(A(x)), np.flatnonzero(x).astype(np.int32))
    assert_same(
        fnp.flatnonzero(A(x), size=size, fill_value=fill),
        _padded(np.flatnonzero(x).astype(np.int32), size, fill),
    )
    assert_same(A(x).nonzero(size=size)[0], _padded(want[0], size, 0))


def test_nonzero_jax_facts():
    got = fnp.nonzero(A([[0, 1], [2, 0]]), size=3, fill_value=(7, 8))
    assert_same(got[0], np.array([0, 1, 7], np.int32))
    assert_same(got[1], np.array([1, 0, 8], np.int32))
    assert fnp.argwhere(A(1)).shape == (1, 0)
    assert fnp.argwhere(A(0)).shape == (0, 0)
    assert_same(fnp.argwhere(A([0, 3]), size=2, fill_value=9), np.array([[1], [9]], np.int32))
    assert_same(fnp.nonzero(A([0.0, NAN, -0.0]))[0], np.array([1], np.int32))
    with pytest.raises(ValueError, match="0d"):
        fnp.nonzero(A(1))


@SETTINGS
@given(x=hnp.arrays(np.float32, shapes(0, 2, 0, 5), elements=_ties), equal_nan=st.booleans())
def test_unique_matches_numpy(x, equal_nan):
    values, index, inverse, counts = fnp.unique(
        A(x), return_index=True, return_inverse=True, return_counts=True, equal_nan=equal_nan
    )
    w_values, w_index, w_inverse, w_counts = np.unique(
        x, return_index=True, return_inverse=True, return_counts=True, equal_nan=equal_nan
    )
    assert_same(values, w_values)
    assert_same(index, w_index.astype(np.int32))
    assert_same(inverse, w_inverse.reshape(x.shape).astype(np.int32))
    assert_same(counts, w_counts.astype(np.int32))
    assert_same(fnp.unique(A(x), equal_nan=equal_nan), w_values)
    if x.size:
        size = len(w_values) + 2
        padded, p_index, p_counts = fnp.unique(
            A(x), return_index=True, return_counts=True, size=size, equal_nan=equal_nan
        )
        assert_same(padded, _padded(w_values, size, w_values[0]))
        assert_same(p_index, _padded(w_index.astype(np.int32), size, w_index[0]))
        assert_same(p_counts, _padded(w_counts.astype(np.int32), size, 0))
        assert_same(fnp.unique(A(x), size=1, fill_value=5.0, equal_nan=equal_nan), w_values[:1])


def test_unique_jax_facts():
    got = fnp.unique(A([5, 3, 3]), size=4, return_index=True, return_inverse=True, return_counts=True)
    want = ([3, 5, 3, 3], [1, 0, 1, 1], [1, 0, 0], [2, 1, 0, 0])
    for g, w in zip(got, want):
        assert_same(g, np.array(w, np.int32))
    assert_same(fnp.unique(A([5, 3, 3]), size=4, fill_value=-7), np.array([3, 5, -7, -7], np.int32))
    assert_same(fnp.unique(A([NAN, 1.0, NAN, -0.0, 0.0])), np.array([-0.0, 1.0, NAN], np.float32))
    assert_same(fnp.unique(A(5)), np.array([5], np.int32))
    assert_same(fnp.unique(A([], dtype=fnp.int32), size=2, fill_value=4), np.array([4, 4], np.int32))
    with pytest.raises(ValueError, match="fill_value"):
        fnp.unique(A([], dtype=fnp.int32), size=2)


@SETTINGS
@given(
    x=hnp.arrays(np.int32, st.integers(0, 8), elements=st.integers(0, 6)),
    minlength=st.integers(0, 9),
    weighted=st.booleans(),
)
def test_bincount_matches_numpy(x, minlength, weighted):
    w = np.linspace(0.5, 2.0, x.size).astype(np.float32) if weighted else None
    want = np.bincount(x, weights=w, minlength=minlength)
    got = fnp.bincount(A(x), weights=None if w is None else A(w), minlength=minlength)
    close(got, want.astype(np.float32 if weighted else np.int32), rtol=1e-6)
    got = fnp.bincount(A(x), length=4)
    close(got, np.bincount(x[x < 4], minlength=4).astype(np.int32))


def test_bincount_jax_facts():
    assert_same(fnp.bincount(A([0, 1, 1, 3, -1])), np.array([2, 2, 0, 1], np.int32))  # negatives count as 0
    assert_same(fnp.bincount(A([0, 5]), length=3), np.array([1, 0, 0], np.int32))  # too large: dropped
    assert fnp.bincount(A([0, 1]), weights=A(np.array([1, 2], np.int8))).dtype == np.int8
    assert_same(fnp.bincount(A([True, True])), np.array([0, 2], np.int32))
    assert_same(fnp.bincount(A([], dtype=fnp.int32)), np.zeros(0, np.int32))
    with pytest.raises(TypeError):
        fnp.bincount(A([1.0]))


@pytest.mark.parametrize(
    "fn, argument",
    [
        (lambda x: fnp.nonzero(x), "size"),
        (lambda x: fnp.argwhere(x), "size"),
        (lambda x: fnp.flatnonzero(x), "size"),
        (lambda x: fnp.unique(x), "size"),
        (lambda x: fnp.bincount(x), "length"),
    ],
)
def test_data_dependent_shapes_need_a_static_size_when_traced(fn, argument):
    with pytest.raises(ConcretizationTypeError, match=f"{argument}="):
        fl.make_jaxpr(fn)(A([0, 1, 1, 2]))


def test_data_dependent_shapes_staged_with_size():
    x = A([0, 3, 0, 2, 2])
    for fn in (
        lambda v: fnp.nonzero(v, size=3, fill_value=-1)[0],
        lambda v: fnp.argwhere(v, size=4),
        lambda v: fnp.flatnonzero(v, size=1),
        lambda v: fnp.unique(v, size=4),
        lambda v: fnp.unique(v, size=3, return_counts=True)[1],
        lambda v: fnp.unique(v, size=2, return_inverse=True)[1],
        lambda v: fnp.bincount(v, length=5),
        lambda v: fnp.bincount(v, weights=v * 2, length=3),
    ):
        run_all_ways(fn, x)
    # Under grad the primal is concrete, so size= is not needed.
    g = fl.grad(lambda v: v[fnp.nonzero(v > 0)].sum() * 2)(A([1.0, -1.0, 3.0]))
    assert_same(g, np.array([2.0, 0.0, 2.0], np.float32))


# ---------------------------------------------------------------------------------------------------
# Staging, grad and vmap of reductions and sorting
# ---------------------------------------------------------------------------------------------------


def test_reductions_and_sorting_staged_equal_eager():
    x = A(np.array([[3.0, NAN, 1.0, 2.0], [0.5, 4.0, -1.0, 2.0]], np.float32))
    mask = A(np.array([[True, False, True, True], [False, True, True, True]]))
    cases = [
        lambda v: fnp.nansum(v, axis=1),
        lambda v: fnp.nanmean(v, axis=0, keepdims=True),
        lambda v: fnp.nanstd(v),
        lambda v: fnp.nanmax(v, axis=-1),
        lambda v: fnp.nanargmin(v, axis=1),
        lambda v: fnp.median(v, axis=1),
        lambda v: fnp.nanmedian(v, axis=(0, 1)),
        lambda v: fnp.quantile(v, A([0.2, 0.9]), axis=0, method="nearest"),
        lambda v: fnp.nanpercentile(v, 30.0, axis=1, method="higher"),
        lambda v: fnp.max(v, axis=0, where=mask, initial=-1.0),
        lambda v: fnp.mean(v, axis=1, where=mask),
        lambda v: fnp.var(v, where=mask, ddof=1),
        lambda v: fnp.nancumsum(v, axis=1),
        lambda v: fnp.average(v, axis=1, weights=A([1.0, 2.0, 3.0, 4.0])),
        lambda v: fnp.ptp(v, axis=0),
        lambda v: fnp.count_nonzero(v, axis=1),
        lambda v: fnp.sort(v, axis=0, descending=True),
        lambda v: fnp.argsort(v, axis=1),
        lambda v: fnp.searchsorted(A([0.0, 1.0, 2.0, 3.0]), v),
        lambda v: fnp.digitize(v, A([3.0, 1.0, 0.0])),
    ]
    for fn in cases:
        run_all_ways(fn, x)


def test_grad_of_sort_median_quantile_and_nan_reductions():
    x = A(np.array([[0.3, -1.2, 2.5, 0.7], [1.1, 0.2, -0.4, 3.0]], np.float32))
    check_grads(lambda v: fnp.sort(v, axis=1, descending=True) * A([1.0, 2.0, 3.0, 4.0]), (x,), order=1)
    check_grads(lambda v: fnp.median(v, axis=1), (x,), order=1)
    check_grads(lambda v: fnp.quantile(v, A([0.3, 0.8])), (x,), order=1)
    check_grads(lambda v: fnp.nanvar(v, axis=0), (x,), order=1)
    check_grads(lambda v: fnp.mean(v, axis=1, where=A([True, False, True, True])), (x,), order=1)
    # NaNs get no gradient in the nan* reductions.
    g = fl.grad(lambda v: fnp.nanmean(v))(A([1.0, NAN, 3.0]))
    assert_same(g, np.array([0.5, 0.0, 0.5], np.float32))
    g = fl.grad(lambda v: fnp.nanmedian(v))(A([1.0, NAN, 3.0, 2.0]))
    assert_same(g, np.array([0.0, 0.0, 0.0, 1.0], np.float32))


def test_vmap_of_new_functions():
    x = np.array([[3.0, 1.0, 2.0, 5.0], [0.5, 4.0, -1.0, 2.0], [1.0, 1.0, 7.0, NAN]], np.float32)
    for fn in (
        fnp.median,
        fnp.nanmedian,
        fnp.nanmean,
        lambda v: fnp.sort(v, descending=True),
        lambda v: fnp.searchsorted(A([0.0, 1.0, 2.0]), v),
        lambda v: v.at[1].add(10.0),
    ):
        batched = np.asarray(fl.vmap(fn)(A(x)))
        looped = np.stack([np.asarray(fn(A(row))) for row in x])
        np.testing.assert_array_equal(batched, looped)


# ---------------------------------------------------------------------------------------------------
# x.at[...]
# ---------------------------------------------------------------------------------------------------

AT_UFUNCS = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}


def _reference_update(x, idx, values, op, mode="drop"):
    """NumPy's reference for ``x.at[idx].op(values)`` along axis 0 (repeated indices in order)."""
    out = x.copy()
    n = x.shape[0]
    idx = np.where(idx < 0, idx + n, idx)
    values = np.broadcast_to(values, idx.shape + x.shape[1:])
    if mode == "clip":
        idx = np.clip(idx, 0, n - 1)
    keep = (idx >= 0) & (idx < n)
    idx, values = idx[keep], values[keep]
    if op == "set":
        for i, v in zip(idx, values):
            out[i] = v
    else:
        AT_UFUNCS[op].at(out, idx, values)
    return out


@pytest.mark.parametrize("op", ["set", "add", "multiply", "min", "max"])
@SETTINGS
@given(n=st.integers(1, 5), m=st.integers(0, 3), data=st.data(), mode=st.sampled_from(["drop", "clip"]))
def test_at_repeated_and_out_of_bounds_indices(op, n, m, data, mode):
    shape = (n,) if m == 0 else (n, m)
    x = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-4, 4, width=32)))
    idx = data.draw(hnp.arrays(np.int32, st.integers(0, 6), elements=st.integers(-n - 2, n + 2)))
    values = data.draw(hnp.arrays(np.float32, idx.shape + shape[1:], elements=st.floats(-4, 4, width=32)))
    want = _reference_update(x, idx, values, op, mode)
    got = getattr(A(x).at[A(idx)], op)(A(values), mode=mode)
    close(got, want, rtol=1e-6, atol=1e-6)
    # A scalar update broadcasts; a Python list index works like an array.
    got = getattr(A(x).at[idx.tolist()], op)(2.0, mode=mode)
    close(got, _reference_update(x, idx, np.float32(2.0), op, mode), rtol=1e-6, atol=1e-6)


def _index_cases():
    mask34 = np.arange(12).reshape(3, 4) % 3 == 0
    return [
        1,
        -1,
        (),
        Ellipsis,
        slice(1, 3),
        slice(None, None, 2),
        slice(None, None, -1),
        slice(3, 0, -2),
        (slice(None), 1),
        (Ellipsis, 2),
        (None, 1),
        (1, None, slice(None, None, -2)),
        (0, slice(1, 3), -1),
        np.array([0, 2]),
        np.array([[2], [0]]),
        (np.array([0, 2]), slice(None), np.array([1, 3])),
        (slice(None), np.array([[0], [2]]), np.array([1, 3])),
        (0, slice(None), np.array([1, 2])),
        (np.array([1, -1]), 2),
        (slice(1, None), np.array([0, 3])),
        (Ellipsis, np.array([4, 0, 1])),
        mask34,
        (mask34, slice(None, None, 2)),
        (slice(None), slice(None), np.array([True, False, True, True, False])),
        (1, np.array([True, False, True, False])),
    ]


@pytest.mark.parametrize("index", _index_cases(), ids=lambda i: repr(i).replace(" ", "")[:40])
def test_at_index_forms_match_numpy(index):
    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    shape = x[index].shape
    values = (np.arange(int(np.prod(shape)), dtype=np.float32) + 100).reshape(shape)
    want = x.copy()
    want[index] = values
    assert_same(A(x).at[index].set(A(values)), want)
    want = x.copy()
    want[index] += values
    assert_same(A(x).at[index].add(A(values)), want)
    assert_same(A(x).at[index].get(), x[index])
    want = x.copy()
    want[index] = 7.0
    assert_same(A(x).at[index].set(7.0), want)
    # Staged, the general scatter/gather path runs (eagerly, basic indices take a direct NumPy path).
    staged = run_all_ways(lambda v: v.at[index].multiply(A(values)), A(x))
    want = x.copy()
    want[index] *= values
    assert_same(staged, want)
    assert_same(run_all_ways(lambda v: v.at[index].get(), A(x)), x[index])


def test_at_modes_and_jax_facts():
    z = fnp.zeros(5, fnp.int32)
    assert_same(z.at[7].set(3), np.zeros(5, np.int32))  # out of bounds: dropped
    assert_same(z.at[-6].set(3), np.zeros(5, np.int32))
    assert_same(z.at[7].set(3, mode="clip"), np.array([0, 0, 0, 0, 3], np.int32))
    assert_same(z.at[-7].set(3, mode="clip"), np.array([3, 0, 0, 0, 0], np.int32))
    assert_same(z.at[-1].set(3, wrap_negative_indices=False), np.zeros(5, np.int32))
    assert_same(z.at[1].set(1.7), np.array([0, 1, 0, 0, 0], np.int32))  # values take x's dtype
    assert_same(fnp.arange(5).at[7].get(), np.int32(4))  # reads clamp by default
    assert_same(fnp.arange(5).at[7].get(mode="fill", fill_value=-1), np.int32(-1))
    assert_same(fnp.arange(5.0).at[A([7, 1])].get(mode="fill"), np.array([NAN, 1.0], np.float32))
    y = fnp.arange(5.0)
    assert_same(y.at[A([1, 1])].divide(2.0), np.array([0, 0.25, 2, 3, 4], np.float32))
    assert_same(y.at[A([2, 2])].power(2.0), np.array([0, 1, 16, 3, 4], np.float32))
    assert_same(fnp.arange(5).at[1].divide(2), np.array([0, 0.5, 2, 3, 4], np.float32))
    assert_same(y.at[A([1, 1])].mul(3.0), np.array([0, 9, 2, 3, 4], np.float32))
    assert_same(y.at[A([1, 1, 2])].min(A([0.5, -3.0, 9.0])), np.array([0, -3, 2, 3, 4], np.float32))
    assert_same(y.at[A([1, 1, 2])].max(A([0.5, 7.0, 9.0])), np.array([0, 7, 9, 3, 4], np.float32))
    weak = A(2.0).at[()].set(3.0)
    assert weak.weak_type and float(weak) == 3.0
    assert not fnp.zeros(3).at[0].set(1).weak_type
    assert_same(fnp.zeros((2, 0)).at[0].set(1.0), np.zeros((2, 0), np.float32))
    assert_same(fnp.zeros(3).at[A([True, False, True])].set(A([1.0, 2.0])), np.array([1, 0, 2], np.float32))


def test_at_errors():
    x = fnp.zeros((3, 4))
    with pytest.raises(IndexError):
        x.at[1.5].set(0.0)
    with pytest.raises(IndexError):
        x.at[0, 0, 0].set(0.0)
    with pytest.raises(IndexError):
        x.at[A([0, 1]), A([0, 1, 2])].set(0.0)
    with pytest.raises(IndexError):
        x.at[np.ones(4, bool)].set(0.0)
    with pytest.raises(ValueError):
        x.at[0].set(fnp.ones((2, 4)))
    with pytest.raises(TypeError):
        x.at[0].set(1.0, bogus=True)
    with pytest.raises(NonConcreteBooleanIndexError):
        fl.make_jaxpr(lambda v: v.at[v > 0].set(0.0))(x)
    with pytest.raises(TypeError, match="immutable"):
        x[0] = 1.0


def test_at_staged_equals_eager_and_traced_indices():
    x = A(np.arange(12, dtype=np.float32).reshape(3, 4))
    idx = A(np.array([2, -1, 0, 2], np.int32))
    cases = [
        (lambda v, i: v.at[i].add(1.0), "scatter-add"),
        (lambda v, i: v.at[i, 1:3].set(v[0, :2]), "scatter"),
        (lambda v, i: v.at[:, i].multiply(2.0), "scatter-mul"),
        (lambda v, i: v.at[i[0], ::-1].min(5.0), "scatter-min"),
        (lambda v, i: v.at[i, i].max(A([1.0, 2.0, 3.0, 40.0])), "scatter-max"),
        (lambda v, i: v.at[None, i].get(), "gather"),
        (lambda v, i: v.at[i].get(mode="fill", fill_value=-1.0), "gather"),
        (lambda v, i: v.at[i].divide(2.0), "scatter-mul"),
    ]
    for fn, prim in cases:
        run_all_ways(fn, x, idx, primitive=prim)
    # One scatter per update.
    jaxpr = fl.make_jaxpr(lambda v, i: v.at[i, 1:].add(1.0))(x, idx).jaxpr
    assert [e.primitive.name for e in jaxpr.eqns].count("scatter-add") == 1


def test_grad_through_at_updates():
    x = A(np.array([0.5, -1.0, 2.0, 1.5], np.float32))
    v = A(np.array([0.3, -0.7, 1.1], np.float32))
    idx = A(np.array([0, 0, 2], np.int32))
    check_grads(lambda a, b: a.at[idx].set(b) * A([1.0, 2.0, 3.0, 4.0]), (x, v), order=1)
    check_grads(lambda a, b: a.at[idx].add(b) ** 2, (x, v), order=2)
    check_grads(lambda a, b: a.at[1:3].multiply(b[:2]), (x, v), order=1)
    check_grads(lambda a: a.at[idx].get() * a[3], (x,), order=1)
    # JAX fact: the overwritten update gets no gradient.
    f = lambda a: (a.at[A([0, 0, 1])].set(A([1.0, 2.0, 3.0]) * a[2]) ** 2).sum()
    assert_same(fl.grad(f)(fnp.arange(3.0)), np.array([0.0, 0.0, 56.0], np.float32))


# ---------------------------------------------------------------------------------------------------
# DLPack
# ---------------------------------------------------------------------------------------------------


class _DLPackOnly:
    """A producer that offers only ``__dlpack__`` (no ``__array__``)."""

    def __init__(self, value):
        self._value = value

    def __dlpack__(self, **kwargs):
        return self._value.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._value.__dlpack_device__()


class _ArrayOnly:
    def __init__(self, value):
        self._value = value

    def __array__(self, dtype=None, copy=None):
        return self._value


def test_dlpack_with_numpy():
    x = fnp.arange(6).reshape(2, 3)
    assert x.__dlpack_device__() == (1, 0)
    assert_same(np.from_dlpack(x), np.arange(6, dtype=np.int32).reshape(2, 3))
    assert_same(np.from_dlpack(A(2.5)), np.float32(2.5).reshape(()))
    assert_same(np.from_dlpack(fnp.broadcast_to(A(1.0), (3,))), np.ones(3, np.float32))  # a read-only view
    source = np.arange(4, dtype=np.float64)
    y = fnp.from_dlpack(source)
    source[0] = 100.0  # from_dlpack copied: the Array does not change
    assert_same(y, np.arange(4, dtype=np.float32))  # float64 canonicalised (x64 off)
    assert_same(fnp.from_dlpack(x), np.asarray(x))
    assert_same(fnp.asarray(_DLPackOnly(np.array([1, 2], np.int16))), np.array([1, 2], np.int16))
    assert_same(fnp.asarray(_ArrayOnly(np.array([True, False]))), np.array([True, False]))
    with pytest.raises(TypeError):
        fnp.from_dlpack([1, 2])


def test_dlpack_with_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    assert_same(fnp.from_dlpack(t), np.arange(6, dtype=np.float32).reshape(2, 3))
    assert_same(fnp.asarray(t), np.arange(6, dtype=np.float32).reshape(2, 3))
    assert_same(fnp.asarray(torch.tensor([True, False])), np.array([True, False]))
    back = torch.from_dlpack(fnp.arange(3))
    assert back.tolist() == [0, 1, 2]
