"""Matrix decompositions, with jax.lax.linalg's names: ``cholesky``, ``triangular_solve``, ``lu``, ``qr``,
``eigh`` and ``svd``. Every rule of each primitive lives in this file.

All of them work on batches of matrices ``[..., m, n]`` (leading dimensions are batch dimensions, as in
``numpy.linalg``) of float32 or float64; the outputs keep the input's dtype. The impls call ``numpy.linalg``,
which batches by itself; ``lu`` (NumPy has none) is a partial-pivoting elimination vectorised over the
batch. Where LAPACK fails (a matrix that is not positive definite for ``cholesky``, no convergence for
``eigh``/``svd``) the failing matrices' outputs are NaN, as in JAX, instead of an exception.

Outputs follow jax.lax.linalg's primitives: ``eigh`` gives ``(v, w)`` (eigenvectors first, eigenvalues
ascending); ``svd`` gives ``(s, u, vt)`` (just ``(s,)`` when ``compute_uv=False``); ``lu`` gives ``(lu,
pivots, permutation)`` with ``x[..., permutation, :] == L @ U``. The lax-style wrappers at the end
(``cholesky``, ``triangular_solve``, ``lu``, ``qr``, ``eigh``, ``svd``) take and return what
``jax.lax.linalg``'s functions do (``svd`` returns ``(u, s, vt)``).

JVP rules assume what JAX's assume: a symmetric tangent for ``cholesky``/``eigh`` (the public wrappers
symmetrize their input), distinct eigenvalues / singular values for ``eigh``/``svd``, ``m >= n`` for the
``qr`` derivative. ``triangular_solve`` is linear in ``b`` and has a transpose rule.

Example:
    >>> L = cholesky_p.bind(fnp.asarray([[4.0, 2.0], [2.0, 3.0]]))
    >>> triangular_solve_p.bind(L, fnp.ones((2, 1)), left_side=True, lower=True, transpose_a=False,
    ...                         conjugate_a=False, unit_diagonal=False)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.array import Array
from ..core.errors import MissingRuleError, ShapeDtypeError, ShapeError
from ..core.trace import Primitive, ShapedArray, aval_of, current_trace
from ..transforms.ad import Zero, add_tangents, is_undefined, tangent_aval

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _fnp() -> Any:
    # Imported lazily: functorch_lite.numpy (and its linalg module) import this file.
    from .. import numpy as fnp

    return fnp


# ---------------------------------------------------------------------------------------------------
# Shape and dtype checks
# ---------------------------------------------------------------------------------------------------


def _check_matrix(name: str, x: ShapedArray, square: bool) -> None:
    if x.dtype not in _FLOATS:
        raise ShapeDtypeError(
            f"{name} needs a float32 or float64 operand, got {x.str_short()}. Convert with "
            "x.astype(fnp.float32) (or use the functorch_lite.numpy.linalg function, which promotes)."
        )
    if x.ndim < 2:
        raise ShapeError(
            f"{name} needs a (batch of) matrices of shape [..., m, n] (rank >= 2), got {x.str_short()}."
        )
    if square and x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"{name} needs (batches of) square matrices [..., n, n], got {x.str_short()}.")


def _aval(x: np.ndarray) -> ShapedArray:
    return ShapedArray(x.shape, x.dtype)


def _batch(x: ShapedArray) -> tuple[int, ...]:
    return tuple(x.shape[:-2])


def _with_nan_fallback(compute: Callable, x: np.ndarray, out_avals: list) -> list:
    """``compute(x)`` (a list of arrays) for the whole batch; if LAPACK raises for some matrix, redo the
    batch one matrix at a time and fill the failing matrices' outputs with NaN (JAX's behaviour)."""
    try:
        with np.errstate(all="ignore"):
            return compute(x)
    except np.linalg.LinAlgError:
        pass
    batch = x.shape[:-2]
    flat = x.reshape((int(np.prod(batch, dtype=np.int64)),) + x.shape[-2:])
    outs = [np.full((flat.shape[0],) + a.shape[len(batch) :], np.nan, a.dtype) for a in out_avals]
    for i in range(flat.shape[0]):  # only reached after a failure: one LAPACK call per matrix
        try:
            with np.errstate(all="ignore"):
                results = compute(flat[i])
        except np.linalg.LinAlgError:
            continue
        for out, r in zip(outs, results):
            out[i] = r
    return [o.reshape(a.shape) for o, a in zip(outs, out_avals)]


# ---------------------------------------------------------------------------------------------------
# cholesky
# ---------------------------------------------------------------------------------------------------


def _cholesky_abstract_eval(x: ShapedArray) -> ShapedArray:
    _check_matrix("cholesky", x, square=True)
    return ShapedArray(x.shape, x.dtype)


def _cholesky_impl(x: np.ndarray) -> np.ndarray:
    # numpy reads only the lower triangle, as LAPACK's potrf('L') does for jax.lax.linalg.cholesky_p.
    (out,) = _with_nan_fallback(lambda a: [np.linalg.cholesky(a)], x, [_aval(x)])
    return out.astype(x.dtype, copy=False)


cholesky_p = Primitive("cholesky", _cholesky_impl, _cholesky_abstract_eval, weak="never")


# ---------------------------------------------------------------------------------------------------
# triangular_solve
# ---------------------------------------------------------------------------------------------------


def _triangular_solve_abstract_eval(
    a: ShapedArray,
    b: ShapedArray,
    *,
    left_side: bool,
    lower: bool,
    transpose_a: bool,
    conjugate_a: bool,
    unit_diagonal: bool,
) -> ShapedArray:
    _check_matrix("triangular_solve", a, square=True)
    _check_matrix("triangular_solve", b, square=False)
    if a.dtype != b.dtype:
        raise ShapeDtypeError(
            f"triangular_solve needs a and b of the same dtype, got {a.str_short()} and {b.str_short()}."
        )
    if _batch(a) != _batch(b):
        raise ShapeError(
            f"triangular_solve needs a and b with equal batch dimensions, got {a.str_short()} and "
            f"{b.str_short()}. Broadcast them first (fnp.broadcast_to)."
        )
    m = a.shape[-1]
    solved = b.shape[-2] if left_side else b.shape[-1]
    if solved != m:
        which = "b.shape[-2]" if left_side else "b.shape[-1]"
        raise ShapeError(
            f"triangular_solve with left_side={left_side} needs {which} == a.shape[-1] == {m}, got "
            f"a {a.str_short()} and b {b.str_short()}."
        )
    return ShapedArray(b.shape, b.dtype)


def _substitute(t: np.ndarray, b: np.ndarray, lower: bool) -> np.ndarray:
    """Solve ``t @ x = b`` for triangular ``t`` one row at a time (vectorised over batch and columns).

    Used only when ``np.linalg.solve`` refuses a singular matrix: like LAPACK's trsm, a zero on the
    diagonal then gives infinities/NaNs instead of an error."""
    m = t.shape[-1]
    x = np.zeros(b.shape, b.dtype)
    rows = range(m) if lower else range(m - 1, -1, -1)
    for i in rows:
        done = slice(0, i) if lower else slice(i + 1, m)
        partial = np.matmul(t[..., i : i + 1, done], x[..., done, :])[..., 0, :]
        x[..., i, :] = (b[..., i, :] - partial) / t[..., i, i : i + 1]
    return x


def _triangular_solve_impl(
    a: np.ndarray,
    b: np.ndarray,
    *,
    left_side: bool,
    lower: bool,
    transpose_a: bool,
    conjugate_a: bool,
    unit_diagonal: bool,
) -> np.ndarray:
    t = np.tril(a) if lower else np.triu(a)  # the other triangle is never read
    if unit_diagonal:
        idx = np.arange(t.shape[-1])
        t[..., idx, idx] = 1
    if conjugate_a:
        t = np.conj(t)
    effective_lower = lower
    if transpose_a:
        t = np.swapaxes(t, -1, -2)
        effective_lower = not lower
    if not left_side:  # X @ op(A) = B  <=>  op(A)^T @ X^T = B^T
        t = np.swapaxes(t, -1, -2)
        b = np.swapaxes(b, -1, -2)
        effective_lower = not effective_lower
    with np.errstate(all="ignore"):
        try:
            x = np.linalg.solve(t, b)
        except np.linalg.LinAlgError:
            x = _substitute(t, b, effective_lower)
    if not left_side:
        x = np.swapaxes(x, -1, -2)
    return np.ascontiguousarray(x, dtype=b.dtype)


triangular_solve_p = Primitive(
    "triangular_solve", _triangular_solve_impl, _triangular_solve_abstract_eval, weak="never"
)


# ---------------------------------------------------------------------------------------------------
# lu
# ---------------------------------------------------------------------------------------------------


def _lu_abstract_eval(x: ShapedArray) -> list[ShapedArray]:
    _check_matrix("lu", x, square=False)
    m, n = x.shape[-2:]
    batch = _batch(x)
    int32 = np.dtype(np.int32)
    return [
        ShapedArray(x.shape, x.dtype),
        ShapedArray(batch + (min(m, n),), int32),
        ShapedArray(batch + (m,), int32),
    ]


def _lu_impl(x: np.ndarray) -> list[np.ndarray]:
    """Gaussian elimination with partial pivoting (LAPACK getrf's choices: the first row of largest
    magnitude), one column per step, vectorised over the batch."""
    m, n = x.shape[-2:]
    k = min(m, n)
    batch = x.shape[:-2]
    count = int(np.prod(batch, dtype=np.int64))
    a = np.array(x.reshape((count, m, n)), dtype=x.dtype, copy=True)
    pivots = np.zeros((count, k), np.int32)
    perm = np.tile(np.arange(m, dtype=np.int32), (count, 1))
    which = np.arange(count)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(a[:, j:, j]), axis=1)
            pivots[:, j] = p
            row_j = a[which, j, :].copy()
            a[which, j, :] = a[which, p, :]
            a[which, p, :] = row_j
            perm_j = perm[which, j].copy()
            perm[which, j] = perm[which, p]
            perm[which, p] = perm_j
            pivot = a[:, j, j : j + 1]
            # A zero pivot means the whole column below is zero: nothing to eliminate (as getrf).
            column = np.where(pivot != 0, a[:, j + 1 :, j] / np.where(pivot != 0, pivot, 1), 0)
            a[:, j + 1 :, j] = column
            a[:, j + 1 :, j + 1 :] -= column[:, :, None] * a[:, j : j + 1, j + 1 :]
    return [a.reshape(x.shape), pivots.reshape(batch + (k,)), perm.reshape(batch + (m,))]


lu_p = Primitive("lu", _lu_impl, _lu_abstract_eval, multiple_results=True, weak="never")


# ---------------------------------------------------------------------------------------------------
# qr
# ---------------------------------------------------------------------------------------------------


def _qr_abstract_eval(x: ShapedArray, *, full_matrices: bool) -> list[ShapedArray]:
    _check_matrix("qr", x, square=False)
    m, n = x.shape[-2:]
    k = m if full_matrices else min(m, n)
    batch = _batch(x)
    return [ShapedArray(batch + (m, k), x.dtype), ShapedArray(batch + (k, n), x.dtype)]


def _qr_impl(x: np.ndarray, *, full_matrices: bool) -> list[np.ndarray]:
    q, r = np.linalg.qr(x, mode="complete" if full_matrices else "reduced")
    return [q.astype(x.dtype, copy=False), r.astype(x.dtype, copy=False)]


qr_p = Primitive("qr", _qr_impl, _qr_abstract_eval, multiple_results=True, weak="never")


# ---------------------------------------------------------------------------------------------------
# eigh
# ---------------------------------------------------------------------------------------------------


def _eigh_abstract_eval(x: ShapedArray, *, lower: bool) -> list[ShapedArray]:
    _check_matrix("eigh", x, square=True)
    return [ShapedArray(x.shape, x.dtype), ShapedArray(x.shape[:-1], x.dtype)]


def _eigh_impl(x: np.ndarray, *, lower: bool) -> list[np.ndarray]:
    def compute(a: np.ndarray) -> list[np.ndarray]:
        w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")  # ascending eigenvalues
        return [v, w]

    v, w = _with_nan_fallback(compute, x, _eigh_abstract_eval(_aval(x), lower=lower))
    return [v.astype(x.dtype, copy=False), w.astype(x.dtype, copy=False)]


eigh_p = Primitive("eigh", _eigh_impl, _eigh_abstract_eval, multiple_results=True, weak="never")


# ---------------------------------------------------------------------------------------------------
# svd
# ---------------------------------------------------------------------------------------------------


def _svd_abstract_eval(x: ShapedArray, *, full_matrices: bool, compute_uv: bool) -> list[ShapedArray]:
    _check_matrix("svd", x, square=False)
    m, n = x.shape[-2:]
    k = min(m, n)
    batch = _batch(x)
    s = ShapedArray(batch + (k,), x.dtype)
    if not compute_uv:
        return [s]
    u_cols, vt_rows = (m, n) if full_matrices else (k, k)
    return [s, ShapedArray(batch + (m, u_cols), x.dtype), ShapedArray(batch + (vt_rows, n), x.dtype)]


def _svd_impl(x: np.ndarray, *, full_matrices: bool, compute_uv: bool) -> list[np.ndarray]:
    def compute(a: np.ndarray) -> list[np.ndarray]:
        if not compute_uv:
            return [np.linalg.svd(a, compute_uv=False)]
        u, s, vt = np.linalg.svd(a, full_matrices=full_matrices, compute_uv=True)
        return [s, u, vt]

    avals = _svd_abstract_eval(_aval(x), full_matrices=full_matrices, compute_uv=compute_uv)
    return [o.astype(x.dtype, copy=False) for o in _with_nan_fallback(compute, x, avals)]


svd_p = Primitive("svd", _svd_impl, _svd_abstract_eval, multiple_results=True, weak="never")


# ---------------------------------------------------------------------------------------------------
# Helpers for the JVP rules (they must use primitives / functorch_lite.numpy only: under reverse mode they
# run while the tangent computation is being staged)
# ---------------------------------------------------------------------------------------------------


def _mT(x: Any) -> Any:
    return _fnp().swapaxes(x, -1, -2)


def _matmul(x: Any, y: Any) -> Any:
    return _fnp().matmul(x, y)


def _triangle(x: Any, lower: bool, k: int = 0) -> Any:
    """``tril(x, k)`` or ``triu(x, k)`` of the last two dims (a select with a constant mask)."""
    m, n = x.shape[-2:]
    ones = np.ones((m, n), bool)
    keep = np.tril(ones, k) if lower else np.triu(ones, k)
    fnp = _fnp()
    return fnp.where(Array(keep), x, fnp.zeros((), x.dtype))


def _diagonal(x: Any) -> Any:
    """The main diagonal of square matrices ``[..., n, n]`` as ``[..., n]`` (a reshape and a strided slice)."""
    n = x.shape[-1]
    flat = _fnp().reshape(x, tuple(x.shape[:-2]) + (n * n,))
    return flat[..., :: n + 1]


def _eye_like(x: Any, n: int) -> Array:
    return Array(np.eye(n, dtype=x.dtype))


def _zero_tangent_of(out: Any) -> Zero:
    return Zero(tangent_aval(aval_of(out)))


def _solve_triangular(a: Any, b: Any, **params: Any) -> Any:
    full = dict(left_side=False, lower=False, transpose_a=False, conjugate_a=False, unit_diagonal=False)
    full.update(params)
    return triangular_solve_p.bind(a, b, **full)


# ---------------------------------------------------------------------------------------------------
# JVP and transpose rules
# ---------------------------------------------------------------------------------------------------


def _cholesky_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    # A = L L^T  =>  dL = L Phi(L^-1 dA L^-T), Phi = lower triangle with the diagonal halved
    # (Murray 2016, "Differentiation of the Cholesky decomposition").
    (x,), (dx,) = primals, tangents
    L = cholesky_p.bind(x)
    if type(dx) is Zero:
        return L, _zero_tangent_of(L)
    right = _solve_triangular(L, dx, left_side=False, lower=True, transpose_a=True)  # dA L^-T
    inner = _solve_triangular(L, right, left_side=True, lower=True)  # L^-1 dA L^-T
    n = x.shape[-1]
    phi = np.tril(np.ones((n, n), x.dtype), -1) + 0.5 * np.eye(n, dtype=x.dtype)
    return L, _matmul(L, inner * Array(phi))


cholesky_p.jvp = _cholesky_jvp


def _triangular_solve_jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
    (a, b), (da, db) = primals, tangents
    out = triangular_solve_p.bind(a, b, **params)
    total: Any = _zero_tangent_of(out)
    if type(db) is not Zero:  # linear in b
        total = triangular_solve_p.bind(a, db, **params)
    if type(da) is not Zero:
        # op(A) X = B  =>  dX = -op(A)^-1 op(dA) X ;  X op(A) = B  =>  dX = -X op(dA) op(A)^-1.
        # Only the triangle the primitive reads carries a derivative (not the diagonal if it is unit).
        k = (-1 if params["lower"] else 1) if params["unit_diagonal"] else 0
        d_op = -_triangle(da, params["lower"], k)
        if params["transpose_a"]:
            d_op = _mT(d_op)
        product = _matmul(d_op, out) if params["left_side"] else _matmul(out, d_op)
        total = add_tangents(total, triangular_solve_p.bind(a, product, **params))
    return out, total


def _triangular_solve_transpose(ct: Any, a: Any, b: Any, **params: Any) -> list:
    # X = op(A)^-1 B (or B op(A)^-1) is linear in B; its transpose solves with op(A)^T instead.
    if is_undefined(a):
        raise TypeError("triangular_solve is not linear in its matrix a; this is a bug in a JVP rule.")
    if type(ct) is Zero:
        return [None, Zero(b.aval)]
    flipped = dict(params, transpose_a=not params["transpose_a"])
    return [None, triangular_solve_p.bind(a, ct, **flipped)]


triangular_solve_p.jvp = _triangular_solve_jvp
triangular_solve_p.transpose = _triangular_solve_transpose


def _lu_jvp(primals: list, tangents: list) -> tuple[list, list]:
    # P A = L U  =>  L^-1 P dA U^-1 = L^-1 dL + dU U^-1 (strictly lower + upper), so with
    # X = L^-1 P dA U^-1:  dL = L tril(X, -1),  dU = triu(X) U   (De Hoog, Anderssen & Lukas).
    (x,), (dx,) = primals, tangents
    lu, pivots, perm = outs = lu_p.bind(x)
    int_zeros = [_zero_tangent_of(pivots), _zero_tangent_of(perm)]
    if type(dx) is Zero:
        return outs, [_zero_tangent_of(lu)] + int_zeros
    fnp = _fnp()
    m, n = x.shape[-2:]
    k = min(m, n)
    batch = tuple(x.shape[:-2])
    # Rows of dA in pivoted order, as a one-hot matmul (linear in dA, and transposable).
    one_hot = fnp.equal(perm[..., :, None], fnp.arange(m, dtype=np.int32)).astype(x.dtype)
    p_dx = _matmul(one_hot, dx)
    # Square unit-lower L [.., m, m] and upper U [.., n, n], padded with identity blocks.
    l_part = _triangle(lu[..., :, :k], lower=True, k=-1)
    if m > k:
        l_part = fnp.concatenate([l_part, fnp.zeros(batch + (m, m - k), x.dtype)], axis=-1)
    L = l_part + _eye_like(x, m)
    u_part = _triangle(lu[..., :k, :], lower=False)
    if n > k:
        u_part = fnp.concatenate([u_part, fnp.zeros(batch + (n - k, n), x.dtype)], axis=-2)
        u_part = u_part + Array(np.diag(np.r_[np.zeros(k), np.ones(n - k)]).astype(x.dtype))
    U = u_part
    la = _solve_triangular(L, p_dx, left_side=True, lower=True, unit_diagonal=True)
    lau = _solve_triangular(U, la, left_side=False, lower=False)
    d_lu = _matmul(L, _triangle(lau, lower=True, k=-1)) + _matmul(_triangle(lau, lower=False), U)
    return outs, [d_lu] + int_zeros


lu_p.jvp = _lu_jvp


def _qr_jvp(primals: list, tangents: list, *, full_matrices: bool) -> tuple[list, list]:
    # A = Q R with Q^T Q = I: C = Q^T dA R^-1 splits into a skew part (Q^T dQ) and an upper part (dR R^-1).
    (x,), (dx,) = primals, tangents
    q, r = outs = qr_p.bind(x, full_matrices=full_matrices)
    if type(dx) is Zero:
        return outs, [_zero_tangent_of(q), _zero_tangent_of(r)]
    m, n = x.shape[-2:]
    if m < n or (full_matrices and m != n):
        raise MissingRuleError(
            f"The derivative of qr is implemented for m >= n with full_matrices=False (or square inputs), "
            f"as in JAX; got an operand of shape {tuple(x.shape)} with full_matrices={full_matrices}. Use "
            "mode='reduced' (fnp.linalg.qr) for tall matrices, or differentiate qr of the transpose."
        )
    dx_rinv = _solve_triangular(r, dx, left_side=False, lower=False)  # dA R^-1
    c = _matmul(_mT(q), dx_rinv)
    lower = _triangle(c, lower=True, k=-1)
    omega = lower - _mT(lower)  # skew-symmetric: Q^T dQ
    dq = _matmul(q, omega - c) + dx_rinv
    dr = _matmul(c - omega, r)
    return outs, [dq, dr]


qr_p.jvp = _qr_jvp


def _safe_reciprocal_of_differences(d: Any, n: int) -> Any:
    """``1 / d`` off the diagonal and 0 on it (``d`` has a zero diagonal): primal values only."""
    eye = _eye_like(d, n)
    return 1 / (d + eye) - eye


def _eigh_jvp(primals: list, tangents: list, *, lower: bool) -> tuple[list, list]:
    # A V = V diag(w): dw = diag(V^T dA V), dV = V (F * (V^T dA V)) with F_ij = 1 / (w_j - w_i).
    (x,), (dx,) = primals, tangents
    v, w = outs = eigh_p.bind(x, lower=lower)
    if type(dx) is Zero:
        return outs, [_zero_tangent_of(v), _zero_tangent_of(w)]
    n = x.shape[-1]
    f = _safe_reciprocal_of_differences(w[..., None, :] - w[..., :, None], n)
    vt_dx_v = _matmul(_mT(v), _matmul(dx, v))
    return outs, [_matmul(v, f * vt_dx_v), _diagonal(vt_dx_v)]


eigh_p.jvp = _eigh_jvp


def _svd_jvp(primals: list, tangents: list, *, full_matrices: bool, compute_uv: bool) -> tuple[list, list]:
    # A = U diag(s) V^T. With dS = U^T dA V: ds = diag(dS); dU, dV from the off-diagonal part of dS with
    # F_ij = 1 / (s_j^2 - s_i^2), plus the components outside the span of U (m > n) or V (n > m).
    (a,), (da,) = primals, tangents
    m, n = a.shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise MissingRuleError(
            f"The derivative of svd with full_matrices=True is not implemented for non-square inputs "
            f"(got shape {tuple(a.shape)}), as in JAX. Use full_matrices=False or compute_uv=False."
        )
    s, u, vt = svd_p.bind(a, full_matrices=False, compute_uv=True)
    outs = [s, u, vt] if compute_uv else [s]
    if type(da) is Zero:
        return outs, [_zero_tangent_of(o) for o in outs]
    v = _mT(vt)
    ds_full = _matmul(_mT(u), _matmul(da, v))
    ds = _diagonal(ds_full)
    if not compute_uv:
        return outs, [ds]
    k = min(m, n)
    s_row, s_col = s[..., None, :], s[..., :, None]
    f = _safe_reciprocal_of_differences((s_row + s_col) * (s_row - s_col), k)
    ds_s = ds_full * s_row  # dS diag(s)
    s_ds = s_col * ds_full  # diag(s) dS
    du = _matmul(u, f * (ds_s + _mT(ds_s)))
    dv = _matmul(v, f * (s_ds + _mT(s_ds)))
    if m > n:
        da_v = _matmul(da, v)
        du = du + (da_v - _matmul(u, _matmul(_mT(u), da_v))) / s_row
    if n > m:
        dat_u = _matmul(_mT(da), u)
        dv = dv + (dat_u - _matmul(v, _matmul(vt, dat_u))) / s_row
    return outs, [ds, du, _mT(dv)]


svd_p.jvp = _svd_jvp


# ---------------------------------------------------------------------------------------------------
# The lax-level API (jax.lax.linalg's functions)
# ---------------------------------------------------------------------------------------------------


def _operand(x: Any) -> Any:
    fnp = _fnp()
    return fnp.asarray(x)


def _bind_checked(prim: Primitive, *args: Any, **params: Any) -> Any:
    if current_trace() is None:  # eager: check as staging would, so errors do not depend on jit
        prim.abstract_eval(*[aval_of(a) for a in args], **params)
    return prim.bind(*args, **params)


def _symmetrize(x: Any) -> Any:
    return (x + _mT(x)) / 2


def cholesky(x: Any, *, symmetrize_input: bool = True) -> Any:
    """Lower Cholesky factor ``L`` with ``x = L @ L.T`` (NaN where ``x`` is not positive definite).

    ``symmetrize_input`` uses ``(x + x.T) / 2`` (JAX's default); otherwise only the lower triangle is read.
    Example: ``lax.linalg.cholesky(fnp.asarray([[4.0, 2.0], [2.0, 3.0]]))``.
    """
    x = _operand(x)
    _check_matrix("cholesky", aval_of(x), square=True)
    if symmetrize_input:
        x = _symmetrize(x)
    return cholesky_p.bind(x)


def triangular_solve(
    a: Any,
    b: Any,
    *,
    left_side: bool = False,
    lower: bool = False,
    transpose_a: bool = False,
    conjugate_a: bool = False,
    unit_diagonal: bool = False,
) -> Any:
    """Solve ``op(a) @ x = b`` (``left_side=True``) or ``x @ op(a) = b`` for triangular ``a``.

    ``op`` transposes when ``transpose_a``; only the ``lower`` (or upper) triangle of ``a`` is read, and not
    its diagonal when ``unit_diagonal``. ``b`` may have one dimension fewer than ``a`` (a batch of vectors).
    Example: ``lax.linalg.triangular_solve(L, b, left_side=True, lower=True)``.
    """
    a, b = _operand(a), _operand(b)
    vector = b.ndim == a.ndim - 1
    if vector:
        b = b[..., :, None] if left_side else b[..., None, :]
    out = _bind_checked(
        triangular_solve_p,
        a,
        b,
        left_side=bool(left_side),
        lower=bool(lower),
        transpose_a=bool(transpose_a),
        conjugate_a=bool(conjugate_a),
        unit_diagonal=bool(unit_diagonal),
    )
    if vector:
        out = out[..., 0] if left_side else out[..., 0, :]
    return out


def lu(x: Any) -> tuple[Any, Any, Any]:
    """LU decomposition with partial pivoting: ``(lu, pivots, permutation)`` with
    ``x[..., permutation, :] == L @ U`` (``L`` unit lower, stored below the diagonal of ``lu``).

    Example: ``lu, pivots, perm = lax.linalg.lu(a)``.
    """
    return tuple(_bind_checked(lu_p, _operand(x)))


def qr(x: Any, *, full_matrices: bool = True) -> tuple[Any, Any]:
    """QR decomposition ``x = q @ r`` (Householder, LAPACK's signs). Example: ``q, r = lax.linalg.qr(a)``."""
    return tuple(_bind_checked(qr_p, _operand(x), full_matrices=bool(full_matrices)))


def eigh(x: Any, *, lower: bool = True, symmetrize_input: bool = True) -> tuple[Any, Any]:
    """Eigenvectors and eigenvalues ``(v, w)`` of symmetric matrices, ``w`` ascending.

    Example: ``v, w = lax.linalg.eigh(a)``; then ``a @ v == v * w[..., None, :]``.
    """
    x = _operand(x)
    _check_matrix("eigh", aval_of(x), square=True)
    if symmetrize_input:
        x = _symmetrize(x)
    return tuple(eigh_p.bind(x, lower=bool(lower)))


def svd(x: Any, *, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """Singular value decomposition: ``(u, s, vt)`` with ``x = u @ diag(s) @ vt`` (``s`` descending), or
    just ``s`` when ``compute_uv=False``. Example: ``u, s, vt = lax.linalg.svd(a, full_matrices=False)``.
    """
    outs = _bind_checked(svd_p, _operand(x), full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    if not compute_uv:
        return outs[0]
    s, u, vt = outs
    return u, s, vt


__all__ = [
    "cholesky",
    "cholesky_p",
    "eigh",
    "eigh_p",
    "lu",
    "lu_p",
    "qr",
    "qr_p",
    "svd",
    "svd_p",
    "triangular_solve",
    "triangular_solve_p",
]


# ---------------------------------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------------------------------
#
# Every decomposition already maps over the leading dims of its operand (and its outputs share them), so the
# vmapped dim only has to be one of those: it stays where it is when it already is, else it moves first.

from ..transforms.batching import bdim_at_front, move_axis  # noqa: E402


def _leading(x: Any, bdim: int) -> tuple[Any, int]:
    """``x`` with its batch dim among the leading (matrix-batch) dims, and where it is."""
    if bdim < x.ndim - 2:
        return x, bdim
    return move_axis(x, bdim, 0), 0


def _decomposition_batch(prim: Primitive) -> Callable:
    def rule(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, Any]:
        x, bdim = _leading(vals[0], dims[0])
        out = prim.bind(x, **params)
        if prim.multiple_results:
            return out, [bdim] * len(out)
        return out, bdim

    return rule


def _triangular_solve_batch(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, int]:
    a, b = vals
    a_bdim, b_bdim = dims
    if a_bdim is not None and b_bdim is not None and a_bdim == b_bdim and a_bdim < a.ndim - 2:
        return triangular_solve_p.bind(a, b, **params), a_bdim  # already a shared leading dim
    # a and b need equal batch dims: put the batch first in both (materialising an unbatched one).
    a = bdim_at_front(a, a_bdim, axis_size)
    b = bdim_at_front(b, b_bdim, axis_size)
    return triangular_solve_p.bind(a, b, **params), 0


for _p in (cholesky_p, lu_p, qr_p, eigh_p, svd_p):
    _p.batch = _decomposition_batch(_p)
triangular_solve_p.batch = _triangular_solve_batch
