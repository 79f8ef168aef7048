"""Elementwise primitives (unary, binary, comparisons, select_n, clamp, integer_pow,
convert_element_type, stop_gradient): every rule of each lives in this file.

Impls work on backend arrays with NumPy's ufuncs (cupy arrays dispatch through ``__array_ufunc__``); plain
ufuncs let the jit executor write into dead buffers (``out=``). NumPy's floating-point warnings are
filtered for this package (see ``core.config``), as JAX never warns for log(0) and the like.
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
from ..core.jaxpr import param_printers
from ..core.trace import Primitive, ShapedArray
from . import special_math
from .common import broadcast_shapes, check_kinds, same_dtype

FLOAT = "fc"
INEXACT_REAL = "f"
NUMBER = "iufc"
INTEGER = "iu"
INTEGER_OR_BOOL = "iub"
ANY = "biufc"


# ---------------------------------------------------------------------------------------------------
# Unary
# ---------------------------------------------------------------------------------------------------


def unary_aval(name: str, kinds: str = ANY) -> Callable:
    def abstract_eval(x: ShapedArray, **params: Any) -> ShapedArray:
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
sign_p = _unary("sign", _sign_impl, NUMBER)
floor_p = _unary("floor", np.floor, INEXACT_REAL)
ceil_p = _unary("ceil", np.ceil, INEXACT_REAL)
round_p = _unary("round", _round_impl, INEXACT_REAL)
is_finite_p = Primitive(
    "is_finite",
    np.isfinite,
    lambda x: (check_kinds("is_finite", x, INEXACT_REAL), ShapedArray(x.shape, dtypes.bool_))[1],
    weak="never",
)
exp_p = _unary("exp", np.exp)
exp2_p = _unary("exp2", np.exp2)
log_p = _unary("log", np.log)
log1p_p = _unary("log1p", np.log1p)
expm1_p = _unary("expm1", np.expm1)
tanh_p = _unary("tanh", np.tanh)
logistic_p = _unary("logistic", _logistic_impl)
sin_p = _unary("sin", np.sin)
cos_p = _unary("cos", np.cos)
tan_p = _unary("tan", np.tan)
asin_p = _unary("asin", np.arcsin)
acos_p = _unary("acos", np.arccos)
atan_p = _unary("atan", np.arctan)
sinh_p = _unary("sinh", np.sinh)
cosh_p = _unary("cosh", np.cosh)
asinh_p = _unary("asinh", np.arcsinh)
acosh_p = _unary("acosh", np.arccosh)
atanh_p = _unary("atanh", np.arctanh)
sqrt_p = _unary("sqrt", np.sqrt)
rsqrt_p = _unary("rsqrt", _rsqrt_impl)
cbrt_p = _unary("cbrt", np.cbrt, INEXACT_REAL)
erf_p = _unary("erf", special_math.erf, INEXACT_REAL)
erfc_p = _unary("erfc", special_math.erfc, INEXACT_REAL)
erf_inv_p = _unary("erf_inv", special_math.erf_inv, INEXACT_REAL)
lgamma_p = _unary("lgamma", special_math.lgamma, INEXACT_REAL)
digamma_p = _unary("digamma", special_math.digamma, INEXACT_REAL)
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
        # Saturate like XLA instead of NumPy's undefined cast; NaN becomes 0. The bounds are compared
        # exactly: 2**(bits-1) (or 2**bits unsigned) is the first float too large for the integer type.
        info = np.iinfo(new_dtype)
        too_big = x >= float(info.max) + 1.0
        too_small = x < float(info.min)
        invalid = too_big | too_small | np.isnan(x)
        with np.errstate(invalid="ignore"):
            out = np.where(invalid, 0, x).astype(new_dtype)
        return np.where(too_big, info.max, np.where(too_small, info.min, out)).astype(new_dtype, copy=False)
    return x.astype(new_dtype)


def _convert_aval(x: ShapedArray, new_dtype: np.dtype, weak_type: bool = False, sharding: Any = None):
    return ShapedArray(x.shape, new_dtype, weak_type)


convert_element_type_p = Primitive(
    "convert_element_type",
    _convert_impl,
    _convert_aval,
    weak=lambda x_weak, new_dtype, weak_type=False, sharding=None: weak_type,
)
param_printers["convert_element_type"] = lambda params: {
    k: v for k, v in params.items() if not (k == "sharding" and v is None)
}


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
    # Out-of-range shifts (negative or >= the width) fill with the sign bit, as in XLA.
    clipped = np.where((y < 0) | (y >= bits), bits - 1, y).astype(x.dtype, copy=False)
    return np.right_shift(x, clipped)


add_p = _binary("add", np.add)
sub_p = _binary("sub", np.subtract)
mul_p = _binary("mul", np.multiply)
div_p = _binary("div", _div_impl)
rem_p = _binary("rem", _rem_impl)
pow_p = _binary("pow", np.power, FLOAT)
atan2_p = _binary("atan2", np.arctan2, INEXACT_REAL)
polygamma_p = _binary("polygamma", special_math.polygamma, INEXACT_REAL)  # (n, x), n integral-valued
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


# ---------------------------------------------------------------------------------------------------
# Differentiation rules (JVP for every primitive; transpose for the linear ones)
# ---------------------------------------------------------------------------------------------------

from ..core.array import Array  # noqa: E402  (rules below use concrete constants)
from ..core.trace import aval_of  # noqa: E402
from ..transforms.ad import (  # noqa: E402
    Zero,
    add_tangents,
    defjvp,
    defjvp_zero,
    deflinear,
    instantiate,
    is_undefined,
    tangent_aval,
)


def _const(like: Any, value: float) -> Array:
    """A 0-d constant of ``like``'s dtype (broadcasts against any operand in the binary primitives)."""
    return Array(np.asarray(value, dtype=like.dtype)[()], False)


def _unbroadcast(aval: ShapedArray, ct: Any) -> Any:
    """Sum a cotangent over the dims that a binary op broadcast (rank-0 operands and size-1 dims)."""
    if tuple(ct.shape) == tuple(aval.shape):
        return ct
    from .reductions import reduce_sum_p
    from .shape import reshape_p

    if aval.shape == ():
        return reduce_sum_p.bind(ct, axes=tuple(range(ct.ndim)))
    dims = tuple(i for i, (a, c) in enumerate(zip(aval.shape, ct.shape)) if a == 1 and c != 1)
    summed = reduce_sum_p.bind(ct, axes=dims)
    return reshape_p.bind(summed, new_sizes=tuple(aval.shape), dimensions=None, sharding=None)


def _unary_jvp(prim: Primitive, derivative: Callable) -> None:
    """JVP ``t * derivative(x, y)`` where ``y = prim(x)`` is reused (e.g. exp, tanh)."""

    def jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        y = prim.bind(x, **params)
        if type(t) is Zero:
            return y, Zero(tangent_aval(aval_of(y)))
        return y, mul_p.bind(t, derivative(x, y, **params))

    prim.jvp = jvp


_mul, _add, _sub, _div, _neg = mul_p.bind, add_p.bind, sub_p.bind, div_p.bind, neg_p.bind


def _square(x: Any) -> Any:
    return _mul(x, x)


def _one_minus_square(x: Any) -> Any:
    return _sub(_const(x, 1.0), _square(x))


for _p in (
    sign_p, floor_p, ceil_p, round_p, is_finite_p, not_p, and_p, or_p, xor_p, shift_left_p,
    shift_right_logical_p, shift_right_arithmetic_p, eq_p, ne_p, lt_p, le_p, gt_p, ge_p, nextafter_p,
    stop_gradient_p,
):  # fmt: skip
    defjvp_zero(_p)

_unary_jvp(exp_p, lambda x, y: y)
_unary_jvp(exp2_p, lambda x, y: _mul(y, _const(y, np.log(2.0))))
_unary_jvp(log_p, lambda x, y: _div(_const(x, 1.0), x))
_unary_jvp(log1p_p, lambda x, y: _div(_const(x, 1.0), _add(x, _const(x, 1.0))))
_unary_jvp(expm1_p, lambda x, y: _add(y, _const(y, 1.0)))
_unary_jvp(tanh_p, lambda x, y: _one_minus_square(y))
_unary_jvp(logistic_p, lambda x, y: _mul(y, _sub(_const(y, 1.0), y)))
_unary_jvp(sin_p, lambda x, y: cos_p.bind(x))
_unary_jvp(cos_p, lambda x, y: _neg(sin_p.bind(x)))
_unary_jvp(tan_p, lambda x, y: _add(_const(y, 1.0), _square(y)))
_unary_jvp(asin_p, lambda x, y: rsqrt_p.bind(_one_minus_square(x)))
_unary_jvp(acos_p, lambda x, y: _neg(rsqrt_p.bind(_one_minus_square(x))))
_unary_jvp(atan_p, lambda x, y: _div(_const(x, 1.0), _add(_const(x, 1.0), _square(x))))
_unary_jvp(sinh_p, lambda x, y: cosh_p.bind(x))
_unary_jvp(cosh_p, lambda x, y: sinh_p.bind(x))
_unary_jvp(asinh_p, lambda x, y: rsqrt_p.bind(_add(_square(x), _const(x, 1.0))))
_unary_jvp(acosh_p, lambda x, y: rsqrt_p.bind(_mul(_sub(x, _const(x, 1.0)), _add(x, _const(x, 1.0)))))
_unary_jvp(atanh_p, lambda x, y: _div(_const(x, 1.0), _one_minus_square(x)))
_unary_jvp(sqrt_p, lambda x, y: _div(_const(y, 0.5), y))
_unary_jvp(rsqrt_p, lambda x, y: _mul(_div(y, x), _const(y, -0.5)))
_unary_jvp(cbrt_p, lambda x, y: _mul(_const(y, 1.0 / 3.0), integer_pow_p.bind(y, y=-2)))
_unary_jvp(erf_p, lambda x, y: _mul(_const(x, 2.0 / np.sqrt(np.pi)), exp_p.bind(_neg(_square(x)))))
_unary_jvp(erfc_p, lambda x, y: _mul(_const(x, -2.0 / np.sqrt(np.pi)), exp_p.bind(_neg(_square(x)))))
_unary_jvp(erf_inv_p, lambda x, y: _mul(_const(x, np.sqrt(np.pi) / 2.0), exp_p.bind(_square(y))))
_unary_jvp(lgamma_p, lambda x, y: digamma_p.bind(x))
_unary_jvp(digamma_p, lambda x, y: polygamma_p.bind(_const(x, 1.0), x))
defjvp(polygamma_p, None, lambda t, n, x: _mul(t, polygamma_p.bind(_add(n, _const(n, 1.0)), x)))
_unary_jvp(
    abs_p, lambda x, y: select_n_p.bind(ge_p.bind(x, _const(x, 0.0)), _filled(x, -1.0), _filled(x, 1.0))
)


def _integer_pow_derivative(x: Any, y: Any, *, y_exponent: int) -> Any:
    if y_exponent == 0:
        return _const(x, 0.0)
    if y_exponent == 1:
        return _const(x, 1.0)
    power = x if y_exponent == 2 else integer_pow_p.bind(x, y=y_exponent - 1)  # x ** 1 is x: no op
    return _mul(_const(x, float(y_exponent)), power)


def _integer_pow_jvp(primals: list, tangents: list, *, y: int) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    out = integer_pow_p.bind(x, y=y)
    if type(t) is Zero:
        return out, Zero(tangent_aval(aval_of(out)))
    return out, _mul(t, _integer_pow_derivative(x, out, y_exponent=y))


integer_pow_p.jvp = _integer_pow_jvp


def _convert_jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(x, **params)
    if type(t) is Zero or not dtypes.is_inexact(params["new_dtype"]):
        return out, Zero(tangent_aval(aval_of(out)))
    return out, convert_element_type_p.bind(t, **params)


def _convert_transpose(ct: Any, x: Any, **params: Any) -> list:
    return [
        convert_element_type_p.bind(ct, new_dtype=x.aval.dtype, weak_type=x.aval.weak_type, sharding=None)
    ]


convert_element_type_p.jvp = _convert_jvp
convert_element_type_p.transpose = _convert_transpose

deflinear(neg_p, lambda ct, x: [_neg(ct)])
deflinear(add_p, lambda ct, x, y: [_unbroadcast(x.aval, ct) if is_undefined(x) else None,
                                   _unbroadcast(y.aval, ct) if is_undefined(y) else None])  # fmt: skip
deflinear(sub_p, lambda ct, x, y: [_unbroadcast(x.aval, ct) if is_undefined(x) else None,
                                   _unbroadcast(y.aval, _neg(ct)) if is_undefined(y) else None])  # fmt: skip


def _additive_jvp(prim: Primitive, tangent_of_y: Callable) -> None:
    """add/sub: with one zero tangent, the other one (broadcast to the output) is the result, as in JAX.
    deflinear's JVP (replaced here) would materialise the zero and stage one more op and its transpose."""

    def jvp(primals: list, tangents: list) -> tuple[Any, Any]:
        (x, y), (tx, ty) = primals, tangents
        out = prim.bind(x, y)
        if type(tx) is not Zero and type(ty) is not Zero:
            return out, prim.bind(tx, ty)
        if type(tx) is not Zero:
            return out, _broadcast_to_out(tx, out)
        if type(ty) is not Zero:
            return out, _broadcast_to_out(tangent_of_y(ty), out)
        return out, Zero(tangent_aval(aval_of(out)))

    prim.jvp = jvp


_additive_jvp(add_p, lambda t: t)
_additive_jvp(sub_p, _neg)


def _mul_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    (x, y), (tx, ty) = primals, tangents
    out = _mul(x, y)
    if type(tx) is Zero and type(ty) is Zero:
        return out, Zero(tangent_aval(aval_of(out)))  # (the output's type is built only when needed)
    parts = []
    if type(tx) is not Zero:
        parts.append(_broadcast_to_out(_mul(tx, y), out))
    if type(ty) is not Zero:
        parts.append(_broadcast_to_out(_mul(x, ty), out))
    return out, parts[0] if len(parts) == 1 else add_tangents(*parts)


def _broadcast_to_out(t: Any, out: Any) -> Any:
    """A tangent with the output's shape (a partial may be smaller when the other operand broadcast)."""
    if tuple(t.shape) == tuple(out.shape):
        return t
    from .shape import broadcast_in_dim_p

    if t.ndim == 0:
        return broadcast_in_dim_p.bind(t, shape=tuple(out.shape), broadcast_dimensions=(), sharding=None)
    return _mul(t, _ones_of(out))


def _ones_of(out: Any) -> Any:
    from .shape import broadcast_in_dim_p

    return broadcast_in_dim_p.bind(
        _const(out, 1.0), shape=tuple(out.shape), broadcast_dimensions=(), sharding=None
    )


def _mul_transpose(ct: Any, x: Any, y: Any) -> list:
    if is_undefined(x) and is_undefined(y):
        raise TypeError("mul of two linear values is not linear; this is a bug in a JVP rule.")
    if is_undefined(x):
        return [_unbroadcast(x.aval, _mul(ct, y)), None]
    return [None, _unbroadcast(y.aval, _mul(x, ct))]


mul_p.jvp = _mul_jvp
mul_p.transpose = _mul_transpose


def _div_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    (x, y), (tx, ty) = primals, tangents
    out = _div(x, y)
    total: Any = Zero(tangent_aval(aval_of(out)))
    if type(tx) is not Zero:
        total = _broadcast_to_out(_div(tx, y), out)
    if type(ty) is not Zero:
        total = add_tangents(total, _broadcast_to_out(_neg(_mul(ty, _div(out, y))), out))
    return out, total


def _div_transpose(ct: Any, x: Any, y: Any) -> list:
    if is_undefined(y):
        raise TypeError("div is linear only in its numerator; this is a bug in a JVP rule.")
    return [_unbroadcast(x.aval, _div(ct, y)), None]


div_p.jvp = _div_jvp
div_p.transpose = _div_transpose


def _full_out(f: Callable) -> Callable:
    """Wrap a partial derivative so its result always has the output's (broadcast) shape."""

    def partial(t: Any, x: Any, y: Any) -> Any:
        out_shape = _binary_out_shape(x, y)
        value = f(t, x, y)
        if tuple(value.shape) != out_shape:
            from .shape import broadcast_in_dim_p

            if value.ndim == 0:
                value = broadcast_in_dim_p.bind(
                    value, shape=out_shape, broadcast_dimensions=(), sharding=None
                )
            else:
                value = _mul(value, broadcast_in_dim_p.bind(
                    _const(value, 1.0), shape=out_shape, broadcast_dimensions=(), sharding=None))  # fmt: skip
        return value

    return partial


def _binary_out_shape(x: Any, y: Any) -> tuple:
    return tuple(np.broadcast_shapes(tuple(x.shape), tuple(y.shape)))


def _rem_partial_y(t: Any, x: Any, y: Any) -> Any:
    quotient = _div(x, y)
    return _mul(_neg(t), _mul(sign_p.bind(quotient), floor_p.bind(abs_p.bind(quotient))))


defjvp(rem_p, _full_out(lambda t, x, y: t), _full_out(_rem_partial_y))


def _pow_partial_x(t: Any, x: Any, y: Any) -> Any:
    # y * x ** (y - 1), as JAX (no special case at y == 0, so derivatives in y stay right there).
    return _mul(t, _mul(y, pow_p.bind(x, _sub(y, _const(y, 1.0)))))


def _pow_partial_y(t: Any, x: Any, y: Any) -> Any:
    # x ** y * log(x), taken as 0 where x == 0 (JAX's convention).
    out = pow_p.bind(x, y)
    safe_x = select_n_p.bind(eq_p.bind(x, _const(x, 0.0)), x, _ones_like(x))
    return _mul(t, _mul(out, log_p.bind(safe_x)))


def _full(mask: Any, like: Any) -> Any:
    """``mask`` broadcast to ``like``'s shape (select_n needs equal shapes)."""
    if tuple(mask.shape) == tuple(like.shape):
        return mask
    from .shape import broadcast_in_dim_p

    if mask.ndim == 0:
        return broadcast_in_dim_p.bind(mask, shape=tuple(like.shape), broadcast_dimensions=(), sharding=None)
    return and_p.bind(mask, broadcast_in_dim_p.bind(
        Array(np.bool_(True)), shape=tuple(like.shape), broadcast_dimensions=(), sharding=None))  # fmt: skip


def _zeros_like(v: Any) -> Any:
    return _filled(v, 0.0)


def _ones_like(v: Any) -> Any:
    return _filled(v, 1.0)


def _filled(v: Any, value: float) -> Any:
    from .shape import broadcast_in_dim_p

    return broadcast_in_dim_p.bind(
        _const(v, value), shape=tuple(v.shape), broadcast_dimensions=(), sharding=None
    )


defjvp(pow_p, _full_out(_pow_partial_x), _full_out(_pow_partial_y))


def _atan2_partial(sign: float) -> Callable:
    def partial(t: Any, x: Any, y: Any) -> Any:
        denominator = _add(_square(x), _square(y))
        numerator = y if sign > 0 else _neg(x)
        return _mul(t, _div(numerator, denominator))

    return partial


defjvp(atan2_p, _full_out(_atan2_partial(1.0)), _full_out(_atan2_partial(-1.0)))


def _chooser_jvp(prim: Primitive) -> None:
    def jvp(primals: list, tangents: list) -> tuple[Any, Any]:
        (x, y), (tx, ty) = primals, tangents
        out = prim.bind(x, y)
        total: Any = Zero(tangent_aval(aval_of(out)))
        for mine, other, t in ((x, y, tx), (y, x, ty)):
            if type(t) is Zero:
                continue
            # The chosen operand gets the tangent; at a tie each operand gets half, as in JAX.
            picked = eq_p.bind(mine, out)
            tied = eq_p.bind(other, out)
            weight = select_n_p.bind(
                picked, _filled(out, 0.0), select_n_p.bind(tied, _filled(out, 1.0), _filled(out, 0.5))
            )
            total = add_tangents(total, _mul(_broadcast_to_out(t, out), weight))
        return out, total

    prim.jvp = jvp


_chooser_jvp(max_p)
_chooser_jvp(min_p)


def _select_n_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    which, *cases = primals
    case_tangents = tangents[1:]
    out = select_n_p.bind(which, *cases)
    if all(type(t) is Zero for t in case_tangents):
        return out, Zero(tangent_aval(aval_of(out)))
    return out, select_n_p.bind(which, *[instantiate(t) for t in case_tangents])


def _select_n_transpose(ct: Any, which: Any, *cases: Any) -> list:
    if is_undefined(which):
        raise TypeError("select_n is not linear in its selector.")
    zeros = _filled(ct, 0.0)
    out = [None]
    for i, case in enumerate(cases):
        if is_undefined(case):
            chosen = [zeros] * len(cases)
            chosen[i] = ct
            out.append(select_n_p.bind(which, *chosen))
        else:
            out.append(None)
    return out


select_n_p.jvp = _select_n_jvp
select_n_p.transpose = _select_n_transpose


def _clamp_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    (lo, x, hi), (tlo, tx, thi) = primals, tangents
    out = clamp_p.bind(lo, x, hi)
    total: Any = Zero(tangent_aval(aval_of(out)))
    zeros = _filled(out, 0.0)
    if type(tx) is not Zero:
        inside = and_p.bind(gt_p.bind(x, lo), lt_p.bind(x, hi))
        total = select_n_p.bind(inside, zeros, tx)
    if type(tlo) is not Zero:
        total = add_tangents(total, select_n_p.bind(lt_p.bind(x, lo), zeros, _broadcast_to_out(tlo, out)))
    if type(thi) is not Zero:
        total = add_tangents(total, select_n_p.bind(gt_p.bind(x, hi), zeros, _broadcast_to_out(thi, out)))
    return out, total


clamp_p.jvp = _clamp_jvp


# ---------------------------------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------------------------------

from ..transforms.batching import bdim_at_front, broadcasting, vectorized  # noqa: E402

for _p in (
    neg_p, sign_p, floor_p, ceil_p, round_p, is_finite_p, exp_p, exp2_p, log_p, log1p_p, expm1_p, tanh_p,
    logistic_p, sin_p, cos_p, tan_p, asin_p, acos_p, atan_p, sinh_p, cosh_p, asinh_p, acosh_p, atanh_p,
    sqrt_p, rsqrt_p, cbrt_p, erf_p, erfc_p, erf_inv_p, lgamma_p, digamma_p, not_p, abs_p, stop_gradient_p,
    integer_pow_p, convert_element_type_p,
):  # fmt: skip
    vectorized(_p)

for _p in (
    add_p, sub_p, mul_p, div_p, rem_p, pow_p, atan2_p, polygamma_p, max_p, min_p, nextafter_p, and_p, or_p, xor_p,
    shift_left_p, shift_right_logical_p, shift_right_arithmetic_p, eq_p, ne_p, lt_p, le_p, gt_p, ge_p,
):  # fmt: skip
    broadcasting(_p)


def _select_n_batch(axis_size: int, vals: list, dims: list) -> tuple[Any, Any]:
    which, *cases = vals
    which_dim, *case_dims = dims
    # Cases share one shape: put every batched case's batch first and materialise the others.
    if any(d is not None for d in case_dims):
        cases = [bdim_at_front(c, d, axis_size) for c, d in zip(cases, case_dims)]
    elif which_dim is not None:
        cases = [bdim_at_front(c, None, axis_size) for c in cases]
    shape = tuple(cases[0].shape)
    if which_dim is None:
        if which.ndim:  # same shape as an unbatched case: add the batch dim by broadcasting
            which = bdim_at_front(which, None, axis_size)
    else:
        which = bdim_at_front(which, which_dim, axis_size)
        if which.ndim != len(shape):  # a scalar selector per batch element: broadcast over the case shape
            from .shape import broadcast_in_dim_p

            which = broadcast_in_dim_p.bind(which, shape=shape, broadcast_dimensions=(0,), sharding=None)
    return select_n_p.bind(which, *cases), 0


def _clamp_batch(axis_size: int, vals: list, dims: list) -> tuple[Any, Any]:
    lo, x, hi = vals
    lo_d, x_d, hi_d = dims
    x = bdim_at_front(x, x_d, axis_size)
    bounds = []
    for b, d in ((lo, lo_d), (hi, hi_d)):
        if d is None and b.ndim == 0:
            bounds.append(b)
            continue
        b = bdim_at_front(b, d, axis_size)
        if b.ndim != x.ndim:
            from .shape import broadcast_in_dim_p

            b = broadcast_in_dim_p.bind(b, shape=tuple(x.shape), broadcast_dimensions=(0,), sharding=None)
        bounds.append(b)
    return clamp_p.bind(bounds[0], x, bounds[1]), 0


select_n_p.batch = _select_n_batch
clamp_p.batch = _clamp_batch
