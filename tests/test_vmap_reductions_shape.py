"""Batching rules of the reduction/cumulative primitives (primitives/reductions.py), the shape primitives
(primitives/shape.py) and the higher-order ones (custom_jvp_call, custom_vjp_call, custom_lin, checkpoint).

For every primitive, through ``functorch_lite.lax``: ``fl.vmap(f, in_axes, out_axes)`` equals stacking ``f``
over a Python loop, with random in_axes (negative ones, and None for some arguments) and out_axes. Then
nested vmap, per-example gradients (vmap of grad) and grad of vmap, and custom derivatives / checkpoint
under vmap, whose custom rules must still be the ones used.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    SETTINGS,
    arrays_of,
    padding_configs,
    permutations,
    reshape_targets,
    shapes,
    slice_specs,
    x64,
)

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax


def A(x):
    return fnp.asarray(x)


# ---------------------------------------------------------------------------------------------------
# Harness: vmap against a Python loop
# ---------------------------------------------------------------------------------------------------

batch_sizes = st.integers(1, 3)


def _insert(shape, axis, size):
    shape = list(shape)
    shape.insert(axis % (len(shape) + 1), size)
    return tuple(shape)


def draw_arg(data, shape, dtype, size, none_ok=True, **elements):
    """An argument of one element's ``shape``, batched along a drawn axis (possibly negative, or None)."""
    nd = len(shape)
    axes = list(range(-(nd + 1), nd + 1)) + ([None] if none_ok else [])
    axis = data.draw(st.sampled_from(axes), label="in_axis")
    full = shape if axis is None else _insert(shape, axis, size)
    return data.draw(arrays_of(dtype, full, **elements), label="arg"), axis


def element(x, axis, b):
    return x if axis is None else np.asarray(np.take(x, b, axis=axis))


def assert_close(got, want, tol=1e-5):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def check_vmap(data, f, args, in_axes, size, tol=1e-5):
    """``fl.vmap(f)`` at a drawn out axis equals the loop over batch elements, stacked at that axis."""
    outs = []
    for b in range(size):
        outs.append(np.asarray(f(*[A(element(x, ax, b)) for x, ax in zip(args, in_axes)])))
    nd = outs[0].ndim
    out_axis = data.draw(st.integers(-(nd + 1), nd), label="out_axes")
    want = np.stack(outs, axis=out_axis)
    extra = {} if any(ax is not None for ax in in_axes) else {"axis_size": size}
    got = fl.vmap(f, in_axes=tuple(in_axes), out_axes=out_axis, **extra)(*[A(x) for x in args])
    assert_close(got, want, tol)


# ---------------------------------------------------------------------------------------------------
# Reductions and cumulative ops
# ---------------------------------------------------------------------------------------------------

REDUCERS = {
    "reduce_sum": (lax.reduce_sum, ["float32", "int32"]),
    "reduce_prod": (lax.reduce_prod, ["float32", "int32"]),
    "reduce_max": (lax.reduce_max, ["float32", "int32", "uint8", "bool"]),
    "reduce_min": (lax.reduce_min, ["float32", "int8", "bool"]),
    "reduce_and": (lax.reduce_and, ["bool", "int32"]),
    "reduce_or": (lax.reduce_or, ["bool", "uint8"]),
}


@pytest.mark.parametrize("name", sorted(REDUCERS))
@SETTINGS
@given(data=st.data())
def test_reductions(name, data):
    op, dtypes = REDUCERS[name]
    dtype = data.draw(st.sampled_from(dtypes))
    shape = data.draw(shapes(0, 3))
    axes = tuple(i for i in range(len(shape)) if data.draw(st.booleans()))
    size = data.draw(batch_sizes)
    x, ax = (
        draw_arg(data, shape, dtype, size, min_value=-3, max_value=3)
        if dtype == "float32"
        else (draw_arg(data, shape, dtype, size))
    )
    check_vmap(data, lambda v: op(v, axes), [x], [ax], size)


@pytest.mark.parametrize("op", [lax.argmax, lax.argmin])
@SETTINGS
@given(data=st.data())
def test_argmax_argmin(op, data):
    dtype = data.draw(st.sampled_from(["float32", "int32", "bool"]))
    shape = data.draw(shapes(1, 3, min_side=1))
    axis = data.draw(st.integers(0, len(shape) - 1))
    index_dtype = data.draw(st.sampled_from([np.int32, np.uint8]))
    size = data.draw(batch_sizes)
    x, ax = draw_arg(data, shape, dtype, size)
    check_vmap(data, lambda v: op(v, axis, index_dtype), [x], [ax], size)


@pytest.mark.parametrize("op", [lax.cumsum, lax.cumprod, lax.cummax, lax.cummin])
@SETTINGS
@given(data=st.data())
def test_cumulative(op, data):
    dtype = data.draw(st.sampled_from(["float32", "int32"]))
    shape = data.draw(shapes(1, 3))
    axis = data.draw(st.integers(0, len(shape) - 1))
    reverse = data.draw(st.booleans())
    size = data.draw(batch_sizes)
    x, ax = draw_arg(data, shape, dtype, size, min_value=-3, max_value=3)
    check_vmap(data, lambda v: op(v, axis=axis, reverse=reverse), [x], [ax], size)


def test_numpy_reductions_under_vmap():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7
    got = fl.vmap(lambda v: (fnp.sum(v, axis=0), fnp.max(v), fnp.argmin(v, axis=-1)), in_axes=1)(A(x))
    assert_close(got[0], x.sum(axis=0))
    assert_close(got[1], x.max(axis=(0, 2)))
    np.testing.assert_array_equal(np.asarray(got[2]), np.argmin(x.transpose(1, 0, 2), axis=-1))


# ---------------------------------------------------------------------------------------------------
# Shape primitives
# ---------------------------------------------------------------------------------------------------

SHAPE_DTYPES = st.sampled_from(["float32", "int32", "bool"])


@SETTINGS
@given(data=st.data())
def test_broadcast_in_dim(data):
    out_shape = data.draw(shapes(0, 3))
    dims = tuple(i for i in range(len(out_shape)) if data.draw(st.booleans()))
    operand_shape = tuple(out_shape[d] if data.draw(st.booleans()) else 1 for d in dims)
    size = data.draw(batch_sizes)
    x, ax = draw_arg(data, operand_shape, data.draw(SHAPE_DTYPES), size)
    check_vmap(data, lambda v: lax.broadcast_in_dim(v, out_shape, dims), [x], [ax], size)


@SETTINGS
@given(data=st.data())
def test_reshape(data):
    shape = data.draw(shapes(0, 3))
    target = data.draw(reshape_targets(shape))
    dimensions = data.draw(st.none() | permutations(len(shape)))
    size = data.draw(batch_sizes)
    x, ax = draw_arg(data, shape, data.draw(SHAPE_DTYPES), size)
    check_vmap(data, lambda v: lax.reshape(v, target, dimensions), [x], [ax], size)


@SETTINGS
@given(data=st.data())
def test_transpose_and_rev(data):
    shape = data.draw(shapes(0, 3))
    perm = data.draw(permutations(len(shape)))
    flip = tuple(i for i in range(len(shape)) if data.draw(st.booleans()))
    size = data.draw(batch_sizes)
    x, ax = draw_arg(data, shape, data.draw(SHAPE_DTYPES), size)
    check_vmap(data, lambda v: lax.transpose(v, perm), [x], [ax], size)
    check_vmap(data, lambda v: lax.rev(v, flip), [x], [ax], size)


@SETTINGS
@given(data=st.data())
def test_squeeze(data):
    shape = tuple(data.draw(st.lists(st.sampled_from([1, 1, 2, 3]), max_size=4)))
    dims = tuple(i for i, d in enumerate(shape) if d == 1 and data.draw(st.booleans()))
    size = data.draw(batch_sizes)
    x, ax = draw_arg(data, shape, data.draw(SHAPE_DTYPES), size)
    check_vmap(data, lambda v: lax.squeeze(v, dims), [x], [ax], size)


@SETTINGS
@given(data=st.data())
def test_slice(data):
    shape = data.draw(shapes(0, 3))
    starts, limits, strides = data.draw(slice_specs(shape))
    strides = data.draw(st.sampled_from([None, strides]))
    size = data.draw(batch_sizes)
    x, ax = draw_arg(data, shape, data.draw(SHAPE_DTYPES), size)
    check_vmap(data, lambda v: lax.slice(v, starts, limits, strides), [x], [ax], size)


def _draw_starts(data, shape, size):
    """One start index per dim (some out of bounds, to test clamping), each batched or not."""
    starts, axes = [], []
    dtype = data.draw(st.sampled_from(["int32", "int8"]))
    for d in shape:
        s, a = draw_arg(data, (), dtype, size, min_value=-2, max_value=d + 2)
        starts.append(s)
        axes.append(a)
    return starts, axes


@SETTINGS
@given(data=st.data())
def test_dynamic_slice(data):
    shape = data.draw(shapes(1, 3, min_side=1))
    sizes = tuple(data.draw(st.integers(0, d)) for d in shape)
    size = data.draw(batch_sizes)
    x, ax = draw_arg(data, shape, data.draw(SHAPE_DTYPES), size)
    starts, start_axes = _draw_starts(data, shape, size)
    check_vmap(data, lambda v, *s: lax.dynamic_slice(v, s, sizes), [x, *starts], [ax, *start_axes], size)


@SETTINGS
@given(data=st.data())
def test_dynamic_update_slice(data):
    shape = data.draw(shapes(1, 3, min_side=1))
    update_shape = tuple(data.draw(st.integers(0, d)) for d in shape)
    size = data.draw(batch_sizes)
    dtype = data.draw(SHAPE_DTYPES)
    x, ax = draw_arg(data, shape, dtype, size)
    u, u_ax = draw_arg(data, update_shape, dtype, size)
    starts, start_axes = _draw_starts(data, shape, size)
    check_vmap(
        data,
        lambda v, w, *s: lax.dynamic_update_slice(v, w, s),
        [x, u, *starts],
        [ax, u_ax, *start_axes],
        size,
    )


@SETTINGS
@given(data=st.data())
def test_concatenate(data):
    shape = data.draw(shapes(1, 3))
    dim = data.draw(st.integers(0, len(shape) - 1))
    n = data.draw(st.integers(1, 3))
    size = data.draw(batch_sizes)
    dtype = data.draw(SHAPE_DTYPES)
    args, axes = [], []
    for _ in range(n):
        part = list(shape)
        part[dim] = data.draw(st.integers(0, 3))
        x, ax = draw_arg(data, tuple(part), dtype, size)
        args.append(x)
        axes.append(ax)
    check_vmap(data, lambda *xs: lax.concatenate(xs, dim), args, axes, size)


@SETTINGS
@given(data=st.data())
def test_pad(data):
    shape = data.draw(shapes(0, 3))
    config = data.draw(padding_configs(shape))
    size = data.draw(batch_sizes)
    dtype = data.draw(SHAPE_DTYPES)
    x, ax = draw_arg(data, shape, dtype, size)
    value, value_ax = draw_arg(data, (), dtype, size)
    check_vmap(data, lambda v, p: lax.pad(v, p, config), [x, value], [ax, value_ax], size)


@SETTINGS
@given(data=st.data())
def test_iota(data):
    shape = data.draw(shapes(1, 3))
    dim = data.draw(st.integers(0, len(shape) - 1))
    size = data.draw(batch_sizes)
    x, ax = draw_arg(data, shape, "int32", size, min_value=-5, max_value=5)
    check_vmap(data, lambda v: v * lax.broadcasted_iota(np.int32, shape, dim), [x], [ax], size)
    # Nothing mapped: iota is the same for every element; out_axes=None keeps it unbatched.
    got = fl.vmap(lambda: lax.iota(np.int32, 4), in_axes=(), out_axes=None, axis_size=size)()
    np.testing.assert_array_equal(np.asarray(got), np.arange(4, dtype=np.int32))
    got = fl.vmap(lambda: lax.iota(np.int32, 4), in_axes=(), axis_size=size)()
    np.testing.assert_array_equal(np.asarray(got), np.tile(np.arange(4, dtype=np.int32), (size, 1)))


# ---------------------------------------------------------------------------------------------------
# Nested vmap
# ---------------------------------------------------------------------------------------------------


def _nested_loop(f, args, inner_axes, outer_axes, outer_size, inner_size):
    """``vmap(vmap(f, inner_axes), outer_axes)`` by loops (both out_axes 0)."""
    rows = []
    for i in range(outer_size):
        outer = [element(x, a, i) for x, a in zip(args, outer_axes)]
        row = [
            np.asarray(f(*[A(element(x, a, j)) for x, a in zip(outer, inner_axes)]))
            for j in range(inner_size)
        ]
        rows.append(np.stack(row))
    return np.stack(rows)


NESTED = {
    "reduce_max": (lambda x, s: lax.reduce_max(x, (0,)) + s, (3, 4)),
    "cumsum": (lambda x, s: lax.cumsum(x, axis=1, reverse=True) * s, (3, 4)),
    "dynamic_slice": (lambda x, s: lax.dynamic_slice(x, (s.astype(np.int32), 1), (2, 2)), (3, 4)),
    "dynamic_update_slice": (
        lambda x, s: lax.dynamic_update_slice(x, fnp.full((2, 2), s), (s.astype(np.int32), 0)),
        (3, 4),
    ),
    "pad": (lambda x, s: lax.pad(x, s, ((1, -1, 1), (0, 2, 0))), (3, 4)),
    "concatenate": (lambda x, s: lax.concatenate([x, fnp.full((1, 4), s)], 0), (3, 4)),
    "reshape_transpose": (lambda x, s: lax.transpose(lax.reshape(x, (2, 6)), (1, 0)) + s, (3, 4)),
}


@pytest.mark.parametrize("name", sorted(NESTED))
@SETTINGS
@given(data=st.data())
def test_nested_vmap(name, data):
    f, shape = NESTED[name]
    outer_size, inner_size = data.draw(batch_sizes), data.draw(batch_sizes)
    x_inner = data.draw(st.sampled_from([None, 0, 1, -1]))
    s_inner = data.draw(st.sampled_from([None, 0]))
    x_outer = data.draw(st.sampled_from([None, 0, -1]))
    s_outer = data.draw(st.sampled_from([None, 0]))
    x_shape = shape if x_inner is None else _insert(shape, x_inner, inner_size)
    x_shape = x_shape if x_outer is None else _insert(x_shape, x_outer, outer_size)
    s_shape = () if s_inner is None else (inner_size,)
    s_shape = s_shape if s_outer is None else _insert(s_shape, s_outer, outer_size)
    x = data.draw(arrays_of("float32", x_shape, min_value=-5, max_value=5))
    s = data.draw(arrays_of("float32", s_shape, elements=st.integers(-1, 4).map(float)))
    want = _nested_loop(f, [x, s], [x_inner, s_inner], [x_outer, s_outer], outer_size, inner_size)
    inner = fl.vmap(f, in_axes=(x_inner, s_inner), axis_size=inner_size)
    got = fl.vmap(inner, in_axes=(x_outer, s_outer), axis_size=outer_size)(A(x), A(s))
    assert_close(got, want)


# ---------------------------------------------------------------------------------------------------
# vmap and autodiff
# ---------------------------------------------------------------------------------------------------

LOSSES = {
    "reduce_max": lambda w, x: fnp.sum(lax.reduce_max(w * x, (1,)) ** 2),
    "reduce_prod": lambda w, x: lax.reduce_prod(w * x, (0, 1)),
    "cumprod_cummax": lambda w, x: fnp.sum(
        lax.cumprod(w * x, axis=1) + lax.cummax(x * w, axis=0, reverse=True)
    ),
    "dynamic_slice": lambda w, x: fnp.sum(
        lax.dynamic_slice(w * x, (fnp.argmax(x[:, 0]).astype(np.int32), 1), (2, 2)) ** 2
    ),
    "dynamic_update_slice": lambda w, x: fnp.sum(
        fnp.sin(lax.dynamic_update_slice(w, x[:2, :2] * w[0, 0], (fnp.argmin(x[0]).astype(np.int32), 0)))
    ),
    "pad_concat": lambda w, x: fnp.sum(
        lax.concatenate(
            [
                lax.pad(w * x, x[0, 0], ((1, -1, 1), (0, 2, 0))),
                lax.pad(lax.rev(w, (0,)), 0.0, ((0, 0, 0), (1, 1, 0))),
            ],
            0,
        )
        ** 2
    ),
    "shape_ops": lambda w, x: fnp.sum(
        lax.broadcast_in_dim(lax.squeeze(lax.reshape(w * x, (1, 12)), (0,)), (2, 12), (1,))
        * lax.slice(lax.transpose(x, (1, 0)).reshape(12), (0,), (12,))
    ),
}


@pytest.fixture
def _x64():
    with x64(True):
        yield


@pytest.mark.usefixtures("_x64")
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_per_example_gradients(name):
    loss = LOSSES[name]
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 4))
    xs = rng.standard_normal((5, 3, 4))
    want = np.stack([np.asarray(fl.grad(loss)(A(w), A(x))) for x in xs])
    # vmap of grad: per-example gradients, batch along the last axis of xs and output.
    got = fl.vmap(fl.grad(loss), in_axes=(None, -1), out_axes=-1)(A(w), A(np.moveaxis(xs, 0, -1)))
    assert_close(got, np.moveaxis(want, 0, -1), 1e-10)
    # grad of vmap: the sum of the per-example gradients.
    total = fl.grad(lambda w_, xs_: fnp.sum(fl.vmap(loss, in_axes=(None, 0))(w_, xs_)))(A(w), A(xs))
    assert_close(total, want.sum(0), 1e-10)
    # grad of vmap with w batched too (each example's own weights).
    ws = rng.standard_normal((5, 3, 4))
    own = fl.grad(lambda ws_: fnp.sum(fl.vmap(loss, in_axes=(1, 0))(ws_, A(xs))))(A(np.moveaxis(ws, 0, 1)))
    want_own = np.stack([np.asarray(fl.grad(loss)(A(wi), A(x))) for wi, x in zip(ws, xs)])
    assert_close(own, np.moveaxis(want_own, 0, 1), 1e-10)


@pytest.mark.usefixtures("_x64")
def test_jacobians_of_vmap():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    f = fl.vmap(lambda v: lax.cumsum(lax.rev(v, (0,)), axis=0) * lax.reduce_max(v, (0,)))
    jf, jr = fl.jacfwd(f)(A(x)), fl.jacrev(f)(A(x))
    assert_close(jf, jr, 1e-12)
    for b in range(3):
        single = fl.jacfwd(lambda v: lax.cumsum(lax.rev(v, (0,)), axis=0) * lax.reduce_max(v, (0,)))(A(x[b]))
        assert_close(np.asarray(jf)[b, :, b, :], single, 1e-12)


# ---------------------------------------------------------------------------------------------------
# custom_jvp, custom_vjp, checkpoint
# ---------------------------------------------------------------------------------------------------


@fl.custom_jvp
def scaled_sin(x, y):
    return fnp.sin(x) * y


@scaled_sin.defjvp
def _scaled_sin_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    # Deliberately not the true derivative (10x in x), so tests can tell the custom rule was used.
    return scaled_sin(x, y), 10.0 * fnp.cos(x) * y * tx + fnp.sin(x) * ty


def _scaled_sin_grads(x, y):
    return 10.0 * np.cos(x) * y, np.sin(x)


@fl.custom_vjp
def clipped_mul(x, y):
    return x * y


def _clipped_mul_fwd(x, y):
    return x * y, (x, y)


def _clipped_mul_bwd(res, g):
    x, y = res
    return fnp.clip(g * y, -0.5, 0.5), 3.0 * g * x


clipped_mul.defvjp(_clipped_mul_fwd, _clipped_mul_bwd)


def _clipped_mul_grads(x, y):
    return np.clip(y, -0.5, 0.5), 3.0 * x


@pytest.mark.usefixtures("_x64")
@pytest.mark.parametrize("y_axis", [None, 0])
def test_custom_jvp_under_vmap(y_axis):
    rng = np.random.default_rng(2)
    xs = rng.standard_normal(4)
    y = rng.standard_normal(4) if y_axis == 0 else 1.5
    ys = y if y_axis == 0 else np.full(4, y)
    assert_close(fl.vmap(scaled_sin, in_axes=(0, y_axis))(A(xs), A(y)), np.sin(xs) * ys, 1e-12)
    # The batched call is still a custom_jvp_call.
    jaxpr = fl.make_jaxpr(fl.vmap(scaled_sin, in_axes=(0, y_axis)))(A(xs), A(y))
    assert "custom_jvp_call" in str(jaxpr)
    gx, gy = _scaled_sin_grads(xs, ys)
    # vmap of grad
    got = fl.vmap(fl.grad(scaled_sin, argnums=(0, 1)), in_axes=(0, y_axis))(A(xs), A(y))
    assert_close(got[0], gx, 1e-12)
    assert_close(got[1], gy, 1e-12)
    # grad of vmap (an unbatched y gets the sum over the batch)
    got = fl.grad(lambda a, b: fnp.sum(fl.vmap(scaled_sin, in_axes=(0, y_axis))(a, b)), argnums=(0, 1))(
        A(xs), A(y)
    )
    assert_close(got[0], gx, 1e-12)
    assert_close(got[1], gy if y_axis == 0 else gy.sum(), 1e-12)
    # forward mode through vmap, and a nested vmap
    jac = fl.jacfwd(lambda a: fl.vmap(scaled_sin, in_axes=(0, y_axis))(a, A(y)))(A(xs))
    assert_close(jac, np.diag(gx), 1e-12)
    x2 = rng.standard_normal((3, 4))
    nested = fl.vmap(fl.vmap(fl.grad(scaled_sin), in_axes=(0, y_axis)), in_axes=(0, None))(A(x2), A(y))
    assert_close(nested, 10.0 * np.cos(x2) * ys, 1e-12)


@pytest.mark.usefixtures("_x64")
def test_custom_jvp_closure_and_nondiff():
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((4, 3))
    c = A(rng.standard_normal(3))  # closed over: a const of the call

    @fl.custom_jvp
    def f(x):
        return fnp.sum(fnp.exp(x) * c)

    f.defjvp(lambda p, t: (f(p[0]), 2.0 * fnp.sum(fnp.exp(p[0]) * c * t[0])))
    want = 2.0 * np.exp(xs) * np.asarray(c)
    assert_close(fl.vmap(fl.grad(f))(A(xs)), want, 1e-12)
    assert_close(fl.grad(lambda v: fnp.sum(fl.vmap(f)(v)))(A(xs)), want, 1e-12)

    from functools import partial

    @partial(fl.custom_jvp, nondiff_argnums=(0,))
    def power(n, x):
        return x**n

    power.defjvp(lambda n, p, t: (power(n, p[0]), 5.0 * t[0]))
    assert_close(fl.vmap(fl.grad(partial(power, 3)))(A(xs[:, 0])), np.full(4, 5.0), 1e-12)
    assert_close(
        fl.grad(lambda v: fnp.sum(fl.vmap(partial(power, 3))(v)))(A(xs[:, 0])), np.full(4, 5.0), 1e-12
    )


@pytest.mark.usefixtures("_x64")
@pytest.mark.parametrize("y_axis", [None, 0])
def test_custom_vjp_under_vmap(y_axis):
    rng = np.random.default_rng(4)
    xs = rng.standard_normal((4, 2))
    y = rng.standard_normal((4, 2)) if y_axis == 0 else rng.standard_normal(2)
    ys = y if y_axis == 0 else np.broadcast_to(y, (4, 2))
    f = fl.vmap(clipped_mul, in_axes=(0, y_axis))
    assert_close(f(A(xs), A(y)), xs * ys, 1e-12)
    gx, gy = _clipped_mul_grads(xs, ys)

    def loss(a, b):
        return fnp.sum(clipped_mul(a, b))

    got = fl.vmap(fl.grad(loss, argnums=(0, 1)), in_axes=(0, y_axis))(A(xs), A(y))
    assert_close(got[0], gx, 1e-12)
    assert_close(got[1], gy, 1e-12)
    got = fl.grad(lambda a, b: fnp.sum(f(a, b)), argnums=(0, 1))(A(xs), A(y))
    assert_close(got[0], gx, 1e-12)
    assert_close(got[1], gy if y_axis == 0 else gy.sum(0), 1e-12)
    # jacrev maps the backward pass over output cotangents: vmap over custom bwd
    jac = fl.jacrev(lambda a: f(a, A(y)))(A(xs))
    want = np.zeros((4, 2, 4, 2))
    for b in range(4):
        want[b, :, b, :] = np.diag(np.clip(ys[b], -0.5, 0.5))
    assert_close(jac, want, 1e-12)
    # nested vmap of grad
    x3 = rng.standard_normal((3, 4, 2))
    nested = fl.vmap(fl.vmap(fl.grad(loss), in_axes=(0, y_axis)), in_axes=(0, None))(A(x3), A(y))
    assert_close(nested, np.broadcast_to(np.clip(ys, -0.5, 0.5), (3, 4, 2)), 1e-12)


@pytest.mark.usefixtures("_x64")
def test_custom_lin_batching():
    """A linear jaxpr holding a custom_lin, batched by re-tracing it under vmap, then transposed."""
    from functorch_lite.core.jaxpr import eval_jaxpr
    from functorch_lite.core.staging import trace_to_jaxpr
    from functorch_lite.core.trace import ShapedArray
    from functorch_lite.transforms.ad import backward_pass, linearize_flat
    from functorch_lite.transforms.vmap import vmap_flat

    x, y = A(np.array([0.3, -2.0])), A(np.array([1.5, 0.1]))
    _, lin = linearize_flat(lambda a, b: [clipped_mul(a, b)], [x, y])
    assert "custom_lin" in str(lin.jaxpr)

    def batched(*tangents):
        def one(*t):
            return eval_jaxpr(lin.jaxpr, lin.consts, *t)

        return vmap_flat(one, list(tangents), [0, None], lambda outs: [0] * len(outs), 3)

    aval = ShapedArray((3, 2), np.dtype(np.float64))
    staged = trace_to_jaxpr(batched, [aval, ShapedArray((2,), np.dtype(np.float64))])
    assert "custom_lin" in str(staged)
    cts = A(np.arange(6.0).reshape(3, 2) - 2)
    ct_x, ct_y = backward_pass(staged.jaxpr, staged.consts, [cts])
    want_x = np.clip(np.asarray(cts) * np.asarray(y), -0.5, 0.5)
    assert_close(ct_x, want_x, 1e-12)
    assert_close(ct_y, (3.0 * np.asarray(cts) * np.asarray(x)).sum(0), 1e-12)


@pytest.mark.usefixtures("_x64")
def test_checkpoint_under_vmap():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((3, 3))
    xs = rng.standard_normal((4, 3))
    block = fl.checkpoint(lambda w_, x_: fnp.tanh(x_ @ w_) * lax.reduce_max(x_, (0,)))

    def loss(w_, x_):
        return fnp.sum(block(w_, x_) ** 2)

    def plain(w_, x_):
        return fnp.sum((fnp.tanh(x_ @ w_) * lax.reduce_max(x_, (0,))) ** 2)

    out = fl.vmap(block, in_axes=(None, 0))(A(w), A(xs))
    assert_close(out, np.stack([np.asarray(block(A(w), A(x))) for x in xs]), 1e-12)
    assert "checkpoint" in str(fl.make_jaxpr(fl.vmap(block, in_axes=(None, 0)))(A(w), A(xs)))
    grads = [fl.grad(plain, argnums=(0, 1))(A(w), A(x)) for x in xs]
    want_w = np.stack([np.asarray(g[0]) for g in grads])
    want_x = np.stack([np.asarray(g[1]) for g in grads])
    got = fl.vmap(fl.grad(loss, argnums=(0, 1)), in_axes=(None, 0))(A(w), A(xs))
    assert_close(got[0], want_w, 1e-10)
    assert_close(got[1], want_x, 1e-10)
    got = fl.grad(lambda w_, xs_: fnp.sum(fl.vmap(loss, in_axes=(None, 0))(w_, xs_)), argnums=(0, 1))(
        A(w), A(xs)
    )
    assert_close(got[0], want_w.sum(0), 1e-10)
    assert_close(got[1], want_x, 1e-10)
    # in_axes on the last axis and out_axes -1, nested
    ws = rng.standard_normal((3, 3, 2))
    nested = fl.vmap(fl.vmap(block, in_axes=(None, 0)), in_axes=(-1, None), out_axes=-1)(A(ws), A(xs))
    want_nested = np.stack(
        [np.asarray(fl.vmap(block, in_axes=(None, 0))(A(ws[..., k]), A(xs))) for k in range(2)], -1
    )
    assert_close(nested, want_nested, 1e-12)
