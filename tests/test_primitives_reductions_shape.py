"""Property tests for the reduction/cumulative primitives (functorch_lite/primitives/reductions.py) and the
shape primitives (functorch_lite/primitives/shape.py) through the lax API.

For each: eager equals a reference written here (Python loops or plain NumPy indexing), values and dtype;
the staged jaxpr type-checks and its out aval is the eager result's; staged-then-evaluated equals eager; bad
axes/configs raise ShapeError/ShapeDtypeError both eagerly and while staging.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    FLOAT_DTYPES,
    SETTINGS,
    arrays_of,
    assert_same,
    axes_subsets,
    float_elements,
    int_elements,
    needs_x64,
    padding_configs,
    permutations,
    reshape_targets,
    run_all_ways,
    shapes,
    slice_specs,
    wrap_ints,
    x64,
)

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core.errors import ShapeDtypeError, ShapeError
from functorch_lite.core.trace import ShapedArray
from functorch_lite.primitives import reductions as red
from functorch_lite.primitives import shape as sh

# numpy RuntimeWarnings from some eager ops are a known issue (see test_eager_ops_do_not_warn).
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(autouse=True)
def _x64_for_64bit_cases(request):
    """float64/int64 cases run with enable_x64 on (else inputs would become 32-bit); restored after."""
    with x64(needs_x64(request)):
        yield


def A(x):
    return fnp.asarray(x)


SUM_DTYPES = ["float32", "float64", "int32", "int8", "uint8"]
ORDERED_DTYPES = SUM_DTYPES + ["bool"]
BITWISE_DTYPES = ["int32", "int8", "uint8", "bool"]
SHAPE_DTYPES = ["float32", "float64", "int32", "uint8", "bool"]


def _sum_tolerance(x, n):
    """Tolerance for a float sum/product of ``n`` elements of ``x``: the classic n * eps * sum|x| bound."""
    eps = float(np.finfo(x.dtype).eps)
    finite = np.abs(x[np.isfinite(x)]).astype(np.float64)
    return dict(rtol=4 * max(n, 1) * eps, atol=max(n, 1) * eps * (float(finite.sum()) + 1.0))


# ---------------------------------------------------------------------------------------------------
# Reductions: reference = a Python fold over the reduced elements of each output position
# ---------------------------------------------------------------------------------------------------


def fold(x, axes, fn, out_dtype):
    """Apply ``fn(list_of_python_values)`` to the reduced elements of every output position."""
    kept = [i for i in range(x.ndim) if i not in axes]
    kept_shape = tuple(x.shape[i] for i in kept)
    n = math.prod(x.shape[i] for i in axes)
    rows = np.transpose(x, kept + list(axes)).reshape(math.prod(kept_shape), n)
    values = [fn(row.tolist()) for row in rows]
    if np.dtype(out_dtype).kind in "iu":
        return wrap_ints(np.array(values, object).reshape(kept_shape), out_dtype)
    return (
        np.array(values, dtype=np.float64 if np.dtype(out_dtype).kind == "f" else out_dtype)
        .reshape(kept_shape)
        .astype(out_dtype)
    )


def _nan_aware(pick, empty):
    def reduce(values):
        if any(v != v for v in values):
            return math.nan
        return pick(values) if values else empty

    return reduce


def _float_sum(values):
    with np.errstate(all="ignore"):
        return float(np.sum(np.array(values, np.float64)))


def _float_prod(values):
    with np.errstate(all="ignore"):
        return float(np.prod(np.array(values, np.float64)))


def _max_reference(x, axes):
    dtype = x.dtype
    if dtype.kind == "f":
        return fold(x, axes, _nan_aware(max, -math.inf), dtype)  # empty -> -inf, like JAX
    if dtype.kind == "b":
        return fold(x, axes, any, dtype)
    return fold(x, axes, lambda v: max(v, default=int(np.iinfo(dtype).min)), dtype)


def _min_reference(x, axes):
    dtype = x.dtype
    if dtype.kind == "f":
        return fold(x, axes, _nan_aware(min, math.inf), dtype)
    if dtype.kind == "b":
        return fold(x, axes, all, dtype)
    return fold(x, axes, lambda v: min(v, default=int(np.iinfo(dtype).max)), dtype)


def _sum_reference(x, axes):
    return fold(x, axes, _float_sum if x.dtype.kind == "f" else sum, x.dtype)


def _prod_reference(x, axes):
    # Multiply in the input's own precision, as XLA does: 5e-38 * 5e-38 underflows to 0 in float32.
    def prod_in_dtype(values):
        with np.errstate(all="ignore"):
            return np.prod(np.array(values, x.dtype))

    return fold(x, axes, prod_in_dtype if x.dtype.kind == "f" else math.prod, x.dtype)


def _and_reference(x, axes):
    if x.dtype == np.bool_:
        return fold(x, axes, all, x.dtype)
    return fold(x, axes, lambda v: functools.reduce(lambda a, b: a & b, v, -1), x.dtype)


def _or_reference(x, axes):
    if x.dtype == np.bool_:
        return fold(x, axes, any, x.dtype)
    return fold(x, axes, lambda v: functools.reduce(lambda a, b: a | b, v, 0), x.dtype)


REDUCTIONS = {
    "reduce_sum": (lax.reduce_sum, _sum_reference, SUM_DTYPES),
    "reduce_prod": (lax.reduce_prod, _prod_reference, SUM_DTYPES),
    "reduce_max": (lax.reduce_max, _max_reference, ORDERED_DTYPES),
    "reduce_min": (lax.reduce_min, _min_reference, ORDERED_DTYPES),
    "reduce_and": (lax.reduce_and, _and_reference, BITWISE_DTYPES),
    "reduce_or": (lax.reduce_or, _or_reference, BITWISE_DTYPES),
}
REDUCTION_CASES = [(name, dtype) for name, (_, _, dtypes) in sorted(REDUCTIONS.items()) for dtype in dtypes]


@pytest.mark.parametrize("name, dtype", REDUCTION_CASES)
@SETTINGS
@given(data=st.data())
def test_reductions(name, dtype, data):
    fn, reference, _ = REDUCTIONS[name]
    kw = dict(min_value=-2.0, max_value=2.0) if name == "reduce_prod" and dtype in FLOAT_DTYPES else {}
    x = data.draw(arrays_of(dtype, **kw))
    axes = data.draw(axes_subsets(x.ndim))  # () and empty arrays included
    out = run_all_ways(lambda v: fn(v, axes), A(x), primitive=name)
    exact = np.dtype(dtype).kind != "f" or name in ("reduce_max", "reduce_min")
    n = math.prod(x.shape[a] for a in axes)
    assert_same(out, reference(x, axes), **({} if exact else _sum_tolerance(x, n)))


@pytest.mark.parametrize(
    "name, dtype, want",
    [
        ("reduce_max", "float32", -np.inf),
        ("reduce_max", "int32", np.iinfo(np.int32).min),
        ("reduce_max", "uint8", 0),
        ("reduce_max", "bool", False),
        ("reduce_min", "float32", np.inf),
        ("reduce_min", "int8", 127),
        ("reduce_min", "bool", True),
        ("reduce_sum", "float32", 0.0),
        ("reduce_prod", "int32", 1),
        ("reduce_and", "uint8", 255),
        ("reduce_and", "int32", -1),
        ("reduce_or", "int32", 0),
    ],
)
def test_empty_reductions_give_the_identity(name, dtype, want):
    x = A(np.zeros((0, 3), dtype))
    out = run_all_ways(lambda v: REDUCTIONS[name][0](v, (0,)), x, primitive=name)
    assert_same(out, np.full((3,), want, dtype))


def test_reduce_max_propagates_nan():
    x = np.array([[1.0, np.nan], [np.inf, -np.inf]], np.float32)
    assert_same(lax.reduce_max(A(x), (1,)), np.array([np.nan, np.inf], np.float32))
    assert_same(lax.reduce_min(A(x), (0,)), np.array([1.0, np.nan], np.float32))


@st.composite
def array_and_nonempty_axis(draw, dtype):
    shape = list(draw(shapes(min_rank=1)))
    axis = draw(st.integers(0, len(shape) - 1))
    shape[axis] = max(shape[axis], 1)
    return draw(arrays_of(dtype, tuple(shape))), axis


def _arg_reference(x, axis, pick, index_dtype):
    def first(values):
        for i, v in enumerate(values):
            if v != v:  # the first NaN wins, as in JAX
                return i
        return values.index(pick(values))

    return fold(x, (axis,), first, index_dtype)


@pytest.mark.parametrize("index_dtype", ["int32", "uint8"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@SETTINGS
@given(data=st.data())
def test_argmax_argmin(name, dtype, index_dtype, data):
    x, axis = data.draw(array_and_nonempty_axis(dtype))
    fn = getattr(lax, name)
    out = run_all_ways(lambda v: fn(v, axis, index_dtype), A(x), primitive=name)
    assert_same(out, _arg_reference(x, axis, max if name == "argmax" else min, index_dtype))


def test_argmax_with_nan_gives_first_nan():
    x = np.array([[1.0, np.nan, 5.0, np.nan], [3.0, 2.0, np.inf, 1.0]], np.float32)
    assert_same(lax.argmax(A(x), 1, np.int32), np.array([1, 2], np.int32))
    assert_same(lax.argmin(A(x), 1, np.int32), np.array([1, 3], np.int32))


# ---------------------------------------------------------------------------------------------------
# Cumulative ops
# ---------------------------------------------------------------------------------------------------


def _cumulative_reference(x, axis, reverse, step, out_kind):
    moved = np.moveaxis(x, axis, -1)
    n = moved.shape[-1]
    rows = moved.reshape(math.prod(moved.shape[:-1]), n)
    out = []
    for row in rows.tolist():
        if reverse:
            row = row[::-1]
        acc, running = [], None
        for v in row:
            running = v if running is None else step(running, v)
            acc.append(running)
        out.append(acc[::-1] if reverse else acc)
    arr = np.array(out, object).reshape(moved.shape)
    if out_kind == "int":
        arr = wrap_ints(arr, x.dtype)
    else:
        arr = arr.astype(np.float64).astype(x.dtype)
    return np.moveaxis(arr, -1, axis)


def _nan_step(pick):
    return lambda a, b: math.nan if a != a or b != b else pick(a, b)


CUMULATIVE = {
    "cumsum": (lax.cumsum, lambda a, b: a + b, lambda a, b: a + b),
    "cumprod": (lax.cumprod, lambda a, b: a * b, lambda a, b: a * b),
    "cummax": (lax.cummax, _nan_step(max), max),
    "cummin": (lax.cummin, _nan_step(min), min),
}


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", SUM_DTYPES)
@pytest.mark.parametrize("name", sorted(CUMULATIVE))
@SETTINGS
@given(data=st.data())
def test_cumulative(name, dtype, reverse, data):
    fn, float_step, int_step = CUMULATIVE[name]
    kw = dict(min_value=-2.0, max_value=2.0) if name == "cumprod" and dtype in FLOAT_DTYPES else {}
    x = data.draw(arrays_of(dtype, shapes(min_rank=1), **kw))
    axis = data.draw(st.integers(0, x.ndim - 1))
    out = run_all_ways(lambda v: fn(v, axis=axis, reverse=reverse), A(x), primitive=name)
    if np.dtype(dtype).kind == "f":
        with np.errstate(all="ignore"):
            want = _cumulative_reference(x, axis, reverse, float_step, "float")
        exact = name in ("cummax", "cummin")
        assert_same(out, want, **({} if exact else _sum_tolerance(x, x.shape[axis])))
    else:
        assert_same(out, _cumulative_reference(x, axis, reverse, int_step, "int"))


def test_cumulative_negative_axis_and_reverse():
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert_same(lax.cumsum(A(x), axis=-1), np.cumsum(x, axis=1, dtype=np.int32))
    assert_same(lax.cumsum(A(x), axis=1, reverse=True), np.array([[3, 3, 2], [12, 9, 5]], np.int32))
    y = np.array([1.0, np.nan, 3.0, 0.0], np.float32)
    assert_same(lax.cummax(A(y)), np.array([1.0, np.nan, np.nan, np.nan], np.float32))
    assert_same(lax.cummin(A(y), reverse=True), np.array([np.nan, np.nan, 0.0, 0.0], np.float32))


# ---------------------------------------------------------------------------------------------------
# broadcast_in_dim, broadcast, expand_dims, reshape, transpose, squeeze, rev
# ---------------------------------------------------------------------------------------------------


@st.composite
def broadcast_in_dim_specs(draw):
    in_shape = draw(shapes())
    out_rank = draw(st.integers(len(in_shape), 4))
    dims = tuple(sorted(draw(st.permutations(list(range(out_rank))))[: len(in_shape)]))
    out = [draw(st.integers(0, 3)) for _ in range(out_rank)]
    for src, dst in enumerate(dims):
        out[dst] = in_shape[src] if in_shape[src] != 1 else draw(st.integers(0, 3))
    return in_shape, tuple(out), dims


@pytest.mark.parametrize("dtype", SHAPE_DTYPES)
@SETTINGS
@given(data=st.data())
def test_broadcast_in_dim(dtype, data):
    in_shape, out_shape, dims = data.draw(broadcast_in_dim_specs())
    x = data.draw(arrays_of(dtype, in_shape))
    out = run_all_ways(lambda v: lax.broadcast_in_dim(v, out_shape, dims), A(x), primitive="broadcast_in_dim")
    expanded = [1] * len(out_shape)
    for src, dst in enumerate(dims):
        expanded[dst] = in_shape[src]
    assert_same(out, np.broadcast_to(x.reshape(expanded), out_shape))


@SETTINGS
@given(x=arrays_of("int32"), sizes=shapes(max_rank=2), data=st.data())
def test_broadcast_and_expand_dims(x, sizes, data):
    out = run_all_ways(lambda v: lax.broadcast(v, sizes), A(x), primitive="broadcast_in_dim")
    assert_same(out, np.broadcast_to(x, sizes + x.shape))
    n_new = data.draw(st.integers(0, 2))
    out_rank = x.ndim + n_new
    new_dims = []
    if n_new:
        positions = st.integers(-out_rank, out_rank - 1)
        new_dims = data.draw(
            st.lists(positions, min_size=n_new, max_size=n_new, unique_by=lambda d: d % out_rank)
        )
    out = run_all_ways(lambda v: lax.expand_dims(v, new_dims), A(x))
    assert_same(out, np.expand_dims(x, tuple(new_dims)))


@pytest.mark.parametrize("dtype", SHAPE_DTYPES)
@SETTINGS
@given(data=st.data())
def test_reshape(dtype, data):
    x = data.draw(arrays_of(dtype))
    perm = data.draw(st.none() | permutations(x.ndim))
    source_shape = x.shape if perm is None else tuple(x.shape[p] for p in perm)
    new = data.draw(reshape_targets(source_shape))
    out = run_all_ways(lambda v: lax.reshape(v, new, perm), A(x), primitive="reshape")
    assert_same(out, np.reshape(x if perm is None else np.transpose(x, perm), new))


@pytest.mark.parametrize("dtype", SHAPE_DTYPES)
@SETTINGS
@given(data=st.data())
def test_transpose(dtype, data):
    x = data.draw(arrays_of(dtype))
    perm = data.draw(permutations(x.ndim))
    out = run_all_ways(lambda v: lax.transpose(v, perm), A(x), primitive="transpose")
    assert_same(out, np.transpose(x, perm))


@pytest.mark.parametrize("dtype", SHAPE_DTYPES)
@SETTINGS
@given(data=st.data())
def test_squeeze(dtype, data):
    shape = list(data.draw(shapes()))
    ones = data.draw(axes_subsets(len(shape)))
    for d in ones:
        shape[d] = 1
    x = data.draw(arrays_of(dtype, tuple(shape)))
    dims = tuple(d - len(shape) if data.draw(st.booleans()) else d for d in ones)  # negative dims too
    out = run_all_ways(lambda v: lax.squeeze(v, dims), A(x), primitive="squeeze")
    assert_same(out, np.squeeze(x, axis=ones))


@pytest.mark.parametrize("dtype", SHAPE_DTYPES)
@SETTINGS
@given(data=st.data())
def test_rev(dtype, data):
    x = data.draw(arrays_of(dtype))
    dims = data.draw(axes_subsets(x.ndim))
    out = run_all_ways(lambda v: lax.rev(v, dims), A(x), primitive="rev")
    want = x[tuple(slice(None, None, -1) if i in dims else slice(None) for i in range(x.ndim))]
    assert_same(out, want)


# ---------------------------------------------------------------------------------------------------
# slice, dynamic_slice, dynamic_update_slice
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", SHAPE_DTYPES)
@SETTINGS
@given(data=st.data())
def test_slice_with_strides(dtype, data):
    x = data.draw(arrays_of(dtype))
    starts, limits, strides = data.draw(slice_specs(x.shape))
    use_strides = data.draw(st.booleans())
    out = run_all_ways(
        lambda v: lax.slice(v, starts, limits, strides if use_strides else None), A(x), primitive="slice"
    )
    steps = strides if use_strides else (1,) * x.ndim
    assert_same(out, x[tuple(slice(s, l, st_) for s, l, st_ in zip(starts, limits, steps))])


def _clamp_start(start, size, dim):
    return min(max(start, 0), dim - size)  # lax keeps the whole window in bounds


@st.composite
def window_specs(draw, shape):
    sizes = tuple(draw(st.integers(0, d)) for d in shape)
    starts = tuple(draw(st.integers(-3, d + 3)) for d in shape)  # out-of-range starts get clamped
    return sizes, starts


@pytest.mark.parametrize("index_dtype", ["int32", "uint8"])
@pytest.mark.parametrize("dtype", SHAPE_DTYPES)
@SETTINGS
@given(data=st.data())
def test_dynamic_slice_clamps(dtype, index_dtype, data):
    x = data.draw(arrays_of(dtype))
    sizes, starts = data.draw(window_specs(x.shape))
    if index_dtype == "uint8":
        starts = tuple(max(s, 0) for s in starts)
    start_arrays = [A(np.array(s, index_dtype)) for s in starts]
    out = run_all_ways(
        lambda v, *ss: lax.dynamic_slice(v, ss, sizes), A(x), *start_arrays, primitive="dynamic_slice"
    )
    begin = [_clamp_start(s, z, d) for s, z, d in zip(starts, sizes, x.shape)]
    assert_same(out, x[tuple(slice(b, b + z) for b, z in zip(begin, sizes))])
    assert_same(lax.dynamic_slice(A(x), starts, sizes), np.asarray(out))  # Python int starts


@pytest.mark.parametrize("dtype", SHAPE_DTYPES)
@SETTINGS
@given(data=st.data())
def test_dynamic_update_slice_clamps(dtype, data):
    x = data.draw(arrays_of(dtype))
    sizes, starts = data.draw(window_specs(x.shape))
    update = data.draw(arrays_of(dtype, sizes))
    start_arrays = [A(np.array(s, np.int32)) for s in starts]
    out = run_all_ways(
        lambda v, u, *ss: lax.dynamic_update_slice(v, u, ss),
        A(x),
        A(update),
        *start_arrays,
        primitive="dynamic_update_slice",
    )
    want = x.copy()
    begin = [_clamp_start(s, z, d) for s, z, d in zip(starts, sizes, x.shape)]
    want[tuple(slice(b, b + z) for b, z in zip(begin, sizes))] = update
    assert_same(out, want)


def test_dynamic_slice_examples():
    x = A(np.arange(5, dtype=np.int32))
    assert_same(lax.dynamic_slice(x, (10,), (2,)), np.array([3, 4], np.int32))
    assert_same(lax.dynamic_slice(x, (-7,), (2,)), np.array([0, 1], np.int32))
    assert_same(
        lax.dynamic_update_slice(x, A(np.array([9, 9], np.int32)), (4,)), np.array([0, 1, 2, 9, 9], np.int32)
    )


def test_dynamic_slice_of_weak_operand_keeps_weak_type():
    weak = lax.broadcast_in_dim(2.0, (4,), ())
    assert weak.weak_type
    run_all_ways(lambda v, i: lax.dynamic_slice(v, (i,), (2,)), weak, A(np.array(1, np.int32)))


# ---------------------------------------------------------------------------------------------------
# concatenate, pad, iota
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", SHAPE_DTYPES)
@SETTINGS
@given(data=st.data())
def test_concatenate(dtype, data):
    base = list(data.draw(shapes(min_rank=1)))
    dimension = data.draw(st.integers(0, len(base) - 1))
    operands = []
    for _ in range(data.draw(st.integers(1, 3))):
        base[dimension] = data.draw(st.integers(0, 3))
        operands.append(data.draw(arrays_of(dtype, tuple(base))))
    out = run_all_ways(lambda *vs: lax.concatenate(vs, dimension), *map(A, operands), primitive="concatenate")
    assert_same(out, np.concatenate(operands, axis=dimension))


def pad_reference(x, value, config):
    """Per dimension: output position i reads x at (i - lo) / (interior + 1) when that is a whole in-range
    index, else the padding value. Negative lo/hi crop."""
    out = x
    for axis, (lo, hi, interior) in enumerate(config):
        d = out.shape[axis]
        size = lo + hi + d + max(d - 1, 0) * interior
        source = []
        for i in range(size):
            p, r = divmod(i - lo, interior + 1)
            source.append(p if i - lo >= 0 and r == 0 and p < d else -1)
        source = np.array(source, dtype=np.intp)
        new_shape = list(out.shape)
        new_shape[axis] = size
        result = np.full(new_shape, value, dtype=x.dtype)
        for i, s in enumerate(source):
            if s >= 0:
                dst = [slice(None)] * out.ndim
                src = [slice(None)] * out.ndim
                dst[axis], src[axis] = i, s
                result[tuple(dst)] = out[tuple(src)]
        out = result
    return out


@pytest.mark.parametrize("dtype", SHAPE_DTYPES)
@SETTINGS
@given(data=st.data())
def test_pad_negative_and_interior(dtype, data):
    x = data.draw(arrays_of(dtype))
    value = data.draw(arrays_of(dtype, ()))
    config = data.draw(padding_configs(x.shape))
    out = run_all_ways(lambda v, p: lax.pad(v, p, config), A(x), A(value), primitive="pad")
    assert_same(out, pad_reference(x, value, config))


def test_pad_examples():
    x = A(np.array([1.0, 2.0, 3.0], np.float32))
    assert_same(lax.pad(x, 0.0, [(1, 1, 1)]), np.array([0, 1, 0, 2, 0, 3, 0], np.float32))
    assert_same(lax.pad(x, 0.0, [(-2, -1, 1)]), np.array([2, 0], np.float32))
    assert_same(lax.pad(x, -1.0, [(-3, 2, 0)]), np.array([-1, -1], np.float32))
    assert_same(lax.pad(A(np.zeros((0,), np.float32)), 7.0, [(-1, 2, 3)]), np.array([7], np.float32))


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int8", "float32", "float64"])
@SETTINGS
@given(shape=shapes(min_rank=1), data=st.data())
def test_iota(dtype, shape, data):
    dimension = data.draw(st.integers(0, len(shape) - 1))
    out = run_all_ways(lambda: lax.broadcasted_iota(dtype, shape, dimension), primitive="iota")
    line = np.arange(shape[dimension], dtype=dtype).reshape(
        [-1 if i == dimension else 1 for i in range(len(shape))]
    )
    assert_same(out, np.broadcast_to(line, shape))
    assert not out.weak_type
    assert_same(run_all_ways(lambda: lax.iota(dtype, shape[0])), np.arange(shape[0], dtype=dtype))


def test_iota_float64_is_canonicalized_without_x64():
    with x64(False):
        assert lax.iota(np.float64, 3).dtype == np.float32
        assert lax.iota(np.int64, 3).dtype == np.int32


@pytest.mark.parametrize("dimension", [2, 5, -1])
def test_iota_bad_dimension_is_a_shape_error(dimension):
    with pytest.raises(ShapeError):
        lax.broadcasted_iota(np.int32, (2, 3), dimension)
    with pytest.raises(ShapeError):
        fl.make_jaxpr(lambda: lax.broadcasted_iota(np.int32, (2, 3), dimension))()


# ---------------------------------------------------------------------------------------------------
# abstract_eval directly
# ---------------------------------------------------------------------------------------------------


@SETTINGS
@given(shape=shapes(), data=st.data())
def test_reduce_and_transpose_abstract_eval(shape, data):
    aval = ShapedArray(shape, np.dtype("float32"))
    axes = data.draw(axes_subsets(len(shape)))
    out = red.reduce_sum_p.abstract_eval(aval, axes=axes)
    assert out.shape == np.sum(np.zeros(shape), axis=axes).shape and out.dtype == np.float32
    perm = data.draw(permutations(len(shape)))
    assert sh.transpose_p.abstract_eval(aval, permutation=perm).shape == np.zeros(shape).transpose(perm).shape


# ---------------------------------------------------------------------------------------------------
# Errors: typed, eager and staged alike
# ---------------------------------------------------------------------------------------------------


def _f32(*shape):
    return A(np.zeros(shape, np.float32))


def _i32(*shape):
    return A(np.zeros(shape, np.int32))


def _b(*shape):
    return A(np.zeros(shape, bool))


ERRORS = {
    "reduce_sum_axis_out_of_range": (lambda x: lax.reduce_sum(x, (2,)), (_f32(2, 3),), ShapeError),
    "reduce_sum_negative_axis": (lambda x: lax.reduce_sum(x, (-1,)), (_f32(2, 3),), ShapeError),
    "reduce_max_duplicate_axes": (lambda x: lax.reduce_max(x, (0, 0)), (_f32(2, 3),), ShapeError),
    "reduce_sum_scalar_axis": (lambda x: lax.reduce_sum(x, (0,)), (_f32(),), ShapeError),
    "reduce_sum_bool": (lambda x: lax.reduce_sum(x, (0,)), (_b(3),), ShapeDtypeError),
    "reduce_and_float": (lambda x: lax.reduce_and(x, (0,)), (_f32(3),), ShapeDtypeError),
    "argmax_axis_out_of_range": (lambda x: lax.argmax(x, 2, np.int32), (_f32(2, 3),), ShapeError),
    "cumsum_bool": (lambda x: lax.cumsum(x, 0), (_b(3),), ShapeDtypeError),
    "cummax_bool": (lambda x: lax.cummax(x, 0), (_b(3),), ShapeDtypeError),
    "broadcast_in_dim_dims_count": (
        lambda x: lax.broadcast_in_dim(x, (2, 3), (1,)),
        (_f32(2, 3),),
        ShapeError,
    ),
    "broadcast_in_dim_not_increasing": (
        lambda x: lax.broadcast_in_dim(x, (3, 3), (1, 0)),
        (_f32(3, 3),),
        ShapeError,
    ),
    "broadcast_in_dim_out_of_range": (lambda x: lax.broadcast_in_dim(x, (3,), (1,)), (_f32(3),), ShapeError),
    "broadcast_in_dim_size": (lambda x: lax.broadcast_in_dim(x, (2, 4), (1,)), (_f32(3),), ShapeError),
    "reshape_size": (lambda x: lax.reshape(x, (4,)), (_f32(2, 3),), ShapeError),
    "reshape_negative": (lambda x: lax.reshape(x, (-1, 3)), (_f32(2, 3),), ShapeError),
    "reshape_bad_dimensions": (lambda x: lax.reshape(x, (6,), (0, 0)), (_f32(2, 3),), ShapeError),
    "transpose_repeated": (lambda x: lax.transpose(x, (0, 0)), (_f32(2, 3),), ShapeError),
    "transpose_short": (lambda x: lax.transpose(x, (0,)), (_f32(2, 3),), ShapeError),
    "transpose_out_of_range": (lambda x: lax.transpose(x, (0, 2)), (_f32(2, 3),), ShapeError),
    "squeeze_not_one": (lambda x: lax.squeeze(x, (1,)), (_f32(1, 3),), ShapeError),
    "rev_out_of_range": (lambda x: lax.rev(x, (2,)), (_f32(2, 3),), ShapeError),
    "rev_duplicate": (lambda x: lax.rev(x, (0, 0)), (_f32(2, 3),), ShapeError),
    "slice_limit_too_big": (lambda x: lax.slice(x, (0,), (4,)), (_f32(3),), ShapeError),
    "slice_start_after_limit": (lambda x: lax.slice(x, (2,), (1,)), (_f32(3),), ShapeError),
    "slice_zero_stride": (lambda x: lax.slice(x, (0,), (3,), (0,)), (_f32(3),), ShapeError),
    "slice_rank": (lambda x: lax.slice(x, (0,), (1,)), (_f32(2, 3),), ShapeError),
    "dynamic_slice_too_big": (lambda x: lax.dynamic_slice(x, (0,), (4,)), (_f32(3),), ShapeError),
    "dynamic_slice_start_count": (lambda x: lax.dynamic_slice(x, (0,), (1, 1)), (_f32(2, 3),), ShapeError),
    "dynamic_slice_float_start": (
        lambda x, i: lax.dynamic_slice(x, (i,), (1,)),
        (_f32(3), _f32()),
        ShapeDtypeError,
    ),
    "dynamic_slice_vector_start": (
        lambda x, i: lax.dynamic_slice(x, (i,), (1,)),
        (_f32(3), _i32(1)),
        ShapeDtypeError,
    ),
    "dynamic_update_slice_too_big": (
        lambda x, u: lax.dynamic_update_slice(x, u, (0,)),
        (_f32(3), _f32(4)),
        ShapeError,
    ),
    "dynamic_update_slice_rank": (
        lambda x, u: lax.dynamic_update_slice(x, u, (0, 0)),
        (_f32(2, 3), _f32(3)),
        ShapeError,
    ),
    "dynamic_update_slice_dtype": (
        lambda x, u: lax.dynamic_update_slice(x, u, (0,)),
        (_f32(3), _i32(2)),
        ShapeDtypeError,
    ),
    "concatenate_dtypes": (lambda x, y: lax.concatenate([x, y], 0), (_f32(3), _i32(3)), ShapeDtypeError),
    "concatenate_shapes": (lambda x, y: lax.concatenate([x, y], 0), (_f32(2, 3), _f32(2, 4)), ShapeError),
    "concatenate_ranks": (lambda x, y: lax.concatenate([x, y], 0), (_f32(2, 3), _f32(2)), ShapeError),
    "concatenate_dimension": (lambda x, y: lax.concatenate([x, y], 2), (_f32(2, 3), _f32(2, 3)), ShapeError),
    "concatenate_scalar": (lambda x, y: lax.concatenate([x, y], 0), (_f32(), _f32()), ShapeError),
    "pad_config_length": (lambda x: lax.pad(x, 0.0, [(0, 0, 0)]), (_f32(2, 3),), ShapeError),
    "pad_negative_interior": (lambda x: lax.pad(x, 0.0, [(0, 0, -1)]), (_f32(3),), ShapeError),
    "pad_negative_size": (lambda x: lax.pad(x, 0.0, [(-2, -2, 0)]), (_f32(3),), ShapeError),
    "pad_value_not_scalar": (lambda x, p: lax.pad(x, p, [(1, 1, 0)]), (_f32(3), _f32(1)), ShapeError),
    "pad_value_dtype": (lambda x, p: lax.pad(x, p, [(1, 1, 0)]), (_f32(3), _i32()), ShapeDtypeError),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_are_typed_eager_and_staged(name):
    fn, args, error = ERRORS[name]
    with pytest.raises(error) as eager:
        fn(*args)
    assert str(eager.value)
    with pytest.raises(error):
        fl.make_jaxpr(fn)(*args)


# Bad axes that lax.py silently wraps (axis % ndim) instead of rejecting, as jax.lax does.
WRAPPED_AXES = {
    "cumsum_axis_too_big": (lambda x: lax.cumsum(x, axis=2), (_i32(2, 3),)),
    "cumsum_axis_too_negative": (lambda x: lax.cumsum(x, axis=-3), (_i32(2, 3),)),
    "squeeze_dim_too_big": (lambda x: lax.squeeze(x, (2,)), (_f32(1, 3),)),
    "expand_dims_too_big": (lambda x: lax.expand_dims(x, (5,)), (_f32(3),)),
}


@pytest.mark.parametrize("name", sorted(WRAPPED_AXES))
def test_out_of_range_axes_raise(name):
    fn, args = WRAPPED_AXES[name]
    with pytest.raises(ShapeError):
        fn(*args)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: lax.argmax(_f32(0, 3), 0, np.int32), ShapeError),
        (lambda: lax.argmin(_f32(2, 3), 0, np.float32), ShapeDtypeError),
        (lambda: red.cumsum_p.abstract_eval(ShapedArray((2, 3), np.dtype("int32")), axis=2), ShapeError),
        (lambda: lax.cumsum(_i32(), 0), ShapeError),
    ],
)
def test_reduction_errors_are_typed(call, error):
    with pytest.raises(error):
        call()


def test_reduction_errors_still_raise_value_or_type_errors():
    with pytest.raises(ValueError):
        lax.argmax(_f32(0, 3), 0, np.int32)
    with pytest.raises(TypeError):
        lax.argmin(_f32(2, 3), 0, np.float32)
    with pytest.raises(ValueError):
        lax.cumsum(_i32(), 0)


def test_float_elements_reach_nan_and_int_extremes():
    # Sanity check of the shared strategies: the special values are reachable.
    from hypothesis import find

    assert math.isnan(find(float_elements("float32"), lambda v: v != v))
    assert find(int_elements("int8"), lambda v: v == -128) == -128
