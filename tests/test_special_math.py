"""Accuracy and edge-case tests for functorch_lite.primitives.special_math.

Oracles: Python's math.erf/erfc/lgamma (always there) and scipy.special (erfinv, psi, gammaln) when it is
installed; scipy is not a dependency of the package, so those tests skip without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from functorch_lite.primitives.special_math import digamma, erf, erf_inv, erfc, lgamma, polygamma

try:
    import scipy.special as scipy_special
except ImportError:  # pragma: no cover - depends on the environment
    scipy_special = None

requires_scipy = pytest.mark.skipif(
    scipy_special is None, reason="scipy is not installed; it is only used as a test oracle"
)

FUNCTIONS = [erf, erfc, erf_inv, lgamma, digamma]
FLOATS = [np.float16, np.float32, np.float64]
INF, NAN = np.inf, np.nan
EULER = 0.5772156649015329


def elementwise(f: Callable[[float], float], x: np.ndarray) -> np.ndarray:
    return np.array([f(float(v)) for v in x.ravel()], dtype=np.float64).reshape(x.shape)


def representable(x: np.ndarray, dtype) -> np.ndarray:
    """The values of x that fit in dtype, cast to it."""
    return x[np.abs(x) <= np.finfo(dtype).max].astype(dtype)


def assert_ulp_close(got, want, dtype, ulps: float, scale=None) -> None:
    """|got - want| <= ulps * ulp_dtype(max(|want|, scale)); scale widens the tolerance where the result
    comes from cancelling terms of that size (near roots)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    size = np.abs(want) if scale is None else np.maximum(np.abs(want), scale)
    tol = ulps * np.spacing(size.astype(dtype)).astype(np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = np.isnan(want) | (got == want) | (np.abs(got - want) <= tol)
    assert ok.all(), f"worst: x-index {np.argmin(ok)}, got {got[~ok][:5]}, want {want[~ok][:5]}"


def assert_rel_close(got, want, rtol: float, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=atol)


# Dense float64 grids, including the boundaries between the approximation ranges.
ERF_GRID = np.concatenate(
    [np.linspace(-6.5, 6.5, 1301), [0.5, -0.5, 1.5, 3.0, np.nextafter(0.5, 0), np.nextafter(3.0, 0)]]
)
TINY = 10.0 ** np.linspace(-307, -1, 61)


# ---------------------------------------------------------------------------------------------------------
# erf / erfc


def test_erf_float64_against_math():
    x = np.concatenate([ERF_GRID, TINY, -TINY])
    assert_rel_close(erf(x), elementwise(math.erf, x), rtol=2e-15)


def test_erfc_float64_relative_accuracy_into_far_tail():
    x = np.concatenate([np.linspace(-6, 26.5, 3251), TINY, [0.5, 1.5, 3.0, 10.0, 26.0]])
    assert_rel_close(erfc(x), elementwise(math.erfc, x), rtol=2e-15)


def test_erf_tiny_is_relatively_accurate():
    x = np.array([1e-10, -1e-10, 1e-300, 5e-324])
    got = erf(x)
    assert got[0] == 1e-10 * 1.1283791670955126 and got[1] == -got[0]
    assert got[2] > 0 and got[3] >= 0  # the subnormal result may round to 0 or the smallest subnormal
    assert erf(np.float32(1e-10)) == np.float32(1e-10 * 1.1283791670955126)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, 32, elements=st.floats(-30.0, 30.0)))
def test_erf_erfc_float64_property(x):
    assert_rel_close(erf(x), elementwise(math.erf, x), rtol=2e-15)
    want = elementwise(math.erfc, x)
    normal = want >= np.finfo(np.float64).tiny  # relative accuracy is meaningless among subnormals
    assert_rel_close(erfc(x)[normal], want[normal], rtol=2e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_erf_erfc_low_precision_within_one_ulp(dtype):
    x = np.concatenate([ERF_GRID, TINY, np.linspace(6, 12, 61)]).astype(dtype)
    x = x[np.isfinite(x)]
    assert_ulp_close(erf(x), elementwise(math.erf, x).astype(dtype), dtype, 1)
    assert_ulp_close(erfc(x), elementwise(math.erfc, x).astype(dtype), dtype, 1)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, 32, elements=st.floats(-12.0, 12.0, width=32)))
def test_erf_erfc_float32_property(x):
    assert_ulp_close(erf(x), elementwise(math.erf, x).astype(np.float32), np.float32, 1)
    assert_ulp_close(erfc(x), elementwise(math.erfc, x).astype(np.float32), np.float32, 1)


def test_erf_erfc_special_values():
    x = np.array([0.0, -0.0, INF, -INF, NAN, 30.0, -30.0])
    np.testing.assert_array_equal(erf(x), [0.0, -0.0, 1.0, -1.0, NAN, 1.0, -1.0])
    np.testing.assert_array_equal(erfc(x), [1.0, 1.0, 0.0, 2.0, NAN, 0.0, 2.0])
    assert np.signbit(erf(np.float64(-0.0))) and not np.signbit(erf(np.float64(0.0)))


# ---------------------------------------------------------------------------------------------------------
# erf_inv

NEAR_ONE = 1.0 - 2.0 ** -np.arange(2, 54)  # exactly representable, up to the last double below 1


def test_erf_inv_round_trip_float64():
    y = np.concatenate([np.linspace(-0.999, 0.999, 1999), TINY, -TINY])
    assert_rel_close(erf(erf_inv(y)), y, rtol=1e-15)
    # Near 1 the information lives in 1 - y, so check it through erfc, relatively.
    assert_rel_close(erfc(erf_inv(NEAR_ONE)), 1.0 - NEAR_ONE, rtol=1e-14)
    assert_rel_close(erfc(-erf_inv(-NEAR_ONE)), 1.0 - NEAR_ONE, rtol=1e-14)


def test_erf_inv_inverts_math_erf():
    x = np.linspace(-2.0, 2.0, 801)  # erf is well-conditioned to invert here
    assert_rel_close(erf_inv(elementwise(math.erf, x)), x, rtol=1e-13, atol=1e-300)


@requires_scipy
def test_erf_inv_float64_against_scipy():
    y = np.concatenate([np.linspace(-1, 1, 2001)[1:-1], NEAR_ONE, -NEAR_ONE, TINY])
    assert_rel_close(erf_inv(y), scipy_special.erfinv(y), rtol=1e-14)


@requires_scipy
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_erf_inv_low_precision_against_scipy(dtype):
    y = np.concatenate([np.linspace(-1, 1, 2001)[1:-1], 1 - 2.0 ** -np.arange(2, 25), TINY]).astype(dtype)
    y = y[np.abs(y) < 1]
    want = scipy_special.erfinv(y.astype(np.float64)).astype(dtype)
    assert_ulp_close(erf_inv(y), want, dtype, 1)


def test_erf_inv_special_values():
    y = np.array([0.0, -0.0, 1.0, -1.0, 1.5, -1.0000001, INF, NAN, 0.5])
    got = erf_inv(y)
    np.testing.assert_array_equal(got[:8], [0.0, -0.0, INF, -INF, NAN, NAN, NAN, NAN])
    assert np.signbit(got[1])
    assert got[8] == pytest.approx(0.4769362762044699, rel=1e-15)
    assert erf_inv(np.float32(1.0)) == np.inf


# ---------------------------------------------------------------------------------------------------------
# lgamma

POSITIVE = np.concatenate(
    [np.linspace(0.01, 12, 1200), [0.5, 1.5, 2.5, 10.0, 1e-300, 1e-10, 1e5, 1e100, 1e300], 1 + TINY[-8:]]
)
NEGATIVE = np.concatenate([-np.linspace(0.005, 30, 1200) - 1e-3, [-0.5, -1.5, -2.5, -1e-10, -1e10 - 0.5]])


def lgamma_cancellation_scale(x: np.ndarray) -> np.ndarray:
    """Size of the terms that cancel in the reflection formula near the zeros of lgamma at x < 0."""
    return np.where(x < 0, np.abs(elementwise(math.lgamma, np.abs(x) + 1)) + 2.0, 0.0)


def test_lgamma_float64_against_math():
    x = np.concatenate([POSITIVE, NEGATIVE])
    # CPython's lgamma is only good to about 1e-15 absolute next to the zeros at 1 and 2 (the relative
    # accuracy there is checked against scipy below) and to ~ulp(terms) near the zeros at x < 0.
    want = elementwise(math.lgamma, x)
    err = np.abs(lgamma(x) - want)
    assert (err <= 1e-14 * np.maximum(np.abs(want), lgamma_cancellation_scale(x)) + 1e-15).all()


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, 32, elements=st.floats(-1e6, 1e6) | st.floats(0, 50)))
def test_lgamma_float64_property(x):
    x = x[(x > 0) | (x != np.floor(x))]
    want = elementwise(math.lgamma, x)
    err = np.abs(lgamma(x) - want)
    assert (err <= 1e-14 * np.maximum(np.abs(want), lgamma_cancellation_scale(x)) + 1e-15).all()


def test_lgamma_relative_accuracy_near_its_zeros_at_1_and_2():
    # Neither math.lgamma nor scipy's gammaln is relatively accurate here, so the oracle is the Taylor
    # series lgamma(1 + d) = -gamma d + sum_k>=2 (-1)^k zeta(k)/k d^k, truncated where d^5 is negligible.
    zeta = [0.0, 0.0, math.pi**2 / 6, 1.2020569031595942, math.pi**4 / 90]
    d = 10.0 ** np.linspace(-15, -4, 45)
    d = np.concatenate([d, -d])
    for root in (1.0, 2.0):
        x = root + d
        dd = x - root  # exact
        # lgamma(2 + d) has the same series with zeta(k) - 1 and 1 - gamma (it adds log(1 + d)).
        z = [zk - (root - 1.0) for zk in zeta]
        want = (root - 1.0 - EULER) * dd + z[2] / 2 * dd**2 - z[3] / 3 * dd**3 + z[4] / 4 * dd**4
        assert_rel_close(lgamma(x), want, rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_lgamma_low_precision_within_one_ulp(dtype):
    x = representable(np.concatenate([POSITIVE, NEGATIVE]), dtype)
    x = x[(x > 0) | (x != np.floor(x))]
    want = elementwise(math.lgamma, x).astype(dtype)
    assert_ulp_close(lgamma(x), want, dtype, 1, scale=lgamma_cancellation_scale(x) * 1e-5)


def test_lgamma_special_values():
    x = np.array([0.0, -0.0, -1.0, -2.0, -1e300, INF, -INF, NAN, 1.0, 2.0, 0.5])
    got = lgamma(x)
    np.testing.assert_array_equal(got[:10], [INF, INF, INF, INF, INF, INF, INF, NAN, 0.0, 0.0])
    assert got[10] == pytest.approx(0.5723649429247001, rel=1e-15)  # log(sqrt(pi))
    assert lgamma(np.float64(5e-324)) == pytest.approx(math.lgamma(5e-324), rel=1e-15)
    assert lgamma(np.float64(1e307)) == np.inf  # the result overflows
    assert lgamma(np.float32(-3.0)) == np.inf


# ---------------------------------------------------------------------------------------------------------
# digamma


def digamma_reflection_scale(x: np.ndarray) -> np.ndarray:
    """Size of pi cot(pi x), which cancels against digamma(1 - x) near the roots at x < 0."""
    with np.errstate(all="ignore"):
        return np.where(x < 0, np.abs(np.pi / np.tan(np.pi * x)) + np.log1p(np.abs(x)) + 1, 0.0)


@requires_scipy
def test_digamma_float64_against_scipy():
    x = np.concatenate([POSITIVE, NEGATIVE, 1.4616321449683622 + TINY[-20:], 1.4616321449683622 - TINY[-20:]])
    want = scipy_special.psi(x)
    err = np.abs(digamma(x) - want)
    # Near the poles at x < 0 scipy's psi itself is only good to about |x| ulp (mpmath agrees with ours).
    rtol = np.where(x < 0, 1e-14 * (1 + np.abs(x)), 1e-14)
    assert (err <= rtol * np.maximum(np.abs(want), digamma_reflection_scale(x)) + 1e-300).all()
    positive = x > 0  # no cancellation there, including around the root near 1.4616: relative accuracy
    assert_rel_close(digamma(x[positive]), want[positive], rtol=1e-14)


@requires_scipy
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_digamma_low_precision_against_scipy(dtype):
    x = representable(np.concatenate([POSITIVE, NEGATIVE]), dtype)
    x = x[(x > 0) | (x != np.floor(x))]
    want = scipy_special.psi(x.astype(np.float64)).astype(dtype)
    assert_ulp_close(digamma(x), want, dtype, 1, scale=digamma_reflection_scale(x) * 1e-5)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, 32, elements=st.floats(0.05, 1e4)))
def test_digamma_recurrence(x):
    # digamma(x + 1) - digamma(x) = 1/x.
    # The difference cancels, so allow a few ulp of the two values themselves.
    a, b = digamma(x + 1.0), digamma(x)
    assert np.allclose(a - b, 1.0 / x, rtol=1e-13, atol=1e-15 * (np.abs(a) + np.abs(b)))


def test_digamma_known_values_and_reflection():
    got = digamma(np.array([1.0, 0.5, 2.0, 1.4616321449683622]))
    assert got[0] == pytest.approx(-EULER, rel=1e-15)
    assert got[1] == pytest.approx(-EULER - 2 * math.log(2), rel=1e-15)
    assert got[2] == pytest.approx(1 - EULER, rel=1e-15)
    assert abs(got[3]) < 1e-15
    # digamma(x) = digamma(1 - x) - pi cot(pi x); x = -n - k/16 is exact, and cot(pi x) = -cot(pi k/16).
    n, k = np.meshgrid(np.arange(10.0), np.arange(1.0, 16.0))
    x = (-n - k / 16).ravel()
    reflected = digamma(1 - x) + np.pi / np.tan(np.pi * (k / 16).ravel())
    assert np.allclose(digamma(x), reflected, rtol=1e-14, atol=1e-14)


def test_digamma_special_values_match_scipy_psi():
    x = np.array([0.0, -0.0, -1.0, -2.0, -1e300, INF, -INF, NAN])
    np.testing.assert_array_equal(digamma(x), [-INF, INF, NAN, NAN, NAN, INF, NAN, NAN])
    assert digamma(np.float64(1e300)) == pytest.approx(math.log(1e300), rel=1e-15)
    if scipy_special is not None:
        np.testing.assert_array_equal(digamma(x), scipy_special.psi(x))


# ---------------------------------------------------------------------------------------------------------
# dtype and shape contract


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3)])
def test_dtype_and_shape_are_preserved(f, dtype, shape):
    x = np.full(shape, 0.25, dtype=dtype)
    out = f(x)
    assert out.dtype == np.dtype(dtype) and np.shape(out) == shape
    scalar = f(dtype(0.25))
    assert scalar.dtype == np.dtype(dtype) and np.ndim(scalar) == 0


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_non_contiguous_input_and_nan_propagation(f):
    x = np.linspace(0.1, 0.9, 24).reshape(4, 6).T[::2]
    x[0, 0] = np.nan
    out = f(x)
    assert out.shape == x.shape and np.isnan(out[0, 0]) and not np.isnan(out[1:]).any()
    np.testing.assert_array_equal(out[1:], np.stack([f(row) for row in x[1:]]))


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_rejects_non_float_dtypes(f):
    with pytest.raises(TypeError, match="float16, float32 or float64"):
        f(np.arange(3))


# ---------------------------------------------------------------------------------------------------------
# polygamma

ZETA3 = 1.2020569031595942


def trigamma_by_series(x: np.ndarray, terms: int = 200_000) -> np.ndarray:
    """A slow, independent oracle: sum_{k < K} 1/(x+k)^2 plus the Euler-Maclaurin tail at y = x + K,
    1/y + 1/(2 y^2) + 1/(6 y^3) - 1/(30 y^5), whose error is below 1/(42 y^7)."""
    k = np.arange(terms, dtype=np.float64)
    head = np.array([np.sum(1.0 / (v + k[::-1]) ** 2) for v in x])  # small terms first
    y = x + terms
    return head + 1.0 / y + 0.5 / y**2 + 1.0 / (6.0 * y**3) - 1.0 / (30.0 * y**5)


def test_trigamma_against_a_direct_series():
    x = np.concatenate([np.linspace(0.05, 30, 60), [1e-3, 0.5, 1.0, 2.0, 123.25]])
    assert_rel_close(polygamma(1, x), trigamma_by_series(x), rtol=1e-14)


def test_polygamma_known_values():
    assert polygamma(1, np.float64(1.0)) == pytest.approx(math.pi**2 / 6, rel=1e-15)
    assert polygamma(1, np.float64(0.5)) == pytest.approx(math.pi**2 / 2, rel=1e-15)
    assert polygamma(1, np.float64(-0.5)) == pytest.approx(math.pi**2 / 2 + 4, rel=1e-15)
    assert polygamma(2, np.float64(1.0)) == pytest.approx(-2 * ZETA3, rel=1e-15)
    assert polygamma(3, np.float64(1.0)) == pytest.approx(math.pi**4 / 15, rel=1e-15)  # 6 zeta(4)
    np.testing.assert_array_equal(polygamma(0, POSITIVE), digamma(POSITIVE))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_polygamma_float64_against_mpmath(n):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    positive = np.concatenate([10.0 ** np.linspace(-6, 6, 61), np.linspace(0.05, 25, 100)])
    negative = -np.linspace(0.03, 20, 120) - 1e-3
    x = np.concatenate([positive, negative])
    want = np.array([float(mpmath.polygamma(n, mpmath.mpf(float(v)))) for v in x])
    got = polygamma(n, x)
    # x > 0: every term of the series has one sign, so the result is relatively accurate.
    assert_rel_close(got[: positive.size], want[: positive.size], rtol=2e-15 * n)
    # x < 0: the reflection formula subtracts; allow a few ulp of the larger of the two terms.
    scale = np.abs(polygamma(n, 1.0 - negative)) + np.abs(want[positive.size :])
    err = np.abs(got[positive.size :] - want[positive.size :])
    assert (err <= 1e-14 * scale).all()


@requires_scipy
@pytest.mark.parametrize("n", [1, 2, 4])
def test_polygamma_against_scipy_for_positive_x(n):
    # Only x > 0: at x < 0 scipy's polygamma is off by up to ~1e-12 relative (mpmath agrees with ours, above).
    x = POSITIVE
    assert_rel_close(polygamma(n, x), scipy_special.polygamma(n, x), rtol=1e-14)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, 16, elements=st.floats(0.01, 1e3)), st.integers(1, 4))
def test_polygamma_recurrence(x, n):
    # polygamma(n, x + 1) = polygamma(n, x) + (-1)^n n! / x^(n+1).
    a, b = polygamma(n, x + 1.0), polygamma(n, x)
    step = (-1.0) ** n * math.factorial(n) / x ** (n + 1)
    assert np.allclose(a, b + step, rtol=1e-13, atol=1e-15 * (np.abs(a) + np.abs(b)))


def test_polygamma_special_values():
    x = np.array([0.0, -0.0, -1.0, -7.0, INF, -INF, NAN])
    np.testing.assert_array_equal(polygamma(1, x), [INF, INF, INF, INF, 0.0, NAN, NAN])
    np.testing.assert_array_equal(polygamma(2, x), [-INF, -INF, -INF, -INF, -0.0, NAN, NAN])
    if scipy_special is not None:
        np.testing.assert_array_equal(polygamma(1, x[:5]), scipy_special.polygamma(1, x[:5]))
        np.testing.assert_array_equal(polygamma(2, x[:5]), scipy_special.polygamma(2, x[:5]))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_polygamma_low_precision_matches_rounded_float64(dtype):
    x = representable(np.concatenate([POSITIVE, -np.linspace(0.1, 5, 50) - 0.01]), dtype)
    x = x[(x > 0) | (x != np.floor(x))]
    want = polygamma(1, x.astype(np.float64)).astype(dtype)
    assert_ulp_close(polygamma(1, x), want, dtype, 1)


def test_polygamma_dtype_shape_and_array_orders():
    for dtype in FLOATS:
        out = polygamma(1, np.full((2, 3), 0.25, dtype))
        assert out.dtype == np.dtype(dtype) and out.shape == (2, 3)
        scalar = polygamma(2, dtype(0.25))
        assert scalar.dtype == np.dtype(dtype) and np.ndim(scalar) == 0
    x = np.array([[0.5], [2.0]])
    got = polygamma(np.array([0, 1, 3]), x)  # orders broadcast against x
    assert got.shape == (2, 3)
    for j, n in enumerate([0, 1, 3]):
        np.testing.assert_array_equal(got[:, j], polygamma(n, x[:, 0]))


def test_polygamma_rejects_bad_orders_and_inputs():
    with pytest.raises(ValueError, match="non-negative"):
        polygamma(-1, np.float64(1.0))
    with pytest.raises(TypeError, match="integer order"):
        polygamma(1.5, np.float64(1.0))
    with pytest.raises(TypeError, match="float16, float32 or float64"):
        polygamma(1, np.arange(3))
