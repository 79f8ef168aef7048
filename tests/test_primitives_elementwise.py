"""Property tests for the elementwise primitives (functorch_lite/primitives/elementwise.py) through the
lax API: eager equals a NumPy/Python reference (values and dtype), the staged jaxpr type-checks with the
eager result's aval, staged-then-evaluated equals eager, and bad operands raise typed errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    ALL_DTYPES,
    FLOAT_DTYPES,
    INT_DTYPES,
    NUMBER_DTYPES,
    SETTINGS,
    arrays_of,
    assert_same,
    broadcastable_arrays,
    float_elements,
    int_elements,
    lax_broadcastable_shapes,
    needs_x64,
    run_all_ways,
    shapes,
    tolerance,
    wrap_ints,
    x64,
)

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.core.errors import ShapeDtypeError, ShapeError
from functorch_lite.core.trace import ShapedArray
from functorch_lite.primitives import elementwise as ew

# numpy RuntimeWarnings from some eager ops are a known issue (see test_eager_ops_do_not_warn).
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(autouse=True)
def _x64_for_64bit_cases(request):
    """float64/int64 cases run with enable_x64 on (else inputs would become 32-bit); restored after."""
    with x64(needs_x64(request)):
        yield


def A(x):
    return fnp.asarray(x)


def quiet(fn):
    def reference(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    return reference


def in_f64(fn):
    """A reference computed in float64 and rounded to the input's dtype."""

    def reference(x):
        with np.errstate(all="ignore"):
            return np.asarray(fn(x.astype(np.float64))).astype(x.dtype)

    return reference


def per_element(fn):
    """A reference applying a Python float function to each element (computed in float64)."""

    def reference(x):
        out = [fn(float(v)) for v in x.ravel()]
        return np.array(out, dtype=np.float64).reshape(x.shape).astype(x.dtype)

    return reference


def _digamma_fd(v):
    if math.isnan(v):
        return math.nan
    h = 1e-5
    return (math.lgamma(v + h) - math.lgamma(v - h)) / (2 * h)


def _nan_safe(fn):
    return lambda v: math.nan if math.isnan(v) else fn(v)


# ---------------------------------------------------------------------------------------------------
# Unary
# ---------------------------------------------------------------------------------------------------

# name -> (lax function, reference, exact?)
FLOAT_UNARY = {
    "exp": (lax.exp, quiet(np.exp), False),
    "exp2": (lax.exp2, quiet(np.exp2), False),
    "log": (lax.log, quiet(np.log), False),
    "log1p": (lax.log1p, quiet(np.log1p), False),
    "expm1": (lax.expm1, quiet(np.expm1), False),
    "tanh": (lax.tanh, quiet(np.tanh), False),
    "logistic": (lax.logistic, in_f64(lambda x: 1.0 / (1.0 + np.exp(-x))), False),
    "sin": (lax.sin, quiet(np.sin), False),
    "cos": (lax.cos, quiet(np.cos), False),
    "tan": (lax.tan, quiet(np.tan), False),
    "asin": (lax.asin, quiet(np.arcsin), False),
    "acos": (lax.acos, quiet(np.arccos), False),
    "atan": (lax.atan, quiet(np.arctan), False),
    "sinh": (lax.sinh, quiet(np.sinh), False),
    "cosh": (lax.cosh, quiet(np.cosh), False),
    "asinh": (lax.asinh, quiet(np.arcsinh), False),
    "acosh": (lax.acosh, quiet(np.arccosh), False),
    "atanh": (lax.atanh, quiet(np.arctanh), False),
    "sqrt": (lax.sqrt, quiet(np.sqrt), False),
    "rsqrt": (lax.rsqrt, in_f64(lambda x: 1.0 / np.sqrt(x)), False),
    "cbrt": (lax.cbrt, quiet(np.cbrt), False),
    "floor": (lax.floor, np.floor, True),
    "ceil": (lax.ceil, np.ceil, True),
    "is_finite": (lax.is_finite, np.isfinite, True),
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", sorted(FLOAT_UNARY))
@SETTINGS
@given(data=st.data())
def test_float_unary_matches_numpy(name, dtype, data):
    fn, reference, exact = FLOAT_UNARY[name]
    x = data.draw(arrays_of(dtype))
    out = run_all_ways(fn, A(x), primitive=name)
    assert_same(out, reference(x), **({} if exact else tolerance(dtype)))


# Special functions: their accuracy is tested in test_special_math.py; here only wiring, dtype and
# rough agreement with Python's math module.
SPECIAL = {
    "erf": (lax.erf, per_element(_nan_safe(math.erf)), dict(min_value=-5.0, max_value=5.0)),
    "erfc": (lax.erfc, per_element(_nan_safe(math.erfc)), dict(min_value=-5.0, max_value=5.0)),
    "lgamma": (lax.lgamma, per_element(_nan_safe(math.lgamma)), dict(min_value=0.05, max_value=20.0)),
    "digamma": (lax.digamma, per_element(_digamma_fd), dict(min_value=0.5, max_value=10.0)),
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", sorted(SPECIAL))
@SETTINGS
@given(data=st.data())
def test_special_functions_wiring(name, dtype, data):
    fn, reference, bounds = SPECIAL[name]
    x = data.draw(arrays_of(dtype, elements=float_elements(dtype, allow_infinity=False, **bounds)))
    x = np.where(x == 0, np.asarray(bounds["min_value"], dtype), x)  # +-0 is outside lgamma/digamma's range
    out = run_all_ways(fn, A(x), primitive=name)
    tol = tolerance(dtype, f32=2e-5, f64=1e-8 if name == "digamma" else 1e-11)
    assert_same(out, reference(x), **tol)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@SETTINGS
@given(data=st.data())
def test_erf_inv_inverts_erf(dtype, data):
    y = data.draw(arrays_of(dtype, elements=float_elements(dtype, -0.99, 0.99, allow_infinity=False)))
    out = run_all_ways(lax.erf_inv, A(y), primitive="erf_inv")
    assert out.dtype == np.dtype(dtype) and out.shape == y.shape
    back = per_element(_nan_safe(math.erf))(np.asarray(out))
    assert_same(back, y, **tolerance(dtype, f32=1e-5, f64=1e-11))


def test_erf_inv_edges():
    out = np.asarray(lax.erf_inv(A(np.array([-1.0, 1.0, 0.0, 1.5, np.nan], np.float32))))
    np.testing.assert_array_equal(out[:3], [-np.inf, np.inf, 0.0])
    assert np.isnan(out[3:]).all()


NUMBER_UNARY = {
    "neg": (lax.neg, np.negative),
    "sign": (lax.sign, quiet(np.sign)),
    "abs": (lax.abs, np.abs),
}


@pytest.mark.parametrize("dtype", NUMBER_DTYPES)
@pytest.mark.parametrize("name", sorted(NUMBER_UNARY))
@SETTINGS
@given(data=st.data())
def test_number_unary_matches_numpy(name, dtype, data):
    fn, reference = NUMBER_UNARY[name]
    x = data.draw(arrays_of(dtype))
    out = run_all_ways(fn, A(x), primitive=name)
    assert_same(out, reference(x))  # integers wrap (neg/abs of the minimum stay the minimum)


@pytest.mark.parametrize("dtype", INT_DTYPES + ["bool"])
@SETTINGS
@given(data=st.data())
def test_bitwise_not(dtype, data):
    x = data.draw(arrays_of(dtype))
    out = run_all_ways(lax.bitwise_not, A(x), primitive="not")
    assert_same(out, np.logical_not(x) if dtype == "bool" else np.invert(x))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@SETTINGS
@given(data=st.data())
def test_stop_gradient_is_identity(dtype, data):
    x = data.draw(arrays_of(dtype))
    assert_same(run_all_ways(lax.stop_gradient, A(x), primitive="stop_gradient"), x)


def _round_half_away(v):
    from fractions import Fraction

    if not math.isfinite(v):
        return v
    magnitude = math.floor(Fraction(abs(v)) + Fraction(1, 2))  # exact: no float rounding in the halfway test
    return math.copysign(float(magnitude), v)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@SETTINGS
@given(data=st.data())
def test_round_half_away_from_zero(dtype, data):
    halves = [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, -0.49999997, 0.49999999999999994]
    x = data.draw(arrays_of(dtype, elements=float_elements(dtype, special=halves)))
    out = run_all_ways(lax.round, A(x), primitive="round")
    assert_same(out, per_element(_round_half_away)(x))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@SETTINGS
@given(data=st.data())
def test_round_to_nearest_even(dtype, data):
    x = data.draw(arrays_of(dtype, elements=float_elements(dtype, special=[0.5, 1.5, 2.5, -0.5, -2.5])))
    out = run_all_ways(lambda v: lax.round(v, 1), A(x), primitive="round")
    assert_same(out, np.round(x))


def test_round_impl_half_away_from_zero():
    # The impl itself is right; only the abstract rule rejects the param (see ROUND_BUG).
    x = np.array([0.5, -0.5, 1.5, 2.5, -2.5, 0.49999997, 3.2, -3.7], np.float32)
    np.testing.assert_array_equal(ew.round_p.impl(x), [1, -1, 2, 3, -3, 0, 3, -4])
    np.testing.assert_array_equal(ew.round_p.impl(x, rounding_method=1), np.round(x))


# ---------------------------------------------------------------------------------------------------
# Binary
# ---------------------------------------------------------------------------------------------------


def _nan_max(x, y):
    return np.where(np.isnan(x) | np.isnan(y), np.nan, np.where(x >= y, x, y)).astype(x.dtype)


def _nan_min(x, y):
    return np.where(np.isnan(x) | np.isnan(y), np.nan, np.where(x <= y, x, y)).astype(x.dtype)


# name -> (lax function, reference, exact?)
FLOAT_BINARY = {
    "add": (lax.add, np.add, True),
    "sub": (lax.sub, np.subtract, True),
    "mul": (lax.mul, np.multiply, True),
    "div": (lax.div, quiet(np.true_divide), True),
    "rem": (lax.rem, quiet(np.fmod), True),
    "pow": (lax.pow, quiet(np.power), False),
    "atan2": (lax.atan2, quiet(np.arctan2), False),
    "max": (lax.max, _nan_max, True),
    "min": (lax.min, _nan_min, True),
    "nextafter": (lax.nextafter, np.nextafter, True),
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", sorted(FLOAT_BINARY))
@SETTINGS
@given(data=st.data())
def test_float_binary_matches_numpy(name, dtype, data):
    fn, reference, exact = FLOAT_BINARY[name]
    x, y = data.draw(broadcastable_arrays(dtype))
    out = run_all_ways(fn, A(x), A(y), primitive=name)
    assert_same(out, reference(x, y), **({} if exact else tolerance(dtype)))


def _trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _trunc_rem(a, b):
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def _int_reference(fn):
    def reference(x, y):
        x, y = np.broadcast_arrays(x, y)
        return wrap_ints(
            np.array([fn(int(a), int(b)) for a, b in zip(x.ravel(), y.ravel())], object).reshape(x.shape),
            x.dtype,
        )

    return reference


INT_BINARY = {
    "add": (lax.add, _int_reference(lambda a, b: a + b)),
    "sub": (lax.sub, _int_reference(lambda a, b: a - b)),
    "mul": (lax.mul, _int_reference(lambda a, b: a * b)),
    "div": (lax.div, _int_reference(_trunc_div)),  # rounds toward zero, unlike numpy's //
    "rem": (lax.rem, _int_reference(_trunc_rem)),  # the sign of the dividend (C's %, np.fmod)
    "max": (lax.max, np.maximum),
    "min": (lax.min, np.minimum),
    "and": (lax.bitwise_and, np.bitwise_and),
    "or": (lax.bitwise_or, np.bitwise_or),
    "xor": (lax.bitwise_xor, np.bitwise_xor),
}


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("name", sorted(INT_BINARY))
@SETTINGS
@given(data=st.data())
def test_int_binary_matches_reference(name, dtype, data):
    fn, reference = INT_BINARY[name]
    x, y = data.draw(broadcastable_arrays(dtype))
    if name in ("div", "rem"):
        y = np.where(y == 0, np.ones_like(y), y)  # division by zero is implementation-defined in lax
    out = run_all_ways(fn, A(x), A(y), primitive=name)
    assert_same(out, reference(x, y))


BOOL_BINARY = {
    "and": (lax.bitwise_and, np.logical_and),
    "or": (lax.bitwise_or, np.logical_or),
    "xor": (lax.bitwise_xor, np.logical_xor),
    "max": (lax.max, np.logical_or),
    "min": (lax.min, np.logical_and),
}


@pytest.mark.parametrize("name", sorted(BOOL_BINARY))
@SETTINGS
@given(data=st.data())
def test_bool_binary(name, data):
    fn, reference = BOOL_BINARY[name]
    x, y = data.draw(broadcastable_arrays("bool"))
    assert_same(run_all_ways(fn, A(x), A(y), primitive=name), reference(x, y))


COMPARISONS = {
    "eq": (lax.eq, np.equal),
    "ne": (lax.ne, np.not_equal),
    "lt": (lax.lt, np.less),
    "le": (lax.le, np.less_equal),
    "gt": (lax.gt, np.greater),
    "ge": (lax.ge, np.greater_equal),
}


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("name", sorted(COMPARISONS))
@SETTINGS
@given(data=st.data())
def test_comparisons(name, dtype, data):
    fn, reference = COMPARISONS[name]
    x, y = data.draw(broadcastable_arrays(dtype))
    out = run_all_ways(fn, A(x), A(y), primitive=name)
    assert_same(out, reference(x, y))  # bool result; NaN compares unequal
    assert not out.weak_type


# Shifts: the shift amount is read as unsigned; amounts >= the bit width give 0 (left, logical right) or
# the sign fill (arithmetic right), as in XLA.


def _bits(dtype):
    return np.dtype(dtype).itemsize * 8


def _unsigned(v, bits):
    return v & ((1 << bits) - 1)


def _signed(v, bits):
    v = _unsigned(v, bits)
    return v - (1 << bits) if v >> (bits - 1) else v


def _shift_reference(kind, dtype):
    bits = _bits(dtype)

    def one(a, b):
        amount = _unsigned(b, bits)
        if kind == "shift_left":
            return 0 if amount >= bits else a << amount
        if kind == "shift_right_logical":
            return 0 if amount >= bits else _unsigned(a, bits) >> amount
        a = _signed(a, bits)  # arithmetic: the top bit is the sign, even for unsigned types
        return (-1 if a < 0 else 0) if amount >= bits else a >> amount

    return _int_reference(one)


SHIFTS = {
    "shift_left": lax.shift_left,
    "shift_right_logical": lax.shift_right_logical,
    "shift_right_arithmetic": lax.shift_right_arithmetic,
}


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("name", sorted(SHIFTS))
@SETTINGS
@given(data=st.data())
def test_shifts(name, dtype, data):
    bits = _bits(dtype)
    x, _ = data.draw(broadcastable_arrays(dtype))
    # Negative amounts (huge when read as unsigned) are covered by test_shift_right_arithmetic_huge_amounts.
    low = 0 if name == "shift_right_arithmetic" else -2
    y = data.draw(arrays_of(dtype, x.shape, elements=int_elements(dtype, low, bits + 2)))
    out = run_all_ways(SHIFTS[name], A(x), A(y), primitive=name)
    assert_same(out, _shift_reference(name, dtype)(x, y))


@pytest.mark.parametrize(
    "dtype, x, y",
    [("int32", [-8, 8], [-1, -1]), ("int8", [-8, 8], [-3, -3]), ("uint8", [200, 8], [200, 130])],
)
def test_shift_right_arithmetic_huge_amounts(dtype, x, y):
    x, y = np.array(x, dtype), np.array(y, dtype)
    assert_same(
        lax.shift_right_arithmetic(A(x), A(y)), _shift_reference("shift_right_arithmetic", dtype)(x, y)
    )


def test_shift_left_and_logical_of_huge_amounts_are_zero():
    x = np.array([-8, 8, 1], np.int32)
    for amount in (-1, 32, 33, 2**31 - 1):
        y = np.full(3, amount, np.int32)
        assert_same(lax.shift_left(A(x), A(y)), np.zeros(3, np.int32))
        assert_same(lax.shift_right_logical(A(x), A(y)), np.zeros(3, np.int32))


def test_binary_with_python_scalar_takes_array_dtype():
    x = np.array([1.5, -2.0], np.float32)
    assert_same(lax.add(A(x), 2.0), x + np.float32(2.0))
    assert_same(lax.mul(3, A(np.array([1, 2], np.uint8))), np.array([3, 6], np.uint8))


def test_float64_is_canonicalized_without_x64():
    with x64(False):
        out = lax.sin(A(np.array([1.0, 2.0], np.float64)))
        assert out.dtype == np.float32
    with x64(True):
        out = lax.sin(A(np.array([1.0, 2.0], np.float64)))
        assert out.dtype == np.float64


# ---------------------------------------------------------------------------------------------------
# integer_pow, convert_element_type
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@SETTINGS
@given(data=st.data())
def test_integer_pow_float(dtype, data):
    magnitudes = st.floats(float(np.asarray(0.01, dtype)), 10.0, width=_bits(dtype))
    finite = st.tuples(st.sampled_from([1, -1]), magnitudes).map(lambda t: t[0] * t[1])
    elements = st.one_of(finite, finite, st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0]))
    x = data.draw(arrays_of(dtype, elements=elements))
    y = data.draw(st.integers(-4, 5))  # negative exponents: reciprocals (1/0 = inf)
    out = run_all_ways(lambda v: lax.integer_pow(v, y), A(x), primitive="integer_pow")
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), float(y)).astype(dtype)
    assert_same(out, want, **tolerance(dtype, f32=1e-6, f64=1e-14))


@pytest.mark.parametrize("dtype", INT_DTYPES)
@SETTINGS
@given(data=st.data())
def test_integer_pow_int_wraps(dtype, data):
    x = data.draw(arrays_of(dtype))
    y = data.draw(st.integers(0, 5))
    out = run_all_ways(lambda v: lax.integer_pow(v, y), A(x), primitive="integer_pow")
    want = wrap_ints(np.array([int(v) ** y for v in x.ravel()], object).reshape(x.shape), dtype)
    assert_same(out, want)


CONVERT_DTYPES = ["float32", "float64", "int32", "int8", "uint8", "bool"]


def _convert_reference(x, dst):
    dst = np.dtype(dst)
    if dst == np.bool_:
        return x != 0
    if x.dtype.kind == "f" and dst.kind in "iu":
        info = np.iinfo(dst)
        out = [
            0
            if math.isnan(v)
            else int(max(min(v, info.max), info.min))
            if math.isinf(v)
            else max(min(int(v), info.max), info.min)  # int() truncates toward zero
            for v in x.ravel().tolist()
        ]
        return np.array(out, dst).reshape(x.shape)
    if x.dtype.kind in "iub" and dst.kind in "iu":
        return wrap_ints(x.astype(object), dst)
    return x.astype(dst)


@pytest.mark.parametrize("dst", CONVERT_DTYPES)
@pytest.mark.parametrize("src", CONVERT_DTYPES)
@SETTINGS
@given(data=st.data())
def test_convert_element_type(src, dst, data):
    if np.dtype(src).kind == "f" and np.dtype(dst).kind in "iu":
        # Values the target holds (plus NaN -> 0); saturation is tested in test_convert_saturates.
        info = np.iinfo(dst)
        elements = float_elements(src, max(info.min, -1e9), min(info.max, 1e9), allow_infinity=False)
        x = data.draw(arrays_of(src, elements=elements))
    else:
        x = data.draw(arrays_of(src))
    out = run_all_ways(lambda v: lax.convert_element_type(v, dst), A(x), primitive=None)
    assert_same(out, _convert_reference(x, dst))
    assert not out.weak_type


@pytest.mark.parametrize(
    "src, dst",
    [
        ("float32", "int8"),
        ("float32", "uint8"),
        ("float32", "int16"),
        ("float32", "int32"),
        ("float32", "uint32"),
        ("float64", "int32"),
        ("float64", "uint32"),
        ("float64", "int64"),
        ("float32", "int64"),
    ],
)
def test_convert_saturates(src, dst):
    x = np.array([np.inf, -np.inf, np.nan, 1e30, -1e30, 3e9, -3e9, 300.7, -300.7, 2.5, -2.5, -0.0], src)
    out = lax.convert_element_type(A(x), dst)
    assert_same(out, _convert_reference(x, dst))


# ---------------------------------------------------------------------------------------------------
# select_n, clamp
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
@SETTINGS
@given(data=st.data())
def test_select_n_bool_selector(dtype, data):
    shape = data.draw(shapes())
    cases = [data.draw(arrays_of(dtype, shape)) for _ in range(2)]
    which = data.draw(arrays_of("bool", data.draw(st.sampled_from([shape, ()]))))
    out = run_all_ways(lax.select_n, A(which), *map(A, cases), primitive="select_n")
    assert_same(out, np.where(which, cases[1], cases[0]))
    swapped = run_all_ways(lax.select, A(which), *map(A, cases), primitive="select_n")
    assert_same(swapped, np.where(which, cases[0], cases[1]))


@pytest.mark.parametrize("which_dtype", ["int32", "uint8"])
@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8"])
@SETTINGS
@given(data=st.data())
def test_select_n_int_selector(dtype, which_dtype, data):
    shape = data.draw(shapes())
    n = data.draw(st.integers(1, 4))
    cases = [data.draw(arrays_of(dtype, shape)) for _ in range(n)]
    which_shape = data.draw(st.sampled_from([shape, ()]))
    which = data.draw(arrays_of(which_dtype, which_shape, elements=st.integers(0, n - 1)))
    out = run_all_ways(lax.select_n, A(which), *map(A, cases), primitive=None if n == 1 else "select_n")
    picked = np.broadcast_to(which, shape)
    want = np.stack(cases)[(picked,) + tuple(np.indices(shape))] if shape else np.stack(cases)[int(which)]
    assert_same(out, np.asarray(want, dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8"])
@SETTINGS
@given(data=st.data())
def test_clamp(dtype, data):
    shape = data.draw(shapes())
    bound_elements = (
        float_elements(dtype, allow_nan=False) if np.dtype(dtype).kind == "f" else int_elements(dtype)
    )
    lo = data.draw(arrays_of(dtype, data.draw(st.sampled_from([shape, ()])), elements=bound_elements))
    hi = data.draw(arrays_of(dtype, data.draw(st.sampled_from([shape, ()])), elements=bound_elements))
    x = data.draw(arrays_of(dtype, shape))
    out = run_all_ways(lax.clamp, A(lo), A(x), A(hi), primitive="clamp")
    assert_same(out, np.minimum(np.maximum(x, lo), hi).astype(dtype))  # NaN in x propagates; lo > hi -> hi


def test_clamp_with_python_bounds():
    x = np.array([-2.0, 0.5, 3.0, np.nan], np.float32)
    assert_same(lax.clamp(0.0, A(x), 1.0), np.array([0.0, 0.5, 1.0, np.nan], np.float32))


# ---------------------------------------------------------------------------------------------------
# abstract_eval on its own, and errors
# ---------------------------------------------------------------------------------------------------


@SETTINGS
@given(pair=lax_broadcastable_shapes())
def test_binary_abstract_eval_shape(pair):
    xs, ys = pair
    f32 = np.dtype("float32")
    aval = ew.add_p.abstract_eval(ShapedArray(xs, f32), ShapedArray(ys, f32))
    assert aval.shape == np.broadcast_shapes(xs, ys) and aval.dtype == f32
    cmp = ew.lt_p.abstract_eval(ShapedArray(xs, f32), ShapedArray(ys, f32))
    assert cmp.shape == aval.shape and cmp.dtype == np.bool_


def _f32(*shape):
    return A(np.zeros(shape, np.float32))


def _i32(*shape):
    return A(np.zeros(shape, np.int32))


def _b(*shape):
    return A(np.zeros(shape, bool))


ERRORS = {
    "add_dtypes": (lax.add, (_f32(3), _i32(3)), ShapeDtypeError),
    "add_rank": (lax.add, (_f32(2, 3), _f32(3)), ShapeDtypeError),
    "add_shapes": (lax.add, (_f32(2, 3), _f32(2, 4)), ShapeDtypeError),
    "eq_dtypes": (lax.eq, (_f32(3), _b(3)), ShapeDtypeError),
    "add_bool": (lax.add, (_b(3), _b(3)), ShapeDtypeError),
    "sin_int": (lax.sin, (_i32(3),), ShapeDtypeError),
    "exp_bool": (lax.exp, (_b(3),), ShapeDtypeError),
    "floor_int": (lax.floor, (_i32(3),), ShapeDtypeError),
    "erf_int": (lax.erf, (_i32(3),), ShapeDtypeError),
    "is_finite_int": (lax.is_finite, (_i32(3),), ShapeDtypeError),
    "neg_bool": (lax.neg, (_b(3),), ShapeDtypeError),
    "not_float": (lax.bitwise_not, (_f32(3),), ShapeDtypeError),
    "and_float": (lax.bitwise_and, (_f32(3), _f32(3)), ShapeDtypeError),
    "shift_float": (lax.shift_left, (_f32(3), _f32(3)), ShapeDtypeError),
    "shift_bool": (lax.shift_right_logical, (_b(3), _b(3)), ShapeDtypeError),
    "pow_int": (lax.pow, (_i32(3), _i32(3)), ShapeDtypeError),
    "atan2_int": (lax.atan2, (_i32(3), _i32(3)), ShapeDtypeError),
    "nextafter_int": (lax.nextafter, (_i32(3), _i32(3)), ShapeDtypeError),
    "integer_pow_int_negative": (lambda x: lax.integer_pow(x, -1), (_i32(3),), ShapeDtypeError),
    "integer_pow_bool": (lambda x: lax.integer_pow(x, 2), (_b(3),), ShapeDtypeError),
    "select_n_case_dtypes": (lax.select_n, (_b(3), _f32(3), _i32(3)), ShapeDtypeError),
    "select_n_case_shapes": (lax.select_n, (_b(3), _f32(3), _f32(1)), ShapeDtypeError),
    "select_n_float_selector": (lax.select_n, (_f32(3), _f32(3), _f32(3)), ShapeDtypeError),
    "select_n_selector_shape": (lax.select_n, (_b(2), _f32(3), _f32(3)), ShapeDtypeError),
    "select_n_bool_three_cases": (lax.select_n, (_b(3), _f32(3), _f32(3), _f32(3)), ShapeDtypeError),
    "clamp_bound_shape": (lax.clamp, (_f32(2), _f32(3), _f32(3)), ShapeDtypeError),
    "clamp_dtypes": (lax.clamp, (_i32(), _f32(3), _f32()), ShapeDtypeError),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_are_typed_eager_and_staged(name):
    fn, args, error = ERRORS[name]
    with pytest.raises(error) as eager:
        fn(*args)
    assert isinstance(eager.value, (TypeError, ValueError)) and str(eager.value)
    with pytest.raises(error):
        fl.make_jaxpr(fn)(*args)


def test_error_names_primitive_and_types():
    with pytest.raises(ShapeDtypeError, match=r"add.*f32\[3\].*i32\[3\]"):
        lax.add(_f32(3), _i32(3))
    with pytest.raises(ShapeDtypeError, match="sin"):
        lax.sin(_i32(2))
    assert issubclass(ShapeDtypeError, TypeError) and issubclass(ShapeError, ValueError)


def test_weak_types_follow_the_inputs():
    weak = lax.add(2.0, 3.0)
    assert weak.weak_type and weak.dtype == np.float32
    strong = lax.add(_f32(), 3.0)
    assert not strong.weak_type
    assert not lax.lt(2.0, 3.0).weak_type


@pytest.mark.parametrize(
    "fn, args",
    [
        (lax.sin, (np.array([np.inf], np.float32),)),
        (lax.add, (np.array([np.inf], np.float32), np.array([-np.inf], np.float32))),
        (lambda x: lax.integer_pow(x, 4), (np.array(100, np.int8),)),
    ],
)
def test_eager_ops_do_not_warn(fn, args):
    import warnings

    from functorch_lite.core.config import silence_floating_point_warnings

    # JAX never warns here. The package filters NumPy's RuntimeWarnings raised inside functorch_lite (a
    # warnings filter costs nothing on the hot path); re-apply it after making every other warning an error.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        silence_floating_point_warnings()
        fn(*map(A, args))
        with pytest.raises(RuntimeWarning):  # the user's own NumPy code still warns
            np.sin(np.array([np.inf], np.float32))
