"""Vectorized NumPy special functions: ``erf``, ``erfc``, ``erf_inv``, ``lgamma`` and ``digamma``.

These back the primitives of the same names. Every function takes a float16/float32/float64 array (or numpy
scalar), computes in float64 and casts back, so float32 and float16 results are (nearly always) correctly
rounded and float64 results are within a few ulp. Only NumPy is used; each range of the argument is handled
by a mask, never by a Python loop over elements.

The polynomial coefficients below were computed for this module with mpmath at 50 digits: Chebyshev
interpolation at 60 nodes, dropping trailing coefficients below 1e-18 of the largest.

Example:
    >>> import numpy as np
    >>> float(erf(np.float64(0.5)))
    0.5204998778130465
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["digamma", "erf", "erf_inv", "erfc", "lgamma", "polygamma"]

_F64 = np.ndarray  # 1-D float64 work arrays inside this module
_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))

_TWO_OVER_SQRT_PI = 1.1283791670955126
_PI = math.pi
_LOG_PI = 1.1447298858494002
_HALF_LOG_2PI_MINUS_HALF = 0.4189385332046727  # (log(2*pi) - 1) / 2
_ONE_MINUS_EULER = 0.42278433509846713
# The positive root of digamma as a double-double, so digamma keeps relative accuracy next to it.
_DIGAMMA_ROOT_HI = 1.4616321449683622
_DIGAMMA_ROOT_LO = 9.549995429965697e-17


def _apply(name: str, x: Any, core: Callable[[_F64], _F64]) -> Any:
    """Run a float64 kernel on a flat copy of ``x`` and give back ``x``'s dtype and shape."""
    arr = np.asarray(x)
    if arr.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} expects a float16, float32 or float64 array, got dtype {arr.dtype}.")
    with np.errstate(all="ignore"):  # inf/nan are produced on purpose at poles and outside domains
        out = core(arr.astype(np.float64).reshape(-1))
        out = out.reshape(arr.shape).astype(arr.dtype, copy=False)
    return out[()] if out.ndim == 0 else out  # 0-d in, numpy scalar out, like a NumPy ufunc


def _chebyshev(coeffs: Sequence[float], t: _F64) -> _F64:
    """Clenshaw's recurrence for sum(c_k T_k(t)), t in [-1, 1]; stable, unlike expanding to monomials."""
    b1 = np.zeros_like(t)
    b2 = np.zeros_like(t)
    for c in coeffs[:0:-1]:
        b1, b2 = 2.0 * t * b1 - b2 + c, b1
    return t * b1 - b2 + coeffs[0]


def _horner(coeffs: Sequence[float], t: _F64) -> _F64:
    """sum(c_k t**k), coefficients in increasing degree."""
    acc = np.full_like(t, coeffs[-1])
    for c in coeffs[-2::-1]:
        acc = acc * t + c
    return acc


# ----------------------------------------------------------------------------------------------------------
# erf / erfc

# erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))  (A&S 7.1.5). For |x| < 0.5 the 13th term is
# below 1e-19, and starting at x (not 1 - erfc) keeps relative accuracy for tiny x such as 1e-10.
_ERF_TAYLOR = tuple((-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(13))

# erfcx(x) = exp(x^2) erfc(x) is smooth and slowly varying, so it is fitted instead of erfc itself.
# On [0.5, 1.5] in t = 2x - 2:
_ERFCX_0P5_1P5 = (
    0.447795810680899,
    -0.14437117094579746,
    0.02052348013327858,
    -0.0026459068473904633,
    0.0003148828357127584,
    -3.501741816305982e-05,
    3.6716735606971222e-06,
    -3.654722598254305e-07,
    3.4721186358948525e-08,
    -3.162115483017617e-09,
    2.7705635476511733e-10,
    -2.3425031428441204e-11,
    1.916171382436389e-12,
    -1.5198378406714607e-13,
    1.1711473727725093e-14,
    -8.78250623357929e-16,
    6.41911560261423e-17,
    -4.578977398787957e-18,
)
# On [1.5, 3] in t = (4x - 9) / 3:
_ERFCX_1P5_3 = (
    0.24053480758125906,
    -0.07002344166079719,
    0.009600878679433074,
    -0.0012498980008193367,
    0.00015543814890469813,
    -1.855313555400582e-05,
    2.133592307604103e-06,
    -2.371402766692384e-07,
    2.55413451244302e-08,
    -2.6717820267380714e-09,
    2.7196732086441914e-10,
    -2.69849922254067e-11,
    2.6137310637536914e-12,
    -2.4745867372775445e-13,
    2.292750085463851e-14,
    -2.0810401517313836e-15,
    1.8521975554736953e-16,
    -1.617904086716717e-17,
    1.3880960917453333e-18,
)
# For x >= 3, x * erfcx(x) as a function of u = 1/x^2 in [0, 1/9] (the asymptotic series lives in u),
# in t = 18u - 1; its value at u = 0 is 1/sqrt(pi).
_XERFCX_TAIL = (
    0.5501319107464505,
    -0.013568417501041386,
    0.00046289060810315435,
    -2.4502363267825265e-05,
    1.7029763750931283e-06,
    -1.4357119601213566e-07,
    1.4024823838325175e-08,
    -1.5412080438577578e-09,
    1.8666055976384724e-10,
    -2.4545344734643432e-11,
    3.464809288559214e-12,
    -5.20391139734174e-13,
    8.257289572654455e-14,
    -1.3762149638670674e-14,
    2.3976696937183316e-15,
    -4.3490221914633755e-16,
    8.184632438122187e-17,
    -1.59340865983847e-17,
    3.2008138418035875e-18,
    -6.619468736790444e-19,
)
_ERFC_UNDERFLOW = 28.0  # erfc(28) < 1e-342, below the smallest float64 subnormal


def _erf_small(x: _F64) -> _F64:
    """erf for |x| < 0.5 by its Taylor series."""
    return x * (_TWO_OVER_SQRT_PI * _horner(_ERF_TAYLOR, x * x))


def _exp_neg_square(a: _F64) -> _F64:
    """exp(-a*a) for 0 <= a < 32 without the rounding error of a*a, which exp would multiply by a*a.

    Split a = hi + lo with hi on a 2**-16 grid: hi*hi is exact (at most 42 significant bits) and the rest,
    a*a - hi*hi = lo * (a + hi), is small.
    """
    hi = np.round(a * 65536.0) / 65536.0
    return np.exp(-hi * hi) * np.exp(-(a - hi) * (a + hi))


def _erfc_large(a: _F64) -> _F64:
    """erfc for a >= 0.5 (NaN-free input), as exp(-a^2) times a fitted erfcx."""
    out = np.zeros_like(a)
    m = a < 1.5
    out[m] = _exp_neg_square(a[m]) * _chebyshev(_ERFCX_0P5_1P5, 2.0 * a[m] - 2.0)
    m = (a >= 1.5) & (a < 3.0)
    out[m] = _exp_neg_square(a[m]) * _chebyshev(_ERFCX_1P5_3, (4.0 * a[m] - 9.0) / 3.0)
    m = (a >= 3.0) & (a < _ERFC_UNDERFLOW)
    b = a[m]
    out[m] = _exp_neg_square(b) * (_chebyshev(_XERFCX_TAIL, 18.0 / (b * b) - 1.0) / b)
    return out


def _erf64(x: _F64) -> _F64:
    a = np.abs(x)
    out = np.full_like(x, np.nan)
    m = a < 0.5
    out[m] = _erf_small(x[m])
    m = a >= 0.5
    out[m] = np.copysign(1.0 - _erfc_large(a[m]), x[m])
    return out


def _erfc64(x: _F64) -> _F64:
    out = np.full_like(x, np.nan)
    m = np.abs(x) < 0.5
    out[m] = 1.0 - _erf_small(x[m])
    m = x >= 0.5
    out[m] = _erfc_large(x[m])
    m = x <= -0.5
    out[m] = 2.0 - _erfc_large(-x[m])  # erfc(-x) = 2 - erfc(x); no cancellation, the result is >= 1
    return out


def erf(x: Any) -> Any:
    """The error function, elementwise.

    Example:
        >>> erf(np.array([0.0, 1.0, np.inf], dtype=np.float32))
        array([0.       , 0.8427008, 1.       ], dtype=float32)
    """
    return _apply("erf", x, _erf64)


def erfc(x: Any) -> Any:
    """The complementary error function 1 - erf(x), elementwise, accurate relative to itself in the tail.

    Example:
        >>> float(erfc(np.float64(20.0)))
        5.395865611607901e-176
    """
    return _apply("erfc", x, _erfc64)


# ----------------------------------------------------------------------------------------------------------
# erf_inv

# M. Giles, "Approximating the erfinv function", GPU Computing Gems Jade Edition (2011): the single
# precision approximation erfinv(y) ~= y * p(w), w = -log((1 - y)(1 + y)), with one polynomial for w < 5
# (in w - 2.5) and one for larger w (in sqrt(w) - 3). Coefficients as published, highest degree first.
_GILES_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_GILES_TAIL = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)


def _erf_inv_nonneg(y: _F64) -> _F64:
    """erfinv for 0 <= y < 1: Giles' guess (relative error ~1e-7) polished by Halley steps in float64."""
    one_minus_y = 1.0 - y  # exact for y >= 0.5
    w = -np.log(one_minus_y * (1.0 + y))
    x = y * _horner(_GILES_CENTRAL[::-1], w - 2.5)
    m = w >= 5.0
    x[m] = y[m] * _horner(_GILES_TAIL[::-1], np.sqrt(w[m]) - 3.0)
    # Giles' fit stops at w ~ 16 (1 - y ~ 1e-7, the end of float32). Beyond, invert the asymptotic
    # erfc(x) ~ exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2)) with one fixed-point step for x^2 from
    # L = -log(1 - y); relative error below 1e-4 there.
    m = w >= 16.0
    big = -np.log(one_minus_y[m])
    x2 = big - 0.5 * np.log(_PI * big)
    x[m] = np.sqrt(big - 0.5 * np.log(_PI * x2) + np.log1p(-0.5 / x2))
    small = y < 0.5
    # Halley's method on f(x) = erf(x) - y: f' = 2/sqrt(pi) exp(-x^2) and f''/f' = -2x, so with d = f/f'
    # the step is d / (1 + x d). Above 0.5 the residual is taken as (1 - y) - erfc(x), which keeps its
    # relative accuracy as y -> 1. Convergence is cubic: 1e-4 -> 1e-12 -> below rounding; a third step
    # is cheap insurance.
    for _ in range(3):
        residual = np.where(small, _erf64(x) - y, one_minus_y - _erfc64(x))
        d = residual / (_TWO_OVER_SQRT_PI * _exp_neg_square(x))
        x = x - d / (1.0 + x * d)
    return x


def _erf_inv64(y: _F64) -> _F64:
    a = np.abs(y)
    out = np.full_like(y, np.nan)  # |y| > 1 and NaN
    out[a == 1.0] = np.copysign(np.inf, y[a == 1.0])
    m = a < 1.0
    out[m] = np.copysign(_erf_inv_nonneg(a[m]), y[m])
    return out


def erf_inv(x: Any) -> Any:
    """The inverse of erf on [-1, 1], elementwise; +-inf at +-1 and NaN outside.

    Example:
        >>> float(erf_inv(np.float64(0.5)))
        0.4769362762044699
    """
    return _apply("erf_inv", x, _erf_inv64)


# ----------------------------------------------------------------------------------------------------------
# lgamma

# lgamma(2 + z) = (1 - gamma) z + sum_{k>=2} (-1)^k (zeta(k) - 1) / k z^k  (A&S 6.1.33 shifted by one), which
# converges for |z| < 2; used on |z| <= 0.5 where term k is below 4^-k / k. Coefficients for k = 2, 3, ...
_LGAMMA2_TAYLOR = (
    0.3224670334241132,
    -0.0673523010531981,
    0.020580808427784546,
    -0.007385551028673986,
    0.0028905103307415234,
    -0.001192753911703261,
    0.0005096695247430425,
    -0.00022315475845357939,
    9.945751278180853e-05,
    -4.492623673813314e-05,
    2.050721277567069e-05,
    -9.439488275268397e-06,
    4.374866789907488e-06,
    -2.039215753801366e-06,
    9.55141213040742e-07,
    -4.492469198764566e-07,
    2.1207184805554665e-07,
    -1.0043224823968099e-07,
    4.7698101693639804e-08,
    -2.2711094608943164e-08,
    1.0838659214896955e-08,
    -5.183475041970047e-09,
    2.4836745438024785e-09,
    -1.1921401405860912e-09,
    5.731367241678862e-10,
    -2.7595228851242334e-10,
    1.330476437424449e-10,
    -6.4229645638381e-11,
)
# Stirling's series: lgamma(x) = (x - 1/2) log x - x + log(2 pi)/2 + sum B_2k / (2k (2k-1) x^(2k-1)).
# For x >= 10 the eighth term is below 3e-17.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400)
_ASYMPTOTIC_FROM = 10.0
_MAX_SHIFT = 8  # unit steps that take any x < 10 down to [1.5, 2.5) (lgamma) or [1, 2) (digamma)


def _lgamma2p(z: _F64) -> _F64:
    """lgamma(2 + z) for |z| <= 0.5, exact zero at z = 0 and relatively accurate near it."""
    return z * (_ONE_MINUS_EULER + z * _horner(_LGAMMA2_TAYLOR, z))


def _lgamma1p(z: _F64) -> _F64:
    """lgamma(1 + z) for |z| <= 0.5, via lgamma(1 + z) = lgamma(2 + z) - log(1 + z)."""
    return _lgamma2p(z) - np.log1p(z)


def _sin_pi(r: _F64) -> _F64:
    """sin(pi r) for |r| <= 0.5, given exactly reduced r (so it is relatively accurate near 0)."""
    return np.sin(_PI * r)


def _cos_pi(r: _F64) -> _F64:
    """cos(pi r) for |r| <= 0.5, as sin(pi (1/2 - |r|)) so that it is exactly 0 at |r| = 1/2."""
    return np.sin(_PI * (0.5 - np.abs(r)))


def _lgamma_from_half(x: _F64) -> _F64:
    """lgamma for finite x >= 0.5."""
    out = np.empty_like(x)
    m = x < 1.5
    out[m] = _lgamma1p(x[m] - 1.0)  # x - 1 and x - 2 below are exact (Sterbenz)
    m = (x >= 1.5) & (x < 2.5)
    out[m] = _lgamma2p(x[m] - 2.0)
    # 2.5 <= x < 10: lgamma(x) = lgamma(x - n) + log((x - 1) ... (x - n)) with x - n in [1.5, 2.5). Both
    # terms are positive, so nothing cancels (going up to Stirling's range would subtract large logs).
    m = (x >= 2.5) & (x < _ASYMPTOTIC_FROM)
    y = x[m]
    prod = np.ones_like(y)
    for _ in range(_MAX_SHIFT):
        step = y >= 2.5
        y = np.where(step, y - 1.0, y)  # exact: subtracting 1 from y in [2.5, 10) loses no bits
        prod = np.where(step, prod * y, prod)
    out[m] = _lgamma2p(y - 2.0) + np.log(prod)
    m = x >= _ASYMPTOTIC_FROM
    y = x[m]
    inv = 1.0 / y
    # (x - 1/2) log x - x written as (x - 1/2)(log x - 1) - 1/2: no overflow before the result overflows.
    out[m] = (y - 0.5) * (np.log(y) - 1.0) + _HALF_LOG_2PI_MINUS_HALF + inv * _horner(_STIRLING, inv * inv)
    return out


def _lgamma64(x: _F64) -> _F64:
    out = np.full_like(x, np.nan)
    finite = np.isfinite(x)
    pole = finite & (x <= 0.0) & (x == np.floor(x))
    out[np.isinf(x) | pole] = np.inf
    m = (np.abs(x) < 0.5) & ~pole
    # Gamma(x) = Gamma(1 + x) / x.
    out[m] = _lgamma1p(x[m]) - np.log(np.abs(x[m]))
    m = finite & (x >= 0.5)
    out[m] = _lgamma_from_half(x[m])
    m = finite & (x <= -0.5) & ~pole
    # Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x); x - round(x) is exact, so sin stays accurate.
    y = x[m]
    out[m] = _LOG_PI - np.log(np.abs(_sin_pi(y - np.round(y)))) - _lgamma_from_half(1.0 - y)
    return out


def lgamma(x: Any) -> Any:
    """log|Gamma(x)|, elementwise, for all real x; +inf at 0, the negative integers and +-inf.

    Example:
        >>> float(lgamma(np.float64(-0.5)))  # log(2 sqrt(pi))
        1.2655121234846454
    """
    return _apply("lgamma", x, _lgamma64)


# ----------------------------------------------------------------------------------------------------------
# digamma

# digamma(x) = (x - x0) Q(x) on [1, 2], x0 its positive root; Q in t = 2x - 3 (fitted, see module docstring).
_DIGAMMA_Q = (
    0.983570260441567,
    -0.2270640863346444,
    0.03336889902393011,
    -0.005320077271596548,
    0.0008788656937820505,
    -0.00014773492650606044,
    2.5060543468359146e-05,
    -4.2721034029993324e-06,
    7.302769272465923e-07,
    -1.2502886813559594e-07,
    2.1425009322359472e-08,
    -3.673295918565179e-09,
    6.299717236108931e-10,
    -1.080593028883266e-10,
    1.853735192053638e-11,
    -3.18023536582553e-12,
    5.456147570322795e-13,
    -9.360993131036438e-14,
    1.606064636295075e-14,
    -2.7555431377438815e-15,
    4.727736178601912e-16,
    -8.11148420346509e-17,
    1.391707769474154e-17,
    -2.3877901082188625e-18,
)
# Asymptotic series: digamma(x) = log x - 1/(2x) - sum B_2k / (2k x^2k); the eighth term is < 5e-17 at x = 10.
_DIGAMMA_ASYMPTOTIC = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12, -3617 / 8160)


def _digamma_1_2(x: _F64) -> _F64:
    """digamma on [1, 2]; the root is factored out so the result is relatively accurate around it."""
    return ((x - _DIGAMMA_ROOT_HI) - _DIGAMMA_ROOT_LO) * _chebyshev(_DIGAMMA_Q, 2.0 * x - 3.0)


def _digamma_pos(x: _F64) -> _F64:
    """digamma for finite x > 0."""
    out = np.empty_like(x)
    m = x < 1.0
    out[m] = _digamma_1_2(x[m] + 1.0) - 1.0 / x[m]  # digamma(x + 1) = digamma(x) + 1/x
    m = (x >= 1.0) & (x < 2.0)
    out[m] = _digamma_1_2(x[m])
    # 2 <= x < 10: step down to [1, 2) with the same recurrence, adding the 1/(x - k) terms.
    m = (x >= 2.0) & (x < _ASYMPTOTIC_FROM)
    y = x[m]
    acc = np.zeros_like(y)
    for _ in range(_MAX_SHIFT):
        step = y >= 2.0
        y = np.where(step, y - 1.0, y)
        acc = np.where(step, acc + 1.0 / y, acc)
    out[m] = _digamma_1_2(y) + acc
    m = x >= _ASYMPTOTIC_FROM
    y = x[m]
    inv2 = 1.0 / (y * y)
    out[m] = np.log(y) - 0.5 / y - inv2 * _horner(_DIGAMMA_ASYMPTOTIC, inv2)
    return out


def _digamma64(x: _F64) -> _F64:
    out = np.full_like(x, np.nan)  # NaN, -inf and the negative integers stay NaN, as in scipy.special.psi
    out[x == np.inf] = np.inf
    zero = x == 0.0
    out[zero] = np.where(np.signbit(x[zero]), np.inf, -np.inf)  # digamma(x) ~ -1/x at 0
    m = np.isfinite(x) & (x > 0.0)
    out[m] = _digamma_pos(x[m])
    m = np.isfinite(x) & (x < 0.0) & (x != np.floor(x))
    # Reflection: digamma(1 - x) - digamma(x) = pi cot(pi x), with x reduced exactly to r in [-1/2, 1/2].
    y = x[m]
    r = y - np.round(y)
    out[m] = _digamma_pos(1.0 - y) - _PI * _cos_pi(r) / _sin_pi(r)
    return out


def digamma(x: Any) -> Any:
    """The digamma function psi(x) = d/dx log Gamma(x), elementwise; matches scipy.special.psi at the poles.

    psi(+0) = -inf, psi(-0) = +inf, NaN at the negative integers and -inf, +inf at +inf.

    Example:
        >>> float(digamma(np.float64(1.0)))
        -0.5772156649015329
    """
    return _apply("digamma", x, _digamma64)


# ----------------------------------------------------------------------------------------------------------
# polygamma

# B_2j / (2j)! for j = 1..10: the Euler-Maclaurin coefficients of the Hurwitz zeta tail below.
_BERNOULLI_2J = (
    Fraction(1, 6),
    Fraction(-1, 30),
    Fraction(1, 42),
    Fraction(-1, 30),
    Fraction(5, 66),
    Fraction(-691, 2730),
    Fraction(7, 6),
    Fraction(-3617, 510),
    Fraction(43867, 798),
    Fraction(-174611, 330),
)
_EULER_MACLAURIN = tuple(float(b / math.factorial(2 * j)) for j, b in enumerate(_BERNOULLI_2J, start=1))


def _hurwitz_zeta(s: int, x: _F64) -> _F64:
    """zeta(s, x) = sum_{k >= 0} (x + k)^-s for an integer s >= 2 and finite x > 0.

    The first terms are summed until x + k >= 10 + 2s; the rest is the Euler-Maclaurin tail
    y^(1-s)/(s-1) + y^-s/2 + sum_j B_2j/(2j)! s(s+1)...(s+2j-2) y^(1-s-2j), whose j-th term shrinks like
    ((s + 2j) / (2 pi y))^2 per step, so ten terms reach float64 rounding. All terms are positive, and the
    small ones are added first.
    """
    start = 10.0 + 2.0 * s
    y = x.copy()
    terms = []
    steps = int(np.ceil(start - y.min())) if y.size else 0
    for _ in range(max(steps, 0)):
        low = y < start
        terms.append(np.where(low, y ** float(-s), 0.0))
        y = np.where(low, y + 1.0, y)
    inv = 1.0 / y
    inv2 = inv * inv
    power = inv ** float(s + 1)  # y^(-s-1), times y^-2 per Euler-Maclaurin term
    rising = float(s)  # s (s+1) ... (s+2j-2)
    corrections = np.zeros_like(y)
    for j, c in enumerate(_EULER_MACLAURIN, start=1):
        corrections = corrections + c * rising * power
        rising *= (s + 2 * j - 1) * (s + 2 * j)
        power = power * inv2
    total = corrections + 0.5 * inv ** float(s) + inv ** float(s - 1) / (s - 1)
    for t in reversed(terms):
        total = total + t
    return total


def _cot_derivative_polynomial(n: int) -> np.ndarray:
    """Coefficients (increasing degree) of Q_n with d^n/dx^n cot(pi x) = pi^n Q_n(cot(pi x)).

    Q_0(c) = c and Q_(k+1)(c) = -(1 + c^2) Q_k'(c), since d/dx cot(pi x) = -pi (1 + cot(pi x)^2).
    """
    q = np.array([0.0, 1.0])
    for _ in range(n):
        q = -np.polynomial.polynomial.polymul([1.0, 0.0, 1.0], np.polynomial.polynomial.polyder(q))
    return q


def _polygamma64(n: int, x: _F64) -> _F64:
    if n == 0:
        return _digamma64(x)
    sign = 1.0 if n % 2 else -1.0  # (-1)^(n+1)
    scale = sign * math.factorial(n)
    out = np.full_like(x, np.nan)  # NaN and -inf
    out[x == np.inf] = sign * 0.0
    pole = (x <= 0.0) & (x == np.floor(x)) & np.isfinite(x)
    out[pole] = sign * np.inf  # as scipy.special.polygamma: zeta(n + 1, x) is +inf at the poles
    m = np.isfinite(x) & (x > 0.0)
    out[m] = scale * _hurwitz_zeta(n + 1, x[m])
    m = np.isfinite(x) & (x < 0.0) & ~pole
    # Reflection, from differentiating digamma(1 - x) - digamma(x) = pi cot(pi x) n times:
    # polygamma(n, x) = (-1)^n polygamma(n, 1 - x) - pi^(n+1) Q_n(cot(pi x)), with x reduced exactly to r.
    y = x[m]
    r = y - np.round(y)
    cot = _cos_pi(r) / _sin_pi(r)
    reflected = scale * _hurwitz_zeta(n + 1, 1.0 - y)
    q = np.polynomial.polynomial.polyval(cot, _cot_derivative_polynomial(n))
    out[m] = (-sign) * reflected - _PI ** (n + 1) * q
    return out


def polygamma(n: Any, x: Any) -> Any:
    """The n-th derivative of digamma, elementwise: polygamma(1, x) is the trigamma function.

    ``n`` is a non-negative integer (a Python int, or an integer array that broadcasts against ``x``);
    ``polygamma(0, x)`` is ``digamma(x)``. For n >= 1 it is ``(-1)^(n+1) n! zeta(n + 1, x)``: computed by
    summing the first terms of the Hurwitz zeta series and an Euler-Maclaurin tail for x > 0, and by the
    reflection formula for x < 0. At the poles (0 and the negative integers) the result is
    ``(-1)^(n+1) inf`` as in scipy.special.polygamma; it is 0 at +inf and NaN at -inf.

    Example:
        >>> float(polygamma(1, np.float64(1.0)))  # pi**2 / 6
        1.6449340668482264
    """
    orders = np.asarray(n)
    if orders.dtype.kind not in "iu" and not (
        orders.dtype.kind == "f" and np.all(orders == np.floor(orders))
    ):
        raise TypeError(f"polygamma expects an integer order n, got {n!r}.")
    orders = orders.astype(np.int64)
    if np.any(orders < 0):
        raise ValueError(f"polygamma expects a non-negative order n, got {n!r}.")
    if orders.ndim == 0:
        order = int(orders)
        return _apply("polygamma", x, lambda v: _polygamma64(order, v))
    arr = np.asarray(x)
    orders, arr = np.broadcast_arrays(orders, arr)

    def core(v: _F64) -> _F64:
        flat_orders = orders.reshape(-1)
        out = np.empty_like(v)
        for order in np.unique(flat_orders):
            m = flat_orders == order
            out[m] = _polygamma64(int(order), v[m])
        return out

    return _apply("polygamma", arr, core)
