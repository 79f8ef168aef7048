"""Tests for the sort primitive (primitives/sorting.py) and dot_general (primitives/linalg.py).

sort is checked against numpy's sort/argsort/lexsort (NaN last, stability); dot_general against
``np.einsum`` on hypothesis-generated dimension numbers and shapes (float32, int32, zero-size dims).
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functorch_lite.core.array import Array
from functorch_lite.core.errors import ShapeDtypeError, ShapeError
from functorch_lite.core.staging import make_jaxpr
from functorch_lite.core.trace import ShapedArray
from functorch_lite.primitives.linalg import dot_general_p
from functorch_lite.primitives.sorting import sort_p


def sort(*operands: np.ndarray, dimension: int = 0, is_stable: bool = True, num_keys: int = 1) -> list:
    params = dict(dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    outs = sort_p.impl(*operands, **params)
    avals = sort_p.abstract_eval(*[ShapedArray(o.shape, o.dtype) for o in operands], **params)
    assert len(outs) == len(avals) == len(operands)
    for out, aval in zip(outs, avals):
        assert isinstance(out, np.ndarray) and out.shape == aval.shape and out.dtype == aval.dtype
    return outs


# ---------------------------------------------------------------------------------------------------
# sort
# ---------------------------------------------------------------------------------------------------


small_floats = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, np.nan, np.inf, -np.inf])


@st.composite
def array_and_axis(draw: Any, dtype: Any) -> tuple[np.ndarray, int]:
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    count = int(np.prod(shape))
    if np.dtype(dtype).kind == "f":
        values = draw(st.lists(small_floats, min_size=count, max_size=count))
    elif np.dtype(dtype).kind == "b":
        values = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    else:
        values = draw(st.lists(st.integers(-3, 3), min_size=count, max_size=count))
    axis = draw(st.integers(0, len(shape) - 1))
    return np.array(values, dtype=dtype).reshape(shape), axis


@settings(max_examples=50, deadline=None)
@given(st.sampled_from([np.float32, np.int32, np.bool_]).flatmap(array_and_axis), st.booleans())
def test_sort_one_operand_matches_numpy(case: tuple, is_stable: bool) -> None:
    x, axis = case
    (out,) = sort(x, dimension=axis, is_stable=is_stable)
    np.testing.assert_array_equal(out, np.sort(x, axis=axis))


@settings(max_examples=50, deadline=None)
@given(st.sampled_from([np.float32, np.int32]).flatmap(array_and_axis))
def test_sort_with_payload_is_stable_argsort(case: tuple) -> None:
    x, axis = case
    iota = np.broadcast_to(
        np.arange(x.shape[axis], dtype=np.int32).reshape([-1 if i == axis else 1 for i in range(x.ndim)]),
        x.shape,
    ).copy()
    keys, perm = sort(x, iota, dimension=axis, num_keys=1)
    want = np.argsort(x, axis=axis, kind="stable")
    np.testing.assert_array_equal(perm, want)  # stable: -0.0/0.0 and NaNs keep their order
    np.testing.assert_array_equal(keys, np.take_along_axis(x, want, axis))


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_sort_two_keys_lexicographic(data: Any) -> None:
    n = data.draw(st.integers(0, 12))
    a = np.array(data.draw(st.lists(small_floats, min_size=n, max_size=n)), np.float32)
    b = np.array(data.draw(st.lists(st.integers(-2, 2), min_size=n, max_size=n)), np.int32)
    payload = np.arange(n, dtype=np.float32)
    outs = sort(a, b, payload, dimension=0, num_keys=2)
    want = np.lexsort((b, a))  # primary key a, then b; ties keep their order
    for out, operand in zip(outs, (a, b, payload)):
        np.testing.assert_array_equal(out, operand[want])
    # With num_keys=1 the second operand is only carried along.
    outs = sort(a, b, dimension=0, num_keys=1)
    np.testing.assert_array_equal(outs[1], b[np.argsort(a, kind="stable")])


def test_sort_nan_last_and_2d_axis() -> None:
    x = np.array([[3.0, np.nan, -1.0, -np.inf], [np.nan, 0.0, np.inf, -0.0]], np.float32)
    (out,) = sort(x, dimension=1)
    np.testing.assert_array_equal(out, [[-np.inf, -1.0, 3.0, np.nan], [-0.0, 0.0, np.inf, np.nan]])
    assert not np.signbit(out[1, 0]) and np.signbit(out[1, 1])  # stable: 0.0 came before -0.0
    (out,) = sort(x, dimension=0)
    np.testing.assert_array_equal(out, np.sort(x, axis=0))


def test_sort_bind_and_jaxpr() -> None:
    x = Array(np.array([3, 1, 2], np.int32))
    outs = sort_p.bind(x, dimension=0, is_stable=True, num_keys=1)
    assert isinstance(outs, list) and len(outs) == 1
    np.testing.assert_array_equal(np.asarray(outs[0]), [1, 2, 3])
    text = str(make_jaxpr(lambda a, b: sort_p.bind(a, b, dimension=0, is_stable=False, num_keys=1))(x, x))
    assert "c:i32[3] d:i32[3] = sort[dimension=0 is_stable=False num_keys=1] a b" in text


def test_sort_errors() -> None:
    f32 = np.dtype(np.float32)
    with pytest.raises(ShapeDtypeError, match="same shape.*f32\\[3\\], f32\\[4\\]"):
        sort_p.abstract_eval(
            ShapedArray((3,), f32), ShapedArray((4,), f32), dimension=0, is_stable=True, num_keys=1
        )
    with pytest.raises(ShapeError, match="dimension=2 is out of range"):
        sort_p.abstract_eval(ShapedArray((3, 2), f32), dimension=2, is_stable=True, num_keys=1)
    with pytest.raises(ShapeError, match="num_keys=2"):
        sort_p.abstract_eval(ShapedArray((3,), f32), dimension=0, is_stable=True, num_keys=2)
    with pytest.raises(ShapeError, match="rank >= 1"):
        sort_p.abstract_eval(ShapedArray((), f32), dimension=0, is_stable=True, num_keys=1)


# ---------------------------------------------------------------------------------------------------
# dot_general
# ---------------------------------------------------------------------------------------------------


def dot_general(lhs, rhs, dimension_numbers, preferred_element_type=None) -> np.ndarray:
    params = dict(
        dimension_numbers=dimension_numbers, precision=None, preferred_element_type=preferred_element_type
    )
    out = dot_general_p.impl(lhs, rhs, **params)
    aval = dot_general_p.abstract_eval(
        ShapedArray(lhs.shape, lhs.dtype), ShapedArray(rhs.shape, rhs.dtype), **params
    )
    assert isinstance(out, np.ndarray) and out.shape == aval.shape and out.dtype == aval.dtype, (out, aval)
    return out


def einsum_reference(lhs, rhs, dimension_numbers, dtype) -> np.ndarray:
    (lc, rc), (lb, rb) = dimension_numbers
    letters = iter(string.ascii_letters)
    lsub = [next(letters) for _ in range(lhs.ndim)]
    rsub = [next(letters) for _ in range(rhs.ndim)]
    for l, r in zip(lc + lb, rc + rb):
        rsub[r] = lsub[l]
    batch = [lsub[d] for d in lb]
    lfree = [lsub[d] for d in range(lhs.ndim) if d not in lc and d not in lb]
    rfree = [rsub[d] for d in range(rhs.ndim) if d not in rc and d not in rb]
    spec = f"{''.join(lsub)},{''.join(rsub)}->{''.join(batch + lfree + rfree)}"
    return np.einsum(spec, lhs.astype(np.float64), rhs.astype(np.float64)).astype(dtype)


@st.composite
def dot_problem(draw: Any) -> tuple:
    """Shapes and dimension numbers: paired batch and contracting dims, free dims, in random positions."""
    nbatch, ncontract = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    nlfree, nrfree = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    size = st.integers(0, 4)
    batch = [draw(size) for _ in range(nbatch)]
    contract = [draw(size) for _ in range(ncontract)]
    lroles = [("b", i) for i in range(nbatch)] + [("c", i) for i in range(ncontract)]
    lroles += [("f", draw(size)) for _ in range(nlfree)]
    rroles = [("b", i) for i in range(nbatch)] + [("c", i) for i in range(ncontract)]
    rroles += [("f", draw(size)) for _ in range(nrfree)]
    lroles, rroles = draw(st.permutations(lroles)), draw(st.permutations(rroles))

    def layout(roles):
        shape = [batch[i] if r == "b" else contract[i] if r == "c" else i for r, i in roles]
        where = {(r, i): d for d, (r, i) in enumerate(roles) if r != "f"}
        return tuple(shape), where

    lshape, lwhere = layout(lroles)
    rshape, rwhere = layout(rroles)
    order_c = draw(st.permutations(range(ncontract)))
    order_b = draw(st.permutations(range(nbatch)))
    lc = tuple(lwhere[("c", i)] for i in order_c)
    rc = tuple(rwhere[("c", i)] for i in order_c)
    lb = tuple(lwhere[("b", i)] for i in order_b)
    rb = tuple(rwhere[("b", i)] for i in order_b)
    return lshape, rshape, ((lc, rc), (lb, rb))


@settings(max_examples=60, deadline=None)
@given(dot_problem(), st.sampled_from([np.float32, np.int32, np.float64]))
def test_dot_general_matches_einsum(problem: tuple, dtype: Any) -> None:
    lshape, rshape, dn = problem
    rng = np.random.default_rng(0)
    lhs = rng.integers(-5, 6, size=lshape).astype(dtype)
    rhs = rng.integers(-5, 6, size=rshape).astype(dtype)
    out = dot_general(lhs, rhs, dn)
    np.testing.assert_array_equal(out, einsum_reference(lhs, rhs, dn, dtype))  # small ints: exact


def test_dot_general_float_values_and_common_forms() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((2, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(dot_general(a, b, (((2,), (1,)), ((0,), (0,)))), a @ b, rtol=1e-5)
    m, v = a[0], rng.standard_normal(4).astype(np.float32)
    np.testing.assert_allclose(dot_general(m, v, (((1,), (0,)), ((), ()))), m @ v, rtol=1e-5)
    np.testing.assert_allclose(dot_general(v, v, (((0,), (0,)), ((), ()))), v @ v, rtol=1e-5)
    np.testing.assert_allclose(dot_general(v, v, (((), ()), ((), ()))), np.outer(v, v), rtol=1e-6)
    # Contracting a leading dim of the lhs (a^T b), batch dims not in front.
    c = rng.standard_normal((4, 3, 2)).astype(np.float32)
    np.testing.assert_allclose(
        dot_general(c, b, (((0,), (1,)), ((2,), (0,)))), np.einsum("kib,bkn->bin", c, b), rtol=1e-5
    )


def test_dot_general_integer_wraps_and_zero_size() -> None:
    big = np.array([[2**30, 2**30]], np.int32)
    out = dot_general(big, np.array([[2], [2]], np.int32), (((1,), (0,)), ((), ())))
    assert out.dtype == np.int32 and out[0, 0] == 0  # 2**33 wraps to 0 in int32
    z = dot_general(np.ones((3, 0), np.float32), np.ones((0, 2), np.float32), (((1,), (0,)), ((), ())))
    np.testing.assert_array_equal(z, np.zeros((3, 2), np.float32))


def test_dot_general_preferred_element_type() -> None:
    a = np.full((2, 3), 100, np.int8)
    out = dot_general(a, a.T.copy(), (((1,), (0,)), ((), ())), preferred_element_type=np.dtype(np.int32))
    np.testing.assert_array_equal(out, np.full((2, 2), 30000, np.int32))
    h = np.ones((2, 2), np.float16)
    out = dot_general(h, np.ones((2, 2), np.float32), (((1,), (0,)), ((), ())), np.dtype(np.float32))
    assert out.dtype == np.float32
    with pytest.raises(ShapeDtypeError, match="both be integral or both be floating point"):
        dot_general(a, a.T.copy(), (((1,), (0,)), ((), ())), preferred_element_type=np.dtype(np.float32))


def test_dot_general_bind_weak_type_and_jaxpr() -> None:
    x = Array(np.ones((2, 3), np.float32), weak_type=True)
    y = Array(np.ones((3,), np.float32), weak_type=True)
    dn = (((1,), (0,)), ((), ()))
    out = dot_general_p.bind(x, y, dimension_numbers=dn, precision=None, preferred_element_type=None)
    assert out.weak_type
    np.testing.assert_array_equal(np.asarray(out), [3.0, 3.0])
    out = dot_general_p.bind(
        x, y, dimension_numbers=dn, precision=None, preferred_element_type=np.dtype("float32")
    )
    assert not out.weak_type
    f = lambda a, b: dot_general_p.bind(
        a, b, dimension_numbers=dn, precision=None, preferred_element_type=None
    )
    text = str(make_jaxpr(f)(Array(np.ones((2, 3), np.float32)), Array(np.ones(3, np.float32))))
    assert ("c:f32[2] = dot_general[dimension_numbers=(([1], [0]), ([], []))] a b") in " ".join(text.split())


def test_dot_general_errors() -> None:
    f32, i32 = np.dtype(np.float32), np.dtype(np.int32)

    def aval(ls, rs, dn, ldt=f32, rdt=f32):
        return dot_general_p.abstract_eval(
            ShapedArray(ls, ldt),
            ShapedArray(rs, rdt),
            dimension_numbers=dn,
            precision=None,
            preferred_element_type=None,
        )

    assert aval((5, 2, 3), (5, 3, 4), (((2,), (1,)), ((0,), (0,)))) == ShapedArray((5, 2, 4), f32)
    with pytest.raises(ShapeError, match=r"contracting dimensions must have equal sizes.*\(3,\).*\(4,\)"):
        aval((2, 3), (4, 5), (((1,), (0,)), ((), ())))
    with pytest.raises(ShapeError, match="same number of contracting dimensions"):
        aval((2, 3), (3, 5), (((1,), ()), ((), ())))
    with pytest.raises(ShapeError, match=r"lhs contracting dimensions \(2,\) must be distinct and within"):
        aval((2, 3), (3, 5), (((2,), (0,)), ((), ())))
    with pytest.raises(ShapeError, match="must be disjoint"):
        aval((3, 3), (3, 3), (((0,), (0,)), ((0,), (1,))))
    with pytest.raises(ShapeError, match="batch dimensions must have equal sizes"):
        aval((2, 3), (4, 3), (((1,), (1,)), ((0,), (0,))))
    with pytest.raises(ShapeDtypeError, match="dot_general requires arguments to have the same dtypes"):
        aval((2, 3), (3, 4), (((1,), (0,)), ((), ())), f32, i32)
