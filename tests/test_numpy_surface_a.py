"""The jax.numpy surface, part A: creation (linspace, logspace, geomspace, meshgrid, tri/tril/triu, diag, indices, array(ndmin)),
elementwise math (sinc, nan_to_num, heaviside, fmax/fmin, copysign, signbit, logaddexp2, isclose, gcd/lcm,
...) and shape/joining (stacks, splits, tile, repeat, flip, roll, rot90, pad, take, take_along_axis, ...).

Values are checked against NumPy on generated shapes and dtypes; result dtypes against jax.numpy's (float32
where NumPy gives float64), with facts recorded from JAX 0.10 (``jax`` itself is not imported). Every
function is also staged (``make_jaxpr`` then ``eval_jaxpr`` equals eager), and ``fl.grad`` of the
differentiable ones is compared with finite differences.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import SETTINGS, arrays_of, assert_same, run_all_ways, shapes, x64

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core.errors import ConcretizationTypeError

A = fnp.asarray
F32 = np.float32


def quiet(fn, *args, **kwargs):
    """NumPy's reference result, with its floating-point warnings silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def staged(fn, *args):
    """``fn(*args)`` eagerly and through ``make_jaxpr`` + ``eval_jaxpr``: the same values, dtypes and weak
    types (one output or a list/tuple of them). Returns the eager result."""
    eager = fn(*args)
    closed = fl.make_jaxpr(fn)(*args)
    outs = fl.eval_jaxpr(closed.jaxpr, closed.consts, *args)
    leaves = list(eager) if isinstance(eager, (list, tuple)) else [eager]
    assert len(outs) == len(leaves)
    for got, want in zip(outs, leaves):
        assert_same(got, want)
        assert got.weak_type == want.weak_type
    return eager


def close(got, want, dtype, rtol=2e-6, atol=2e-6):
    """``got`` has ``dtype`` and matches ``want`` (NaN positions equal) within a tolerance."""
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64), rtol=rtol, atol=atol)


def grad_vs_fd(f, x, eps=1e-6, tol=1e-6):
    """In float64: ``fl.grad(sum(f(x) * w))`` equals central finite differences, element by element."""
    with x64():
        x = np.asarray(x, np.float64)
        w = np.random.default_rng(0).standard_normal(np.shape(f(A(x))))

        def loss(v):
            return fnp.sum(f(v) * A(w))

        got = np.asarray(fl.grad(loss)(A(x)))
        want = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            d = np.zeros_like(x)
            d[i] = eps
            want[i] = (float(loss(A(x + d))) - float(loss(A(x - d)))) / (2 * eps)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


floats = arrays_of("float32")
finite = st.floats(-5, 5, width=32)


# ---------------------------------------------------------------------------------------------------
# Creation
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,kw",
    [
        ((0, 1, 5), {}),
        ((-3.7, 12.25, 50), {}),
        ((2, -5, 7), dict(endpoint=False)),
        ((0, 1, 1), {}),
        ((0, 1, 0), {}),
        ((-7, 13, 9), dict(dtype=np.int32)),  # rounded down, not toward zero
        ((np.array([[0.0], [1.0]]), np.array([2.0, 5.0, -1.0]), 4), dict(axis=-1)),
    ],
)
def test_linspace(args, kw):
    close(fnp.linspace(*args, **kw), np.linspace(*args, **kw), kw.get("dtype", F32), rtol=1e-6)
    # The bounds traced (staged) give the same samples, and the same step.
    bounds = [A(np.asarray(b, F32)) for b in args[:2]]
    got, step = staged(lambda s, e: fnp.linspace(s, e, *args[2:], retstep=True, **kw), *bounds)
    want, want_step = np.linspace(*args, retstep=True, **kw)
    close(got, want, kw.get("dtype", F32), rtol=1e-6)
    close(step, want_step, F32, rtol=1e-6)


def test_spaced_facts_from_jax():
    # Traced bounds (values and gradients from jax.numpy, x64 for the gradients).
    got = fl.jit(lambda s, e: fnp.linspace(s, e, 3, axis=1))(A([0.0, 1.0]), 2.0)
    assert_same(got, np.array([[0.0, 1.0, 2.0], [1.0, 1.5, 2.0]], F32))
    got = fl.vmap(lambda s, e: fnp.geomspace(s, e, 3))(A([1.0, 2.0]), A([4.0, 8.0]))
    close(got, [[1.0, 2.0, 4.0], [2.0, 4.0, 8.0]], F32, rtol=1e-6)
    assert fnp.linspace(A(0, np.float16), 1, 3).dtype == np.float16  # the bounds' inexact dtype
    with x64():
        grads = {
            "linspace": fl.grad(lambda s: fnp.linspace(s, 3.0, 5).sum())(1.0),
            "linspace step": fl.grad(lambda s: fnp.linspace(s, 3.0, 4, retstep=True)[1])(1.0),
            "logspace": fl.grad(lambda s: fnp.logspace(s, 3.0, 5).sum())(1.0),
            "logspace base": fl.grad(lambda b: fnp.logspace(0.5, 2.0, 5, base=b).sum())(3.0),
            "geomspace": fl.grad(lambda s: fnp.geomspace(s, 3.0, 5).sum())(1.0),
            "geomspace stop": fl.grad(lambda e: fnp.geomspace(1.0, e, 5, endpoint=False).sum())(3.0),
        }
    want = {
        "linspace": 2.5,
        "linspace step": -1 / 3,
        "logspace": 374.8010410865263,
        "logspace base": 11.925389188733261,
        "geomspace": 3.422957677737503,
        "geomspace stop": 1.318791130890953,
    }
    np.testing.assert_allclose([float(grads[k]) for k in want], list(want.values()), rtol=1e-12)
    with pytest.raises(ConcretizationTypeError, match="num"):
        fl.jit(lambda n: fnp.linspace(0.0, 1.0, n))(3)


@pytest.mark.parametrize(
    "args,kw",
    [
        ((0, 3, 4), {}),
        ((0, 2, 5), dict(endpoint=False, base=2.0)),
        ((1.5, -1, 7), dict(base=3)),
        ((0, 3, 4), dict(dtype=np.int32)),
        ((np.array([0.0, 1.0]), np.array([2.0, 3.0]), 3), dict(axis=1)),
        ((0, 1, 0), {}),
    ],
)
def test_logspace(args, kw):
    got = fnp.logspace(*args, **kw)
    want = np.logspace(*args, **kw)
    close(got, want, kw.get("dtype", F32), rtol=1e-6)


@pytest.mark.parametrize(
    "args,kw",
    [
        ((1, 1000, 4), {}),
        ((-1, -1000, 4), {}),
        ((2, 5, 3), dict(endpoint=False)),
        ((1, 1000, 4), dict(dtype=np.int32)),
    ],
)
def test_geomspace(args, kw):
    close(fnp.geomspace(*args, **kw), np.geomspace(*args, **kw), kw.get("dtype", F32), rtol=1e-6)
    with pytest.raises(ValueError):
        fnp.geomspace(0, 10, 3)


@given(
    sizes=st.lists(st.integers(0, 3), max_size=3),
    sparse=st.booleans(),
    indexing=st.sampled_from(["xy", "ij"]),
    dtype=st.sampled_from(["float32", "int8"]),
)
@SETTINGS
def test_meshgrid(sizes, sparse, indexing, dtype):
    xs = [np.arange(n).astype(dtype) + k for k, n in enumerate(sizes)]
    got = staged(lambda *a: fnp.meshgrid(*a, sparse=sparse, indexing=indexing), *[A(x) for x in xs])
    want = np.meshgrid(*xs, sparse=sparse, indexing=indexing)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_same(g, w)


def test_meshgrid_needs_1d():
    with pytest.raises(ValueError, match="1D"):
        fnp.meshgrid(fnp.ones((2, 2)), fnp.arange(3))


@pytest.mark.parametrize("N,M,k", [(3, None, 0), (2, 3, 1), (3, 2, -1), (4, 4, 10), (3, 3, -10), (0, 2, 0)])
@pytest.mark.parametrize("dtype", [None, np.int32, np.bool_])
def test_tri(N, M, k, dtype):
    assert_same(fnp.tri(N, M, k, dtype), np.tri(N, M, k, dtype=dtype or F32))


@given(x=arrays_of("float32", shapes(2, 3, 0, 4)), k=st.integers(-5, 5))
@SETTINGS
def test_tril_triu(x, k):
    assert_same(run_all_ways(lambda a: fnp.tril(a, k), A(x)), np.tril(x, k))
    assert_same(run_all_ways(lambda a: fnp.triu(a, k), A(x)), np.triu(x, k))


def test_tril_triu_dtypes_and_errors():
    b = np.array([[True, True], [True, True]])
    assert_same(fnp.triu(A(b)), np.triu(b))
    assert_same(
        fnp.tril(A(np.arange(6, dtype=np.int8).reshape(2, 3)), -1),
        np.tril(np.arange(6, dtype=np.int8).reshape(2, 3), -1),
    )
    for fn in (fnp.tril, fnp.triu):
        with pytest.raises(ValueError, match="2D"):
            fn(fnp.arange(3))


@given(n=st.integers(0, 4), k=st.integers(-5, 5), dtype=st.sampled_from(["float32", "int32", "bool"]))
@SETTINGS
def test_diag_1d(n, k, dtype):
    v = (np.arange(n) + 1).astype(dtype)
    assert_same(run_all_ways(lambda a: fnp.diag(a, k), A(v)), np.diag(v, k))
    assert_same(fnp.diagflat(A(v.reshape(1, -1)), k), np.diagflat(v.reshape(1, -1), k))


@given(x=arrays_of("float32", shapes(2, 2, 0, 4)), k=st.integers(-5, 5))
@SETTINGS
def test_diag_2d(x, k):
    assert_same(run_all_ways(lambda a: fnp.diag(a, k), A(x)), np.diag(x, k))


def test_diag_errors_and_grad():
    with pytest.raises(ValueError, match="1d or 2d"):
        fnp.diag(A(1.0))
    grad_vs_fd(lambda v: fnp.diag(v, 1), [1.0, -2.0, 0.5])
    grad_vs_fd(lambda v: fnp.diag(v, -1), np.arange(9.0).reshape(3, 3))


@pytest.mark.parametrize("dims", [(2, 3), (0, 2), (3,), ()])
@pytest.mark.parametrize("sparse", [False, True])
def test_indices(dims, sparse):
    got = fnp.indices(dims, sparse=sparse)
    want = np.indices(dims, sparse=sparse)
    if sparse:
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w.astype(np.int32))
    else:
        assert_same(got, want.astype(np.int32))
    assert_same(fnp.indices((2,), dtype=np.float32), np.indices((2,), dtype=np.float32))


def test_array_ndmin_and_copy():
    assert_same(fnp.array([1, 2], ndmin=3), np.array([1, 2], ndmin=3).astype(np.int32))
    out = fnp.array(1.0, ndmin=1)
    assert out.shape == (1,) and out.weak_type  # JAX: Array([1.], dtype=float32, weak_type=True)
    assert fnp.array(1.0).weak_type and not fnp.array(np.float32(1.0)).weak_type
    x = fnp.arange(3)
    assert_same(fnp.copy(x), np.arange(3, dtype=np.int32))
    assert fnp.copy(1.0).weak_type
    assert_same(fnp.asarray(np.ones((2, 2), np.float64)), np.ones((2, 2), F32))
    staged(lambda a: fnp.array(a, ndmin=4), A([1.0, 2.0]))


# ---------------------------------------------------------------------------------------------------
# Elementwise math
# ---------------------------------------------------------------------------------------------------

UNARY_FLOAT = [
    ("sinc", np.sinc, 1e-5),
    ("deg2rad", np.deg2rad, 1e-6),
    ("radians", np.radians, 1e-6),
    ("rad2deg", np.rad2deg, 1e-6),
    ("degrees", np.degrees, 1e-6),
    ("fabs", np.fabs, 0),
]


@pytest.mark.parametrize("name,ref,tol", UNARY_FLOAT)
@given(data=st.data())
@SETTINGS
def test_unary_float_results(name, ref, tol, data):
    dtype = data.draw(st.sampled_from(["float32", "int32", "int8", "bool"]))
    x = data.draw(arrays_of(dtype, min_value=-100, max_value=100) if dtype != "bool" else arrays_of(dtype))
    got = run_all_ways(getattr(fnp, name), A(x))
    want = quiet(ref, x.astype(np.float64))
    close(got, want, F32, rtol=tol, atol=tol)  # integers and bools give float32 in jax.numpy


def test_sinc_at_zero_and_derivatives():
    assert float(fnp.sinc(0.0)) == 1.0
    assert fnp.sinc(0.5).weak_type and fnp.sinc(0.5).dtype == F32
    # JAX: grad(sinc)(0) == 0 and the second derivative is -pi**2/3.
    assert float(fl.grad(fnp.sinc)(0.0)) == 0.0
    np.testing.assert_allclose(float(fl.grad(fl.grad(fnp.sinc))(0.0)), -(np.pi**2) / 3, rtol=1e-5)
    grad_vs_fd(fnp.sinc, [-1.3, -0.02, 0.0004, 0.7, 2.5])


def test_sinc_integers_like_jax():
    # JAX computes sin(pi * 1.0) in float32: a tiny nonzero value, not NumPy's 3.9e-17.
    close(fnp.sinc(fnp.arange(3)), [1.0, -2.7827534e-08, 2.7827534e-08], F32, rtol=1e-3, atol=0)


@given(x=floats)
@SETTINGS
def test_nan_to_num(x):
    assert_same(run_all_ways(fnp.nan_to_num, A(x)), np.nan_to_num(x))
    got = fnp.nan_to_num(A(x), nan=1.0, posinf=2.0, neginf=-3.0)
    assert_same(got, np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-3.0))


def test_nan_to_num_facts():
    i8 = np.array([3, -4], np.int8)
    assert_same(fnp.nan_to_num(A(i8)), i8)
    assert_same(fnp.nan_to_num(A([True])), np.array([True]))
    out = fnp.nan_to_num(1.0)
    assert out.dtype == F32 and not out.weak_type  # JAX: strong float32 for a Python scalar
    grad_vs_fd(fnp.nan_to_num, [1.0, -2.0])


def _binary_inputs(dtype, **kw):
    return st.tuples(*(arrays_of(dtype, st.just(s), **kw) for s in ((3,), (2, 3))))


BINARY = [
    ("heaviside", np.heaviside),
    ("fmax", np.fmax),
    ("fmin", np.fmin),
    ("copysign", np.copysign),
    ("logaddexp2", np.logaddexp2),
    ("float_power", np.float_power),
]


@pytest.mark.parametrize("name,ref", BINARY)
@given(xy=_binary_inputs("float32"))
@SETTINGS
def test_binary_float(name, ref, xy):
    x, y = xy
    if name == "copysign":
        y = np.where(np.isnan(y), np.float32(1.0), y)  # the sign of a NaN is not seen (see fnp.signbit)
    got = run_all_ways(getattr(fnp, name), A(x), A(y))
    want = quiet(ref, x, y)
    close(got, want.astype(F32), F32, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,ref", BINARY)
def test_binary_dtypes(name, ref):
    i8 = np.array([3, -4, 0], np.int8)
    got = getattr(fnp, name)(A(i8), A(np.array([2, 2, 2], np.int8)))
    integer_result = name in ("fmax", "fmin")  # the rest give float32 in jax.numpy
    want = quiet(ref, i8, np.int8(2)) if integer_result else quiet(ref, i8.astype(np.float64), 2.0)
    expected = np.int8 if integer_result else F32
    close(got, want, expected, rtol=1e-6)
    # Python scalars stay weak.
    out = getattr(fnp, name)(1.0, 2.0)
    assert out.dtype == F32 and out.weak_type


def test_binary_facts_from_jax():
    f = A([0.0, 1.5, np.nan, np.inf, -np.inf])
    assert_same(fnp.heaviside(f, 0.5), np.array([0.5, 1.0, np.nan, 1.0, 0.0], F32))
    assert_same(fnp.heaviside(A([0, 1]), A([2, 2])), np.array([2.0, 1.0], F32))
    nan = np.nan
    assert_same(fnp.fmax(f, A([nan, 1.0, 2.0, nan, 1.0])), np.array([0.0, 1.5, 2.0, np.inf, 1.0], F32))
    assert_same(fnp.fmin(A([nan, nan]), A([nan, 1.0])), np.array([nan, 1.0], F32))
    assert_same(fnp.fmax(A([True, False]), False), np.array([True, False]))
    assert_same(
        fnp.logaddexp2(A([0.0, -np.inf, np.inf, np.inf, nan]), A([0.0, -np.inf, np.inf, -np.inf, 1.0])),
        np.array([1.0, -np.inf, np.inf, np.inf, nan], F32),
    )
    assert_same(fnp.copysign(fnp.arange(3), -1), np.array([-0.0, -1.0, -2.0], F32))
    assert np.signbit(np.asarray(fnp.copysign(1.0, -0.0)))


@given(x=arrays_of("float32"))
@SETTINGS
def test_signbit(x):
    x = np.where(np.isnan(x), np.float32(np.nan), x)  # positive NaNs only (see the docstring)
    assert_same(run_all_ways(fnp.signbit, A(x)), np.signbit(x))


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "bool"])
def test_signbit_integers(dtype):
    x = (
        np.array([0, 1, 1], dtype)
        if dtype == "bool"
        else np.array([-3, 0, 5], dtype)
        if dtype != "uint8"
        else np.array([0, 7, 255], dtype)
    )
    assert_same(fnp.signbit(A(x)), np.signbit(x))
    assert_same(fnp.signbit(A([-0.0, 0.0, -1.0])), np.array([True, False, True]))


@pytest.mark.parametrize("fn", [fnp.conj, fnp.conjugate, fnp.real, fnp.imag])
@pytest.mark.parametrize("dtype", ["float32", "int8", "bool"])
def test_real_imag_conj(fn, dtype):
    x = np.array([1, 0, 1], dtype)
    ref = {fnp.imag: np.imag}.get(fn, lambda v: v)  # NumPy's conj turns bools into int8; JAX keeps them
    assert_same(run_all_ways(fn, A(x)), ref(x))
    out = fn(1.0)
    assert out.weak_type and out.dtype == F32  # JAX: weak scalars stay weak (imag(1.0) is a weak 0.0)


@given(xy=_binary_inputs("float32", special=(1e-9, 1.0000001)), equal_nan=st.booleans())
@SETTINGS
def test_isclose_allclose(xy, equal_nan):
    x, y = xy
    want = np.isclose(x, y, equal_nan=equal_nan)
    assert_same(run_all_ways(lambda a, b: fnp.isclose(a, b, equal_nan=equal_nan), A(x), A(y)), want)
    got = fnp.allclose(A(x), A(y), equal_nan=equal_nan)
    assert isinstance(got, fnp.ndarray)
    assert_same(got, np.bool_(np.allclose(x, y, equal_nan=equal_nan)))


def test_isclose_facts_from_jax():
    a = A([0.0, 1.5, np.nan, np.inf, -np.inf])
    b = A([1e-9, 1.5000001, np.nan, np.inf, np.inf])
    assert_same(fnp.isclose(a, b), np.array([True, True, False, True, False]))
    assert_same(fnp.isclose(a, b, equal_nan=True), np.array([True, True, True, True, False]))
    i8 = A(np.array([3, -4], np.int8))
    assert_same(fnp.isclose(i8, A(np.array([3, -3], np.int8)), atol=2), np.array([True, True]))
    assert_same(fnp.isclose(i8, 3.0), np.array([True, False]))
    assert_same(fnp.allclose(fnp.ones((2, 3)), 1), np.bool_(True))


@given(x=floats, equal_nan=st.booleans())
@SETTINGS
def test_array_equal(x, equal_nan):
    want = np.array_equal(x, x, equal_nan=equal_nan)
    assert_same(run_all_ways(lambda a: fnp.array_equal(a, a, equal_nan=equal_nan), A(x)), np.bool_(want))
    assert_same(fnp.array_equal(A(x), A(x[..., None])), np.bool_(x.size == 0 and x.ndim == 0 and False))
    assert_same(fnp.array_equal(fnp.arange(2), A([0.0, 1.0])), np.bool_(True))
    assert_same(fnp.array_equal(fnp.ones((2, 2)), fnp.ones(2)), np.bool_(False))  # no broadcasting


@given(xy=_binary_inputs("int32", min_value=-50, max_value=50), dtype=st.sampled_from(["int32", "float32"]))
@SETTINGS
def test_divmod(xy, dtype):
    x, y = (v.astype(dtype) for v in xy)
    y = np.where(y == 0, np.array(3, dtype), y)
    q, r = staged(fnp.divmod, A(x), A(y))
    wq, wr = np.divmod(x, y)
    assert_same(q, wq)
    assert_same(r, wr)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32"])
@given(data=st.data())
@SETTINGS
def test_gcd_lcm(dtype, data):
    kw = {} if dtype != "int32" else dict(min_value=-(10**6), max_value=10**6)
    x, y = data.draw(_binary_inputs(dtype, **kw))
    assert_same(run_all_ways(fnp.gcd, A(x), A(y)), np.gcd(x, y))
    assert_same(run_all_ways(fnp.lcm, A(x), A(y)), quiet(np.lcm, x, y))


def test_gcd_lcm_facts_from_jax():
    assert_same(fnp.gcd(A([12, -18, 0, 0, 7]), A([18, 12, 5, 0, -21])), np.array([6, 6, 5, 0, 7], np.int32))
    assert_same(fnp.lcm(A([4, -6, 0, 0]), A([6, 4, 5, 0])), np.array([12, 12, 0, 0], np.int32))
    assert_same(fnp.lcm(A(np.array([100], np.int8)), A(np.array([3], np.int8))), np.array([44], np.int8))
    out = fnp.gcd(4, 6)
    assert int(out) == 2 and out.dtype == np.int32 and out.weak_type
    assert_same(fnp.gcd(A(np.array([4], np.int8)), A(np.array([6], np.int32))), np.array([2], np.int32))
    for bad in (A([1.0]), A([True])):
        with pytest.raises(ValueError, match="integers"):
            fnp.gcd(bad, bad)


@given(x=arrays_of("float32", min_value=-100, max_value=100), decimals=st.integers(0, 2))
@SETTINGS
def test_around_fix(x, decimals):
    assert_same(run_all_ways(lambda a: fnp.around(a, decimals), A(x)), fnp.round(A(x), decimals))
    assert_same(run_all_ways(fnp.fix, A(x)), np.fix(x))
    i8 = np.array([3, -4], np.int8)
    assert_same(fnp.fix(A(i8)), i8)


def test_math_grads():
    x, y = [0.3, -1.2, 2.0], [1.1, 0.4, -0.7]
    grad_vs_fd(lambda v: fnp.fmax(v, A(y)), x)
    grad_vs_fd(lambda v: fnp.fmin(A(y), v), x)
    grad_vs_fd(lambda v: fnp.copysign(v, A(y)), x)
    grad_vs_fd(lambda v: fnp.logaddexp2(v, A(y)), x)
    grad_vs_fd(lambda v: fnp.float_power(fnp.abs(v) + 0.5, A(y)), x)
    grad_vs_fd(fnp.deg2rad, x)
    grad_vs_fd(fnp.fabs, x)
    # logaddexp2 at a tie: the gradient is split evenly, 1/2 each.
    np.testing.assert_allclose(np.asarray(fl.grad(lambda v: fnp.logaddexp2(v, 1.0))(1.0)), 0.5, rtol=1e-6)


def test_complex_is_refused():
    z = A(np.array([1 + 2j], np.complex64))
    with pytest.raises(NotImplementedError, match="complex"):
        fnp.real(z)


# ---------------------------------------------------------------------------------------------------
# Stacking, splitting
# ---------------------------------------------------------------------------------------------------

STACK_CASES = [
    [(), ()],
    [(2,), (3,)],
    [(2, 1), (2, 3)],
    [(1, 2, 3), (1, 4, 3)],
]


@pytest.mark.parametrize("fn", ["hstack", "vstack", "dstack", "column_stack"])
@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_stacks(fn, dtype):
    ref = getattr(np, fn)
    for case in STACK_CASES + [[(3,), (3,)], [(2, 2), (2, 2)], [(1, 2, 2), (1, 2, 2)]]:
        xs = [np.arange(int(np.prod(s)), dtype=dtype).reshape(s) + k for k, s in enumerate(case)]
        try:
            want = ref(xs)
        except ValueError:
            with pytest.raises(ValueError):
                getattr(fnp, fn)([A(x) for x in xs])
            continue
        got = staged(lambda *a: getattr(fnp, fn)(list(a)), *[A(x) for x in xs])
        assert_same(got, want)


def test_stack_facts_from_jax():
    out = fnp.hstack([1, 2.0])
    assert out.dtype == F32 and out.weak_type
    assert_same(
        fnp.hstack([fnp.arange(2), fnp.arange(2)], dtype=np.float32), np.array([0.0, 1.0, 0.0, 1.0], F32)
    )
    assert fnp.vstack([1, 2]).shape == (2, 1) and fnp.dstack([1, 2]).shape == (1, 1, 2)
    assert_same(fnp.column_stack([1, 2]), np.array([[1, 2]], np.int32))
    assert_same(fnp.vstack(fnp.ones((2, 3))), np.ones((2, 3), F32))  # an array is a sequence of rows


@st.composite
def split_args(draw):
    shape = draw(shapes(1, 3, 0, 6))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    if draw(st.booleans()):
        spec = draw(st.integers(1, 4))
    else:
        spec = draw(st.lists(st.integers(-n - 2, n + 2), max_size=3))
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape), spec, axis


@given(args=split_args())
@SETTINGS
def test_split_array_split(args):
    x, spec, axis = args
    want = np.array_split(x, spec, axis)
    got = staged(lambda a: fnp.array_split(a, spec, axis), A(x))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_same(g, w)
    try:
        want = np.split(x, spec, axis)
    except ValueError:
        with pytest.raises(ValueError, match="equal division"):
            fnp.split(A(x), spec, axis)
        return
    for g, w in zip(fnp.split(A(x), spec, axis), want):
        assert_same(g, w)


def test_hsplit_vsplit_dsplit():
    x = np.arange(24.0, dtype=F32).reshape(2, 4, 3)
    for fn, spec in (("hsplit", 2), ("vsplit", [1]), ("dsplit", 3), ("hsplit", [1, 3])):
        for g, w in zip(getattr(fnp, fn)(A(x), spec), getattr(np, fn)(x, spec)):
            assert_same(g, w)
    for g, w in zip(fnp.hsplit(fnp.arange(4), 2), np.hsplit(np.arange(4, dtype=np.int32), 2)):
        assert_same(g, w)
    assert [p.shape for p in fnp.vsplit(fnp.arange(5.0), [2])] == [(2,), (3,)]  # as jax.numpy
    with pytest.raises(ValueError):
        fnp.dsplit(fnp.ones((2, 2)), 2)
    with pytest.raises(ValueError):
        fnp.array_split(fnp.ones(3), 0)
    with pytest.raises(ConcretizationTypeError):
        fl.make_jaxpr(lambda s: fnp.split(fnp.arange(4), s))(A([1]))


# ---------------------------------------------------------------------------------------------------
# tile, repeat, flip, roll, rot90, atleast_nd, append
# ---------------------------------------------------------------------------------------------------


@given(x=arrays_of("float32", shapes(0, 3, 0, 3)), reps=st.lists(st.integers(0, 3), max_size=3))
@SETTINGS
def test_tile(x, reps):
    assert_same(run_all_ways(lambda a: fnp.tile(a, tuple(reps)), A(x)), np.tile(x, tuple(reps)))
    assert_same(fnp.tile(A(x), 2), np.tile(x, 2))


@st.composite
def repeat_args(draw):
    shape = draw(shapes(0, 3, 0, 4))
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1)) if shape else None
    n = int(np.prod(shape)) if axis is None else shape[axis]
    if draw(st.booleans()):
        repeats = draw(st.integers(0, 3))
    else:
        repeats = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    x = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    return x, repeats, axis


@given(args=repeat_args())
@SETTINGS
def test_repeat(args):
    x, repeats, axis = args
    want = np.repeat(x, repeats, axis)
    assert_same(run_all_ways(lambda a: fnp.repeat(a, repeats, axis), A(x)), want)
    # The same counts, traced: total_repeat_length gives the static output length.
    if not isinstance(repeats, int) and x.size:
        total = int(np.sum(repeats))
        fn = lambda a, r: fnp.repeat(a, r, axis, total_repeat_length=total)  # noqa: E731
        assert_same(staged(fn, A(x), A(np.asarray(repeats, np.int32))), want)


def test_repeat_facts_from_jax():
    a, r = fnp.arange(3), A([1, 0, 2])
    assert_same(fnp.repeat(a, r, total_repeat_length=5), np.array([0, 2, 2, 2, 2], np.int32))
    assert_same(fnp.repeat(a, r, total_repeat_length=2), np.array([0, 2], np.int32))
    traced = fl.make_jaxpr(lambda r: fnp.repeat(a, r, total_repeat_length=4))(r)
    assert_same(traced(r)[0], np.array([0, 2, 2, 2], np.int32))
    # A shortfall repeats a's last element, even when it is not repeated, with concrete or traced counts.
    r = A([0, 1, 0])
    assert_same(staged(lambda r: fnp.repeat(a, r, total_repeat_length=3), r), np.array([1, 2, 2], np.int32))
    assert_same(fl.jit(lambda r: fnp.repeat(a, r, total_repeat_length=3))(r), np.array([1, 2, 2], np.int32))
    m, r = fnp.arange(6).reshape(2, 3), A([1, 0])
    want = np.array([[0, 1, 2], [3, 4, 5], [3, 4, 5]], np.int32)
    assert_same(staged(lambda r: fnp.repeat(m, r, axis=0, total_repeat_length=3), r), want)
    assert fnp.repeat(1.0, 3).weak_type
    with pytest.raises(ConcretizationTypeError, match="total_repeat_length"):
        fl.make_jaxpr(lambda r: fnp.repeat(a, r))(r)
    with pytest.raises(ValueError):
        fnp.repeat(a, -1)
    grad_vs_fd(lambda v: fnp.repeat(v, [2, 0, 1]), [1.0, 2.0, 3.0])
    grad_vs_fd(lambda v: fnp.tile(v, (2, 1)), [[1.0, 2.0]])


@st.composite
def array_and_axes(draw, min_rank=0):
    x = draw(arrays_of("float32", shapes(min_rank, 3, 0, 4)))
    axes = (
        draw(st.lists(st.integers(-x.ndim, x.ndim - 1), unique_by=lambda a: a % x.ndim, max_size=x.ndim))
        if x.ndim
        else []
    )
    return x, axes


@given(args=array_and_axes())
@SETTINGS
def test_flip(args):
    x, axes = args
    assert_same(run_all_ways(fnp.flip, A(x)), np.flip(x))
    assert_same(run_all_ways(lambda a: fnp.flip(a, tuple(axes)), A(x)), np.flip(x, tuple(axes)))
    if axes:
        assert_same(fnp.flip(A(x), axes[0]), np.flip(x, axes[0]))
    if x.ndim >= 1:
        assert_same(fnp.flipud(A(x)), np.flipud(x))
    if x.ndim >= 2:
        assert_same(fnp.fliplr(A(x)), np.fliplr(x))
    else:
        with pytest.raises(ValueError):
            fnp.fliplr(A(x))


@given(args=array_and_axes(), shifts=st.lists(st.integers(-9, 9), min_size=1, max_size=3))
@SETTINGS
def test_roll(args, shifts):
    x, axes = args
    assert_same(run_all_ways(lambda a: fnp.roll(a, shifts[0]), A(x)), np.roll(x, shifts[0]))
    if axes:
        s = tuple(shifts[: len(axes)]) if len(shifts) >= len(axes) else shifts[0]
        assert_same(run_all_ways(lambda a: fnp.roll(a, s, tuple(axes)), A(x)), np.roll(x, s, tuple(axes)))
        # A traced shift (dynamic_slice of the array joined to itself).
        closed = fl.make_jaxpr(lambda a, k: fnp.roll(a, k, axes[0]))(A(x), A(0))
        for k in (shifts[0], -shifts[-1]):
            assert_same(closed(A(x), A(k))[0], np.roll(x, k, axes[0]))


def test_roll_grad_and_facts():
    x = np.arange(6).reshape(2, 3)
    assert_same(fnp.roll(A(x), 1, (0, 1)), np.roll(x, 1, (0, 1)).astype(np.int32))
    assert_same(fnp.roll(A(x), (1, 2), 1), np.roll(x, (1, 2), 1).astype(np.int32))
    grad_vs_fd(lambda v: fnp.roll(v, 2), [1.0, 2.0, 3.0, 4.0])
    dyn = lambda v: fnp.roll(v, A(1), 0)  # noqa: E731
    grad_vs_fd(dyn, [1.0, 2.0, 3.0])


@given(x=arrays_of("float32", shapes(2, 3, 0, 3)), k=st.integers(-5, 5), data=st.data())
@SETTINGS
def test_rot90(x, k, data):
    axes = tuple(
        data.draw(
            st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=2, max_size=2, unique_by=lambda a: a % x.ndim)
        )
    )
    assert_same(run_all_ways(lambda a: fnp.rot90(a, k, axes), A(x)), np.rot90(x, k, axes))


def test_rot90_errors_and_grad():
    with pytest.raises(ValueError):
        fnp.rot90(fnp.arange(3))
    with pytest.raises(ValueError):
        fnp.rot90(fnp.ones((2, 2)), 1, (1, 1))
    grad_vs_fd(lambda v: fnp.rot90(v) * A([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.arange(6.0).reshape(2, 3))


@given(x=arrays_of("int8", shapes(0, 4, 0, 3)))
@SETTINGS
def test_atleast_nd_append(x):
    for fn in ("atleast_2d", "atleast_3d"):
        assert_same(run_all_ways(getattr(fnp, fn), A(x)), getattr(np, fn)(x))
    a, b = fnp.atleast_3d(A(x), 1.0)
    assert_same(a, np.atleast_3d(x)) and b.shape == (1, 1, 1)
    assert_same(run_all_ways(lambda v: fnp.append(v, v), A(x)), np.append(x, x))
    if x.ndim:
        assert_same(fnp.append(A(x), A(x), axis=-1), np.append(x, x, axis=-1))
    out = fnp.append(fnp.arange(2), 2.5)
    assert out.dtype == F32 and out.weak_type  # as jax.numpy: int32 joined to a weak float
    assert fnp.atleast_2d(1.0).weak_type


# ---------------------------------------------------------------------------------------------------
# pad
# ---------------------------------------------------------------------------------------------------


@st.composite
def pad_args(draw):
    shape = draw(shapes(0, 3, 0, 4))
    dtype = draw(st.sampled_from(["float32", "int32"]))
    x = (np.arange(int(np.prod(shape))) * 3 % 7 - 2).astype(dtype).reshape(shape)
    form = draw(st.sampled_from(["int", "pair", "per_axis"]))
    width = st.integers(0, 9)
    if form == "int":
        pw = draw(width)
    elif form == "pair":
        pw = (draw(width), draw(width))
    else:
        pw = [(draw(width), draw(width)) for _ in shape] or 0
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
    kwargs = {}
    if mode in ("reflect", "symmetric"):
        kwargs["reflect_type"] = draw(st.sampled_from(["even", "odd"]))
    if mode == "constant" and draw(st.booleans()):
        kwargs["constant_values"] = draw(st.sampled_from([5, -1.5, (1, 2), [(3, 4)] * len(shape)]))
    return x, pw, mode, kwargs


@given(args=pad_args())
@SETTINGS
def test_pad(args):
    x, pw, mode, kwargs = args
    try:
        want = np.pad(x, pw, mode, **kwargs)
    except ValueError:
        with pytest.raises(ValueError):
            fnp.pad(A(x), pw, mode, **kwargs)
        return
    assert_same(run_all_ways(lambda a: fnp.pad(a, pw, mode, **kwargs), A(x)), want)


def test_pad_facts_and_errors():
    assert_same(fnp.pad(fnp.arange(2), 1, constant_values=(7, 9.5)), np.array([7, 0, 1, 9], np.int32))
    x = fnp.arange(4).reshape(2, 2)
    want = np.pad(np.arange(4).reshape(2, 2), ((1, 0), (0, 1)), constant_values=((1, 2), (3, 4)))
    assert_same(fnp.pad(x, ((1, 0), (0, 1)), constant_values=((1, 2), (3, 4))), want.astype(np.int32))
    assert_same(fnp.pad(fnp.arange(3.0), 1, "empty"), np.array([0.0, 0.0, 1.0, 2.0, 0.0], F32))
    assert fnp.pad(1.0, 1).weak_type and fnp.pad(1.0, 1).shape == ()
    with pytest.raises(ValueError, match="empty axis"):
        fnp.pad(fnp.zeros(0), 1, "edge")
    with pytest.raises(ValueError):
        fnp.pad(fnp.arange(3), -1)
    with pytest.raises(NotImplementedError, match="mode"):
        fnp.pad(fnp.arange(3.0), 1, "mean")
    # A traced scalar constant.
    closed = fl.make_jaxpr(lambda a, c: fnp.pad(a, 2, constant_values=c))(fnp.ones(2), A(0.0))
    assert_same(closed(fnp.ones(2), A(7.0))[0], np.array([7, 7, 1, 1, 7, 7], F32))


@pytest.mark.parametrize(
    "mode,kw",
    [
        ("constant", {}),
        ("edge", {}),
        ("reflect", {}),
        ("reflect", dict(reflect_type="odd")),
        ("symmetric", {}),
        ("wrap", {}),
    ],
)
def test_pad_grad(mode, kw):
    grad_vs_fd(lambda v: fnp.pad(v, (4, 5), mode, **kw), [1.0, -2.0, 0.5])
    grad_vs_fd(lambda v: fnp.pad(v, ((1, 0), (2, 3)), mode, **kw), np.arange(6.0).reshape(2, 3))


# ---------------------------------------------------------------------------------------------------
# take, take_along_axis
# ---------------------------------------------------------------------------------------------------

FILL = {"float32": np.nan, "int32": np.iinfo(np.int32).min, "uint8": 255, "bool": True}


def take_reference(x, idx, axis, mode):
    """NumPy's take with jax.numpy's modes: 'fill' counts negatives from the end, then fills the rest."""
    if axis is None:
        x, axis = x.ravel(), 0
    axis %= x.ndim
    n = x.shape[axis]
    if mode != "fill":
        return np.take(x, idx, axis, mode=mode)
    norm = np.where(idx < 0, idx + n, idx)
    ok = (norm >= 0) & (norm < n)
    out = np.take(x, np.clip(norm, 0, n - 1), axis)
    ok = ok.reshape((1,) * axis + ok.shape + (1,) * (x.ndim - axis - 1))
    return np.where(ok, out, np.asarray(FILL[x.dtype.name]).astype(x.dtype))


@st.composite
def take_args(draw):
    dtype = draw(st.sampled_from(["float32", "int32", "uint8", "bool"]))
    shape = draw(shapes(0, 3, 1, 4))
    x = draw(arrays_of(dtype, st.just(shape), **({} if dtype == "bool" else dict(min_value=0, max_value=99))))
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1)) if shape else None
    n = x.size if axis is None else shape[axis]
    idx = draw(hnp.arrays(np.int32, shapes(0, 2, 0, 3), elements=st.integers(-2 * n - 1, 2 * n)))
    mode = draw(st.sampled_from(["fill", "clip", "wrap", None]))
    return x, idx, axis, mode


@given(args=take_args())
@SETTINGS
def test_take(args):
    x, idx, axis, mode = args
    want = take_reference(x, idx, axis, mode or "fill")
    assert_same(run_all_ways(lambda a, i: fnp.take(a, i, axis, mode=mode), A(x), A(idx)), want)


def test_take_facts_from_jax():
    a = fnp.arange(5)
    i = A([-1, 5, -6, 2])
    assert_same(fnp.take(a, i), np.array([4, -(2**31), -(2**31), 2], np.int32))
    assert_same(fnp.take(a.astype(np.float32), i, fill_value=7), np.array([4, 7, 7, 2], F32))
    assert_same(fnp.take(a, i, mode="clip"), np.array([0, 4, 0, 2], np.int32))
    assert_same(fnp.take(a, i, mode="wrap"), np.array([4, 0, 4, 2], np.int32))
    assert_same(fnp.take(a, A([True])), np.array([1], np.int32))
    assert_same(fnp.take(fnp.arange(300), A(np.array([255], np.uint8))), np.array([255], np.int32))
    assert fnp.take(A(5), A([0, 0])).weak_type  # as in JAX
    with pytest.raises(ValueError, match="integer"):
        fnp.take(a, A([1.0]))
    with pytest.raises(NotImplementedError):
        fnp.take(a, A([1]), mode="raise")
    with pytest.raises(IndexError):
        fnp.take(fnp.zeros((0, 3)), A([0]), axis=0)
    grad_vs_fd(lambda v: fnp.take(v, A([2, 0, 2, 7]), mode="clip"), [1.0, 2.0, 3.0])
    grad_vs_fd(lambda v: fnp.take(v, A([[1, -1]]), axis=1) * 1.0, np.arange(6.0).reshape(2, 3))


@st.composite
def take_along_args(draw):
    shape = draw(shapes(1, 3, 1, 4))
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) - 3
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    # indices: the axis gets its own length; the other dims are either the array's or 1 (broadcast).
    ishape = tuple(
        draw(st.integers(0, 4)) if d == axis % len(shape) else draw(st.sampled_from([s, 1]))
        for d, s in enumerate(shape)
    )
    idx = draw(hnp.arrays(np.int32, ishape, elements=st.integers(-n - 2, n + 1)))
    return x, idx, axis


@given(args=take_along_args(), mode=st.sampled_from([None, "clip"]))
@SETTINGS
def test_take_along_axis(args, mode):
    x, idx, axis = args
    n = x.shape[axis]
    norm = np.where(idx < 0, idx + n, idx)
    ok = (norm >= 0) & (norm < n)
    want = np.take_along_axis(x, np.clip(norm, 0, n - 1), axis)
    if mode is None:
        want = np.where(ok, want, np.float32(np.nan))
    got = run_all_ways(lambda a, i: fnp.take_along_axis(a, i, axis, mode=mode), A(x), A(idx))
    assert_same(got, want)


def test_take_along_axis_facts_and_grad():
    x = fnp.arange(6).reshape(2, 3)
    assert_same(
        fnp.take_along_axis(x, A([[0, -1, 3]]), axis=1),
        np.array([[0, 2, -(2**31)], [3, 5, -(2**31)]], np.int32),
    )
    assert_same(fnp.take_along_axis(x, A([0, -1, 7]), axis=None), np.array([0, 5, -(2**31)], np.int32))
    assert_same(fnp.take_along_axis(x, A([[1], [0]]), axis=0), np.array([[3, 4, 5], [0, 1, 2]], np.int32))
    with pytest.raises(ValueError, match="same number of dimensions"):
        fnp.take_along_axis(x, A([1, 0]), axis=0)
    with pytest.raises(ValueError):
        fnp.take_along_axis(x, A([[1, 0]]), axis=0)  # (1, 2) does not broadcast against (_, 3)
    v = np.array([[3.0, 1.0, 2.0], [0.5, -1.0, 4.0]])
    order = A(np.argsort(v, axis=1).astype(np.int32))
    assert_same(fnp.take_along_axis(A(v.astype(F32)), order, axis=1), np.sort(v, axis=1).astype(F32))
    grad_vs_fd(lambda a: fnp.take_along_axis(a, order, axis=1), v)
    # Under vmap, the batch dimension becomes one more batching dimension of the gather.
    xs = np.arange(24.0, dtype=F32).reshape(4, 2, 3)
    got = fl.vmap(lambda a: fnp.take_along_axis(a, order, axis=1))(A(xs))
    assert_same(got, np.stack([np.take_along_axis(a, np.asarray(order), 1) for a in xs]))
