"""Derivative rules of the reduction/cumulative primitives (primitives/reductions.py) and the shape primitives
(primitives/shape.py), through the lax and numpy APIs, in float64.

For each primitive, on generated small shapes: ``fl.jvp`` equals central finite differences; the dot-product
test ``<vjp(ct), t> == <ct, jvp(t)>``; ``fl.grad`` of a scalarizing function equals finite differences (along
random directions). Then second order (grad of grad, jvp of grad) for a few of them, and edge cases: ties in
max/min (the tangent is split evenly, as in JAX), products with zeros, negative/interior padding, strided
slices, broadcasting from size-1 dims.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    SETTINGS,
    axes_subsets,
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
from functorch_lite.primitives import reductions as red
from functorch_lite.primitives import shape as sh
from functorch_lite.transforms.ad import Zero, float0


@pytest.fixture(autouse=True)
def _x64():
    """Every test runs in float64 (finite differences need it); the flag is restored afterwards."""
    with x64(True):
        yield


EPS = 1e-6


def A(x):
    return fnp.asarray(x)


# ---------------------------------------------------------------------------------------------------
# Checks (a local helper: finite differences in float64)
# ---------------------------------------------------------------------------------------------------


def _close(got, want, tol=1e-6):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = 1.0 + (np.max(np.abs(want)) if want.size else 0.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)


def _numeric_jvp(f, args, tangents, eps=EPS):
    plus = np.asarray(f(*[A(a + eps * t) for a, t in zip(args, tangents)]))
    minus = np.asarray(f(*[A(a - eps * t) for a, t in zip(args, tangents)]))
    return (plus - minus) / (2 * eps)


def _directions(rng, args):
    return [rng.standard_normal(np.shape(a)) for a in args]


def check_jvp(f, args, rng):
    ts = _directions(rng, args)
    out, tangent_out = fl.jvp(f, tuple(A(a) for a in args), tuple(A(t) for t in ts))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(f(*[A(a) for a in args])))
    assert np.asarray(tangent_out).dtype == np.float64
    _close(tangent_out, _numeric_jvp(f, args, ts))


def check_vjp(f, args, rng):
    primals = [A(a) for a in args]
    out, f_vjp = fl.vjp(f, *primals)
    ct = rng.standard_normal(out.shape)
    cts = f_vjp(A(ct))
    assert len(cts) == len(args)
    for c, a in zip(cts, args):
        assert np.asarray(c).shape == np.shape(a) and np.asarray(c).dtype == np.float64
    ts = _directions(rng, args)
    _, tangent_out = fl.jvp(f, tuple(primals), tuple(A(t) for t in ts))
    lhs = sum(float(np.vdot(np.asarray(c), t)) for c, t in zip(cts, ts))
    rhs = float(np.vdot(ct, np.asarray(tangent_out)))
    assert abs(lhs - rhs) <= 1e-9 * (1.0 + abs(lhs) + abs(rhs)), (lhs, rhs)


def _scalarized(f, weights):
    """A scalar function of ``f``'s output, nonlinear so that reverse mode needs residuals."""
    return lambda *xs: fnp.sum(fnp.sin(f(*xs)) * A(weights))


def check_grad(f, args, rng):
    out_shape = np.shape(np.asarray(f(*[A(a) for a in args])))
    scalar = _scalarized(f, rng.standard_normal(out_shape))
    grads = fl.grad(scalar, argnums=tuple(range(len(args))))(*[A(a) for a in args])
    for _ in range(2):
        ts = _directions(rng, args)
        got = sum(float(np.vdot(np.asarray(g), t)) for g, t in zip(grads, ts))
        _close(got, _numeric_jvp(scalar, args, ts))


# ---------------------------------------------------------------------------------------------------
# Generated cases: each strategy gives (function of float64 arrays, list of NumPy arguments)
# ---------------------------------------------------------------------------------------------------


def _floats(draw, shape, lo=-2.0, hi=2.0):
    size = int(np.prod(shape, dtype=np.int64))
    values = draw(st.lists(st.floats(lo, hi, allow_nan=False, width=64), min_size=size, max_size=size))
    return np.asarray(values, dtype=np.float64).reshape(shape)


def _distinct(draw, shape):
    """Values at least 0.25 apart, so max/min are differentiable and finite differences are exact."""
    size = int(np.prod(shape, dtype=np.int64))
    order = draw(st.permutations(list(range(size)))) if size else []
    offset = draw(st.floats(-1.0, 1.0))
    return (np.asarray(order, dtype=np.float64) * 0.25 - 0.125 * size + offset).reshape(shape)


def _with_zeros(draw, shape):
    """Values in [-1.3, 1.3], zeros drawn often (products are polynomials: differences stay exact)."""
    size = int(np.prod(shape, dtype=np.int64))
    element = st.one_of(st.just(0.0), st.floats(-1.3, 1.3, allow_nan=False, width=64))
    return np.asarray(draw(st.lists(element, min_size=size, max_size=size)), dtype=np.float64).reshape(shape)


@st.composite
def _reduction_case(draw, fn, values):
    shape = draw(shapes(max_rank=3, max_side=3))
    axes = draw(axes_subsets(len(shape)))
    return (lambda x: fn(x, axes)), [values(draw, shape)]


def _nonempty_axes(shape, axes):
    return all(shape[a] > 0 for a in axes)


@st.composite
def _max_min_case(draw, fn):
    shape = draw(shapes(max_rank=3, max_side=3))
    axes = draw(axes_subsets(len(shape)).filter(lambda ax: _nonempty_axes(shape, ax)))
    return (lambda x: fn(x, axes)), [_distinct(draw, shape)]


@st.composite
def _arg_case(draw, fn):
    shape = draw(shapes(min_rank=1, max_rank=3, min_side=1, max_side=3))
    axis = draw(st.integers(0, len(shape) - 1))
    # The integer output gets a float0 tangent; converted to float it scales a differentiable sum.
    return (
        lambda x: lax.reduce_sum(x, (axis,)) * lax.convert_element_type(fn(x, axis, np.int32), np.float64)
    ), [_distinct(draw, shape)]


@st.composite
def _cumulative_case(draw, fn, values):
    shape = draw(shapes(min_rank=1, max_rank=3, max_side=5))
    axis = draw(st.integers(0, len(shape) - 1))
    reverse = draw(st.booleans())
    return (lambda x: fn(x, axis=axis, reverse=reverse)), [values(draw, shape)]


@st.composite
def _broadcast_in_dim_case(draw):
    out_shape = draw(shapes(max_rank=3, max_side=3))
    dims = draw(axes_subsets(len(out_shape)))
    in_shape = tuple(1 if draw(st.booleans()) else out_shape[d] for d in dims)
    return (lambda x: lax.broadcast_in_dim(x, out_shape, dims)), [_floats(draw, in_shape)]


@st.composite
def _reshape_case(draw):
    shape = draw(shapes(max_rank=3, max_side=3))
    dims = draw(permutations(len(shape))) if draw(st.booleans()) else None
    permuted = shape if dims is None else tuple(shape[d] for d in dims)
    target = draw(reshape_targets(permuted))
    return (lambda x: lax.reshape(x, target, dims)), [_floats(draw, shape)]


@st.composite
def _transpose_case(draw):
    shape = draw(shapes(max_rank=3, max_side=3))
    perm = draw(permutations(len(shape)))
    return (lambda x: lax.transpose(x, perm)), [_floats(draw, shape)]


@st.composite
def _squeeze_case(draw):
    shape = tuple(1 if draw(st.booleans()) else d for d in draw(shapes(max_rank=3, max_side=3)))
    dims = tuple(d for d in draw(axes_subsets(len(shape))) if shape[d] == 1)
    return (lambda x: lax.squeeze(x, dims)), [_floats(draw, shape)]


@st.composite
def _rev_case(draw):
    shape = draw(shapes(max_rank=3, max_side=4))
    dims = draw(axes_subsets(len(shape)))
    return (lambda x: lax.rev(x, dims)), [_floats(draw, shape)]


@st.composite
def _slice_case(draw):
    shape = draw(shapes(max_rank=3, max_side=5))
    starts, limits, strides = draw(slice_specs(shape))
    return (lambda x: lax.slice(x, starts, limits, strides)), [_floats(draw, shape)]


@st.composite
def _pad_case(draw):
    shape = draw(shapes(max_rank=3, max_side=3))
    config = draw(padding_configs(shape))
    return (lambda x, v: lax.pad(x, v, config)), [_floats(draw, shape), _floats(draw, ())]


@st.composite
def _concatenate_case(draw):
    shape = draw(shapes(min_rank=1, max_rank=3, max_side=3))
    dim = draw(st.integers(0, len(shape) - 1))
    n = draw(st.integers(1, 3))
    sizes = [draw(st.integers(0, 3)) for _ in range(n)]
    args = [_floats(draw, shape[:dim] + (s,) + shape[dim + 1 :]) for s in sizes]
    return (lambda *xs: lax.concatenate(xs, dim)), args


@st.composite
def _dynamic_slice_case(draw):
    shape = draw(shapes(min_rank=1, max_rank=3, max_side=4))
    sizes = tuple(draw(st.integers(0, d)) for d in shape)
    starts = tuple(draw(st.integers(-2, d + 2)) for d in shape)  # out-of-bounds starts are clamped
    return (lambda x: lax.dynamic_slice(x, starts, sizes)), [_floats(draw, shape)]


@st.composite
def _dynamic_update_slice_case(draw):
    shape = draw(shapes(min_rank=1, max_rank=3, max_side=4))
    sizes = tuple(draw(st.integers(0, d)) for d in shape)
    starts = tuple(draw(st.integers(-2, d + 2)) for d in shape)
    return (lambda x, u: lax.dynamic_update_slice(x, u, starts)), [_floats(draw, shape), _floats(draw, sizes)]


@st.composite
def _iota_case(draw):
    shape = draw(shapes(min_rank=1, max_rank=3, max_side=3))
    dim = draw(st.integers(0, len(shape) - 1))
    return (lambda x: x * lax.broadcasted_iota(np.float64, shape, dim)), [_floats(draw, shape)]


CASES = {
    "reduce_sum": _reduction_case(lax.reduce_sum, _floats),
    "reduce_max": _max_min_case(lax.reduce_max),
    "reduce_min": _max_min_case(lax.reduce_min),
    "reduce_prod": _reduction_case(lax.reduce_prod, _with_zeros),
    "argmax": _arg_case(lax.argmax),
    "argmin": _arg_case(lax.argmin),
    "cumsum": _cumulative_case(lax.cumsum, _floats),
    "cumprod": _cumulative_case(lax.cumprod, _with_zeros),
    "cummax": _cumulative_case(lax.cummax, _distinct),
    "cummin": _cumulative_case(lax.cummin, _distinct),
    "broadcast_in_dim": _broadcast_in_dim_case(),
    "reshape": _reshape_case(),
    "transpose": _transpose_case(),
    "squeeze": _squeeze_case(),
    "rev": _rev_case(),
    "slice": _slice_case(),
    "pad": _pad_case(),
    "concatenate": _concatenate_case(),
    "dynamic_slice": _dynamic_slice_case(),
    "dynamic_update_slice": _dynamic_update_slice_case(),
    "iota": _iota_case(),
}


def _seeded(data):
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(data=st.data())
def test_jvp_matches_finite_differences(name, data):
    f, args = data.draw(CASES[name])
    check_jvp(f, args, _seeded(data))


@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(data=st.data())
def test_vjp_is_the_transpose_of_jvp(name, data):
    f, args = data.draw(CASES[name])
    check_vjp(f, args, _seeded(data))


@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(data=st.data())
def test_grad_matches_finite_differences(name, data):
    f, args = data.draw(CASES[name])
    check_grad(f, args, _seeded(data))


# ---------------------------------------------------------------------------------------------------
# Second order
# ---------------------------------------------------------------------------------------------------

SECOND_ORDER = [
    "reduce_prod",
    "reduce_max",
    "cumprod",
    "cummax",
    "cumsum",
    "broadcast_in_dim",
    "slice",
    "pad",
    "concatenate",
    "dynamic_update_slice",
]


@pytest.mark.parametrize("name", SECOND_ORDER)
@SETTINGS
@given(data=st.data())
def test_grad_of_grad_matches_finite_differences(name, data):
    f, args = data.draw(CASES[name])
    rng = _seeded(data)
    out_shape = np.shape(np.asarray(f(*[A(a) for a in args])))
    scalar = _scalarized(f, rng.standard_normal(out_shape))
    argnums = tuple(range(len(args)))
    gradient = fl.grad(scalar, argnums=argnums)
    vs = _directions(rng, args)

    def along(*xs):  # <grad(x), v>: its gradient is the Hessian-vector product H v
        return sum(fnp.sum(g * A(v)) for g, v in zip(gradient(*xs), vs))

    hvp = fl.grad(along, argnums=argnums)(*[A(a) for a in args])
    ts = _directions(rng, args)
    got = sum(float(np.vdot(np.asarray(h), t)) for h, t in zip(hvp, ts))
    _close(got, _numeric_jvp(along, args, ts), tol=1e-5)
    # Forward over reverse gives the same H v.
    _, hvp_forward = fl.jvp(lambda *xs: gradient(*xs), tuple(A(a) for a in args), tuple(A(v) for v in vs))
    for h, hf in zip(hvp, hvp_forward):
        _close(hf, h, tol=1e-9)


def test_hessian_of_prod_with_two_zeros():
    x = A(np.array([2.0, 0.0, 3.0, 0.0]))
    want = np.zeros((4, 4))
    want[1, 3] = want[3, 1] = 6.0  # only the two zeros' cross term survives
    np.testing.assert_allclose(np.asarray(fl.hessian(fnp.prod)(x)), want)
    np.testing.assert_allclose(np.asarray(fl.jacfwd(fl.grad(fnp.prod))(x)), want)


# ---------------------------------------------------------------------------------------------------
# Edge cases
# ---------------------------------------------------------------------------------------------------


def test_max_ties_split_the_tangent_evenly():
    x = A(np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 0.0]]))
    np.testing.assert_allclose(
        np.asarray(fl.grad(lambda x: fnp.sum(fnp.max(x, axis=1)))(x)),
        [[0.0, 0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3, 0.0]],
    )
    t = A(np.array([[0.0, 1.0, 3.0, 7.0], [1.0, 2.0, 6.0, 7.0]]))
    _, tangent = fl.jvp(lambda x: lax.reduce_max(x, (1,)), (x,), (t,))
    np.testing.assert_allclose(np.asarray(tangent), [2.0, 3.0])
    # Over all axes at once, and min the same way.
    np.testing.assert_allclose(
        np.asarray(fl.grad(lambda x: lax.reduce_max(x, (0, 1)))(x)), [[0, 0, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0]]
    )
    np.testing.assert_allclose(np.asarray(fl.grad(fnp.min)(A(np.array([4.0, 1.0, 1.0])))), [0.0, 0.5, 0.5])


def test_cummax_and_cummin_ties():
    # out[1] = max(x0, x1) at a tie takes half of each tangent; every tangent weight row sums to one.
    np.testing.assert_allclose(
        np.asarray(fl.grad(lambda x: lax.cummax(x)[1])(A(np.array([3.0, 3.0])))), [0.5, 0.5]
    )
    x = A(np.array([2.0, 1.0, 2.0, 4.0, 4.0, 4.0, 3.0]))
    for fn in (lax.cummax, lambda v: -lax.cummin(-v)):
        jac = np.asarray(fl.jacrev(fn)(x))
        np.testing.assert_allclose(jac.sum(axis=1), np.ones(7))
        assert np.all(jac >= 0) and np.all(np.triu(jac, 1) == 0)
        np.testing.assert_allclose(jac[3], [0, 0, 0, 1, 0, 0, 0])
        np.testing.assert_allclose(np.asarray(fl.jacfwd(fn)(x)), jac)
    np.testing.assert_allclose(
        np.asarray(fl.grad(lambda v: fnp.sum(lax.cummax(v)))(x)), [2.5, 0.0, 0.5, 2.5, 1.0, 0.5, 0.0]
    )


def test_prod_with_one_and_two_zeros():
    g = fl.grad(fnp.prod)
    np.testing.assert_allclose(np.asarray(g(A(np.array([2.0, 0.0, 3.0, 4.0])))), [0.0, 24.0, 0.0, 0.0])
    np.testing.assert_allclose(np.asarray(g(A(np.array([2.0, 0.0, 3.0, 0.0])))), np.zeros(4))
    x = A(np.array([[2.0, 0.0], [3.0, 5.0]]))
    np.testing.assert_allclose(
        np.asarray(fl.grad(lambda x: fnp.sum(lax.reduce_prod(x, (0,))))(x)), [[3.0, 5.0], [2.0, 0.0]]
    )
    np.testing.assert_allclose(
        np.asarray(fl.grad(lambda x: lax.reduce_prod(x, (1, 0)))(x)), [[0, 30.0], [0, 0]]
    )
    # An empty product is the constant 1.
    _, tangent = fl.jvp(lambda x: lax.reduce_prod(x, (0,)), (A(np.zeros((0, 2))),), (A(np.zeros((0, 2))),))
    np.testing.assert_array_equal(np.asarray(tangent), [0.0, 0.0])


def test_cumprod_with_zeros():
    x = A(np.array([2.0, 0.0, 3.0, 4.0, 5.0]))
    np.testing.assert_allclose(
        np.asarray(fl.grad(lambda x: fnp.sum(fnp.cumprod(x)))(x)), [1.0, 152.0, 0, 0, 0]
    )
    x = np.array([0.0, 2.0, 0.0, 3.0])
    jac = np.asarray(fl.jacrev(lambda v: lax.cumprod(v, reverse=True))(A(x)))
    want = np.zeros((4, 4))  # reverse: out[i] = x[i] * ... * x[3]
    want[3, 3], want[2, 2], want[1, 2] = 1.0, 3.0, 6.0
    np.testing.assert_allclose(jac, want)
    np.testing.assert_allclose(np.asarray(fl.jacfwd(lambda v: lax.cumprod(v, reverse=True))(A(x))), want)


def test_pad_negative_and_interior():
    x = A(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    config = [(-1, 2, 1), (1, -1, 0)]  # rows: [x0, p, x1] cropped to [p, x1, p, p]; columns: [p, x0, x1]
    y, f_vjp = fl.vjp(lambda x, v: lax.pad(x, v, config), x, A(np.float64(7.0)))
    assert y.shape == (4, 3)
    ct = np.arange(12.0).reshape(4, 3)
    ct_x, ct_v = f_vjp(A(ct))
    np.testing.assert_allclose(np.asarray(ct_x), [[0, 0, 0], [4.0, 5.0, 0]])
    np.testing.assert_allclose(np.asarray(ct_v), ct.sum() - 9.0)
    _, tangent = fl.jvp(lambda v: lax.pad(x, v, config), (A(np.float64(7.0)),), (A(np.float64(1.0)),))
    np.testing.assert_allclose(np.asarray(tangent), np.asarray(lax.pad(x * 0.0, 1.0, config)))


def test_slice_with_strides_transposes_to_a_strided_scatter():
    x = A(np.arange(10.0))
    _, f_vjp = fl.vjp(lambda x: lax.slice(x, (1,), (8,), (3,)), x)  # elements 1, 4, 7
    (ct_x,) = f_vjp(A(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_allclose(np.asarray(ct_x), [0, 1, 0, 0, 2, 0, 0, 3, 0, 0])
    _, f_vjp = fl.vjp(lambda x: x[::4], x)
    np.testing.assert_allclose(np.asarray(f_vjp(A(np.ones(3)))[0]), [1, 0, 0, 0, 1, 0, 0, 0, 1, 0])


def test_broadcast_from_size_one_dims_sums_them():
    x = A(np.array([[1.0, 2.0, 3.0]]))  # (1, 3) -> (2, 4, 3): dim 0 expands from 1, dim 1 is new
    _, f_vjp = fl.vjp(lambda x: lax.broadcast_in_dim(x, (2, 4, 3), (0, 2)), x)
    ct = np.arange(24.0).reshape(2, 4, 3)
    (ct_x,) = f_vjp(A(ct))
    np.testing.assert_allclose(np.asarray(ct_x), ct.sum(axis=(0, 1), keepdims=True)[0])
    assert np.asarray(ct_x).shape == (1, 3)
    x = A(np.array([[1.0], [2.0], [3.0]]))  # (3, 1) -> (2, 3, 4) through numpy broadcasting
    g = fl.grad(lambda x: fnp.sum(fnp.broadcast_to(x, (2, 3, 4)) ** 2))(x)
    np.testing.assert_allclose(np.asarray(g), 16.0 * np.asarray(x))


def test_dynamic_slice_indices_get_no_tangent_and_clamp():
    x = A(np.arange(6.0))

    def f(x, i):
        return lax.dynamic_slice(x, (i,), (3,))

    out, tangent = fl.jvp(f, (x, A(np.int64(5))), (A(np.ones(6)), np.zeros((), float0)))
    np.testing.assert_array_equal(np.asarray(out), [3.0, 4.0, 5.0])  # start clamped to 3
    np.testing.assert_array_equal(np.asarray(tangent), np.ones(3))
    g = fl.grad(lambda x: fnp.sum(f(x, 5) * A(np.array([1.0, 2.0, 3.0]))))(x)
    np.testing.assert_array_equal(np.asarray(g), [0, 0, 0, 1.0, 2.0, 3.0])
    g_x, g_u = fl.grad(
        lambda x, u: fnp.sum(lax.dynamic_update_slice(x, u, (-1,)) * A(np.arange(6.0))), (0, 1)
    )(x, A(np.ones(2)))
    np.testing.assert_array_equal(np.asarray(g_x), [0, 0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(np.asarray(g_u), [0.0, 1.0])


def test_zero_derivative_rules():
    x = A(np.array([[1.0, 5.0], [4.0, 2.0]]))
    for fn in (lax.argmax, lax.argmin):
        out, tangent = fl.jvp(lambda x, fn=fn: fn(x, 1, np.int32), (x,), (A(np.ones((2, 2))),))
        assert np.asarray(tangent).dtype == float0 and np.asarray(tangent).shape == (2,)
    b = A(np.array([[True, False], [True, True]]))
    for prim in (red.reduce_and_p, red.reduce_or_p):
        out, tangent = prim.jvp([b], [Zero(sh.ShapedArray((2, 2), float0, False))], axes=(1,))
        assert type(tangent) is Zero and tangent.aval.dtype == float0 and tangent.aval.shape == (2,)
    out, tangent = sh.iota_p.jvp([], [], dtype=np.dtype(np.int32), shape=(2, 3), dimension=1, sharding=None)
    np.testing.assert_array_equal(np.asarray(out), [[0, 1, 2], [0, 1, 2]])
    assert type(tangent) is Zero and tangent.aval.dtype == float0
    # Through the public API: integer-valued pieces contribute nothing to the gradient.
    g = fl.grad(lambda x: fnp.sum(x * fnp.all(x > 0, axis=1, keepdims=True) * fnp.any(x > 4)))(x)
    np.testing.assert_array_equal(np.asarray(g), np.ones((2, 2)))
