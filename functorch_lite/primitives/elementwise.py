"""Elementwise primitives (unary, binary, comparisons, select_n, clamp, integer_pow,
convert_element_type, stop_gradient): every rule of each lives in this file.

Impls work on backend arrays with NumPy's ufuncs (cupy arrays dispatch through ``__array_ufunc__``).
Shapes follow lax: rank-0 operands broadcast, other operands share a rank and dims that are equal or 1.

Example:
    >>> add_p.bind(fnp.ones(3), fnp.ones(3))
    Array([2., 2., 2.], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import dtypes
from ..core.errors import ShapeDtypeError
from ..core.trace import Primitive, ShapedArray
from . import special_math
from .common import broadcast_shapes, check_kinds, same_dtype

FLOAT = "fc"
INEXACT_REAL = "f"
NUMBER = "iufc"
INTEGER = "iu"
INTEGER_OR_BOOL = "iub"
ANY = "biufc"


def _quiet(fn: Callable) -> Callable:
    """Run ``fn`` with floating-point warnings off: like JAX, log(0) is -inf without a warning."""

    def quiet(*args: Any, **params: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args, **params)

    quiet.__name__ = getattr(fn, "__name__", "quiet")
    return quiet


# ---------------------------------------------------------------------------------------------------
# Unary
# ---------------------------------------------------------------------------------------------------


def unary_aval(name: str, kinds: str = ANY) -> Callable:
    def abstract_eval(x: ShapedArray) -> ShapedArray:
        check_kinds(name, x, kinds)
        return x

    return abstract_eval


def _unary(name: str, impl: Callable, kinds: str = FLOAT, **kw: Any) -> Primitive:
    return Primitive(name, impl, unary_aval(name, kinds), **kw)


def _round_impl(x: np.ndarray, rounding_method: int = 0) -> np.ndarray:
    if rounding_method == 1:  # TO_NEAREST_EVEN
        return np.round(x)
    whole = np.trunc(x)  # AWAY_FROM_ZERO: x - trunc(x) is exact, so the halfway test is exact too
    return np.where(np.abs(x - whole) >= 0.5, whole + np.sign(x), whole).astype(x.dtype, copy=False)


def _logistic_impl(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never overflows
    one = np.ones((), x.dtype)
    return np.where(x >= 0, one / (one + e), e / (one + e)).astype(x.dtype, copy=False)


def _rsqrt_impl(x: np.ndarray) -> np.ndarray:
    return np.reciprocal(np.sqrt(x))


def _sign_impl(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "c":
        mag = np.abs(x)
        return np.where(mag == 0, 0, x / np.where(mag == 0, 1, mag)).astype(x.dtype, copy=False)
    return np.sign(x)


neg_p = _unary("neg", np.negative, NUMBER)
sign_p = _unary("sign", _quiet(_sign_impl), NUMBER)
floor_p = _unary("floor", np.floor, INEXACT_REAL)
ceil_p = _unary("ceil", np.ceil, INEXACT_REAL)
round_p = _unary("round", _round_impl, INEXACT_REAL)
is_finite_p = Primitive(
    "is_finite",
    np.isfinite,
    lambda x: (check_kinds("is_finite", x, INEXACT_REAL), ShapedArray(x.shape, dtypes.bool_))[1],
    weak="never",
)
exp_p = _unary("exp", _quiet(np.exp))
exp2_p = _unary("exp2", _quiet(np.exp2))
log_p = _unary("log", _quiet(np.log))
log1p_p = _unary("log1p", _quiet(np.log1p))
expm1_p = _unary("expm1", _quiet(np.expm1))
tanh_p = _unary("tanh", np.tanh)
logistic_p = _unary("logistic", _quiet(_logistic_impl))
sin_p = _unary("sin", np.sin)
cos_p = _unary("cos", np.cos)
tan_p = _unary("tan", _quiet(np.tan))
asin_p = _unary("asin", _quiet(np.arcsin))
acos_p = _unary("acos", _quiet(np.arccos))
atan_p = _unary("atan", np.arctan)
sinh_p = _unary("sinh", _quiet(np.sinh))
cosh_p = _unary("cosh", _quiet(np.cosh))
asinh_p = _unary("asinh", np.arcsinh)
acosh_p = _unary("acosh", _quiet(np.arccosh))
atanh_p = _unary("atanh", _quiet(np.arctanh))
sqrt_p = _unary("sqrt", _quiet(np.sqrt))
rsqrt_p = _unary("rsqrt", _quiet(_rsqrt_impl))
cbrt_p = _unary("cbrt", np.cbrt, INEXACT_REAL)
erf_p = _unary("erf", special_math.erf, INEXACT_REAL)
erfc_p = _unary("erfc", special_math.erfc, INEXACT_REAL)
erf_inv_p = _unary("erf_inv", _quiet(special_math.erf_inv), INEXACT_REAL)
lgamma_p = _unary("lgamma", _quiet(special_math.lgamma), INEXACT_REAL)
digamma_p = _unary("digamma", _quiet(special_math.digamma), INEXACT_REAL)
not_p = _unary("not", np.invert, INTEGER_OR_BOOL)
stop_gradient_p = _unary("stop_gradient", lambda x: x, ANY)


def _abs_aval(x: ShapedArray) -> ShapedArray:
    check_kinds("abs", x, NUMBER)
    if x.dtype.kind == "c":  # |complex| is real
        return x.update(dtype=np.empty((), x.dtype).real.dtype)
    return x


abs_p = Primitive("abs", np.abs, _abs_aval)


# ---------------------------------------------------------------------------------------------------
# integer_pow and convert_element_type
# ---------------------------------------------------------------------------------------------------


def _integer_pow_impl(x: np.ndarray, y: int) -> np.ndarray:
    # Square-and-multiply with plain multiplies: exact like XLA, and far faster than np.power(x, 3).
    n = abs(y)
    result = None
    base = x
    while n:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if n:
            base = base * base
    if result is None:
        result = np.ones_like(x)
    if y < 0:
        with np.errstate(all="ignore"):
            result = np.reciprocal(result)
    return result


def _integer_pow_aval(x: ShapedArray, y: int) -> ShapedArray:
    check_kinds("integer_pow", x, NUMBER)
    if y < 0 and x.dtype.kind in "iu":
        raise ShapeDtypeError(f"integer_pow of an integer array ({x.str_short()}) to a negative power {y}.")
    return x


integer_pow_p = Primitive("integer_pow", _integer_pow_impl, _integer_pow_aval)


def _convert_impl(x: np.ndarray, new_dtype: np.dtype, weak_type: bool = False, sharding: Any = None) -> Any:
    source = x.dtype
    if source == new_dtype:
        return x
    if source.kind == "c" and new_dtype.kind != "c":
        x = x.real
        source = x.dtype
    if new_dtype == dtypes.bool_:
        return x != 0
    if source.kind == "f" and new_dtype.kind in "iu":
        # Saturate like XLA instead of NumPy's undefined cast; NaN becomes 0.
        info = np.iinfo(new_dtype)
        with np.errstate(invalid="ignore"):
            x = np.where(np.isnan(x), 0, np.clip(x, info.min, info.max))
        return x.astype(new_dtype)
    return x.astype(new_dtype)


def _convert_aval(x: ShapedArray, new_dtype: np.dtype, weak_type: bool = False, sharding: Any = None):
    return ShapedArray(x.shape, new_dtype, weak_type)


convert_element_type_p = Primitive(
    "convert_element_type",
    _convert_impl,
    _convert_aval,
    weak=lambda x_weak, new_dtype, weak_type=False, sharding=None: weak_type,
)


# ---------------------------------------------------------------------------------------------------
# Binary
# ---------------------------------------------------------------------------------------------------


def binary_aval(name: str, kinds: str = ANY, out_dtype: np.dtype | None = None) -> Callable:
    def abstract_eval(x: ShapedArray, y: ShapedArray) -> ShapedArray:
        dtype = same_dtype(name, x, y)
        check_kinds(name, x, kinds)
        shape = broadcast_shapes(name, x.shape, y.shape)
        if out_dtype is not None:
            return ShapedArray(shape, out_dtype, False)
        return ShapedArray(shape, dtype, x.weak_type and y.weak_type)

    return abstract_eval


def _binary(name: str, impl: Callable, kinds: str = NUMBER) -> Primitive:
    return Primitive(name, impl, binary_aval(name, kinds))


def _div_impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu":
        # lax.div rounds integer quotients toward zero (C semantics), not down like NumPy's //.
        quotient = np.floor_divide(x, y)
        remainder = x - quotient * y
        adjust = (remainder != 0) & ((x < 0) != (y < 0))
        return (quotient + adjust).astype(x.dtype, copy=False)
    return np.true_divide(x, y)


def _rem_impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.fmod(x, y)  # the sign of the dividend, as C and lax.rem


def _shift_right_logical_impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    unsigned = np.dtype(f"u{x.dtype.itemsize}")  # a logical shift is an unsigned shift
    return _shift_saturating(np.right_shift, x.astype(unsigned), y.astype(unsigned)).astype(x.dtype)


def _shift_saturating(op: Callable, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # Shifts by >= the bit width give 0 (lax semantics) instead of C's undefined behaviour.
    bits = x.dtype.itemsize * 8
    big = (y < 0) | (y >= bits)
    safe = np.where(big, 0, y).astype(x.dtype, copy=False)
    return np.where(big, 0, op(x, safe)).astype(x.dtype, copy=False)


def _shift_left_impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _shift_saturating(np.left_shift, x, y)


def _shift_right_arithmetic_impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    bits = x.dtype.itemsize * 8
    if x.dtype.kind == "u":
        signed = np.dtype(f"i{x.dtype.itemsize}")
        return _shift_right_arithmetic_impl(x.astype(signed), y.astype(signed)).astype(x.dtype)
    clipped = np.clip(y, 0, bits - 1).astype(x.dtype, copy=False)
    return np.right_shift(x, clipped)


add_p = _binary("add", np.add)
sub_p = _binary("sub", np.subtract)
mul_p = _binary("mul", np.multiply)
div_p = _binary("div", _quiet(_div_impl))
rem_p = _binary("rem", _quiet(_rem_impl))
pow_p = _binary("pow", _quiet(np.power), FLOAT)
atan2_p = _binary("atan2", np.arctan2, INEXACT_REAL)
max_p = _binary("max", np.maximum, ANY)
min_p = _binary("min", np.minimum, ANY)
nextafter_p = _binary("nextafter", np.nextafter, INEXACT_REAL)
and_p = _binary("and", np.bitwise_and, INTEGER_OR_BOOL)
or_p = _binary("or", np.bitwise_or, INTEGER_OR_BOOL)
xor_p = _binary("xor", np.bitwise_xor, INTEGER_OR_BOOL)
shift_left_p = _binary("shift_left", _shift_left_impl, INTEGER)
shift_right_logical_p = _binary("shift_right_logical", _shift_right_logical_impl, INTEGER)
shift_right_arithmetic_p = _binary("shift_right_arithmetic", _shift_right_arithmetic_impl, INTEGER)


def _comparison(name: str, impl: Callable) -> Primitive:
    return Primitive(name, impl, binary_aval(name, ANY, dtypes.bool_), weak="never")


eq_p = _comparison("eq", np.equal)
ne_p = _comparison("ne", np.not_equal)
lt_p = _comparison("lt", np.less)
le_p = _comparison("le", np.less_equal)
gt_p = _comparison("gt", np.greater)
ge_p = _comparison("ge", np.greater_equal)


# ---------------------------------------------------------------------------------------------------
# select_n and clamp
# ---------------------------------------------------------------------------------------------------


def _select_n_impl(which: np.ndarray, *cases: np.ndarray) -> np.ndarray:
    if len(cases) == 1:
        return cases[0]
    if which.dtype == np.bool_:
        return np.where(which, cases[1], cases[0])
    return np.choose(which, cases, mode="clip")


def _select_n_aval(which: ShapedArray, *cases: ShapedArray) -> ShapedArray:
    if not cases:
        raise ShapeDtypeError("select_n requires at least one case.")
    dtype = same_dtype("select_n", *cases)
    shapes = {c.shape for c in cases}
    if len(shapes) != 1:
        raise ShapeDtypeError(f"select_n cases must have the same shapes, got {sorted(shapes)}.")
    shape = cases[0].shape
    if which.shape not in ((), shape):
        raise ShapeDtypeError(
            f"select_n selector must be a scalar or have the cases' shape {shape}, got {which.shape}."
        )
    if which.dtype != dtypes.bool_ and which.dtype.kind not in "iu":
        raise ShapeDtypeError(f"select_n selector must be bool or int32, got {which.dtype.name}.")
    if which.dtype == dtypes.bool_ and len(cases) > 2:
        raise ShapeDtypeError("select_n with a boolean selector takes at most two cases.")
    return ShapedArray(shape, dtype, all(c.weak_type for c in cases))


select_n_p = Primitive(
    "select_n",
    _select_n_impl,
    _select_n_aval,
    weak=lambda which, *cases: all(cases),
)


def _clamp_impl(lo: np.ndarray, x: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, lo), hi).astype(x.dtype, copy=False)


def _clamp_aval(lo: ShapedArray, x: ShapedArray, hi: ShapedArray) -> ShapedArray:
    same_dtype("clamp", lo, x, hi)
    for bound in (lo, hi):
        if bound.shape not in ((), x.shape):
            raise ShapeDtypeError(
                f"clamp bounds must be scalars or have the operand's shape {x.shape}, got {bound.shape}."
            )
    return x


clamp_p = Primitive("clamp", _clamp_impl, _clamp_aval, weak=lambda lo, x, hi: x)
