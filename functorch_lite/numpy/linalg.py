"""``functorch_lite.numpy.linalg`` (``fnp.linalg``): jax.numpy.linalg over the decomposition primitives.

Everything is built from the primitives in ``primitives/decompositions.py`` (cholesky, triangular_solve,
lu, qr, eigh, svd) and ``functorch_lite.numpy`` functions, so it works eagerly and under every
transformation; ``det`` and ``slogdet`` carry JAX's custom derivatives (``d log|det A| = tr(A^-1 dA)``)
and ``pinv`` the Golub-Pereyra formula. Inputs are batches of matrices ``[..., m, n]``; integer inputs
become the default float; float32 stays float32.

As in jax.numpy: ``cholesky``, ``eigh`` and ``eigvalsh`` symmetrize their input (so both triangles matter
and gradients are symmetric), failures give NaNs rather than exceptions, and ``eigh`` returns
``(eigenvalues, eigenvectors)``.

Example:
    >>> a = fnp.asarray([[3.0, 1.0], [1.0, 2.0]])
    >>> fnp.linalg.solve(a, fnp.asarray([9.0, 8.0]))
    Array([2., 3.], dtype=float32)
    >>> fl.grad(fnp.linalg.det)(a)     # det(a) * inv(a).T
    Array([[ 2., -1.],
           [-1.,  3.]], dtype=float32)
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

import numpy as np

from ..core import dtypes
from ..core.errors import ShapeError
from ..primitives import decompositions as dec
from ..primitives.custom_derivatives import custom_jvp
from . import _math, _reductions, _shape
from ._convert import asarray, convert, promote_dtypes
from ._creation import arange, eye, zeros
from ._linalg import matmul, outer, tensordot

__all__ = [
    "EighResult",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cond",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "matrix_transpose",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "vector_norm",
]


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def _inexact(x: Any) -> Any:
    x = asarray(x)
    if x.dtype.kind not in "fc":
        x = convert(x, dtypes.default_float())
    elif x.weak_type:
        x = convert(x, x.dtype)
    return x


def _matrix(x: Any, name: str, square: bool = False) -> Any:
    x = _inexact(x)
    if x.ndim < 2:
        raise ShapeError(f"fnp.linalg.{name} needs an array of rank >= 2 ([..., m, n]), got shape {x.shape}.")
    if square and x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"fnp.linalg.{name} needs square matrices [..., n, n], got shape {x.shape}.")
    return x


def matrix_transpose(x: Any, /) -> Any:
    """Swap the last two axes. Example: ``fnp.linalg.matrix_transpose(fnp.ones((2, 3, 4))).shape`` is (2, 4, 3)."""
    x = asarray(x)
    if x.ndim < 2:
        raise ShapeError(f"matrix_transpose needs an array of rank >= 2, got shape {x.shape}.")
    return _shape.swapaxes(x, -1, -2)


def _diagonal(x: Any) -> Any:
    # The main diagonal of [..., n, n] as [..., n]: a reshape and a strided slice.
    n = x.shape[-1]
    return _shape.reshape(x, tuple(x.shape[:-2]) + (n * n,))[..., :: n + 1]


def _trace(x: Any) -> Any:
    return _reductions.sum(_diagonal(x), axis=-1)


def _lu_solve(lu: Any, permutation: Any, b: Any) -> Any:
    """Solve ``A x = b`` from ``A[perm] = L U``: permute b's rows, then two triangular solves."""
    n = lu.shape[-1]
    one_hot = _math.equal(permutation[..., :, None], arange(n, dtype=np.int32)).astype(lu.dtype)
    pb = matmul(one_hot, b)
    y = dec.triangular_solve(lu, pb, left_side=True, lower=True, unit_diagonal=True)
    return dec.triangular_solve(lu, y, left_side=True, lower=False)


def _pivot_sign(pivots: Any, dtype: Any) -> Any:
    # Each pivot that is not its own row is one row swap; an odd count flips the sign.
    k = pivots.shape[-1]
    swaps = _reductions.sum(_math.not_equal(pivots, arange(k, dtype=np.int32)), axis=-1)
    return convert(1 - 2 * (swaps % 2), np.dtype(dtype))


# ---------------------------------------------------------------------------------------------------
# Solving and inverting
# ---------------------------------------------------------------------------------------------------


def solve(a: Any, b: Any) -> Any:
    """Solve ``a @ x = b`` by LU with partial pivoting. ``b`` is ``[n]`` (a vector, broadcast over a's
    batch) or ``[..., n, k]``, as in NumPy 2.

    Example: ``fnp.linalg.solve(fnp.eye(2) * 2, fnp.ones(2))`` is ``[0.5, 0.5]``.
    """
    a, b = promote_dtypes(_inexact(a), _inexact(b))
    a = _matrix(a, "solve", square=True)
    n = a.shape[-1]
    vector = b.ndim == 1
    if vector:
        b = b[:, None]
    if b.ndim < 2 or b.shape[-2] != n:
        raise ShapeError(
            f"fnp.linalg.solve: b must have shape [{n}] or [..., {n}, k] for a of shape {a.shape}, got "
            f"{b.shape if not vector else b.shape[:1]}."
        )
    batch = _shape.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = _shape.broadcast_to(a, batch + (n, n))
    b = _shape.broadcast_to(b, batch + tuple(b.shape[-2:]))
    lu, _, permutation = dec.lu(a)
    x = _lu_solve(lu, permutation, b)
    return x[..., 0] if vector else x


def inv(a: Any) -> Any:
    """Inverse of (batches of) square matrices. Example: ``fnp.linalg.inv(fnp.eye(2) * 2)``."""
    a = _matrix(a, "inv", square=True)
    n = a.shape[-1]
    return solve(a, _shape.broadcast_to(eye(n, dtype=a.dtype), a.shape))


@custom_jvp
def _det(a: Any) -> Any:
    lu, pivots, _ = dec.lu(a)
    return _pivot_sign(pivots, a.dtype) * _reductions.prod(_diagonal(lu), axis=-1)


@_det.defjvp
def _det_jvp(primals: tuple, tangents: tuple) -> tuple:
    (a,), (da,) = primals, tangents
    y = _det(a)
    return y, y * _trace(solve(a, da))  # d det A = det A * tr(A^-1 dA)


def det(a: Any) -> Any:
    """Determinant, from the LU factors (sign from the pivots). Example: ``fnp.linalg.det(fnp.eye(3))``."""
    return _det(_matrix(a, "det", square=True))


@custom_jvp
def _slogdet(a: Any) -> tuple:
    lu, pivots, _ = dec.lu(a)
    diag = _diagonal(lu)
    sign = _pivot_sign(pivots, a.dtype) * _reductions.prod(_math.sign(diag), axis=-1)
    return sign, _reductions.sum(_math.log(_math.abs(diag)), axis=-1)


@_slogdet.defjvp
def _slogdet_jvp(primals: tuple, tangents: tuple) -> tuple:
    (a,), (da,) = primals, tangents
    sign, logabsdet = _slogdet(a)
    return (sign, logabsdet), (_math.multiply(sign, 0.0), _trace(solve(a, da)))


def slogdet(a: Any) -> SlogdetResult:
    """``(sign, log|det a|)``, stable for large or small determinants (sign 0 and -inf when singular).

    Example: ``sign, logdet = fnp.linalg.slogdet(a)``.
    """
    sign, logabsdet = _slogdet(_matrix(a, "slogdet", square=True))
    return SlogdetResult(sign, logabsdet)


def matrix_power(a: Any, n: int) -> Any:
    """``a`` multiplied by itself ``n`` times (an integer; negative powers invert first), by squaring.

    Example: ``fnp.linalg.matrix_power(a, 3)`` is ``a @ a @ a``.
    """
    n = operator.index(n)
    a = asarray(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"fnp.linalg.matrix_power needs square matrices [..., n, n], got shape {a.shape}.")
    if n == 0:
        return _shape.broadcast_to(eye(a.shape[-1], dtype=a.dtype), a.shape)
    if n < 0:
        a, n = inv(a), -n
    result, power = None, a
    while n:
        if n & 1:
            result = power if result is None else matmul(result, power)
        n >>= 1
        if n:
            power = matmul(power, power)
    return result


# ---------------------------------------------------------------------------------------------------
# Decompositions
# ---------------------------------------------------------------------------------------------------


def cholesky(a: Any, *, upper: bool = False, symmetrize_input: bool = True) -> Any:
    """Cholesky factor: lower ``L`` with ``a = L @ L.T`` (or upper ``U = L.T`` when ``upper``); NaN where
    ``a`` is not positive definite. Example: ``fnp.linalg.cholesky(a @ a.T + fnp.eye(3))``.
    """
    a = _matrix(a, "cholesky", square=True)
    L = dec.cholesky(a, symmetrize_input=symmetrize_input)
    return matrix_transpose(L) if upper else L


def qr(a: Any, mode: str = "reduced") -> Any:
    """QR decomposition. ``mode``: ``'reduced'`` (``Q`` is ``[m, k]``), ``'complete'`` (``[m, m]``) or
    ``'r'`` (only ``R``). Example: ``Q, R = fnp.linalg.qr(a)``.
    """
    a = _matrix(a, "qr")
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"fnp.linalg.qr: unsupported mode {mode!r}; use 'reduced', 'complete' or 'r'.")
    q, r = dec.qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """Singular value decomposition ``a = U @ diag(S) @ Vh`` (``S`` descending), or just ``S``.

    ``hermitian`` is accepted for compatibility; the general algorithm is used either way.
    Example: ``U, S, Vh = fnp.linalg.svd(a, full_matrices=False)``.
    """
    a = _matrix(a, "svd")
    if not compute_uv:
        return dec.svd(a, compute_uv=False)
    u, s, vt = dec.svd(a, full_matrices=full_matrices)
    return SVDResult(u, s, vt)


def svdvals(x: Any, /) -> Any:
    """Singular values, descending. Example: ``fnp.linalg.svdvals(fnp.eye(2))`` is ``[1., 1.]``."""
    return svd(x, compute_uv=False)


def _uplo_lower(UPLO: str | None) -> bool:
    if UPLO not in (None, "L", "U"):
        raise ValueError(f"UPLO must be 'L' or 'U', got {UPLO!r}.")
    return UPLO != "U"


def eigh(a: Any, UPLO: str | None = None, symmetrize_input: bool = True) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices: ``a @ v = v * w[..., None, :]``.

    Example: ``w, v = fnp.linalg.eigh(a)``.
    """
    a = _matrix(a, "eigh", square=True)
    v, w = dec.eigh(a, lower=_uplo_lower(UPLO), symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a: Any, UPLO: str | None = "L") -> Any:
    """Eigenvalues (ascending) of symmetric matrices. Example: ``fnp.linalg.eigvalsh(fnp.eye(2))``."""
    return eigh(a, UPLO).eigenvalues


# ---------------------------------------------------------------------------------------------------
# pinv, matrix_rank, cond
# ---------------------------------------------------------------------------------------------------


def _default_rtol(x: Any) -> float:
    return float(max(x.shape[-2:]) * np.finfo(x.dtype).eps)


def _largest(s: Any) -> Any:
    """The largest singular value per matrix, kept as a trailing size-1 axis (0 when there are none)."""
    if s.shape[-1] == 0:
        return zeros(tuple(s.shape[:-1]) + (1,), s.dtype)
    return _reductions.max(s, axis=-1, keepdims=True)


def _pinv_body(a: Any, rtol: Any) -> Any:
    u, s, vt = dec.svd(a, full_matrices=False)
    keep = _math.greater(s, _math.multiply(asarray(rtol, a.dtype)[..., None], _largest(s)))
    safe = _math.where(keep, s, 1.0)
    s_inv = _math.where(keep, 1.0 / safe, 0.0)
    return matmul(matrix_transpose(vt) * s_inv[..., None, :], matrix_transpose(u))


_pinv = custom_jvp(_pinv_body, nondiff_argnums=(1,))


@_pinv.defjvp
def _pinv_jvp(rtol: Any, primals: tuple, tangents: tuple) -> tuple:
    # Golub & Pereyra: dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P.
    (a,), (da,) = primals, tangents
    p = _pinv(a, rtol)
    m, n = a.shape[-2:]
    pt, dat = matrix_transpose(p), matrix_transpose(da)
    dp = -matmul(p, matmul(da, p))
    dp = dp + matmul(matmul(p, pt), matmul(dat, eye(m, dtype=a.dtype) - matmul(a, p)))
    dp = dp + matmul(eye(n, dtype=a.dtype) - matmul(p, a), matmul(dat, matmul(pt, p)))
    return p, dp


def pinv(a: Any, rtol: Any = None, hermitian: bool = False) -> Any:
    """Moore-Penrose pseudo-inverse via the SVD; singular values at most ``rtol * max(s)`` are dropped
    (default ``rtol = 10 * max(m, n) * eps``, JAX's). Example: ``fnp.linalg.pinv(a) @ a`` ~ identity.
    """
    a = _matrix(a, "pinv")
    if rtol is None:
        rtol = 10 * _default_rtol(a)
    if not isinstance(rtol, (int, float)):
        rtol = np.asarray(rtol)
        rtol = float(rtol) if rtol.ndim == 0 else rtol.astype(a.dtype)
    return _pinv(a, rtol)


def matrix_rank(M: Any, rtol: Any = None, *, tol: Any = None) -> Any:
    """Number of singular values above ``tol`` (default ``max(s) * max(m, n) * eps``, or ``rtol * max(s)``).

    Example: ``fnp.linalg.matrix_rank(fnp.ones((3, 3)))`` is ``1``.
    """
    M = _inexact(M)
    if M.ndim < 2:
        return convert(_reductions.any(_math.not_equal(M, 0)), dtypes.default_int())
    s = svd(M, compute_uv=False)
    if tol is None:
        if rtol is None:
            rtol = _default_rtol(M)
        tol = _math.multiply(_largest(s), asarray(rtol, s.dtype)[..., None])
    else:
        tol = asarray(tol, s.dtype)[..., None]
    return _reductions.sum(_math.greater(s, tol), axis=-1)


def cond(x: Any, p: Any = None) -> Any:
    """Condition number in the ``p`` norm (``None``/2: ratio of extreme singular values).

    Example: ``fnp.linalg.cond(fnp.diag([1.0, 4.0]))`` is ``4``.
    """
    x = _matrix(x, "cond")
    if p is None or p == 2 or p == -2:
        s = svd(x, compute_uv=False)
        largest, smallest = s[..., 0], s[..., -1]
        return largest / smallest if p != -2 else smallest / largest
    if x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"fnp.linalg.cond with p={p!r} needs square matrices, got shape {x.shape}.")
    r = norm(x, ord=p, axis=(-2, -1)) * norm(inv(x), ord=p, axis=(-2, -1))
    return _math.where(_math.isnan(r), np.inf, r)  # a singular matrix has an infinite condition number


# ---------------------------------------------------------------------------------------------------
# Norms
# ---------------------------------------------------------------------------------------------------


def _vector_norm(x: Any, ord: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return _math.sqrt(_reductions.sum(x * x, axis=axis, keepdims=keepdims))
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order {ord!r} for vectors.")
    absx = _math.abs(x)
    if ord == np.inf:
        return _reductions.max(absx, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return _reductions.min(absx, axis=axis, keepdims=keepdims)
    if ord == 0:
        return convert(_reductions.sum(_math.not_equal(x, 0), axis=axis, keepdims=keepdims), x.dtype)
    if ord == 1:
        return _reductions.sum(absx, axis=axis, keepdims=keepdims)
    p = float(ord)
    return _math.power(_reductions.sum(_math.power(absx, p), axis=axis, keepdims=keepdims), 1.0 / p)


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, int], keepdims: bool) -> Any:
    row, col = axes
    if ord is None or ord == "fro":
        return _math.sqrt(_reductions.sum(x * x, axis=axes, keepdims=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        summed, reduced = (row, col) if ord in (1, -1) else (col, row)
        pick = _reductions.max if ord in (1, np.inf) else _reductions.min
        out = pick(_reductions.sum(_math.abs(x), axis=summed, keepdims=True), axis=reduced, keepdims=True)
        return out if keepdims else _shape.squeeze(out, axis=axes)
    if ord in (2, -2, "nuc"):
        s = svd(_shape.moveaxis(x, axes, (-2, -1)), compute_uv=False)
        if ord == "nuc":
            out = _reductions.sum(s, axis=-1)
        else:
            out = (_reductions.max if ord == 2 else _reductions.min)(s, axis=-1)
        return _shape.expand_dims(out, tuple(sorted(axes))) if keepdims else out
    raise ValueError(f"Invalid norm order {ord!r} for matrices.")


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise ShapeError(f"fnp.linalg.norm: axis {a} is out of bounds for an array of rank {ndim}.")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"fnp.linalg.norm: duplicate axes in {axis}.")
    return tuple(out)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    Vectors (one axis): ``ord`` None/2, inf, -inf, 0 (count of non-zeros), 1, or any real p. Matrices (two
    axes): None/'fro', 'nuc', inf, -inf, 1, -1, 2, -2. With ``axis=None`` a 1-D input is a vector, a 2-D input
    a matrix, and with ``ord=None`` any input is flattened (2-norm).
    Example: ``fnp.linalg.norm(fnp.asarray([3.0, 4.0]))`` is ``5.``.
    """
    x = _inexact(x)
    if axis is None:
        if ord is None:
            out = _math.sqrt(_reductions.sum(x * x))
            return _shape.reshape(out, (1,) * x.ndim) if keepdims else out
        if x.ndim not in (1, 2):
            raise ValueError(f"Improper number of dimensions to norm: ord={ord!r} needs a 1-D or 2-D input.")
        axis = tuple(range(x.ndim))
    axes = _normalize_axes(axis, x.ndim)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"Improper number of dimensions to norm: axis={axis!r}.")


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """Vector norm over ``axis`` (all axes, flattened, when None). Example: ``fnp.linalg.vector_norm(x, ord=1)``."""
    x = _inexact(x)
    if axis is None:
        out = _vector_norm(_shape.ravel(x), ord, (0,), False)
        return _shape.reshape(out, (1,) * x.ndim) if keepdims else out
    return _vector_norm(x, ord, _normalize_axes(axis, x.ndim), keepdims)


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """Matrix norm over the last two axes. Example: ``fnp.linalg.matrix_norm(x, ord='nuc')``."""
    x = _matrix(x, "matrix_norm")
    return _matrix_norm(x, ord, (x.ndim - 2, x.ndim - 1), keepdims)
