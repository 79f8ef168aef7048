"""Differentiation rules of gather/scatter (primitives/indexing.py), sort (primitives/sorting.py) and
dot_general (primitives/linalg.py).

Everything runs in float64 (x64 on for the module, restored after). Each case checks:
- ``jvp`` against central finite differences along a random tangent,
- the dot-product test ``<vjp(ct), t> == <ct, jvp(t)>``, which ties the transpose rules to the JVP rules,
- ``grad`` of ``sum(f(x) * w)`` against finite differences (through ``checks``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import SETTINGS

import functorch_lite as fl
import functorch_lite.lax as lax
import functorch_lite.numpy as fnp
from functorch_lite.lax import GatherDimensionNumbers, ScatterDimensionNumbers
from functorch_lite.transforms.ad import float0

EPS = 1e-6
TOL = 1e-6


@pytest.fixture(autouse=True)
def _x64() -> Any:
    previous = fl.config.enable_x64
    fl.config.update("enable_x64", True)
    try:
        yield
    finally:
        fl.config.update("enable_x64", previous)


# ---------------------------------------------------------------------------------------------------
# Checkers (f maps float64 arrays to one float64 array; integer data is closed over)
# ---------------------------------------------------------------------------------------------------


def _arrays(values: Sequence[np.ndarray]) -> list:
    return [fnp.asarray(np.asarray(v, dtype=np.float64)) for v in values]


def _numeric_jvp(f: Callable, args: Sequence[np.ndarray], tangents: Sequence[np.ndarray]) -> np.ndarray:
    plus = f(*_arrays([a + EPS * t for a, t in zip(args, tangents)]))
    minus = f(*_arrays([a - EPS * t for a, t in zip(args, tangents)]))
    return (np.asarray(plus) - np.asarray(minus)) / (2 * EPS)


def _close(actual: Any, expected: Any, tol: float = TOL) -> None:
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=tol, atol=tol)


def check_jvp(f: Callable, args: Sequence[np.ndarray], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(np.shape(a)) for a in args]
    out, t_out = fl.jvp(f, tuple(_arrays(args)), tuple(_arrays(tangents)))
    _close(out, f(*_arrays(args)))
    _close(t_out, _numeric_jvp(f, args, tangents))


def check_vjp(f: Callable, args: Sequence[np.ndarray], seed: int = 0) -> None:
    """The dot-product test, plus linearize's pushforward agreeing with jvp."""
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(np.shape(a)) for a in args]
    out, f_vjp = fl.vjp(f, *_arrays(args))
    ct = rng.standard_normal(np.shape(out))
    cts_in = f_vjp(fnp.asarray(ct))
    _, t_out = fl.jvp(f, tuple(_arrays(args)), tuple(_arrays(tangents)))
    lhs = sum(float(np.vdot(np.asarray(c), t)) for c, t in zip(cts_in, tangents))
    rhs = float(np.vdot(ct, np.asarray(t_out)))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)
    _, f_lin = fl.linearize(f, *_arrays(args))
    _close(f_lin(*_arrays(tangents)), t_out, 1e-12)


def check_grad(f: Callable, args: Sequence[np.ndarray], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    w = fnp.asarray(rng.standard_normal(np.shape(f(*_arrays(args)))))

    def loss(*xs: Any) -> Any:
        return fnp.sum(f(*xs) * w)

    grads = fl.grad(loss, argnums=tuple(range(len(args))))(*_arrays(args))
    directions = [rng.standard_normal(np.shape(a)) for a in args]
    expected = float(_numeric_jvp(loss, args, directions))
    got = sum(float(np.vdot(np.asarray(g), d)) for g, d in zip(grads, directions))
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-6)


def checks(f: Callable, *args: np.ndarray, seed: int = 0) -> None:
    check_jvp(f, args, seed)
    check_vjp(f, args, seed)
    check_grad(f, args, seed)


# ---------------------------------------------------------------------------------------------------
# gather
# ---------------------------------------------------------------------------------------------------


@st.composite
def rows_case(draw: Any) -> tuple[np.ndarray, np.ndarray, int]:
    n = draw(st.integers(1, 5))
    m = draw(st.integers(1, 4))
    k = draw(st.integers(1, 6))
    idx = np.array(draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)), dtype=np.int32)
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).standard_normal((n, m))
    return x, idx, seed


@SETTINGS
@given(rows_case())
def test_gather_rows_lax(case: tuple) -> None:
    x, idx, seed = case
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
    checks(lambda x: lax.gather(x, fnp.asarray(idx[:, None]), dn, (1, x.shape[1])), x, seed=seed)


@SETTINGS
@given(rows_case(), st.sampled_from(["clip", "fill", "promise_in_bounds"]))
def test_gather_windows_2d_index_vectors(case: tuple, mode: str) -> None:
    x, idx, seed = case
    x = np.concatenate([x, x[::-1] + 1.0], axis=1)  # at least 2 columns
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, x.shape[1] - 1, size=idx.shape)
    indices = fnp.asarray(np.stack([idx, cols], axis=-1).astype(np.int32))
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0, 1))
    checks(lambda x: lax.gather(x, indices, dn, (1, 2), mode=mode), x, seed=seed)


def test_gather_fill_out_of_bounds_has_zero_tangent() -> None:
    x = np.arange(6.0).reshape(3, 2)
    indices = fnp.asarray(np.array([[0], [5], [2], [-1]], dtype=np.int32))
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))

    def f(x: Any) -> Any:
        return lax.gather(x, indices, dn, (1, 2), mode="fill")

    out, t = fl.jvp(f, (fnp.asarray(x),), (fnp.ones((3, 2)),))
    assert np.isnan(np.asarray(out)[[1, 3]]).all()
    _close(t, np.array([[1, 1], [0, 0], [1, 1], [0, 0]], dtype=np.float64))
    check_vjp(f, [x])
    (g,) = fl.vjp(f, fnp.asarray(x))[1](fnp.ones((4, 2)))
    _close(g, np.array([[1, 1], [0, 0], [1, 1]], dtype=np.float64))


def test_gather_batching_dims() -> None:
    # take_along_axis pattern: operand dim 0 paired with indices dim 0.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    idx = fnp.asarray(np.array([[3, 0, 0], [1, 1, 2], [0, 3, 2]], dtype=np.int32)[..., None])
    dn = GatherDimensionNumbers(
        offset_dims=(),
        collapsed_slice_dims=(1,),
        start_index_map=(1,),
        operand_batching_dims=(0,),
        start_indices_batching_dims=(0,),
    )
    checks(lambda x: lax.gather(x, idx, dn, (1, 1)), x)


@SETTINGS
@given(rows_case())
def test_fancy_indexing(case: tuple) -> None:
    x, idx, seed = case
    i = fnp.asarray(idx)
    checks(lambda x: x[i], x, seed=seed)
    checks(lambda x: x[i] * x[i[::-1]], x, seed=seed)
    cols = fnp.asarray(np.minimum(idx, x.shape[1] - 1))
    checks(lambda x: x[:, cols], x, seed=seed)
    checks(lambda x: x[i, cols], x, seed=seed)
    checks(lambda x: fnp.tanh(x[-1 - i]), x, seed=seed)


def test_grad_of_fancy_indexing_accumulates_repeats() -> None:
    x = fnp.asarray(np.arange(4.0))
    g = fl.grad(lambda x: fnp.sum(x[fnp.asarray([0, 2, 2, 2, 3])] ** 2))(x)
    _close(g, np.array([0.0, 0.0, 12.0, 6.0]))  # 3 * 2x at x = 2; 2x at x = 3


# ---------------------------------------------------------------------------------------------------
# scatter family
# ---------------------------------------------------------------------------------------------------


@st.composite
def scatter_case(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A (n, m) operand, k row indices (repeats likely) and (k, m) updates."""
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 3))
    k = draw(st.integers(1, 6))
    idx = np.array(draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)), dtype=np.int32)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, m)), idx, rng.standard_normal((k, m)), seed


ROWS_DN = ScatterDimensionNumbers(
    update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
)


def _scatter_fn(op: Callable, idx: np.ndarray, mode: Any = None) -> Callable:
    indices = fnp.asarray(idx[:, None])
    return lambda x, u: op(x, indices, u, ROWS_DN, mode=mode)


@SETTINGS
@given(scatter_case(), st.sampled_from([None, "clip", "promise_in_bounds"]))
def test_scatter_add(case: tuple, mode: Any) -> None:
    x, idx, u, seed = case
    f = _scatter_fn(lax.scatter_add, idx, mode)
    checks(f, x, u, seed=seed)
    checks(lambda u: f(fnp.asarray(x), u), u, seed=seed)
    checks(lambda x: f(x, fnp.asarray(u)), x, seed=seed)


def test_scatter_add_repeated_indices_grad() -> None:
    x, u = np.zeros((3, 2)), np.arange(8.0).reshape(4, 2)
    f = _scatter_fn(lax.scatter_add, np.array([1, 1, 0, 1], dtype=np.int32))
    w = fnp.asarray(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    gx, gu = fl.grad(lambda x, u: fnp.sum(f(x, u) * w), argnums=(0, 1))(fnp.asarray(x), fnp.asarray(u))
    _close(gx, np.asarray(w))
    _close(gu, np.array([[3.0, 4.0], [3.0, 4.0], [1.0, 2.0], [3.0, 4.0]]))


@SETTINGS
@given(scatter_case(), st.sampled_from([None, "clip"]))
def test_scatter_set(case: tuple, mode: Any) -> None:
    x, idx, u, seed = case
    f = _scatter_fn(lax.scatter, idx, mode)
    checks(f, x, u, seed=seed)
    checks(lambda u: f(fnp.asarray(x), u), u, seed=seed)
    checks(lambda x: f(x, fnp.asarray(u)), x, seed=seed)


def test_scatter_set_repeated_indices_only_winner_gets_cotangent() -> None:
    idx = np.array([2, 0, 2, 2], dtype=np.int32)  # the last update to row 2 (number 3) wins
    f = _scatter_fn(lax.scatter, idx)
    x, u = np.ones((4, 2)), np.arange(8.0).reshape(4, 2)
    ct = fnp.asarray(np.arange(1.0, 9.0).reshape(4, 2))
    out, f_vjp = fl.vjp(f, fnp.asarray(x), fnp.asarray(u))
    _close(out, np.array([[2.0, 3.0], [1.0, 1.0], [6.0, 7.0], [1.0, 1.0]]))
    gx, gu = f_vjp(ct)
    _close(gx, np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [7.0, 8.0]]))
    _close(gu, np.array([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0], [5.0, 6.0]]))


def test_scatter_set_fill_or_drop_out_of_bounds() -> None:
    idx = np.array([1, 7, 0, -3], dtype=np.int32)
    f = _scatter_fn(lax.scatter, idx, "drop")
    rng = np.random.default_rng(3)
    checks(f, rng.standard_normal((3, 2)), rng.standard_normal((4, 2)))
    g = _scatter_fn(lax.scatter_add, idx, "drop")
    checks(g, rng.standard_normal((3, 2)), rng.standard_normal((4, 2)))
    (gu,) = fl.vjp(lambda u: g(fnp.zeros((3, 2)), u), fnp.ones((4, 2)))[1](fnp.ones((3, 2)))
    _close(gu, np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))


@SETTINGS
@given(scatter_case())
def test_scatter_mul_with_repeats_and_zeros(case: tuple) -> None:
    x, idx, u, seed = case
    u = u.copy()
    rng = np.random.default_rng(seed)
    u[rng.random(u.shape) < 0.3] = 0.0  # exact zeros in the updates exercise the division-free rule
    f = _scatter_fn(lax.scatter_mul, idx)
    check_jvp(f, [x, u], seed)
    check_grad(f, [x, u], seed)


@SETTINGS
@given(scatter_case(), st.sampled_from(["min", "max"]))
def test_scatter_min_max(case: tuple, which: str) -> None:
    x, idx, u, seed = case
    op = lax.scatter_min if which == "min" else lax.scatter_max
    f = _scatter_fn(op, idx)
    check_jvp(f, [x, u], seed)
    check_grad(f, [x, u], seed)


def test_scatter_max_tie_shares_tangent() -> None:
    f = _scatter_fn(lax.scatter_max, np.array([0, 0], dtype=np.int32))
    x, u = fnp.asarray([[1.0]]), fnp.asarray([[1.0], [0.5]])
    _, t = fl.jvp(f, (x, u), (fnp.asarray([[1.0]]), fnp.asarray([[3.0], [10.0]])))
    _close(t, np.array([[2.0]]))


def test_indices_get_no_tangent() -> None:
    x = fnp.asarray(np.arange(6.0).reshape(3, 2))
    dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
    f = lambda x, i: lax.gather(x, i, dn, (1, 2))  # noqa: E731
    i = fnp.asarray(np.array([[2], [0]], dtype=np.int32))
    gx, gi = fl.grad(lambda x, i: fnp.sum(f(x, i)), argnums=(0, 1), allow_int=True)(x, i)
    assert np.asarray(gi).dtype == float0
    _close(gx, np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]))


# ---------------------------------------------------------------------------------------------------
# sort
# ---------------------------------------------------------------------------------------------------


@st.composite
def distinct_array(draw: Any, min_rank: int = 1) -> tuple[np.ndarray, int, int]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=min_rank, max_size=3)))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.permutation(int(np.prod(shape))).reshape(shape) + rng.uniform(-0.25, 0.25, shape)
    return x, draw(st.integers(0, len(shape) - 1)), seed


@SETTINGS
@given(distinct_array())
def test_sort_one_operand(case: tuple) -> None:
    x, axis, seed = case
    checks(lambda x: lax.sort(x, dimension=axis), x, seed=seed)


@SETTINGS
@given(distinct_array(), st.integers(1, 2))
def test_sort_multiple_operands(case: tuple, num_keys: int) -> None:
    keys, axis, seed = case
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(keys.shape)
    labels = fnp.asarray(rng.integers(0, 3, keys.shape).astype(np.int32))
    for k in range(3):

        def f(keys: Any, values: Any, k: int = k) -> Any:
            if num_keys == 2:
                ops = (fnp.round(keys), keys, values)  # the second key breaks ties of the first
            else:
                ops = (keys, values, labels)
            return lax.sort(ops, dimension=axis, num_keys=num_keys)[k]

        if num_keys == 1 and k == 2:
            _, t = fl.jvp(f, tuple(_arrays([keys, values])), tuple(_arrays([keys, values])))
            assert np.asarray(t).dtype == float0
            continue
        if num_keys == 2 and k == 0:
            continue  # round has a zero derivative; nothing interesting to check
        checks(f, keys, values, seed=seed)


def test_sort_key_val_grad_routes_to_values() -> None:
    keys = fnp.asarray([3.0, 1.0, 2.0])
    w = fnp.asarray([1.0, 10.0, 100.0])
    g = fl.grad(lambda v: fnp.sum(lax.sort_key_val(keys, v)[1] * w))(fnp.asarray([0.0, 0.0, 0.0]))
    _close(g, np.array([100.0, 1.0, 10.0]))


# ---------------------------------------------------------------------------------------------------
# zero-size operands and indices
# ---------------------------------------------------------------------------------------------------


def _assert_empty(value: Any, shape: tuple) -> None:
    assert np.asarray(value).shape == shape and np.asarray(value).dtype == np.float64


@pytest.mark.parametrize("shape, axis", [((0,), 0), ((2, 0), 0), ((2, 0), 1), ((0, 3), 1)])
def test_sort_grad_of_empty_array(shape: tuple, axis: int) -> None:
    # The JVP's take-along gather has slice size 1 on the empty axis but no index vectors. jax.grad gives an
    # empty gradient of the input's shape (and (3, *shape) under vmap).
    def loss(x: Any) -> Any:
        return fnp.sum(lax.sort(x, dimension=axis) * 2.0)

    x = fnp.zeros(shape)
    _assert_empty(fl.grad(loss)(x), shape)
    _assert_empty(fl.jit(fl.grad(loss))(x), shape)
    _assert_empty(fl.vmap(fl.grad(loss))(fnp.zeros((3, *shape))), (3, *shape))
    _assert_empty(fl.grad(lambda x: fnp.sum(fnp.sort(x, axis=axis)))(x), shape)


@pytest.mark.parametrize("mode", ["drop", "clip", "promise_in_bounds"])
@pytest.mark.parametrize("update", ["add", "set", "mul", "min", "max"])
def test_grad_of_scatter_into_empty_operand_is_zero(update: str, mode: str) -> None:
    # No update lands anywhere, so the updates' gradient is zero (what finite differences give). jax's
    # forward gives shape (0,), but its grad raises (its transpose gathers with slice size 1 from the
    # empty cotangent) and scatter-mul has no grad there.
    idx = fnp.asarray([0, 2, 1])

    def loss(w: Any) -> Any:
        return fnp.sum(getattr(fnp.zeros(0).at[idx], update)(w, mode=mode))

    w = fnp.asarray([1.0, 2.0, 3.0])
    _close(fl.grad(loss)(w), np.zeros(3))
    _close(fl.jit(fl.grad(loss))(w), np.zeros(3))
    _close(fl.vmap(fl.grad(loss))(fnp.stack([w, w])), np.zeros((2, 3)))


def test_grad_of_scatter_into_empty_operand_dims() -> None:
    idx = fnp.asarray([0, 2, 1])
    # bincount(length=0) is a scatter-add into zeros(0): zero gradient for the weights.
    g = fl.grad(lambda w: fnp.sum(fnp.bincount(idx, weights=w, length=0)))(fnp.asarray([1.0, 2.0, 3.0]))
    _close(g, np.zeros(3))
    # Rows into a (0, 3) operand: the operand's gradient is empty, the updates' is zero.
    gx, gu = fl.grad(lambda x, u: fnp.sum(x.at[idx].add(u)), argnums=(0, 1))(
        fnp.zeros((0, 3)), fnp.ones((3, 3))
    )
    _assert_empty(gx, (0, 3))
    _close(gu, np.zeros((3, 3)))


@pytest.mark.parametrize("mode", ["fill", "clip"])
def test_gather_with_no_index_vectors_from_empty_operand(mode: str) -> None:
    # Slice size 1 on an empty dim is allowed when nothing is read (as in jax): jax gives shape (0,) eagerly
    # and under jit, (3, 0) under vmap, and an empty gradient of shape (0,).
    dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,), start_index_map=(0,))
    indices = fnp.asarray(np.zeros((0, 1), np.int32))

    def f(x: Any) -> Any:
        return lax.gather(x, indices, dn, (1,), mode=mode)

    x = fnp.zeros(0)
    _assert_empty(f(x), (0,))
    _assert_empty(fl.jit(f)(x), (0,))
    _assert_empty(fl.vmap(f)(fnp.zeros((3, 0))), (3, 0))
    _assert_empty(fl.grad(lambda x: fnp.sum(f(x)))(x), (0,))
    _assert_empty(fl.jit(fl.grad(lambda x: fnp.sum(f(x))))(x), (0,))


# ---------------------------------------------------------------------------------------------------
# dot_general and matmul
# ---------------------------------------------------------------------------------------------------


@st.composite
def dot_case(draw: Any) -> tuple:
    """Random dimension numbers: batch, contracting and free dims in shuffled operand positions."""
    nb, nc = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    nl, nr = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    sizes = [draw(st.integers(1, 3)) for _ in range(nb + nc + nl + nr)]
    batch, contract = sizes[:nb], sizes[nb : nb + nc]
    lfree, rfree = sizes[nb + nc : nb + nc + nl], sizes[nb + nc + nl :]
    # Logical dims of each operand: ("b", i), ("c", i), ("f", i); then a random placement.
    lhs_logical = (
        [("b", i) for i in range(nb)] + [("c", i) for i in range(nc)] + [("f", i) for i in range(nl)]
    )
    rhs_logical = (
        [("b", i) for i in range(nb)] + [("c", i) for i in range(nc)] + [("f", i) for i in range(nr)]
    )
    lhs_order = draw(st.permutations(lhs_logical))
    rhs_order = draw(st.permutations(rhs_logical))

    def shape_of(order: list, free: list) -> tuple:
        return tuple({"b": batch, "c": contract, "f": free}[kind][i] for kind, i in order)

    def dims(order: list, kind: str, count: int) -> tuple:
        return tuple(order.index((kind, i)) for i in range(count))

    dn = (
        (dims(lhs_order, "c", nc), dims(rhs_order, "c", nc)),
        (dims(lhs_order, "b", nb), dims(rhs_order, "b", nb)),
    )
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal(shape_of(lhs_order, lfree)),
        rng.standard_normal(shape_of(rhs_order, rfree)),
        dn,
        seed,
    )


@SETTINGS
@given(dot_case())
def test_dot_general_random_dimension_numbers(case: tuple) -> None:
    x, y, dn, seed = case
    checks(lambda x, y: lax.dot_general(x, y, dn), x, y, seed=seed)
    checks(lambda x: lax.dot_general(x, fnp.asarray(y), dn), x, seed=seed)
    checks(lambda y: lax.dot_general(fnp.asarray(x), y, dn), y, seed=seed)


def test_dot_general_batch_dims() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 2, 5))
    dn = (((2,), (0,)), ((0,), (1,)))
    checks(lambda x, y: lax.dot_general(x, y, dn), x, y)
    # Outer batch + two contracting dims given in opposite orders.
    x, y = rng.standard_normal((3, 2, 4, 5)), rng.standard_normal((5, 4, 3, 2))
    dn = (((2, 3), (1, 0)), ((0,), (2,)))
    checks(lambda x, y: lax.dot_general(x, y, dn), x, y)
    # The same with the lhs contracting dims out of order instead, and batch dims not leading.
    x, y = rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((4, 3, 6, 5))
    dn = (((3, 1), (3, 0)), ((2,), (1,)))
    checks(lambda x, y: lax.dot_general(x, y, dn), x, y)


def test_dot_general_preferred_element_type() -> None:
    rng = np.random.default_rng(0)
    x = fnp.asarray(rng.standard_normal((2, 3)).astype(np.float32))
    y = fnp.asarray(rng.standard_normal((3, 4)).astype(np.float32))

    def f(x: Any, y: Any) -> Any:
        return lax.dot_general(x, y, (((1,), (0,)), ((), ())), preferred_element_type=np.float64)

    out, t = fl.jvp(f, (x, y), (fnp.ones_like(x), fnp.zeros_like(y)))
    assert out.dtype == np.float64 and t.dtype == np.float64
    _close(t, np.ones((2, 3)) @ np.asarray(y, dtype=np.float64), 1e-6)
    ct = rng.standard_normal((2, 4))
    gx, gy = fl.vjp(f, x, y)[1](fnp.asarray(ct))
    assert gx.dtype == np.float32 and gy.dtype == np.float32
    _close(gx, ct @ np.asarray(y, dtype=np.float64).T, 1e-5)
    _close(gy, np.asarray(x, dtype=np.float64).T @ ct, 1e-5)


@pytest.mark.parametrize(
    "x_shape,y_shape",
    [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((4,), (4, 3)), ((2, 3), (3,)), ((2, 1, 3, 4), (5, 4, 2))],
)
def test_matmul(x_shape: tuple, y_shape: tuple) -> None:
    rng = np.random.default_rng(0)
    checks(lambda x, y: x @ y, rng.standard_normal(x_shape), rng.standard_normal(y_shape))


def test_second_order_matmul_tanh() -> None:
    rng = np.random.default_rng(0)
    data = fnp.asarray(rng.standard_normal((5, 3)))
    target = fnp.asarray(rng.standard_normal((5, 2)))
    w = rng.standard_normal((3, 2))

    def loss(w: Any) -> Any:
        return fnp.sum((fnp.tanh(data @ w) - target) ** 2)

    grad = fl.grad(loss)
    hess = np.asarray(fl.hessian(loss)(fnp.asarray(w))).reshape(6, 6)
    # Finite differences of the (exact) gradient, column by column.
    columns = []
    for k in range(6):
        e = np.zeros(6)
        e[k] = EPS
        plus = np.asarray(grad(fnp.asarray(w + e.reshape(3, 2))))
        minus = np.asarray(grad(fnp.asarray(w - e.reshape(3, 2))))
        columns.append(((plus - minus) / (2 * EPS)).reshape(6))
    _close(hess, np.stack(columns, axis=1), 1e-5)
    np.testing.assert_allclose(hess, hess.T, atol=1e-10)
    # grad of grad (forward-over-reverse and reverse-over-reverse agree).
    v = fnp.asarray(rng.standard_normal((3, 2)))
    hvp_rev = fl.grad(lambda w: fnp.sum(grad(w) * v))(fnp.asarray(w))
    _, hvp_fwd = fl.jvp(grad, (fnp.asarray(w),), (v,))
    _close(np.asarray(hvp_rev).reshape(6), hess @ np.asarray(v).reshape(6), 1e-9)
    _close(hvp_fwd, np.asarray(hvp_rev).reshape(3, 2), 1e-9)


def test_second_order_through_gather_and_sort() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(5)
    idx = fnp.asarray([4, 0, 0, 2])

    def loss(x: Any) -> Any:
        return fnp.sum(fnp.tanh(lax.sort(x)[idx]) ** 3)

    grad = fl.grad(loss)
    hess = np.asarray(fl.hessian(loss)(fnp.asarray(x)))
    columns = []
    for k in range(5):
        e = np.zeros(5)
        e[k] = EPS
        columns.append(
            (np.asarray(grad(fnp.asarray(x + e))) - np.asarray(grad(fnp.asarray(x - e)))) / (2 * EPS)
        )
    _close(hess, np.stack(columns, axis=1), 1e-5)
