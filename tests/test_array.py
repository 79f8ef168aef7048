"""The Array API (DESIGN.md section 3): operators, methods, conversions, immutability and repr.

Operators and methods are checked against NumPy (hypothesis, small float32/int32 arrays); dtypes follow
jax.numpy (e.g. int32 / int32 is float32). The repr strings are the ones JAX 0.10.2 prints for the
same arrays.
"""

import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functorch_lite as fl
import functorch_lite.numpy as fnp

SETTINGS = settings(max_examples=25, deadline=None)

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
floats = st.floats(-50, 50, width=32, allow_subnormal=False)
ints = st.integers(-50, 50)


def float_arrays(shape=shapes, elements=floats):
    return hnp.arrays(np.float32, shape, elements=elements)


def int_arrays(shape=shapes, elements=ints):
    return hnp.arrays(np.int32, shape, elements=elements)


def assert_matches(got, expected, dtype=None):
    assert type(got) is fl.Array
    got = np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape
    assert got.dtype == (expected.dtype if dtype is None else np.dtype(dtype))
    if got.dtype.kind in "fc":
        np.testing.assert_allclose(got, expected.astype(got.dtype), rtol=2e-6, atol=1e-6, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------------

ARITHMETIC = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow"]
BITWISE = ["and_", "or_", "xor", "lshift", "rshift"]
COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge"]


def _result_dtype(name, dtype):
    if name in COMPARISONS:
        return np.bool_
    if name == "truediv":
        return np.float32  # jax.numpy: int32 / int32 is float32 (NumPy says float64)
    return dtype


def _operands(name, dtype, x, y):
    """Restrict the operands to where NumPy's answer is the defined one."""
    if name in ("truediv", "floordiv", "mod"):
        y = np.where(y == 0, 3, y).astype(dtype)
    if name == "pow" and dtype == np.int32:
        x, y = np.clip(x, -6, 6).astype(dtype), np.abs(y) % 5
    if name == "pow" and dtype == np.float32:
        x = np.abs(x) + np.float32(0.5)
        y = np.clip(y, -4, 4).astype(dtype)
    if name in ("lshift", "rshift"):
        y = np.abs(y) % 32  # negative shift counts: see test_right_shift_by_out_of_range_counts
    return x, y.astype(dtype)


def _check_binary(name, dtype, data):
    op = getattr(operator, name)
    shape = data.draw(shapes)
    x, y = (
        data.draw(hnp.arrays(dtype, shape, elements=floats if dtype == np.float32 else ints), label="x"),
        None,
    )
    y_shape = data.draw(st.sampled_from([shape, shape[1:], (1,) * len(shape)]), label="y_shape")
    y = data.draw(hnp.arrays(dtype, y_shape, elements=floats if dtype == np.float32 else ints), label="y")
    x, y = _operands(name, dtype, x, y)
    expected_dtype = _result_dtype(name, dtype)
    with np.errstate(all="ignore"):
        expected = op(x.astype(expected_dtype) if name == "truediv" else x, y)
        X, Y = fnp.asarray(x), fnp.asarray(y)
        assert_matches(op(X, Y), expected, expected_dtype)
        assert_matches(op(X, y), expected, expected_dtype)  # Array op numpy
        assert_matches(op(x, Y), expected, expected_dtype)  # numpy op Array (reflected)
        s = y.flat[0].item()  # a Python scalar (weak): keeps the array's dtype
        expected_scalar = op(x.astype(expected_dtype) if name == "truediv" else x, dtype.type(s))
        assert_matches(op(X, s), expected_scalar, expected_dtype)
        if not (name == "pow" and dtype == np.int32):
            t = x.flat[0].item()
            expected_reflected = op(dtype.type(t), y.astype(expected_dtype) if name == "truediv" else y)
            assert_matches(op(t, Y), expected_reflected, expected_dtype)  # scalar op Array (reflected)


@pytest.mark.parametrize("name", [n for n in ARITHMETIC if n != "floordiv"] + COMPARISONS)
@given(data=st.data())
@SETTINGS
def test_float32_operators_match_numpy(name, data):
    _check_binary(name, np.dtype(np.float32), data)


@pytest.mark.parametrize("name", ARITHMETIC + BITWISE + COMPARISONS)
@given(data=st.data())
@SETTINGS
def test_int32_operators_match_numpy(name, data):
    _check_binary(name, np.dtype(np.int32), data)


@given(x=float_arrays(), y=float_arrays(elements=st.floats(1, 50, width=32)))
@SETTINGS
def test_float32_floordiv_on_exact_quotients(x, y):
    # Quotients that are exact in float32, where floor(x / y) and NumPy's divmod agree.
    x = np.round(x).astype(np.float32)
    y = np.broadcast_to(np.float32(2), x.shape)
    assert_matches(fnp.asarray(x) // fnp.asarray(y), x // y)
    assert_matches(fnp.asarray(x) // 2.0, x // np.float32(2))


@given(x=float_arrays(), y=float_arrays())
@SETTINGS
def test_matmul_and_reflected_matmul(x, y):
    a = x.reshape(x.shape[0], -1)
    b = np.resize(y, (a.shape[1], 2))  # repeats y's values to fill the shape
    for got in (fnp.asarray(a) @ fnp.asarray(b), a @ fnp.asarray(b), fnp.asarray(a) @ b):
        assert_matches(got, a @ b)


@given(x=float_arrays())
@SETTINGS
def test_unary_operators_float32(x):
    X = fnp.asarray(x)
    assert_matches(-X, -x)
    assert_matches(+X, +x)
    assert_matches(abs(X), abs(x))


@given(x=int_arrays())
@SETTINGS
def test_unary_operators_int32(x):
    X = fnp.asarray(x)
    assert_matches(-X, -x)
    assert_matches(+X, +x)
    assert_matches(abs(X), abs(x))
    assert_matches(~X, ~x)
    b = x > 0
    assert_matches(~fnp.asarray(b), ~b)


def test_invert_of_float_raises():
    with pytest.raises(TypeError):
        ~fnp.asarray([1.0])


def test_numpy_array_op_array_returns_an_array():
    x = np.array([1.0, 2.0], np.float32)
    y = fnp.asarray([3.0, 4.0])
    for out in (x + y, x * y, x - y, x / y, x > y, x == y, np.float32(2) * y):
        assert type(out) is fl.Array
    assert_matches(x + y, x + np.asarray(y))


@pytest.mark.parametrize(
    "name", ["add", "sub", "mul", "truediv", "floordiv", "mod", "lshift", "rshift", "and_", "gt", "eq"]
)
def test_traced_operators_equal_eager(name):
    op = getattr(operator, name)
    x = fnp.asarray([[7, -3, 12], [5, 9, -8]], dtype=fnp.int32)
    y = fnp.asarray([2, 3, 5], dtype=fnp.int32)
    closed = fl.make_jaxpr(op)(x, y)
    (out,) = closed(x, y)
    assert_matches(out, op(x, y))


# ---------------------------------------------------------------------------------------------------
# Methods
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "argmax", "argmin"])
@given(x=float_arrays(elements=st.floats(-4, 4, width=32)), data=st.data())
@SETTINGS
def test_reduction_methods(name, x, data):
    X = fnp.asarray(x)
    axis = data.draw(st.sampled_from([None, *range(-x.ndim, x.ndim)]), label="axis")
    got = getattr(X, name)() if axis is None else getattr(X, name)(axis=axis)
    expected = getattr(x, name)() if axis is None else getattr(x, name)(axis=axis)
    dtype = np.int32 if name.startswith("arg") else np.float32  # jax.numpy: argmax is int32
    assert_matches(got, expected, dtype)
    if not name.startswith("arg"):
        assert_matches(getattr(X, name)(axis=axis, keepdims=True), getattr(x, name)(axis=axis, keepdims=True))


@given(x=int_arrays(elements=st.integers(-3, 3)))
@SETTINGS
def test_int_reduction_methods(x):
    X = fnp.asarray(x)
    assert_matches(X.sum(), x.sum(), np.int32)  # jax.numpy accumulates int32 in int32 (NumPy: int64)
    assert_matches(X.prod(axis=0), x.prod(axis=0), np.int32)
    assert_matches(X.max(axis=-1), x.max(axis=-1))
    assert_matches(X.mean(), x.mean(), np.float32)


@given(x=float_arrays())
@SETTINGS
def test_shape_methods(x):
    X = fnp.asarray(x)
    assert_matches(X.reshape(-1), x.reshape(-1))
    assert_matches(X.reshape((x.size, 1)), x.reshape((x.size, 1)))
    assert_matches(X.reshape(1, *x.shape), x.reshape(1, *x.shape))
    assert_matches(X.transpose(), x.transpose())
    assert_matches(X.T, x.T)
    axes = tuple(reversed(range(x.ndim)))
    assert_matches(X.transpose(axes), x.transpose(axes))
    assert_matches(X.transpose(*axes), x.transpose(*axes))
    assert_matches(X.ravel(), x.ravel())
    assert_matches(X.flatten(), x.flatten())
    assert_matches(X[None].squeeze(), x[None].squeeze())
    assert_matches(X[None].squeeze(0), x[None].squeeze(0))
    assert_matches(X[None].squeeze(axis=0), x[None].squeeze(axis=0))
    assert_matches(X.swapaxes(0, -1), x.swapaxes(0, -1))


@given(x=float_arrays())
@SETTINGS
def test_value_methods(x):
    X = fnp.asarray(x)
    assert_matches(X.astype(np.int32), x.astype(np.int32))
    assert_matches(X.astype(fnp.float16), x.astype(np.float16))
    assert_matches(X.astype(bool), x.astype(bool))
    assert_matches(X.clip(-1, 2), x.clip(-1, 2))
    assert_matches(X.clip(min=0), x.clip(min=0))
    assert_matches(X.clip(max=0), x.clip(max=0))
    assert_matches(X.round(), x.round())
    assert_matches(X.round(1), x.round(1))
    v = x.reshape(-1)
    assert_matches(fnp.asarray(v).dot(fnp.asarray(v)), v.dot(v))
    m = x.reshape(x.shape[0], -1)
    assert_matches(fnp.asarray(m).dot(fnp.asarray(m.T)), m.dot(m.T))
    assert X.tolist() == x.tolist()
    assert X.reshape(-1)[0].item() == x.reshape(-1)[0].item()


def test_astype_dtypes_follow_jax():
    x = fnp.asarray([[1.5, -2.0], [0.5, 4.0]])
    # jax.numpy: float64 and float become float32 without x64; int becomes int32.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert x.astype("float64").dtype == np.float32
        assert x.astype(float).dtype == np.float32
        assert x.astype(int).dtype == np.int32
    assert repr(x.astype(int)) == "Array([[ 1, -2],\n       [ 0,  4]], dtype=int32)"


def test_round_is_half_to_even_like_jax():
    assert repr(fnp.asarray([0.5, 1.5, 2.5, -0.5]).round()) == "Array([ 0.,  2.,  2., -0.], dtype=float32)"
    assert repr(fnp.asarray([1, 2]).round()) == "Array([1, 2], dtype=int32)"


def test_item_and_tolist():
    x = fnp.asarray([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]])
    assert x[0, 1].item() == -2.0 and type(x[0, 1].item()) is float
    assert fnp.asarray(3).item() == 3 and type(fnp.asarray(3).item()) is int
    assert fnp.asarray(True).item() is True
    assert x.tolist() == [[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]]
    assert fnp.asarray(2.5).tolist() == 2.5


# ---------------------------------------------------------------------------------------------------
# Metadata, conversions, immutability
# ---------------------------------------------------------------------------------------------------


def test_metadata():
    x = fnp.zeros((2, 3, 4), dtype=fnp.int32)
    assert x.shape == (2, 3, 4)
    assert x.dtype == np.int32 and isinstance(x.dtype, np.dtype)
    assert x.ndim == 3
    assert x.size == 24
    assert x.device == "cpu"
    assert fnp.asarray(1.0).shape == () and fnp.asarray(1.0).ndim == 0 and fnp.asarray(1.0).size == 1


@given(x=float_arrays())
@SETTINGS
def test_np_asarray_is_equal_and_read_only(x):
    X = fnp.asarray(x)
    view = np.asarray(X)
    np.testing.assert_array_equal(view, x)
    assert view.dtype == np.float32
    assert not view.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        view[(0,) * x.ndim] = 5
    np.testing.assert_array_equal(np.asarray(X), x)  # the Array did not change
    copy = np.array(X)
    copy[(0,) * x.ndim] = 5  # an explicit copy is writeable
    assert np.asarray(X, dtype=np.float64).dtype == np.float64


def test_len_and_iteration():
    x = fnp.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3 and all(type(r) is fl.Array for r in rows)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert [v.item() for v in fnp.asarray([7, 8])] == [7, 8]
    with pytest.raises(TypeError):
        len(fnp.asarray(1.0))
    with pytest.raises(TypeError):
        iter(fnp.asarray(1.0))


def test_python_scalar_conversions_of_0d_arrays():
    assert float(fnp.asarray(2.5)) == 2.5 and type(float(fnp.asarray(2.5))) is float
    assert int(fnp.asarray(2.7)) == 2
    assert int(fnp.asarray(7)) == 7
    assert bool(fnp.asarray(0.0)) is False
    assert bool(fnp.asarray(3)) is True
    assert [10, 20, 30][fnp.asarray(1)] == 20  # __index__
    assert f"{fnp.asarray(2.5):.2f}" == "2.50"
    with pytest.raises(TypeError):
        [10, 20][fnp.asarray(1.0)]  # float arrays are not indices


def test_hash_raises_type_error():
    with pytest.raises(TypeError, match="unhashable"):
        hash(fnp.asarray([1.0]))
    with pytest.raises(TypeError):
        {fnp.asarray(1.0): 1}


def test_item_assignment_raises_type_error_mentioning_at():
    x = fnp.asarray([1.0, 2.0])
    with pytest.raises(TypeError, match=r"\.at\[") as info:
        x[0] = 1
    assert "immutable" in str(info.value)
    np.testing.assert_array_equal(np.asarray(x), [1.0, 2.0])


# ---------------------------------------------------------------------------------------------------
# repr, equal to JAX's
# ---------------------------------------------------------------------------------------------------

REPRS = [
    ("fnp.asarray([1.0, 2.5, -3.0])", "Array([ 1. ,  2.5, -3. ], dtype=float32)"),
    (
        "fnp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3) / 7)",
        "Array([[0.        , 0.14285715, 0.2857143 ],\n       [0.42857143, 0.5714286 , 0.71428573]], dtype=float32)",
    ),
    ("fnp.asarray([[1, 2, 3], [40, 50, 60]])", "Array([[ 1,  2,  3],\n       [40, 50, 60]], dtype=int32)"),
    ("fnp.asarray([1, -2, 3], dtype=fnp.int32)", "Array([ 1, -2,  3], dtype=int32)"),
    ("fnp.asarray([True, False, True])", "Array([ True, False,  True], dtype=bool)"),
    ("fnp.ones((2, 2), dtype=fnp.bool_)", "Array([[ True,  True],\n       [ True,  True]], dtype=bool)"),
    ("fnp.asarray(1.0)", "Array(1., dtype=float32, weak_type=True)"),
    ("fnp.asarray(3)", "Array(3, dtype=int32, weak_type=True)"),
    ("fnp.asarray(-0.0)", "Array(-0., dtype=float32, weak_type=True)"),
    ("fnp.asarray(np.float32(2.5))", "Array(2.5, dtype=float32)"),
    ("fnp.zeros((2, 0))", "Array([], shape=(2, 0), dtype=float32)"),
    ("fnp.zeros((0, 3), dtype=fnp.int32)", "Array([], shape=(0, 3), dtype=int32)"),
    ("fnp.asarray([1e-8, 1.0, 1e8])", "Array([1.e-08, 1.e+00, 1.e+08], dtype=float32)"),
    ("fnp.asarray([np.nan, np.inf, -np.inf, 0.0])", "Array([ nan,  inf, -inf,   0.], dtype=float32)"),
    ("fnp.arange(3) + 1.5", "Array([1.5, 2.5, 3.5], dtype=float32, weak_type=True)"),
    ("fnp.asarray([1, 2], dtype=fnp.uint8)", "Array([1, 2], dtype=uint8)"),
    ("fnp.asarray([1.5, 2.0], dtype=fnp.float16)", "Array([1.5, 2. ], dtype=float16)"),
    (
        "fnp.asarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4))",
        "Array([[[ 0.,  1.,  2.,  3.],\n"
        "        [ 4.,  5.,  6.,  7.],\n"
        "        [ 8.,  9., 10., 11.]],\n"
        "\n"
        "       [[12., 13., 14., 15.],\n"
        "        [16., 17., 18., 19.],\n"
        "        [20., 21., 22., 23.]]], dtype=float32)",
    ),
    (
        "fnp.arange(30, dtype=fnp.int32) * 1000",
        "Array([    0,  1000,  2000,  3000,  4000,  5000,  6000,  7000,  8000,\n"
        "        9000, 10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000,\n"
        "       18000, 19000, 20000, 21000, 22000, 23000, 24000, 25000, 26000,\n"
        "       27000, 28000, 29000], dtype=int32)",
    ),
]


@pytest.mark.parametrize("expression, expected", REPRS)
def test_repr_matches_jax(expression, expected):
    assert repr(eval(expression, {"fnp": fnp, "np": np})) == expected


def test_str_is_numpy_str():
    assert str(fnp.asarray([1.0, 2.5])) == "[1.  2.5]"
    assert str(fnp.asarray(3)) == "3"


# ---------------------------------------------------------------------------------------------------
# Bugs
# ---------------------------------------------------------------------------------------------------


def test_repr_of_empty_1d_array():
    assert repr(fnp.zeros((0,))) == "Array([], shape=(0,), dtype=float32)"


def test_repr_with_a_long_last_line():
    # JAX computes the wrap with suffix="," and, when the dtype does not fit on the last line, separates it
    # with len("Array(") spaces instead of one.
    expected = (
        "Array([100.  , 100.25, 100.5 , 100.75, 101.  , 101.25, 101.5 , 101.75,\n"
        "       102.  , 102.25, 102.5 , 102.75, 103.  , 103.25, 103.5 , 103.75,\n"
        "       104.  , 104.25, 104.5 , 104.75, 105.  , 105.25, 105.5 , 105.75],      dtype=float32)"
    )
    assert repr(fnp.arange(24, dtype=fnp.float32) * 0.25 + 100) == expected


def test_float32_floordiv_matches_numpy():
    a = np.array([1.0, -7.5, 5.0, 0.7], np.float32)
    b = np.array([0.1, 2.0, -0.3, 0.1], np.float32)
    # numpy and jnp: [  9.  -4. -17.   6.]; ours: [ 10.  -4. -17.   7.]
    assert_matches(fnp.asarray(a) // fnp.asarray(b), a // b)


def test_right_shift_of_unsigned_is_logical():
    x = np.array([200, 7], np.uint8)
    assert_matches(fnp.asarray(x) >> fnp.asarray(np.array([1, 1], np.uint8)), x >> 1)  # ours: [228, 3]
    assert_matches(fnp.asarray(x) >> 1, x >> 1)


def test_right_shift_by_out_of_range_counts():
    x = np.array([3, -3, 1], np.int32)
    s = np.array([-3, 33, 32], np.int32)
    # numpy and jnp: [ 0 -1  0]; ours: [ 3 -1  0]
    assert_matches(fnp.asarray(x) >> fnp.asarray(s), x >> s)


def test_integer_power_under_tracing():
    x = fnp.asarray([1, 2, 3])
    y = fnp.asarray([2, 0, 3])
    (out,) = fl.make_jaxpr(lambda a, b: a**b)(x, y)(x, y)
    assert_matches(out, np.array([1, 1, 27], np.int32))
