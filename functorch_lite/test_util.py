"""Testing helpers for users: ``check_grads`` compares automatic derivatives with finite differences, as
``jax.test_util.check_grads`` does, and a few hypothesis strategies generate ``Array`` arguments.

``check_jvp`` compares ``fl.jvp`` with central differences along a random tangent. ``check_vjp`` checks the
pullback with the dot-product test ``<vjp(ct), t> == <ct, J t>``, where ``J t`` is taken by finite
differences (and by ``fl.jvp`` as well, when forward mode is checked too). ``check_grads`` runs both and
recurses into the derivative functions themselves for higher orders.

Example:
    >>> import functorch_lite.numpy as fnp
    >>> from functorch_lite.test_util import check_grads
    >>> check_grads(lambda x, y: fnp.sin(x) * y, (fnp.asarray([0.5, 1.0]), 2.0), order=2)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from . import numpy as fnp
from . import tree_util
from .core.array import Array
from .transforms.ad import float0
from .transforms.autodiff import jvp, vjp

__all__ = ["arrays", "check_grads", "check_jvp", "check_vjp", "default_tolerance", "numerical_jvp", "shapes"]

# Absolute and relative tolerance by dtype (JAX's default gradient tolerances).
_TOLERANCE = {
    np.dtype(np.float16): 1e-2,
    np.dtype(np.float32): 2e-3,
    np.dtype(np.float64): 1e-5,
    np.dtype(np.complex64): 1e-3,
    np.dtype(np.complex128): 1e-5,
}
# Finite-difference step by dtype: JAX's 1e-4 for 64-bit; wider steps for lower precisions, whose rounding
# error (about ulp / eps) would otherwise dominate the truncation error (about eps**2).
_EPS = {
    np.dtype(np.float16): 1e-2,
    np.dtype(np.float32): 1e-3,
    np.dtype(np.float64): 1e-4,
    np.dtype(np.complex64): 1e-3,
    np.dtype(np.complex128): 1e-4,
}

Tolerance = float | Mapping[Any, float] | None


def default_tolerance(dtype: Any) -> float:
    """The default atol/rtol of the gradient checks for ``dtype``.

    Example: ``default_tolerance("float32")`` is ``0.002``.
    """
    return _TOLERANCE.get(np.dtype(dtype), 0.0)


def _tolerance(tol: Tolerance, dtypes: Sequence[np.dtype]) -> float:
    """The loosest tolerance among ``dtypes``: a given float wins, a dict overrides the defaults."""
    if tol is not None and not isinstance(tol, Mapping):
        return float(tol)
    table = dict(_TOLERANCE)
    if tol is not None:
        table.update({np.dtype(k): float(v) for k, v in tol.items()})
    return max((table.get(np.dtype(d), 0.0) for d in dtypes), default=0.0)


def _dtype(x: Any) -> np.dtype:
    dtype = getattr(x, "dtype", None)
    return np.dtype(dtype) if dtype is not None else fnp.asarray(x).dtype  # Python scalars: as fnp types them


def _inexact(x: Any) -> bool:
    return _dtype(x).kind in "fc"


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, np.ndarray) and x.dtype == float0:
        return x
    return np.asarray(x)


def _as_array(x: Any) -> Any:
    return x if isinstance(x, Array) else fnp.asarray(x)


def _rand_like(rng: np.random.RandomState, x: Any) -> Any:
    """A standard-normal Array of ``x``'s shape and dtype (a float0 zero for integer and bool ``x``)."""
    shape = tuple(np.shape(x))
    if not _inexact(x):
        return np.zeros(shape, float0)
    value = rng.standard_normal(shape)
    if _dtype(x).kind == "c":
        value = value + 1j * rng.standard_normal(shape)
    return Array(np.asarray(value, dtype=_dtype(x)), False)


def _step(x: Any, t: Any, scale: float) -> Any:
    """``x + scale * t`` in ``x``'s dtype (keeping its weak type); integer leaves are not moved."""
    if not _inexact(x):
        return x
    value = np.asarray(_to_numpy(x) + scale * _to_numpy(t), dtype=_dtype(x))
    return Array(value, bool(getattr(x, "weak_type", False)))


def _eps_for(args: Any) -> float:
    dtypes = [_dtype(x) for x in tree_util.tree_leaves(args) if _inexact(x)]
    return max((_EPS.get(d, 1e-4) for d in dtypes), default=1e-4)


def numerical_jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any], eps: float) -> Any:
    """Central difference ``(f(x + eps t) - f(x - eps t)) / (2 eps)`` as a pytree of float64 NumPy arrays.

    Example: ``numerical_jvp(fnp.sin, (x,), (t,), 1e-4)`` is close to ``cos(x) * t``.
    """
    plus = tree_util.tree_map(partial(_step, scale=eps), tuple(primals), tuple(tangents))
    minus = tree_util.tree_map(partial(_step, scale=-eps), tuple(primals), tuple(tangents))
    f_plus, f_minus = f(*plus), f(*minus)

    def difference(a: Any, b: Any) -> np.ndarray:
        if not _inexact(a):
            return np.zeros(np.shape(a), float0)
        a, b = _to_numpy(a), _to_numpy(b)
        wide = np.complex128 if a.dtype.kind == "c" else np.float64
        return (a.astype(wide) - b.astype(wide)) * (0.5 / eps)

    return tree_util.tree_map(difference, f_plus, f_minus)


def _inner(xs: Any, ys: Any) -> tuple[float, float]:
    """``sum(real(conj(x) * y))`` over the inexact leaves of two pytrees, and the sum of the terms' sizes
    (the scale that errors in the terms are relative to, however much the sum cancels)."""
    total, size = 0.0, 0.0
    for x, y in zip(tree_util.tree_leaves(xs), tree_util.tree_leaves(ys)):
        if not (_inexact(x) and _inexact(y)):
            continue
        terms = np.real(np.conj(_to_numpy(x).astype(np.complex128)) * _to_numpy(y).astype(np.complex128))
        total += float(np.sum(terms))
        size += float(np.sum(np.abs(terms)))
    return total, size


def _assert_inner_close(
    got: tuple[float, float],
    expected: tuple[float, float],
    atol: Tolerance,
    rtol: Tolerance,
    what: str,
    dtypes: list,
) -> None:
    """Compare two inner products within ``atol + rtol * (sum of the sizes of the expected terms)``."""
    abs_tol, rel_tol = _tolerance(atol, dtypes), _tolerance(rtol, dtypes)
    err = abs(got[0] - expected[0])
    if not err <= abs_tol + rel_tol * expected[1]:
        raise AssertionError(
            f"{what}: max abs error {err:.3g} (atol={abs_tol:g}, rtol={rel_tol:g} of the terms' total size "
            f"{expected[1]:.3g}); got {got[0]!r}, expected {expected[0]!r}."
        )


def _assert_close(
    actual: Any, expected: Any, atol: Tolerance, rtol: Tolerance, what: str, dtypes: Sequence[Any] = ()
) -> None:
    """Assert that two pytrees agree leafwise within ``atol + rtol * |expected|``, naming the max error.

    Default tolerances come from the leaves' dtypes and ``dtypes`` (the loosest wins)."""
    leaves_a, tree_a = tree_util.tree_flatten(actual)
    leaves_e, tree_e = tree_util.tree_flatten(expected)
    if tree_a != tree_e:
        raise AssertionError(f"{what}: tree structures differ: {tree_a} vs {tree_e}.")
    for i, (a, e) in enumerate(zip(leaves_a, leaves_e)):
        a_np, e_np = _to_numpy(a), _to_numpy(e)
        if not (_inexact(a_np) and _inexact(e_np)):
            continue
        if a_np.shape != e_np.shape:
            raise AssertionError(f"{what}: output {i} has shape {a_np.shape}, expected {e_np.shape}.")
        kinds = [a_np.dtype, e_np.dtype, *dtypes]
        abs_tol, rel_tol = _tolerance(atol, kinds), _tolerance(rtol, kinds)
        wide = np.complex128 if "c" in (a_np.dtype.kind, e_np.dtype.kind) else np.float64
        a64, e64 = a_np.astype(wide), e_np.astype(wide)
        with np.errstate(invalid="ignore"):
            err = np.abs(a64 - e64)
            both_nan = np.isnan(a64) & np.isnan(e64)
            same_inf = np.isinf(a64) & (a64 == e64)
            bad = ~(both_nan | same_inf | (err <= abs_tol + rel_tol * np.abs(e64)))
        if bad.any():
            worst = float(np.nanmax(np.where(bad, err, 0.0))) if np.isfinite(err[bad]).any() else np.nan
            raise AssertionError(
                f"{what}: max abs error {worst:.3g} at output {i} ({int(bad.sum())} of {bad.size} elements "
                f"off; atol={abs_tol:g}, rtol={rel_tol:g}).\n  got:      {a64.ravel()[:6]}\n"
                f"  expected: {e64.ravel()[:6]}"
            )


def _check_tangent_dtypes(primal_out: Any, tangent_out: Any, what: str) -> None:
    for i, (p, t) in enumerate(zip(tree_util.tree_leaves(primal_out), tree_util.tree_leaves(tangent_out))):
        want = _dtype(p) if _inexact(p) else float0
        if _dtype(t) != want or tuple(np.shape(t)) != tuple(np.shape(p)):
            raise AssertionError(
                f"{what}: tangent output {i} is {_dtype(t)}{list(np.shape(t))}, but its primal is "
                f"{_dtype(p)}{list(np.shape(p))} (expected tangent dtype {want})."
            )


def check_jvp(
    f: Callable,
    f_jvp: Callable,
    args: Sequence[Any],
    atol: Tolerance = None,
    rtol: Tolerance = None,
    eps: float | None = None,
    err_msg: str = "",
) -> None:
    """Check ``f_jvp(primals, tangents)`` against ``f`` and central differences along a random tangent.

    Example: ``check_jvp(fnp.sin, partial(fl.jvp, fnp.sin), (fnp.asarray([0.1, 0.2]),))``.
    """
    what = err_msg or "JVP"
    args = tuple(tree_util.tree_map(_as_array, tuple(args)))
    eps = eps if eps is not None else _eps_for(args)
    rng = np.random.RandomState(0)
    tangents = tree_util.tree_map(partial(_rand_like, rng), args)
    primal_out, tangent_out = f_jvp(args, tangents)
    _check_tangent_dtypes(primal_out, tangent_out, what)
    _assert_close(primal_out, f(*args), atol, rtol, f"{what}: primal output vs f(*args)")
    expected = numerical_jvp(f, args, tangents, eps)
    # The inputs' precision limits the finite differences too, so their dtypes count for the tolerance.
    dtypes = [_dtype(x) for x in tree_util.tree_leaves(args) if _inexact(x)]
    what_fd = f"{what}: tangent vs central finite differences"
    _assert_close(tangent_out, expected, atol, rtol, what_fd, dtypes)


def check_vjp(
    f: Callable,
    f_vjp: Callable,
    args: Sequence[Any],
    atol: Tolerance = None,
    rtol: Tolerance = None,
    eps: float | None = None,
    err_msg: str = "",
    f_jvp: Callable | None = None,
) -> None:
    """Check the pullback of ``f_vjp(*args)`` with the dot-product test ``<vjp(ct), t> == <ct, J t>``.

    ``J t`` comes from central differences and, when ``f_jvp`` is given (``f_jvp(primals, tangents)``
    like ``partial(fl.jvp, f)``), also from forward mode. Both comparisons allow ``atol + rtol * S``, where S
    is the sum of the inner product's terms' sizes (so cancellation in the sum does not make them flaky).

    Example: ``check_vjp(fnp.sin, partial(fl.vjp, fnp.sin), (fnp.asarray([0.1, 0.2]),))``.
    """
    what = err_msg or "VJP"
    args = tuple(tree_util.tree_map(_as_array, tuple(args)))
    eps = eps if eps is not None else _eps_for(args)
    rng = np.random.RandomState(0)
    primal_out, pullback = f_vjp(*args)
    _assert_close(primal_out, f(*args), atol, rtol, f"{what}: primal output vs f(*args)")
    tangents = tree_util.tree_map(partial(_rand_like, rng), args)
    cotangent = tree_util.tree_map(partial(_rand_like, rng), primal_out)
    cotangent_in = pullback(tree_util.tree_map(_conj, cotangent))
    cotangent_in = tree_util.tree_map(_conj, cotangent_in)
    dtypes = [_dtype(x) for x in tree_util.tree_leaves((args, primal_out)) if _inexact(x)]
    got = _inner(tangents, cotangent_in)
    expected = _inner(numerical_jvp(f, args, tangents, eps), cotangent)
    what_fd = f"{what}: <vjp(ct), t> vs <ct, finite-difference J t>"
    _assert_inner_close(got, expected, atol, rtol, what_fd, dtypes)
    if f_jvp is not None:
        _, tangent_out = f_jvp(args, tangents)
        expected = _inner(tangent_out, cotangent)
        what_ad = f"{what}: dot-product test <vjp(ct), t> vs <ct, jvp(t)>"
        _assert_inner_close(got, expected, atol, rtol, what_ad, dtypes)


def _tangent_of(x: Any) -> Any:
    return x if _inexact(x) else np.zeros(np.shape(x), float0)


def _conj(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype == float0:
        return x
    return fnp.conj(x) if _dtype(x).kind == "c" and hasattr(fnp, "conj") else x


def check_grads(
    f: Callable,
    args: Sequence[Any],
    order: int,
    modes: Sequence[str] = ("fwd", "rev"),
    atol: Tolerance = None,
    rtol: Tolerance = None,
    eps: float | None = None,
) -> None:
    """Check derivatives of ``f`` at ``args`` up to ``order`` against finite differences (JAX's semantics).

    ``"fwd"`` checks ``fl.jvp``; ``"rev"`` checks ``fl.vjp`` with the dot-product test. For ``order > 1``
    the derivative functions themselves are checked recursively (the JVP of the JVP, the VJP of the VJP, ...).
    Tolerances default by dtype (float32 2e-3, float64 1e-5, the loosest of the inputs' and outputs' dtypes);
    the finite-difference step ``eps`` defaults to 1e-4 for float64 (JAX's) and 1e-3 for float32. An
    ``AssertionError`` names the mode, the order and the largest error.

    Example:
        >>> check_grads(fnp.tanh, (fnp.asarray([0.3, -1.2]),), order=2, modes=["rev"])
    """
    args = tuple(tree_util.tree_map(_as_array, tuple(args)))
    unknown = set(modes) - {"fwd", "rev"}
    if unknown:
        raise ValueError(f"check_grads: unknown mode(s) {sorted(unknown)}; use 'fwd' and/or 'rev'.")

    def check(f: Callable, args: tuple, level: int, chain: str) -> None:
        if "fwd" in modes:
            name = f"JVP of {chain}" if chain else "JVP"
            msg = f"check_grads (mode 'fwd', order {level}, {name})"
            check_jvp(f, partial(jvp, f), args, atol, rtol, eps, msg)
            if level < order:
                # The tangents are the primals themselves, as in JAX (float0 for integer leaves).
                check(partial(jvp, f), (args, tree_util.tree_map(_tangent_of, args)), level + 1, name)
        if "rev" in modes:
            name = f"VJP of {chain}" if chain else "VJP"
            msg = f"check_grads (mode 'rev', order {level}, {name})"
            f_jvp = partial(jvp, f) if "fwd" in modes else None
            check_vjp(f, partial(vjp, f), args, atol, rtol, eps, msg, f_jvp)
            if level < order:

                def f_vjp(*primals: Any) -> Any:
                    out, pullback = vjp(f, *primals)
                    return pullback(out)

                check(f_vjp, args, level + 1, name)

    check(f, args, 1, "")


# ---------------------------------------------------------------------------------------------------
# Hypothesis strategies (hypothesis is a test extra: imported when a strategy is built)
# ---------------------------------------------------------------------------------------------------


def shapes(min_rank: int = 0, max_rank: int = 3, min_side: int = 1, max_side: int = 4) -> Any:
    """A hypothesis strategy of array shapes. Example: ``@given(shapes(max_rank=2))``."""
    from hypothesis.extra import numpy as hnp

    return hnp.array_shapes(min_dims=min_rank, max_dims=max_rank, min_side=min_side, max_side=max_side)


def _inside(bound: float | None, dtype: np.dtype, toward: float) -> float | None:
    """``bound`` rounded to ``dtype``, moved one step ``toward`` the inside of the range if it got out."""
    if bound is None:
        return None
    rounded = dtype.type(bound)
    if (float(rounded) - bound) * toward < 0:
        rounded = np.nextafter(rounded, dtype.type(toward))
    return float(rounded)


def arrays(
    dtype: Any = "float32",
    shape: Any = None,
    *,
    min_value: float | None = -10.0,
    max_value: float | None = 10.0,
    elements: Any = None,
) -> Any:
    """A hypothesis strategy of ``Array``s of ``dtype`` with finite elements in ``[min_value, max_value]``.

    ``shape`` is a tuple, an int, a strategy of shapes, or None (``shapes()``). The conversion to an Array
    happens when an example is drawn, so set ``enable_x64`` before drawing float64 arrays.

    Example:
        >>> @given(arrays("float32", (3,), min_value=0.1, max_value=2.0))
        ... def test_log(x): check_grads(fnp.log, (x,), order=1)
    """
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    dtype = np.dtype(dtype)
    if elements is None:
        if dtype.kind == "f":
            lo, hi = _inside(min_value, dtype, np.inf), _inside(max_value, dtype, -np.inf)
            elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=8 * dtype.itemsize)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            lo = info.min if min_value is None else max(info.min, int(np.ceil(min_value)))
            hi = info.max if max_value is None else min(info.max, int(np.floor(max_value)))
            elements = st.integers(lo, hi)
        elif dtype.kind == "b":
            elements = st.booleans()
    shape = shapes() if shape is None else shape
    return hnp.arrays(dtype, shape, elements=elements).map(lambda a: fnp.asarray(a, dtype=a.dtype))
