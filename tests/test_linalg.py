"""Tests for ``fnp.linalg`` (numpy/linalg.py) and the decomposition primitives (primitives/decompositions.py).

Values are checked against ``numpy.linalg`` on hypothesis-generated, well-conditioned, batched matrices in
float32 and float64 (built as ``Q1 diag(s) Q2`` with separated ``s``, so eigen/singular values are distinct).
Derivatives are checked in float64: ``fl.jvp`` against central finite differences, ``fl.vjp`` with the
dot-product test ``<vjp(c), t> == <c, jvp(t)>``, and ``fl.grad`` against closed forms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import needs_x64, x64

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core.errors import MissingRuleError, ShapeDtypeError, ShapeError
from functorch_lite.core.trace import ShapedArray
from functorch_lite.numpy import linalg as la
from functorch_lite.primitives import decompositions as dec

DTYPES = ["float32", "float64"]
FAST = settings(max_examples=15, deadline=None)


@pytest.fixture(autouse=True)
def _x64_for_64bit_cases(request):
    """float64 cases (and the derivative tests, which ask for it by name) run with enable_x64 on."""
    with x64(needs_x64(request) or "derivative" in request.node.name):
        yield


def tol(dtype: Any) -> dict:
    return dict(rtol=2e-4, atol=2e-4) if np.dtype(dtype) == np.float32 else dict(rtol=1e-9, atol=1e-9)


def close(actual: Any, desired: Any, dtype: Any) -> None:
    np.testing.assert_allclose(np.asarray(actual), desired, **tol(dtype))


# ---------------------------------------------------------------------------------------------------
# Matrices
# ---------------------------------------------------------------------------------------------------


def _orthogonal(rng: np.random.Generator, batch: tuple, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _spread(rng: np.random.Generator, batch: tuple, k: int, low: float, gap: float) -> np.ndarray:
    """``k`` values per batch entry, ascending, at least ``gap`` apart, starting near ``low``."""
    return low + gap * np.arange(k) + rng.uniform(0, gap / 3, batch + (k,))


def make_matrix(rng: np.random.Generator, batch: tuple, m: int, n: int, kind: str = "general") -> np.ndarray:
    """``general``: U diag(s) V^T with s in about [1, 1 + 0.4 k]; ``spd``: symmetric positive definite;
    ``symmetric``: symmetric with eigenvalues of both signs. All well-conditioned, with distinct spectra."""
    k = min(m, n)
    if kind == "general":
        u = _orthogonal(rng, batch, m)[..., :, :k]
        v = _orthogonal(rng, batch, n)[..., :, :k]
        s = _spread(rng, batch, k, 1.0, 0.4)
        return (u * s[..., None, :]) @ np.swapaxes(v, -1, -2)
    q = _orthogonal(rng, batch, n)
    w = _spread(rng, batch, n, 1.0 if kind == "spd" else -1.3, 0.6)
    return (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)


@st.composite
def cases(draw: Any, kind: str = "general", square: bool = True, max_n: int = 5) -> np.ndarray:
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n = draw(st.integers(1, max_n))
    m = n if square else draw(st.integers(1, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return make_matrix(rng, batch, m, n, kind)


def sign_fixed(vectors: np.ndarray, axis: int) -> np.ndarray:
    """Remove the sign ambiguity of eigen/singular vectors: make the largest entry of each one positive."""
    idx = np.expand_dims(np.argmax(np.abs(vectors), axis=axis), axis)
    return vectors * np.sign(np.take_along_axis(vectors, idx, axis))


# ---------------------------------------------------------------------------------------------------
# Decomposition primitives against numpy.linalg
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@FAST
@given(a=cases("spd"))
def test_cholesky_matches_numpy(dtype, a):
    a = a.astype(dtype)
    L = la.cholesky(a)
    assert L.dtype == dtype and L.shape == a.shape
    close(L, np.linalg.cholesky(a), dtype)
    close(la.cholesky(a, upper=True), np.swapaxes(np.linalg.cholesky(a), -1, -2), dtype)


def test_cholesky_of_a_non_positive_definite_matrix_is_nan():
    good = np.array([[4.0, 2.0], [2.0, 3.0]], np.float32)
    batch = np.stack([good, -good, good])
    L = np.asarray(la.cholesky(batch))
    assert np.isnan(L[1]).all()
    np.testing.assert_allclose(L[[0, 2]], np.linalg.cholesky(good)[None].repeat(2, 0), rtol=1e-6)
    # The primitive reads only the lower triangle (symmetrize_input=False), as LAPACK's potrf('L').
    skewed = np.array([[4.0, 100.0], [2.0, 3.0]])
    close(dec.cholesky(skewed, symmetrize_input=False), np.linalg.cholesky(skewed), "float32")


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=40, deadline=None)
@given(
    a=cases("general"),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    k=st.integers(1, 3),
)
def test_triangular_solve_solves_the_triangular_system(dtype, a, flags, k):
    left_side, lower, transpose_a, unit_diagonal = flags
    n = a.shape[-1]
    # A well-conditioned triangle: a dominant diagonal; the other triangle is garbage that must be ignored.
    a = (a + 4 * np.eye(n)).astype(dtype)
    b = (
        np.random.default_rng(n)
        .standard_normal(a.shape[:-2] + ((n, k) if left_side else (k, n)))
        .astype(dtype)
    )
    x = dec.triangular_solve(
        a, b, left_side=left_side, lower=lower, transpose_a=transpose_a, unit_diagonal=unit_diagonal
    )
    assert x.dtype == dtype and x.shape == b.shape
    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        t[..., np.arange(n), np.arange(n)] = 1
    if transpose_a:
        t = np.swapaxes(t, -1, -2)
    want = (
        np.linalg.solve(t, b)
        if left_side
        else np.swapaxes(np.linalg.solve(np.swapaxes(t, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    )
    close(x, want, dtype)


def test_triangular_solve_vector_rhs_and_singular_matrix():
    a = np.array([[2.0, 0.0], [1.0, 4.0]])
    close(dec.triangular_solve(a, np.array([2.0, 9.0]), left_side=True, lower=True), [1.0, 2.0], "float32")
    singular = np.array([[0.0, 1.0], [0.0, 1.0]], np.float32)
    x = np.asarray(dec.triangular_solve(singular, np.ones((2, 1), np.float32), left_side=True))
    assert not np.isfinite(x).all()  # inf/nan like LAPACK's trsm, not an exception


def _apply_pivots(pivots: np.ndarray, m: int) -> np.ndarray:
    perm = np.arange(m)
    for i, p in enumerate(pivots):
        perm[[i, p]] = perm[[p, i]]
    return perm


@pytest.mark.parametrize("dtype", DTYPES)
@FAST
@given(a=cases("general", square=False))
def test_lu_reconstructs_the_pivoted_matrix(dtype, a):
    a = a.astype(dtype)
    m, n = a.shape[-2:]
    k = min(m, n)
    lu, pivots, perm = (np.asarray(o) for o in dec.lu(a))
    assert lu.dtype == dtype and pivots.dtype == np.int32 and perm.dtype == np.int32
    assert pivots.shape == a.shape[:-2] + (k,) and perm.shape == a.shape[:-2] + (m,)
    L = np.tril(lu, -1)[..., :, :k] + np.eye(m, k, dtype=dtype)
    U = np.triu(lu)[..., :k, :]
    permuted = np.take_along_axis(a, perm[..., :, None].astype(np.intp), axis=-2)
    close(L @ U, permuted, dtype)
    assert (np.abs(L) <= 1 + 1e-6).all()  # partial pivoting: multipliers are at most 1 in magnitude
    for index in np.ndindex(a.shape[:-2]):
        np.testing.assert_array_equal(_apply_pivots(pivots[index], m), perm[index])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
@FAST
@given(a=cases("general", square=False))
def test_qr_matches_numpy(dtype, mode, a):
    a = a.astype(dtype)
    got = la.qr(a, mode=mode)
    want = np.linalg.qr(a, mode=mode)
    if mode == "r":
        close(got, want, dtype)
        return
    assert got.Q.dtype == dtype and got.Q.shape == want.Q.shape and got.R.shape == want.R.shape
    close(got.Q, want.Q, dtype)  # both are LAPACK Householder QR: the same signs
    close(got.R, want.R, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("UPLO", ["L", "U"])
@FAST
@given(a=cases("symmetric"))
def test_eigh_matches_numpy(dtype, UPLO, a):
    a = a.astype(dtype)
    w, v = la.eigh(a, UPLO=UPLO)
    w_np, v_np = np.linalg.eigh(a, UPLO=UPLO)
    assert w.dtype == dtype and v.shape == a.shape
    close(w, w_np, dtype)
    close(sign_fixed(np.asarray(v), -2), sign_fixed(v_np, -2), dtype)
    close(la.eigvalsh(a), w_np, dtype)
    v_p, w_p = dec.eigh(a)  # the lax-level order is (eigenvectors, eigenvalues)
    close(w_p, w_np, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("full_matrices", [True, False])
@FAST
@given(a=cases("general", square=False))
def test_svd_matches_numpy(dtype, full_matrices, a):
    a = a.astype(dtype)
    u, s, vh = la.svd(a, full_matrices=full_matrices)
    u_np, s_np, vh_np = np.linalg.svd(a, full_matrices=full_matrices)
    assert u.shape == u_np.shape and vh.shape == vh_np.shape and s.dtype == dtype
    close(s, s_np, dtype)
    close(la.svd(a, compute_uv=False), s_np, dtype)
    close(la.svdvals(a), s_np, dtype)
    k = s_np.shape[-1]
    u, vh = np.asarray(u), np.asarray(vh)
    close((u[..., :, :k] * np.asarray(s)[..., None, :]) @ vh[..., :k, :], a, dtype)
    signs = np.sign(np.sum(u[..., :, :k] * u_np[..., :, :k], axis=-2))  # match each singular pair's sign
    close(u[..., :, :k] * signs[..., None, :], u_np[..., :, :k], dtype)
    close(vh[..., :k, :] * signs[..., :, None], vh_np[..., :k, :], dtype)
    s_lax = dec.svd(a, compute_uv=False)
    close(s_lax, s_np, dtype)


@pytest.mark.parametrize(
    "prim, args, params",
    [
        (dec.cholesky_p, [(3, 4)], {}),
        (dec.eigh_p, [(3,)], {"lower": True}),
        (dec.lu_p, [(3,)], {}),
        (dec.qr_p, [(2,)], {"full_matrices": True}),
        (dec.svd_p, [(5,)], {"full_matrices": False, "compute_uv": True}),
        (
            dec.triangular_solve_p,
            [(3, 3), (2, 3, 1)],
            dict(left_side=True, lower=True, transpose_a=False, conjugate_a=False, unit_diagonal=False),
        ),
        (
            dec.triangular_solve_p,
            [(3, 3), (3, 2)],
            dict(left_side=False, lower=True, transpose_a=False, conjugate_a=False, unit_diagonal=False),
        ),
    ],
)
def test_abstract_eval_rejects_bad_shapes(prim, args, params):
    avals = [ShapedArray(s, np.float32) for s in args]
    with pytest.raises(ShapeError):
        prim.abstract_eval(*avals, **params)


def test_abstract_eval_rejects_integer_operands_and_wrappers_check_eagerly():
    with pytest.raises(ShapeDtypeError):
        dec.cholesky_p.abstract_eval(ShapedArray((2, 2), np.int32))
    with pytest.raises(ShapeError):
        dec.cholesky(np.ones((2, 3), np.float32))
    with pytest.raises(ShapeError):
        la.inv(np.ones((2, 3)))
    with pytest.raises(ShapeError):
        la.solve(np.eye(3), np.ones(2))


# ---------------------------------------------------------------------------------------------------
# fnp.linalg functions against numpy.linalg
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@FAST
@given(a=cases("general"), k=st.integers(1, 3), vector=st.booleans())
def test_solve_inv_det_slogdet_match_numpy(dtype, a, k, vector):
    a = a.astype(dtype)
    n = a.shape[-1]
    rng = np.random.default_rng(k)
    b = rng.standard_normal((n,) if vector else a.shape[:-2] + (n, k)).astype(dtype)
    x = la.solve(a, b)
    assert x.dtype == dtype
    want = np.linalg.solve(a, b)
    close(x, want, dtype)
    close(la.inv(a), np.linalg.inv(a), dtype)
    close(la.det(a), np.linalg.det(a), dtype)
    sign, logdet = la.slogdet(a)
    sign_np, logdet_np = np.linalg.slogdet(a)
    close(sign, sign_np, dtype)
    close(logdet, logdet_np, dtype)


def test_solve_broadcasts_batches_and_det_of_singular_and_integer_inputs():
    a = make_matrix(np.random.default_rng(0), (2, 1), 3, 3).astype(np.float32)
    b = np.ones((4, 3, 2), np.float32)
    close(la.solve(a, b), np.linalg.solve(a, b), "float32")
    assert la.det(np.zeros((3, 3))) == 0
    sign, logdet = la.slogdet(np.zeros((2, 2)))
    assert sign == 0 and logdet == -np.inf
    assert la.det(np.array([[1, 2], [3, 4]])).dtype == np.float32
    close(la.det(np.array([[1, 2], [3, 4]])), -2.0, "float32")
    assert la.det(np.zeros((0, 0))) == 1 and la.inv(np.zeros((2, 0, 0))).shape == (2, 0, 0)


@pytest.mark.parametrize("dtype", DTYPES)
@FAST
@given(a=cases("general", square=False))
def test_pinv_matrix_rank_and_cond_match_numpy(dtype, a):
    a = a.astype(dtype)
    close(la.pinv(a), np.linalg.pinv(a), dtype)
    np.testing.assert_array_equal(np.asarray(la.matrix_rank(a)), np.linalg.matrix_rank(a))
    close(la.cond(a), np.linalg.cond(a), dtype)


def test_matrix_rank_of_rank_deficient_matrices_and_cond_norms():
    low_rank = np.outer(np.arange(1.0, 5.0), np.arange(1.0, 4.0))
    assert int(la.matrix_rank(low_rank)) == 1
    assert int(la.matrix_rank(np.zeros(3))) == 0 and int(la.matrix_rank(np.ones(3))) == 1
    close(la.pinv(low_rank), np.linalg.pinv(low_rank), "float32")
    a = make_matrix(np.random.default_rng(1), (), 4, 4)
    for p in (None, 2, -2, 1, -1, np.inf, -np.inf, "fro", "nuc"):
        close(la.cond(a, p), np.linalg.cond(a, p), "float32")


@pytest.mark.parametrize("power", [0, 1, 2, 3, 5, -1, -3])
def test_matrix_power_matches_numpy(power):
    a = make_matrix(np.random.default_rng(power + 10), (2,), 3, 3)
    close(la.matrix_power(a, power), np.linalg.matrix_power(a, power), "float32")
    ints = np.array([[1, 1], [0, 1]], np.int32)
    got = la.matrix_power(ints, 4)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(got), np.linalg.matrix_power(ints, 4))


VECTOR_ORDS = [None, 2, 1, 0, np.inf, -np.inf, 3, 0.5, -1, -2.5]
MATRIX_ORDS = [None, "fro", "nuc", np.inf, -np.inf, 1, -1, 2, -2]


@pytest.mark.parametrize("dtype", DTYPES)
@FAST
@given(a=cases("general", square=False), keepdims=st.booleans(), data=st.data())
def test_norm_matches_numpy(dtype, a, keepdims, data):
    a = a.astype(dtype)
    ord_v = data.draw(st.sampled_from(VECTOR_ORDS))
    ord_m = data.draw(st.sampled_from(MATRIX_ORDS))
    axis_v = data.draw(st.integers(-a.ndim, a.ndim - 1))
    axes_m = data.draw(st.permutations(range(a.ndim)))[:2]
    close(
        la.norm(a, ord_v, axis=axis_v, keepdims=keepdims), np.linalg.norm(a, ord_v, axis_v, keepdims), dtype
    )
    got = la.norm(a, ord_m, axis=tuple(axes_m), keepdims=keepdims)
    close(got, np.linalg.norm(a, ord_m, tuple(axes_m), keepdims), dtype)
    close(la.norm(a, keepdims=keepdims), np.linalg.norm(a, keepdims=keepdims), dtype)
    flat = a.reshape(-1)  # axis=None: a 1-D input is a vector, a 2-D input a matrix
    close(la.norm(flat, ord_v), np.linalg.norm(flat, ord_v), dtype)
    rows = a.reshape(-1, a.shape[-1])
    close(la.norm(rows, ord_m, keepdims=keepdims), np.linalg.norm(rows, ord_m, keepdims=keepdims), dtype)
    close(la.vector_norm(a, ord=3), np.linalg.vector_norm(a, ord=3), dtype)
    close(la.matrix_norm(a, ord="nuc"), np.linalg.matrix_norm(a, ord="nuc"), dtype)


def test_norm_rejects_bad_orders_and_axes():
    with pytest.raises(ValueError):
        la.norm(np.ones((2, 2)), ord="nuc", axis=0)
    with pytest.raises(ValueError):
        la.norm(np.ones((2, 2)), ord=3)
    with pytest.raises(ValueError):
        la.norm(np.ones((2, 2, 2)), ord=1)
    with pytest.raises(ShapeError):
        la.norm(np.ones((2, 2)), axis=2)


# ---------------------------------------------------------------------------------------------------
# Staging (make_jaxpr): the functions trace, and the traced program gives the eager numbers
# ---------------------------------------------------------------------------------------------------


def test_functions_and_their_gradients_stage_into_jaxprs():
    a = make_matrix(np.random.default_rng(3), (2,), 3, 3).astype(np.float32)

    def loss(x):
        return fnp.sum(la.inv(x)) + la.slogdet(x)[1].sum() + fnp.sum(la.svd(x, compute_uv=False))

    for f in (lambda x: la.solve(x, fnp.ones(3)), la.det, la.cholesky, fl.grad(loss)):
        closed = fl.make_jaxpr(f)(a)
        staged = fl.eval_jaxpr(closed.jaxpr, closed.consts, fnp.asarray(a))[0]
        np.testing.assert_allclose(np.asarray(staged), np.asarray(f(a)), rtol=1e-5, atol=1e-5)
    text = str(fl.make_jaxpr(lambda x: la.solve(x, fnp.ones(3)))(a))
    assert "lu" in text and "triangular_solve" in text
    text = str(fl.make_jaxpr(lambda x: la.svd(x))(a))
    assert "svd[" in text and "compute_uv=True" in text and "full_matrices=True" in text


# ---------------------------------------------------------------------------------------------------
# Derivatives (float64: the fixture turns x64 on for tests named *derivative*)
# ---------------------------------------------------------------------------------------------------


def _leaves(out: Any) -> list:
    return [np.asarray(o, np.float64) for o in fl.tree_util.tree_leaves(out)]


def check_derivatives(f: Any, args: list, seed: int = 0, rtol: float = 1e-5) -> None:
    """jvp vs central differences along a random direction, and the vjp dot-product test."""
    rng = np.random.default_rng(seed)
    primals = [fnp.asarray(a) for a in args]
    tangents = [rng.standard_normal(a.shape) for a in args]
    out, tangent_out = fl.jvp(f, primals, [fnp.asarray(t) for t in tangents])
    eps = 1e-6
    plus = _leaves(f(*[fnp.asarray(a + eps * t) for a, t in zip(args, tangents)]))
    minus = _leaves(f(*[fnp.asarray(a - eps * t) for a, t in zip(args, tangents)]))
    for t_out, p, m in zip(_leaves(tangent_out), plus, minus):
        np.testing.assert_allclose(t_out, (p - m) / (2 * eps), rtol=rtol, atol=rtol)
    out, pullback = fl.vjp(f, *primals)
    cotangents = fl.tree_util.tree_map(lambda o: fnp.asarray(rng.standard_normal(np.shape(o))), out)
    cts_in = pullback(cotangents)
    lhs = sum(float(np.sum(np.asarray(c) * t)) for c, t in zip(cts_in, tangents))
    rhs = sum(float(np.sum(c * t)) for c, t in zip(_leaves(cotangents), _leaves(tangent_out)))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9)


def _fixed_signs(v: Any) -> Any:
    # Eigen/singular vectors are defined up to sign; the first row's sign is stable under small changes.
    return v * fnp.sign(v[..., :1, :])


DERIVATIVE_CASES = {
    "det": (la.det, "general", True),
    "slogdet": (lambda a: la.slogdet(a).logabsdet, "general", True),
    "inv": (la.inv, "general", True),
    "solve_matrix_rhs": (lambda a: la.solve(a, fnp.sin(a)), "general", True),
    "cholesky": (la.cholesky, "spd", True),
    "eigvalsh": (la.eigvalsh, "symmetric", True),
    "eigh_vectors": (lambda a: _fixed_signs(la.eigh(a).eigenvectors), "symmetric", True),
    "svdvals": (la.svdvals, "general", False),
    "svd_reduced": (lambda a: tuple(la.svd(a, full_matrices=False))[1:], "general", False),
    "svd_vectors": (lambda a: _fixed_signs(la.svd(a, full_matrices=False).U), "general", False),
    "qr_tall": (lambda a: tuple(la.qr(a)), "tall", False),
    "pinv": (la.pinv, "general", False),
    "norm_fro": (la.norm, "general", False),
    "norm_2": (lambda a: la.norm(a, 2, axis=(-2, -1)), "general", False),
    "norm_nuc": (lambda a: la.norm(a, "nuc", axis=(-2, -1)), "general", False),
    "norm_inf": (lambda a: la.norm(a, np.inf, axis=(-2, -1)), "general", False),
    "norm_vector_3": (lambda a: la.norm(a, 3, axis=-1), "general", False),
    "matrix_power": (lambda a: la.matrix_power(a, -2), "general", True),
    "lu_factors": (lambda a: dec.lu(a)[0], "general", False),
}


@pytest.mark.parametrize("name", sorted(DERIVATIVE_CASES))
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_derivative_jvp_and_vjp(name, data):
    f, kind, square = DERIVATIVE_CASES[name]
    a = data.draw(cases("general" if kind == "tall" else kind, square=square, max_n=4))
    if kind == "tall" and a.shape[-2] < a.shape[-1]:
        a = np.swapaxes(a, -1, -2)  # the QR derivative needs m >= n, as in JAX
    check_derivatives(f, [a], seed=a.size)


@settings(max_examples=10, deadline=None)
@given(
    a=cases("general", max_n=4), flags=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans())
)
def test_derivative_triangular_solve_in_both_arguments(a, flags):
    left_side, lower, transpose_a, unit_diagonal = flags
    n = a.shape[-1]
    a = a + 3 * np.eye(n)
    b = np.random.default_rng(n).standard_normal(a.shape[:-2] + ((n, 2) if left_side else (2, n)))
    kw = dict(left_side=left_side, lower=lower, transpose_a=transpose_a, unit_diagonal=unit_diagonal)
    check_derivatives(lambda x, y: dec.triangular_solve(x, y, **kw), [a, b], seed=n)


def test_derivative_grads_match_closed_forms():
    a = make_matrix(np.random.default_rng(7), (), 4, 4)
    inv_t = np.linalg.inv(a).T
    close(fl.grad(la.det)(a), np.linalg.det(a) * inv_t, "float64")
    close(fl.grad(lambda x: la.slogdet(x)[1])(a), inv_t, "float64")
    close(fl.grad(la.norm)(a), a / np.linalg.norm(a), "float64")
    u, _, vh = np.linalg.svd(a)
    close(fl.grad(lambda x: la.norm(x, "nuc"))(a), u @ vh, "float64")
    close(fl.grad(lambda x: la.norm(x, 2))(a), np.outer(u[:, 0], vh[0]), "float64")
    spd = make_matrix(np.random.default_rng(8), (), 4, 4, "spd")
    w, v = np.linalg.eigh(spd)
    close(fl.grad(lambda x: la.eigvalsh(x)[-1])(spd), np.outer(v[:, -1], v[:, -1]), "float64")
    # d/dA sum(solve(A, b)) = -A^-T 1 x^T
    b = np.arange(1.0, 5.0)
    x = np.linalg.solve(a, b)
    close(
        fl.grad(lambda m: fnp.sum(la.solve(m, b)))(a),
        -np.outer(np.linalg.solve(a.T, np.ones(4)), x),
        "float64",
    )
    # second order: the Hessian of log|det A| is -A^-T (x) A^-T, through slogdet's custom JVP
    ai = np.linalg.inv(a)
    hess = fl.hessian(lambda m: la.slogdet(m)[1])(a)
    close(hess, -np.einsum("jk,li->ijkl", ai, ai), "float64")


def test_derivative_float32_gradients_stay_float32():
    with x64(False):
        a = make_matrix(np.random.default_rng(2), (), 3, 3).astype(np.float32)
        g = fl.grad(lambda x: la.slogdet(x)[1] + fnp.sum(la.cholesky(x @ x.T)))(a)
        assert g.dtype == np.float32
        assert np.isfinite(np.asarray(g)).all()


def test_derivative_unsupported_cases_raise_clearly():
    wide = np.ones((2, 3))
    with pytest.raises(MissingRuleError, match="qr"):
        fl.jvp(lambda a: la.qr(a).Q, (fnp.asarray(wide),), (fnp.asarray(wide),))
    with pytest.raises(MissingRuleError, match="full_matrices"):
        fl.jvp(lambda a: la.svd(a).U, (fnp.asarray(wide),), (fnp.asarray(wide),))
