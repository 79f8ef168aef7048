"""Fused C kernels against the numpy path, on hypothesis-generated inputs.

Every function here is jitted with kernels forced on (no size threshold) and compared with the same
function run eagerly (the primitives' numpy impls): bit for bit for arithmetic, comparisons, selects,
conversions and sqrt; within a few ulp for the float32 exp/tanh/log/logistic approximations; within a
summation-order tolerance for float sums. Shapes avoid unit dimensions (a unit dimension changes the
kernel's structure, so each would compile again; they have their own cases). Each distinct kernel is
compiled once per test module and found in the in-memory cache afterwards.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from kernel_corpus import gelu, layernorm, needs_cc, softmax
from strategies import x64

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.compiler import cpu
from functorch_lite.core.array import Array

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True)


pytestmark = needs_cc


@pytest.fixture(autouse=True, scope="module")
def _always_fuse():
    previous = cpu.settings.min_elements
    cpu.settings.min_elements = 0
    with x64():  # float64 / int64 arrays keep their dtype
        yield
    cpu.settings.min_elements = previous


_jitted: dict = {}


def check(f, *args, ulps: int = 0, rtol: float = 0.0, kernels: int | None = None):
    """Run ``f`` jitted (fused) and eagerly; compare. ``args`` are numpy arrays (views allowed)."""
    jf = _jitted.setdefault(f, fl.jit(f))
    arrays = [Array(a, False) for a in args]
    before = cpu.stats["fallbacks"]
    got = jf(*arrays)
    assert cpu.stats["fallbacks"] == before, "the kernel refused its inputs"
    text = jf.lower(*arrays).as_text()
    assert "fused kernels" in text
    if kernels is not None:
        assert text.count("FL_EXPORT int k") == kernels, text[:3000]
    with fl.disable_jit():
        want = f(*arrays)
    got_l = got if isinstance(got, (tuple, list)) else [got]
    want_l = want if isinstance(want, (tuple, list)) else [want]
    for g, w in zip(got_l, want_l):
        assert_close(np.asarray(g), np.asarray(w), ulps=ulps, rtol=rtol)


def _ordered(x: np.ndarray) -> np.ndarray:
    """Float bits as integers that are ordered like the floats (-0 and +0 adjacent)."""
    bits = x.view(np.int32 if x.dtype == np.float32 else np.int64).astype(np.int64)
    top = np.int64(0x7FFFFFFF if x.dtype == np.float32 else 0x7FFFFFFFFFFFFFFF)
    return np.where(bits < 0, -(bits & top), bits)


def assert_close(got: np.ndarray, want: np.ndarray, ulps: int = 0, rtol: float = 0.0) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    np.testing.assert_array_equal(nan_g, nan_w, err_msg="NaN positions differ")
    g, w = got[~nan_w], want[~nan_w]
    if rtol:
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)
        return
    diff = np.abs(_ordered(g) - _ordered(w))
    diff = np.where(g == w, 0, diff)  # -0 == +0
    assert diff.max(initial=0) <= ulps, (
        f"{diff.max()} ulp apart (allowed {ulps}): got {g[diff.argmax()]!r}, want {w[diff.argmax()]!r}"
    )


# ---------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------


def shapes(rank: int):
    """Small leading axes; the innermost one crosses the C kernels' block widths (16 and 64 elements), so
    that both whole blocks and a row's partial last block are checked."""
    return st.tuples(*[st.integers(2, 7)] * (rank - 1), st.sampled_from([2, 5, 16, 17, 31, 64, 70]))


def floats(dtype: str, shape, special: bool = True, **kw):
    width = 32 if dtype == "float32" else 64
    elements = st.floats(width=width, allow_nan=special, allow_infinity=special, **kw)
    return hnp.arrays(dtype, shape, elements=elements)


def ints(dtype: str, shape):
    return hnp.arrays(dtype, shape, elements=st.integers(np.iinfo(dtype).min, np.iinfo(dtype).max))


def _pair(draw, make, rank: int = 2):
    shape = draw(shapes(rank))
    return draw(make(shape)), draw(make(shape))


# ---------------------------------------------------------------------------------------------------
# Elementwise arithmetic: bit for bit
# ---------------------------------------------------------------------------------------------------


def f_arith(x, y):
    a = x * y + x
    b = lax.div(a, y) - lax.max(x, y) * 2.0
    c = lax.min(b, lax.neg(x)) + lax.abs(y) * lax.sign(x)
    return lax.select(x > y, c, lax.sqrt(lax.abs(a))) + lax.floor(x) - lax.ceil(y) + lax.round(x, 1)


def f_more(x, y):
    p = lax.integer_pow(x, 3) + lax.integer_pow(y, -2) * lax.rsqrt(lax.abs(x) + 1.0)
    q = lax.clamp(lax.neg(lax.abs(y)), x, lax.abs(y))
    fin = lax.is_finite(p).astype(x.dtype)
    return p * fin + q, (x <= y) & (x != y) | (x >= y) & (x == y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@SETTINGS
@given(data=st.data())
def test_float_arithmetic_bitwise(dtype, data):
    x, y = _pair(data.draw, lambda s: floats(dtype, s))
    check(f_arith, x, y)
    check(f_more, x, y)


def f_convert(x):
    return (
        x.astype(np.int32),
        x.astype(np.int8),
        x.astype(np.uint8),
        x.astype(bool),
        (x * 3.0).astype(np.float64).astype(np.float32),
    )


@SETTINGS
@given(x=floats("float32", (5, 6)))
def test_float_to_int_conversions_saturate(x):
    check(f_convert, x)


def test_conversion_edges():
    x = np.array(
        [
            np.nan,
            np.inf,
            -np.inf,
            3e9,
            -3e9,
            2147483520.0,
            -2147483648.0,
            255.9,
            256.0,
            -0.5,
            -1.0,
            127.5,
            -129.0,
            0.0,
        ],
        np.float32,
    )
    check(f_convert, np.tile(x, (3, 1)))


def f_int(x, y):
    s = x + y * x - y
    q = lax.div(x, y)
    r = lax.rem(x, y)
    m = lax.max(x, y) - lax.min(x, y) + lax.abs(x) + lax.neg(y) + lax.sign(x)
    return s, q, r, m, (x & y) | (x ^ ~y), x.astype(np.float32) * 0.5


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "int16", "uint32", "int64"])
@SETTINGS
@given(data=st.data())
def test_integer_arithmetic_wraps_like_numpy(dtype, data):
    x, y = _pair(data.draw, lambda s: ints(dtype, s))
    check(f_int, x, y)


def test_integer_division_edges():
    m = np.iinfo(np.int32).min
    x = np.array([[7, -7, 7, -7, m, m, 5, -5, 0, 1], [3, 3, -3, -3, -1, 1, 0, 0, 0, m]], np.int32).T.copy()
    check(f_int, x[:, 0].reshape(2, 5).copy(), x[:, 1].reshape(2, 5).copy())


def f_shift(x, y):
    return lax.shift_left(x, y), lax.shift_right_logical(x, y), lax.shift_right_arithmetic(x, y)


@pytest.mark.parametrize("dtype", ["int32", "uint8"])
@SETTINGS
@given(data=st.data())
def test_shifts_saturate(dtype, data):
    shape = data.draw(shapes(2))
    x = data.draw(ints(dtype, shape))
    lo = -3 if dtype == "int32" else 0
    y = data.draw(hnp.arrays(dtype, shape, elements=st.integers(lo, 40)))
    check(f_shift, x, y)


def f_bool(a, b):
    return (a & ~b) | (a ^ b), lax.select(a, b, ~b), a == b, a.astype(np.float32) + b.astype(np.int32)


@SETTINGS
@given(data=st.data())
def test_bool_is_bytes(data):
    a, b = _pair(data.draw, lambda s: hnp.arrays(bool, s))
    check(f_bool, a, b)


# ---------------------------------------------------------------------------------------------------
# Transcendentals: a few ulp
# ---------------------------------------------------------------------------------------------------


def f_exp(x):
    return fnp.exp(x)


def f_tanh(x):
    return fnp.tanh(x)


def f_log(x):
    return fnp.log(x)


def f_logistic(x):
    return lax.logistic(x)


@pytest.mark.parametrize("f", [f_exp, f_tanh, f_log, f_logistic])
@SETTINGS
@given(x=floats("float32", (6, 7)))
def test_float32_vector_maths_within_4_ulp(f, x):
    check(f, x, ulps=4)


def test_float32_vector_maths_special_values():
    x = np.array(
        [
            np.nan,
            np.inf,
            -np.inf,
            0.0,
            -0.0,
            1e-45,
            -1e-45,
            1e-38,
            88.72,
            88.73,
            -87.3,
            -103.9,
            -104.5,
            9.0,
            0.62,
            1.0,
        ],
        np.float32,
    )
    for f in (f_exp, f_tanh, f_log, f_logistic, f_exp_shifted):
        check(f, np.tile(x, (2, 1)), ulps=4)


def f_exp_shifted(x):
    return fnp.exp(x - lax.stop_gradient(fnp.max(x, axis=-1, keepdims=True)))


@SETTINGS
@given(x=floats("float32", shapes(2)))
def test_exp_of_x_minus_its_row_max(x):
    # the argument is known to be <= 0 or NaN, so this exp skips the overflow clamp: within a few ulp of numpy
    # all the same, infinities, NaN and rows spanning the whole float range included
    check(f_exp_shifted, x, ulps=4)
    assert "fl_expnegf(" in fl.jit(f_exp_shifted).lower(Array(x, False)).as_text()


@SETTINGS
@given(x=floats("float32", st.integers(1, 3000), special=False, min_value=-20, max_value=20))
def test_gelu_one_kernel(x):
    check(gelu, x, rtol=2e-6, kernels=1)  # 1 + tanh cancels: compare absolutely


# ---------------------------------------------------------------------------------------------------
# Layouts: broadcasts, transposes, strided views, 0-d and unit dimensions
# ---------------------------------------------------------------------------------------------------


def f_bcast(x, r, c, s):
    return (x * r[:, None] + c[None, :]) * s - fnp.transpose(x.T)


@SETTINGS
@given(data=st.data())
def test_broadcast_inputs_are_index_maps(data):
    n, m = data.draw(shapes(2))
    x = data.draw(floats("float32", (n, m)))
    r = data.draw(floats("float32", (n,)))
    c = data.draw(floats("float32", (m,)))
    s = np.float32(data.draw(st.floats(-4, 4, width=32)))
    check(f_bcast, x, r, c, np.asarray(s))


def f_two(x, y):
    return x * 2.0 + y


@SETTINGS
@given(data=st.data())
def test_strided_and_transposed_views(data):
    n, m = data.draw(shapes(2))
    big = data.draw(floats("float32", (2 * n + 1, 3 * m)))
    x = big[1::2, ::3]  # strided rows and columns
    y = np.ascontiguousarray(big[: 2 * n : 2, : 3 * m : 3].T).T  # Fortran order
    check(f_two, x, y)
    check(f_two, x.T, y.T)
    check(f_two, big[::-2, ::-3][:n, :m], x)  # negative strides


def test_unit_dims_zero_d_and_empty():
    check(f_two, np.ones((1, 5), np.float32), np.arange(5, dtype=np.float32).reshape(1, 5))
    check(f_two, np.ones((4, 1), np.float32), np.full((4, 1), 2, np.float32))
    check(f_two, np.asarray(np.float32(3)), np.asarray(np.float32(4)))
    jf = fl.jit(f_two)
    out = jf(fnp.zeros((0, 3)), fnp.zeros((0, 3)))
    assert out.shape == (0, 3)


def test_unaligned_or_foreign_input_falls_back():
    raw = np.zeros(4 * 12 + 1, np.uint8)[1:].view(np.float32).reshape(3, 4)  # misaligned float32
    raw[:] = np.arange(12, dtype=np.float32).reshape(3, 4)
    jf = fl.jit(f_two)
    before = cpu.stats["fallbacks"]
    out = jf(Array(raw, False), Array(np.ones((3, 4), np.float32), False))
    assert cpu.stats["fallbacks"] == before + 1
    np.testing.assert_array_equal(np.asarray(out), raw * 2 + 1)


# ---------------------------------------------------------------------------------------------------
# Reductions and row kernels
# ---------------------------------------------------------------------------------------------------


def f_reduce_0(x):
    return fnp.sum(x * x, axis=0), fnp.max(x, axis=0), fnp.min(x - 1.0, axis=0), fnp.prod(x, axis=0)


def f_reduce_1(x):
    return fnp.sum(x * x, axis=1), fnp.max(x, axis=1), fnp.min(x - 1.0, axis=1), fnp.prod(x, axis=1)


def f_reduce_2(x):
    return fnp.sum(x * x, axis=2), fnp.max(x, axis=2), fnp.min(x - 1.0, axis=2), fnp.prod(x, axis=2)


def f_reduce_all(x):
    return fnp.sum(x * 2.0) / 3.0, fnp.max(fnp.abs(x))


@pytest.mark.parametrize("f", [f_reduce_0, f_reduce_1, f_reduce_2, f_reduce_all])
@SETTINGS
@given(x=floats("float32", shapes(3), special=False, min_value=-2, max_value=2))
def test_reductions_along_each_axis(f, x):
    check(f, x, rtol=2e-5)


@SETTINGS
@given(x=floats("float32", shapes(2)))
def test_max_min_propagate_nan(x):
    check(f_reduce_1, x, rtol=2e-5)


def f_int_reduce(x):
    return fnp.sum(x, axis=1), fnp.max(x, axis=0), fnp.min(x, axis=1), lax.reduce_and(x > 0, (1,))


@SETTINGS
@given(x=ints("int32", shapes(2)))
def test_integer_reductions_exact(x):
    check(f_int_reduce, x)


def ln_softmax(x, g, b):
    return layernorm(softmax(x), g, b)


@SETTINGS
@given(data=st.data())
def test_row_kernels(data):
    n = data.draw(st.integers(2, 7))
    m = data.draw(st.integers(2, 40))
    x = data.draw(floats("float32", (n, m), special=False, min_value=-30, max_value=30))
    g = data.draw(floats("float32", (m,), special=False, min_value=-2, max_value=2))
    b = data.draw(floats("float32", (m,), special=False, min_value=-2, max_value=2))
    check(softmax, x, rtol=2e-6, kernels=1)
    check(layernorm, x, g, b, rtol=1e-4, kernels=1)
    check(ln_softmax, x, g, b, rtol=1e-3, kernels=1)
    check(softmax, np.ascontiguousarray(x.T).T, rtol=2e-6)  # strided rows


def softmax_parts(x):
    # a row kernel with several outputs (exp's row is kept in an output row), feeding kernels of other dtypes
    e = fnp.exp(x - fnp.max(x, axis=-1, keepdims=True))
    s = fnp.sum(e, axis=-1, keepdims=True)
    return e / s, (e * s).astype(np.float64), e - 1.0


@SETTINGS
@given(data=st.data())
def test_row_kernels_with_several_outputs(data):
    x = data.draw(
        floats("float32", (data.draw(st.integers(2, 5)), data.draw(st.integers(2, 70))), special=False)
    )
    check(softmax_parts, x, rtol=2e-6)
    check(softmax_parts, np.ascontiguousarray(x.T).T, rtol=2e-6)


def test_softmax_of_nan_and_inf_rows():
    x = np.array(
        [[1.0, np.nan, 2.0, 0.5], [np.inf, 1.0, 2.0, 3.0], [-np.inf] * 4, [1.0, 2.0, 3.0, 4.0]], np.float32
    )
    check(softmax, x, rtol=2e-6)


def test_reduction_broadcast_back_over_leading_axis_ends_kernel():
    def f(x):
        return x / fnp.sum(x, axis=0, keepdims=True)

    x = np.random.default_rng(0).uniform(1, 2, (6, 5)).astype(np.float32)
    check(f, x, rtol=1e-6, kernels=1)  # the column sum is numpy's, the division a kernel
