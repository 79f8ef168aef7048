"""Tests for ``functorch_lite.numpy._einsum``: einsum, einsum_path, kron, trace and diagonal.

einsum is checked against ``np.einsum`` on hypothesis-generated subscripts (1-3 operands, repeated labels,
``...`` with broadcasting, implicit and explicit outputs), eagerly and through a staged jaxpr; the jaxpr of a
matmul is one ``dot_general``; gradients match central finite differences in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import x64

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core.errors import ShapeError
from functorch_lite.core.jaxpr import eval_jaxpr
from functorch_lite.numpy._einsum import diagonal, einsum, einsum_path, kron, trace

RNG = np.random.default_rng(0)


def small_ints(shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    """Small integer values: every sum and product is exact in float32, so results compare exactly."""
    return RNG.integers(-3, 4, size=shape).astype(dtype)


def staged(f: Any, *args: Any) -> Any:
    """Run ``f`` through make_jaxpr and evaluate the jaxpr: the traced path, not the eager one."""
    closed = fl.make_jaxpr(f)(*args)
    (out,) = eval_jaxpr(closed.jaxpr, closed.consts, *[fnp.asarray(a) for a in args])
    return out


def primitive_names(closed: Any) -> list[str]:
    return [eqn.primitive.name for eqn in closed.jaxpr.eqns]


# ---------------------------------------------------------------------------------------------------
# Random subscripts against np.einsum
# ---------------------------------------------------------------------------------------------------

ALPHABET = "abcdB"


@st.composite
def einsum_cases(draw: Any) -> tuple[str, list[np.ndarray]]:
    sizes = {c: draw(st.sampled_from([0, 1, 2, 2, 3, 3, 4])) for c in ALPHABET}
    n_ops = draw(st.integers(1, 3))
    width = draw(st.integers(0, 2))  # the widest ellipsis
    dot_sizes = [draw(st.integers(1, 3)) for _ in range(width)]
    terms, shapes = [], []
    any_dots = False
    for _ in range(n_ops):
        n_labels = draw(st.sampled_from([0, 1, 2, 2, 3, 3, 4]))
        labels = draw(st.lists(st.sampled_from(ALPHABET), min_size=n_labels, max_size=n_labels))
        shape = [sizes[c] for c in labels]
        term = "".join(labels)
        if width and draw(st.booleans()):
            any_dots = True
            k = draw(st.integers(0, width))
            dims = [draw(st.sampled_from([d, d, 1])) for d in dot_sizes[width - k :]]
            at = draw(st.integers(0, len(labels)))
            term = term[:at] + "..." + term[at:]
            shape = shape[:at] + dims + shape[at:]
        terms.append(term)
        shapes.append(tuple(shape))
    subscripts = ",".join(terms)
    if draw(st.booleans()):
        used = sorted({c for t in terms for c in t if c != "."})
        out = draw(st.permutations(used))[: draw(st.integers(0, len(used)))]
        out = "".join(out)
        if any_dots:  # np.einsum insists the output keeps the broadcast dims
            at = draw(st.integers(0, len(out)))
            out = out[:at] + "..." + out[at:]
        subscripts += "->" + out
    return subscripts, [small_ints(s) for s in shapes]


@settings(max_examples=150, deadline=None)
@given(einsum_cases(), st.sampled_from([True, False, "greedy"]))
def test_einsum_matches_numpy(case: tuple, optimize: Any) -> None:
    subscripts, arrays = case
    expected = np.einsum(subscripts, *arrays)
    got = einsum(subscripts, *[fnp.asarray(a) for a in arrays], optimize=optimize)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(got), expected)


@settings(max_examples=40, deadline=None)
@given(einsum_cases())
def test_einsum_traced_matches_numpy(case: tuple) -> None:
    subscripts, arrays = case
    got = staged(lambda *ops: fnp_einsum(subscripts, *ops), *arrays)
    np.testing.assert_array_equal(np.asarray(got), np.einsum(subscripts, *arrays))


def fnp_einsum(subscripts: str, *ops: Any) -> Any:
    return einsum(subscripts, *ops)


# ---------------------------------------------------------------------------------------------------
# Fixed cases
# ---------------------------------------------------------------------------------------------------

FIXED = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("...ij,...jk", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),
    ("i,i->", [(5,), (5,)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->", [(3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ij,jk,kl,lm->mi", [(2, 3), (3, 4), (4, 5), (5, 2)]),
    ("iij,jkk->ik", [(3, 3, 2), (2, 4, 4)]),
    ("iii->i", [(3, 3, 3)]),
    ("ii->", [(3, 3)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("ij,j", [(2, 1), (3,)]),
    (",i->i", [(), (4,)]),
    (",", [(), ()]),
    ("i", [(0,)]),
    ("ij,jk", [(2, 0), (0, 3)]),
    ("Ab,bA", [(2, 3), (3, 2)]),
    ("bA", [(2, 3)]),
    ("abc,cd,bd->a", [(2, 3, 4), (4, 5), (3, 5)]),
    ("i...,j...", [(2, 3), (4, 1)]),
]


@pytest.mark.parametrize("subscripts,shapes", FIXED)
def test_einsum_fixed_cases(subscripts: str, shapes: list) -> None:
    arrays = [small_ints(s) for s in shapes]
    expected = np.einsum(subscripts, *arrays)
    for optimize in (True, False):
        got = einsum(subscripts, *[fnp.asarray(a) for a in arrays], optimize=optimize)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(np.asarray(got), expected)


def test_einsum_sums_ellipsis_dims_missing_from_the_output() -> None:
    x = small_ints((2, 3, 4))
    np.testing.assert_array_equal(np.asarray(einsum("...i->i", fnp.asarray(x))), x.sum((0, 1)))
    np.testing.assert_array_equal(np.asarray(einsum("...i->", fnp.asarray(x))), x.sum())


def test_einsum_interleaved_sublists() -> None:
    a, b = small_ints((3, 4)), small_ints((4, 5))
    got = einsum(fnp.asarray(a), [0, 1], fnp.asarray(b), [1, 2], [0, 2])
    np.testing.assert_array_equal(np.asarray(got), a @ b)
    c = small_ints((4, 1))
    got = einsum(fnp.asarray(a), [Ellipsis, 1], fnp.asarray(c), [1, Ellipsis])
    np.testing.assert_array_equal(np.asarray(got), np.einsum(a, [Ellipsis, 1], c, [1, Ellipsis]))


def test_einsum_dtypes() -> None:
    a, b = small_ints((3, 4), np.int32), small_ints((4, 2), np.int32)
    got = einsum("ij,jk->ik", fnp.asarray(a), fnp.asarray(b))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(got), a @ b)
    # Mixed dtypes promote; a Python scalar is weak.
    got = einsum("ij,jk->ik", fnp.asarray(a), fnp.asarray(b.astype(np.float32)))
    assert got.dtype == np.float32
    assert einsum(",i->i", 2.0, fnp.asarray(b[:, 0].astype(np.float32))).dtype == np.float32
    # preferred_element_type sets the result dtype, on the dot_general path and the sum-only path.
    c = small_ints((3, 4), np.int8)
    got = einsum("ij,jk->ik", fnp.asarray(c), fnp.asarray(c.T.copy()), preferred_element_type=np.int32)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(got), c.astype(np.int32) @ c.T.astype(np.int32))
    got = einsum("ij->", fnp.asarray(c), preferred_element_type=np.int32)
    assert got.dtype == np.int32 and int(np.asarray(got)) == int(c.astype(np.int32).sum())
    # Booleans: sums are "any".
    p, q = RNG.random((3, 4)) < 0.3, RNG.random((4, 2)) < 0.3
    got = einsum("ij,jk->ik", fnp.asarray(p), fnp.asarray(q))
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(np.asarray(got), np.einsum("ij,jk->ik", p, q))


def test_einsum_errors() -> None:
    x = fnp.ones((2, 3))
    with pytest.raises(ValueError, match="operand"):
        einsum("ij,jk->ik", x)
    with pytest.raises(ShapeError):
        einsum("ijk", x)
    with pytest.raises(ShapeError, match="incompatible sizes"):
        einsum("ij,ij->", x, fnp.ones((3, 2)))
    with pytest.raises(ValueError, match="does not appear"):
        einsum("ij->k", x)
    with pytest.raises(ValueError, match="repeats"):
        einsum("ij->ii", x)
    with pytest.raises(ValueError, match="invalid character"):
        einsum("i1", x)


# ---------------------------------------------------------------------------------------------------
# Staging: the jaxpr and the contraction order
# ---------------------------------------------------------------------------------------------------


def test_matmul_is_one_dot_general() -> None:
    a, b = small_ints((3, 4)), small_ints((4, 5))
    closed = fl.make_jaxpr(lambda a, b: fnp_einsum("ij,jk->ik", a, b))(a, b)
    assert primitive_names(closed) == ["dot_general"]
    closed = fl.make_jaxpr(lambda a, b: fnp_einsum("bij,bjk->bik", a, b))(
        small_ints((2, 3, 4)), small_ints((2, 4, 5))
    )
    assert primitive_names(closed) == ["dot_general"]
    eqn = closed.jaxpr.eqns[0]
    assert eqn.params["dimension_numbers"] == (((2,), (1,)), ((0,), (0,)))


def test_diagonal_labels_are_gather_free() -> None:
    closed = fl.make_jaxpr(lambda a: fnp_einsum("ii->i", a))(small_ints((4, 4)))
    names = primitive_names(closed)
    assert "gather" not in names and "slice" in names


def test_greedy_order_avoids_the_big_intermediate() -> None:
    # (a @ b) is 100x100; contracting b with c first keeps every intermediate at 100 elements.
    a, b, c = np.ones((100, 2)), np.ones((2, 100)), np.ones((100, 1))
    path, report = einsum_path("ij,jk,kl->il", a, b, c)
    assert path == ["einsum_path", (1, 2), (0, 1)]
    assert "intermediate size" in report
    closed = fl.make_jaxpr(lambda a, b, c: fnp_einsum("ij,jk,kl->il", a, b, c))(a, b, c)
    assert primitive_names(closed).count("dot_general") == 2
    assert all(np.prod(eqn.outvars[0].aval.shape) <= 200 for eqn in closed.jaxpr.eqns)
    # No outer product while a shared label exists: "i,j,ij" contracts ij with one vector first.
    path, _ = einsum_path("i,j,ij->", np.ones(3), np.ones(4), np.ones((3, 4)))
    assert path[1] in ((0, 2), (1, 2))
    # The same inputs always give the same path.
    assert (
        einsum_path("ab,bc,cd,de->ae", *[np.ones((3, 3))] * 4)[0]
        == einsum_path("ab,bc,cd,de->ae", *[np.ones((3, 3))] * 4)[0]
    )


def test_explicit_path() -> None:
    a, b, c = small_ints((2, 3)), small_ints((3, 4)), small_ints((4, 5))
    for path in (["einsum_path", (0, 1), (0, 1)], [(1, 2), (0, 1)], [(0, 1, 2)]):
        got = einsum("ij,jk,kl->il", a, b, c, optimize=path)
        np.testing.assert_array_equal(np.asarray(got), a @ b @ c)
    with pytest.raises(ValueError):
        einsum("ij,jk,kl->il", a, b, c, optimize=[(0, 1)])


# ---------------------------------------------------------------------------------------------------
# kron, trace, diagonal
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-4, -2, -1, 0, 1, 2, 5])
@pytest.mark.parametrize(
    "shape,axes", [((3, 3), (0, 1)), ((3, 5), (0, 1)), ((5, 3), (1, 0)), ((2, 4, 3), (2, 0))]
)
def test_diagonal_and_trace_match_numpy(offset: int, shape: tuple, axes: tuple) -> None:
    x = small_ints(shape)
    expected = np.diagonal(x, offset, *axes)
    got = diagonal(fnp.asarray(x), offset, *axes)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.asarray(got), expected)
    np.testing.assert_array_equal(np.asarray(staged(lambda a: diagonal(a, offset, *axes), x)), expected)
    np.testing.assert_array_equal(
        np.asarray(trace(fnp.asarray(x), offset, *axes)), np.trace(x, offset, *axes)
    )


def test_diagonal_negative_axes_and_errors() -> None:
    x = small_ints((2, 3, 4))
    np.testing.assert_array_equal(np.asarray(diagonal(fnp.asarray(x), 1, -1, -2)), np.diagonal(x, 1, -1, -2))
    with pytest.raises(ValueError):
        diagonal(fnp.ones(3))
    with pytest.raises(ValueError):
        diagonal(fnp.ones((3, 3)), 0, 1, 1)


@pytest.mark.parametrize(
    "sa,sb", [((2,), (3,)), ((2, 3), (4, 5)), ((2, 3), (4,)), ((3,), (2, 2, 2)), ((), (2, 3))]
)
def test_kron_matches_numpy(sa: tuple, sb: tuple) -> None:
    a, b = small_ints(sa), small_ints(sb)
    got = kron(fnp.asarray(a), fnp.asarray(b))
    assert got.shape == np.kron(a, b).shape
    np.testing.assert_array_equal(np.asarray(got), np.kron(a, b))


def test_trace_dtype() -> None:
    x = small_ints((3, 3), np.int8)
    assert trace(fnp.asarray(x)).dtype == np.int32
    assert trace(fnp.asarray(x), dtype=np.float32).dtype == np.float32


# ---------------------------------------------------------------------------------------------------
# Gradients against finite differences
# ---------------------------------------------------------------------------------------------------


def numerical_grad(f: Any, args: list[np.ndarray], k: int, eps: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(args[k])
    for idx in np.ndindex(args[k].shape):
        hi = [a.copy() for a in args]
        lo = [a.copy() for a in args]
        hi[k][idx] += eps
        lo[k][idx] -= eps
        out[idx] = (f(*hi) - f(*lo)) / (2 * eps)
    return out


GRAD_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("ii->i", [(3, 3)]),
    ("...ij,...jk", [(2, 2, 3), (3, 2)]),
    ("iij,jk,k->i", [(3, 3, 2), (2, 4), (4,)]),
    ("ij,ij->", [(1, 3), (2, 3)]),
]


@pytest.mark.parametrize("subscripts,shapes", GRAD_CASES)
def test_einsum_grad_matches_finite_differences(subscripts: str, shapes: list) -> None:
    with x64():
        args = [RNG.standard_normal(s) for s in shapes]
        out_shape = np.einsum(subscripts, *args).shape
        weights = RNG.standard_normal(out_shape)

        def loss(*ops: Any) -> Any:
            return fnp.sum(einsum(subscripts, *ops) * weights)

        def np_loss(*ops: np.ndarray) -> float:
            return float(np.sum(np.einsum(subscripts, *ops) * weights))

        for k in range(len(args)):
            got = fl.grad(loss, argnums=k)(*[fnp.asarray(a) for a in args])
            np.testing.assert_allclose(
                np.asarray(got), numerical_grad(np_loss, args, k), rtol=1e-6, atol=1e-8
            )


def test_kron_trace_diagonal_grads() -> None:
    with x64():
        x = RNG.standard_normal((3, 4))
        y = RNG.standard_normal((2, 2))
        w = RNG.standard_normal((6, 8))
        got = fl.grad(lambda a, b: fnp.sum(kron(a, b) * w), argnums=(0, 1))(fnp.asarray(x), fnp.asarray(y))
        expected = [numerical_grad(lambda a, b: float(np.sum(np.kron(a, b) * w)), [x, y], k) for k in (0, 1)]
        for g, e in zip(got, expected):
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6, atol=1e-8)
        got = fl.grad(lambda a: trace(a, 1))(fnp.asarray(x))
        np.testing.assert_allclose(np.asarray(got), np.eye(3, 4, 1))
        v = RNG.standard_normal(2)
        got = fl.grad(lambda a: fnp.sum(diagonal(a, -1) * v))(fnp.asarray(x))
        np.testing.assert_allclose(
            np.asarray(got), numerical_grad(lambda a: float(np.diagonal(a, -1) @ v), [x], 0)
        )


def test_einsum_under_vmap() -> None:
    from functorch_lite.core.errors import MissingRuleError
    from functorch_lite.transforms.vmap import vmap

    a, b = small_ints((5, 3, 3)), small_ints((5, 3, 4))
    try:
        got = vmap(lambda x, y: einsum("ii,ij->ij", x, y))(a, b)
    except MissingRuleError as e:  # batching rules land primitive by primitive
        pytest.skip(str(e))
    np.testing.assert_array_equal(np.asarray(got), np.einsum("bii,bij->bij", a, b))
