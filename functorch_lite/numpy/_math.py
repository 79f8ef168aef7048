"""Elementwise math and comparisons of ``functorch_lite.numpy``, with jax.numpy's promotion.

The common case (no transformation active, Arrays of one dtype, or an Array and a Python scalar that
NumPy promotes exactly as JAX's weak types do) calls the ufunc directly: this is ``bind``'s eval path
inlined, which keeps eager calls within ~1.5x of raw NumPy. Everything else promotes and binds.

Example:
    >>> fnp.add(fnp.arange(3), 1.5)
    Array([1.5, 2.5, 3.5], dtype=float32, weak_type=True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import dtypes
from ..core.array import Array
from ..core.trace import Primitive, _context
from ..primitives import elementwise as ew
from ._convert import asarray, convert, promote_args, promote_args_inexact

_new = Array.__new__


_scalar_cache: dict = {}


def _cached_scalar(dtype: np.dtype, kinds: str, python_type: type, value: Any) -> Any:
    """A 0-d array of ``dtype`` for a Python scalar, when NumPy 2's scalar promotion (NEP 50) agrees with
    JAX's weak types for it (else None). 0-d operands make ufuncs ~2x cheaper than Python scalars."""
    kind = dtype.kind
    if kind not in kinds or (python_type is float and kind not in "fc"):
        return None
    key = (dtype, python_type, value)
    cached = _scalar_cache.get(key)
    if cached is None:
        if len(_scalar_cache) > 4096:
            _scalar_cache.clear()
        cached = _scalar_cache[key] = np.asarray(value, dtype=dtype)  # OverflowError like JAX for big ints
    return cached


def _binary(
    prim: Primitive,
    name: str,
    inexact: bool = False,
    keeps_weak: bool = True,
    bool_prim: Primitive | None = None,
) -> Callable:
    impl = prim.impl
    promote = promote_args_inexact if inexact else promote_args
    kinds = "fc" if inexact else "iufc"
    context, array_type, new, scalar = _context, Array, _new, _cached_scalar
    python_scalars = (int, float)

    def op(x: Any, y: Any, /) -> Any:
        if context.trace is None:  # bind's eval path, inlined for the common cases
            tx, ty = type(x), type(y)
            if tx is array_type:
                vx = x._value
                if ty is array_type:
                    vy = y._value
                    if vx.dtype is vy.dtype and (not inexact or vx.dtype.kind in kinds):
                        out = new(array_type)
                        out._value = impl(vx, vy)
                        out._weak = keeps_weak and x._weak and y._weak
                        return out
                elif ty in python_scalars:
                    vy = scalar(vx.dtype, kinds, ty, y)
                    if vy is not None:
                        out = new(array_type)
                        out._value = impl(vx, vy)
                        out._weak = keeps_weak and x._weak
                        return out
            elif ty is array_type and tx in python_scalars:
                vy = y._value
                vx = scalar(vy.dtype, kinds, tx, x)
                if vx is not None:
                    out = new(array_type)
                    out._value = impl(vx, vy)
                    out._weak = keeps_weak and y._weak
                    return out
        x, y = promote(x, y)
        if bool_prim is not None and x.dtype == dtypes.bool_:
            return bool_prim.bind(x, y)  # jax.numpy: add is `or` and multiply is `and` on bools
        return prim.bind(x, y)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (
        f"Elementwise ``{name}`` with jax.numpy broadcasting and promotion.\n\n"
        f"Example: ``fnp.{name}(fnp.asarray([1.0, 2.0]), 3.0)``."
    )
    return op


def _unary(prim: Primitive, name: str, inexact: bool = True) -> Callable:
    impl = prim.impl
    kinds = "fc" if inexact else "biufc"
    context, array_type, new = _context, Array, _new

    def op(x: Any, /) -> Any:
        if type(x) is array_type and context.trace is None:
            vx = x._value
            if vx.dtype.kind in kinds:
                out = new(array_type)
                out._value = impl(vx)
                out._weak = x._weak
                return out
        (x,) = promote_args_inexact(x) if inexact else promote_args(x)
        return prim.bind(x)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}``.\n\nExample: ``fnp.{name}(fnp.asarray([0.5, 1.0]))``."
    return op


add = _binary(ew.add_p, "add", bool_prim=ew.or_p)
subtract = _binary(ew.sub_p, "subtract")
multiply = _binary(ew.mul_p, "multiply", bool_prim=ew.and_p)
true_divide = _binary(ew.div_p, "true_divide", inexact=True)
divide = true_divide
maximum = _binary(ew.max_p, "maximum")
minimum = _binary(ew.min_p, "minimum")
arctan2 = _binary(ew.atan2_p, "arctan2", inexact=True)
nextafter = _binary(ew.nextafter_p, "nextafter", inexact=True)
equal = _binary(ew.eq_p, "equal", keeps_weak=False)
not_equal = _binary(ew.ne_p, "not_equal", keeps_weak=False)
less = _binary(ew.lt_p, "less", keeps_weak=False)
less_equal = _binary(ew.le_p, "less_equal", keeps_weak=False)
greater = _binary(ew.gt_p, "greater", keeps_weak=False)
greater_equal = _binary(ew.ge_p, "greater_equal", keeps_weak=False)
bitwise_and = _binary(ew.and_p, "bitwise_and")
bitwise_or = _binary(ew.or_p, "bitwise_or")
bitwise_xor = _binary(ew.xor_p, "bitwise_xor")
left_shift = _binary(ew.shift_left_p, "left_shift")
_right_shift_signed = _binary(ew.shift_right_arithmetic_p, "right_shift")


def right_shift(x: Any, y: Any, /) -> Any:
    """``x >> y``: arithmetic for signed integers, logical for unsigned ones (as NumPy and JAX).

    Example: ``fnp.right_shift(fnp.asarray([200], fnp.uint8), 1)`` is ``[100]``.
    """
    x, y = promote_args(x, y)
    if x.dtype.kind == "u":
        return ew.shift_right_logical_p.bind(x, y)
    return _right_shift_signed(x, y)


sin = _unary(ew.sin_p, "sin")
cos = _unary(ew.cos_p, "cos")
tan = _unary(ew.tan_p, "tan")
arcsin = _unary(ew.asin_p, "arcsin")
arccos = _unary(ew.acos_p, "arccos")
arctan = _unary(ew.atan_p, "arctan")
sinh = _unary(ew.sinh_p, "sinh")
cosh = _unary(ew.cosh_p, "cosh")
tanh = _unary(ew.tanh_p, "tanh")
arcsinh = _unary(ew.asinh_p, "arcsinh")
arccosh = _unary(ew.acosh_p, "arccosh")
arctanh = _unary(ew.atanh_p, "arctanh")
exp = _unary(ew.exp_p, "exp")
exp2 = _unary(ew.exp2_p, "exp2")
expm1 = _unary(ew.expm1_p, "expm1")
log = _unary(ew.log_p, "log")
log1p = _unary(ew.log1p_p, "log1p")
sqrt = _unary(ew.sqrt_p, "sqrt")
cbrt = _unary(ew.cbrt_p, "cbrt")
negative = _unary(ew.neg_p, "negative", inexact=False)
sign = _unary(ew.sign_p, "sign", inexact=False)
absolute = _unary(ew.abs_p, "absolute", inexact=False)
abs = absolute


def positive(x: Any, /) -> Any:
    """``+x``. Example: ``fnp.positive(fnp.asarray([-1.0]))``."""
    return asarray(x)


def floor(x: Any, /) -> Any:
    """Round down; integers are returned unchanged. Example: ``fnp.floor(fnp.asarray([1.5]))``."""
    x = asarray(x)
    return x if x.dtype.kind in "biu" else ew.floor_p.bind(x)


def ceil(x: Any, /) -> Any:
    """Round up; integers are returned unchanged. Example: ``fnp.ceil(fnp.asarray([1.5]))``."""
    x = asarray(x)
    return x if x.dtype.kind in "biu" else ew.ceil_p.bind(x)


def trunc(x: Any, /) -> Any:
    """Round toward zero. Example: ``fnp.trunc(fnp.asarray([-1.5]))`` is ``[-1.]``."""
    x = asarray(x)
    if x.dtype.kind in "biu":
        return x
    return where(less(x, 0), ceil(x), floor(x))


def round(a: Any, decimals: int = 0) -> Any:
    """Round half to even, as NumPy. Example: ``fnp.round(fnp.asarray([0.5, 1.5]))`` is ``[0., 2.]``."""
    a = asarray(a)
    if a.dtype.kind in "biu":
        return a
    if decimals == 0:
        return ew.round_p.bind(a, rounding_method=1)
    factor = 10.0**decimals
    return true_divide(ew.round_p.bind(multiply(a, factor), rounding_method=1), factor)


rint = round


def square(x: Any, /) -> Any:
    """``x * x``. Example: ``fnp.square(fnp.asarray([3.0]))`` is ``[9.]``."""
    (x,) = promote_args(x)
    return ew.integer_pow_p.bind(x, y=2)


def reciprocal(x: Any, /) -> Any:
    """``1 / x``. Example: ``fnp.reciprocal(fnp.asarray([2.0]))`` is ``[0.5]``."""
    (x,) = promote_args_inexact(x)
    return ew.integer_pow_p.bind(x, y=-1)


def power(x: Any, y: Any, /) -> Any:
    """``x ** y``; a static integer exponent uses repeated multiplication (exact, fast).

    Example: ``fnp.power(fnp.asarray([2.0]), 3)`` is ``[8.]``.
    """
    if type(y) is int and not isinstance(x, (int, float)):
        (x,) = promote_args(x)
        if y >= 0 or x.dtype.kind in "fc":
            return ew.integer_pow_p.bind(x, y=y)
    x, y = promote_args(x, y)
    if x.dtype.kind in "iub":
        return _integer_power(x, y)
    return ew.pow_p.bind(x, y)


def _integer_power(x: Any, y: Any) -> Any:
    """Integer ``x ** y`` by square-and-multiply over the exponent's bits (a fixed, traceable loop);
    negative exponents give 0 except for bases 1 and -1, as in JAX."""
    from ._creation import ones_like
    from ._shape import broadcast_arrays

    x, y = broadcast_arrays(x, y)
    acc, base, exponent = ones_like(x), x, absolute(y)
    for i in range(x.dtype.itemsize * 8 - 1):
        acc = where(not_equal(bitwise_and(exponent, 1 << i), 0), multiply(acc, base), acc)
        base = multiply(base, base)
    if x.dtype.kind != "i":
        return acc  # unsigned or bool exponents are never negative
    odd = not_equal(bitwise_and(y, 1), 0)
    negative_power = where(equal(x, 1), 1, where(equal(x, -1), where(odd, -1, 1), 0))
    return where(less(y, 0), negative_power.astype(x.dtype), acc)


def log2(x: Any, /) -> Any:
    """Base-2 logarithm. Example: ``fnp.log2(fnp.asarray([8.0]))`` is ``[3.]``."""
    return true_divide(log(x), float(np.log(2)))


def log10(x: Any, /) -> Any:
    """Base-10 logarithm. Example: ``fnp.log10(fnp.asarray([100.0]))`` is ``[2.]``."""
    return true_divide(log(x), float(np.log(10)))


def floor_divide(x: Any, y: Any, /) -> Any:
    """``x // y`` with NumPy's semantics (rounds down). Example: ``fnp.floor_divide(-7, 2)`` is ``-4``."""
    x, y = promote_args(x, y)
    if x.dtype.kind in "iu":
        quotient = ew.div_p.bind(x, y)
        remainder = ew.rem_p.bind(x, y)
        wrong_way = logical_and(not_equal(remainder, 0), not_equal(less(remainder, 0), less(y, 0)))
        return where(wrong_way, subtract(quotient, 1), quotient)
    # NumPy's float algorithm: divide the exact multiple (x - fmod(x, y)), so 1.0 // 0.1 is 9, not 10.
    mod = ew.rem_p.bind(x, y)
    div = true_divide(subtract(x, mod), y)
    div = where(logical_and(not_equal(mod, 0), not_equal(less(y, 0), less(mod, 0))), subtract(div, 1), div)
    floored = floor(div)
    return where(greater(subtract(div, floored), 0.5), add(floored, 1), floored)


def remainder(x: Any, y: Any, /) -> Any:
    """``x % y`` with the sign of the divisor, as NumPy. Example: ``fnp.remainder(-7, 2)`` is ``1``."""
    x, y = promote_args(x, y)
    r = ew.rem_p.bind(x, y)
    fix = logical_and(not_equal(r, 0), not_equal(less(r, 0), less(y, 0)))
    return where(fix, add(r, y), r)


mod = remainder


def fmod(x: Any, y: Any, /) -> Any:
    """Remainder with the sign of the dividend (C's fmod). Example: ``fnp.fmod(-7, 2)`` is ``-1``."""
    return ew.rem_p.bind(*promote_args(x, y))


def hypot(x: Any, y: Any, /) -> Any:
    """``sqrt(x**2 + y**2)`` without overflow. Example: ``fnp.hypot(3.0, 4.0)`` is ``5.``."""
    x, y = promote_args_inexact(x, y)
    x, y = absolute(x), absolute(y)
    big, small = maximum(x, y), minimum(x, y)
    ratio = true_divide(small, where(equal(big, 0), 1, big))
    return multiply(big, sqrt(add(1, multiply(ratio, ratio))))


def logaddexp(x: Any, y: Any, /) -> Any:
    """``log(exp(x) + exp(y))`` computed stably. Example: ``fnp.logaddexp(0.0, 0.0)`` is ``log(2)``."""
    x, y = promote_args_inexact(x, y)
    big = maximum(x, y)
    safe = where(isfinite(big), big, 0)
    total = add(exp(subtract(x, safe)), exp(subtract(y, safe)))
    return where(isfinite(big), add(log(total), safe), big)


def isnan(x: Any, /) -> Any:
    """True where ``x`` is NaN. Example: ``fnp.isnan(fnp.asarray([1.0, fnp.nan]))``."""
    x = asarray(x)
    if x.dtype.kind not in "fc":
        return full_like_bool(x, False)
    return not_equal(x, x)


def isfinite(x: Any, /) -> Any:
    """True where ``x`` is neither inf nor NaN. Example: ``fnp.isfinite(fnp.asarray([1.0, fnp.inf]))``."""
    x = asarray(x)
    if x.dtype.kind not in "f":
        return full_like_bool(x, True)
    return ew.is_finite_p.bind(x)


def isinf(x: Any, /) -> Any:
    """True where ``x`` is +inf or -inf. Example: ``fnp.isinf(fnp.asarray([1.0, -fnp.inf]))``."""
    x = asarray(x)
    if x.dtype.kind not in "f":
        return full_like_bool(x, False)
    return equal(absolute(x), np.inf)


def full_like_bool(x: Any, value: bool) -> Any:
    """A bool array of ``x``'s shape filled with ``value`` (helper for the is* tests on integers)."""
    from ._shape import broadcast_to

    return broadcast_to(asarray(value), x.shape)


def logical_not(x: Any, /) -> Any:
    """Elementwise not of truth values. Example: ``fnp.logical_not(fnp.asarray([True]))``."""
    return ew.not_p.bind(_as_bool(x))


def _as_bool(x: Any) -> Any:
    x = asarray(x)
    return x if x.dtype == dtypes.bool_ else not_equal(x, 0)


def logical_and(x: Any, y: Any, /) -> Any:
    """Elementwise and of truth values. Example: ``fnp.logical_and(x > 0, x < 1)``."""
    return bitwise_and(_as_bool(x), _as_bool(y))


def logical_or(x: Any, y: Any, /) -> Any:
    """Elementwise or of truth values. Example: ``fnp.logical_or(x < 0, x > 1)``."""
    return bitwise_or(_as_bool(x), _as_bool(y))


def logical_xor(x: Any, y: Any, /) -> Any:
    """Elementwise xor of truth values. Example: ``fnp.logical_xor(x > 0, y > 0)``."""
    return bitwise_xor(_as_bool(x), _as_bool(y))


def invert(x: Any, /) -> Any:
    """Bitwise not (logical not for bool). Example: ``fnp.invert(fnp.asarray([True]))``."""
    return ew.not_p.bind(asarray(x))


bitwise_not = invert


def where(condition: Any, x: Any = None, y: Any = None, /) -> Any:
    """``x`` where ``condition`` else ``y``, broadcasting all three.

    Example: ``fnp.where(x > 0, x, 0.0)`` is ``relu(x)``. (The one-argument form needs ``size=``; use
    ``fnp.nonzero``.)
    """
    if x is None or y is None:
        raise ValueError(
            "fnp.where with one argument is not supported; use fnp.nonzero(condition, size=...)."
        )
    from ._shape import broadcast_arrays

    condition = _as_bool(condition)
    x, y = promote_args(x, y)
    condition, x, y = broadcast_arrays(condition, x, y)
    return ew.select_n_p.bind(condition, y, x)


def clip(a: Any, a_min: Any = None, a_max: Any = None) -> Any:
    """Limit values to ``[a_min, a_max]`` (either may be None). Example: ``fnp.clip(x, 0.0, 1.0)``."""
    if a_min is not None:
        a = maximum(a, a_min)
    if a_max is not None:
        a = minimum(a, a_max)
    return asarray(a)


def astype(x: Any, dtype: Any) -> Any:
    """``x`` cast to ``dtype`` (float64 becomes float32 unless x64 is on). Example: ``fnp.astype(x, fnp.int32)``."""
    return convert(asarray(x), dtypes.canonicalize_dtype(dtype))


# ---------------------------------------------------------------------------------------------------
# More elementwise functions (built from the ones above, so every transformation sees only primitives)
# ---------------------------------------------------------------------------------------------------


def _no_complex(x: Any, name: str) -> None:
    if x.dtype.kind == "c":
        raise NotImplementedError(f"fnp.{name} does not support complex inputs yet (got {x.dtype.name}).")


def fabs(x: Any, /) -> Any:
    """Absolute value as a float (integers become the default float, as in jax.numpy).

    Example: ``fnp.fabs(fnp.asarray([-2, 3]))`` is ``Array([2., 3.], dtype=float32)``.
    """
    (x,) = promote_args_inexact(x)
    _no_complex(x, "fabs")
    return absolute(x)


def around(a: Any, decimals: int = 0) -> Any:
    """Alias of ``fnp.round`` (round half to even). Example: ``fnp.around(fnp.asarray([2.5]))`` is ``[2.]``."""
    return round(a, decimals)


def fix(x: Any, /) -> Any:
    """Round toward zero (NumPy's ``fix``; the same as ``fnp.trunc``).

    Example: ``fnp.fix(fnp.asarray([-1.7, 1.7]))`` is ``[-1., 1.]``.
    """
    return trunc(x)


def deg2rad(x: Any, /) -> Any:
    """Degrees to radians. Example: ``fnp.deg2rad(180.0)`` is ``3.1415927``."""
    (x,) = promote_args_inexact(x)
    return multiply(x, np.pi / 180)


def rad2deg(x: Any, /) -> Any:
    """Radians to degrees. Example: ``fnp.rad2deg(fnp.pi)`` is ``180.``."""
    (x,) = promote_args_inexact(x)
    return multiply(x, 180 / np.pi)


radians = deg2rad
degrees = rad2deg


def sinc(x: Any, /) -> Any:
    """The normalized sinc ``sin(pi x) / (pi x)``, with ``sinc(0) = 1``.

    Near zero a Taylor polynomial is used, so values and derivatives (``fl.grad`` at 0 is 0, the second
    derivative is ``-pi**2 / 3``) are right there too.

    Example: ``fnp.sinc(fnp.asarray([0.0, 0.5]))`` is ``[1., 0.63661975]``.
    """
    (x,) = promote_args_inexact(x)
    _no_complex(x, "sinc")
    # |pi x| below this the series 1 - t^2/6 + t^4/120 is exact to the dtype's precision (next term t^6/5040).
    threshold = 1e-3 if x.dtype.itemsize >= 8 else 0.1
    t = multiply(x, np.pi)
    small = less(absolute(t), threshold)
    t2 = multiply(t, t)
    series = add(1, multiply(t2, add(-1 / 6, multiply(t2, 1 / 120))))
    safe = where(small, 1, t)  # keeps the unused branch (and its derivative) finite at 0
    return where(small, series, true_divide(sin(safe), safe))


def nan_to_num(x: Any, copy: bool = True, nan: Any = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    """Replace NaN by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (the dtype's largest/smallest
    finite values by default); integers and bools are returned unchanged.

    Example: ``fnp.nan_to_num(fnp.asarray([fnp.nan, fnp.inf]))`` is ``[0., 3.4028235e+38]``.
    """
    x = asarray(x)
    if x.dtype.kind not in "fc":
        return x
    _no_complex(x, "nan_to_num")
    dtype = x.dtype
    x = convert(x, dtype, False)  # jax.numpy's result is strongly typed even for a Python scalar
    info = np.finfo(dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = where(isnan(x), asarray(nan, dtype), x)
    out = where(equal(x, np.inf), asarray(posinf, dtype), out)
    return where(equal(x, -np.inf), asarray(neginf, dtype), out)


def heaviside(x1: Any, x2: Any, /) -> Any:
    """The Heaviside step: 0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0`` (NaN stays NaN).

    Example: ``fnp.heaviside(fnp.asarray([-1.0, 0.0, 2.0]), 0.5)`` is ``[0., 0.5, 1.]``.
    """
    x1, x2 = promote_args_inexact(x1, x2)
    _no_complex(x1, "heaviside")
    at_zero = where(equal(x1, 0), x2, x1)  # x1 is NaN where it is neither < 0, > 0 nor == 0
    return where(less(x1, 0), 0, where(greater(x1, 0), 1, at_zero))


def fmax(x1: Any, x2: Any, /) -> Any:
    """Elementwise maximum that ignores NaN (NaN only where both are NaN).

    Example: ``fnp.fmax(fnp.asarray([fnp.nan, 1.0]), 0.0)`` is ``[0., 1.]``.
    """
    x1, x2 = promote_args(x1, x2)
    return where(logical_or(greater(x1, x2), isnan(x2)), x1, x2)


def fmin(x1: Any, x2: Any, /) -> Any:
    """Elementwise minimum that ignores NaN (NaN only where both are NaN).

    Example: ``fnp.fmin(fnp.asarray([fnp.nan, 1.0]), 0.0)`` is ``[0., 0.]``.
    """
    x1, x2 = promote_args(x1, x2)
    return where(logical_or(less(x1, x2), isnan(x2)), x1, x2)


def float_power(x1: Any, x2: Any, /) -> Any:
    """``x1 ** x2`` computed in floating point (the default float type, as jax.numpy; NumPy uses float64).

    Example: ``fnp.float_power(fnp.asarray([2, 3]), -1)`` is ``[0.5, 0.33333334]``.
    """
    x1, x2 = promote_args_inexact(x1, x2)
    return ew.pow_p.bind(x1, x2)


def signbit(x: Any, /) -> Any:
    """True where the sign bit is set: negative numbers and -0.0.

    The sign of a NaN is not visible to the primitives we build on, so ``signbit(-nan)`` is False here
    (NumPy and JAX say True).

    Example: ``fnp.signbit(fnp.asarray([-1.0, -0.0, 0.0]))`` is ``[True, True, False]``.
    """
    x = asarray(x)
    _no_complex(x, "signbit")
    if x.dtype.kind in "bu":
        return full_like_bool(x, False)
    if x.dtype.kind == "i":
        return less(x, 0)
    # -0.0 is the only non-negative-looking value with the sign bit: 1 / -0.0 is -inf.
    with np.errstate(divide="ignore"):
        return logical_or(less(x, 0), less(true_divide(1, x), 0))


def copysign(x1: Any, x2: Any, /) -> Any:
    """The magnitude of ``x1`` with the sign of ``x2`` (as a float).

    Example: ``fnp.copysign(fnp.asarray([1.0, 2.0]), -0.0)`` is ``[-1., -2.]``.
    """
    x1, x2 = promote_args_inexact(x1, x2)
    _no_complex(x1, "copysign")
    magnitude = absolute(x1)
    return where(signbit(x2), negative(magnitude), magnitude)


def logaddexp2(x1: Any, x2: Any, /) -> Any:
    """``log2(2**x1 + 2**x2)`` computed stably. Example: ``fnp.logaddexp2(1.0, 1.0)`` is ``2.``."""
    x1, x2 = promote_args_inexact(x1, x2)
    _no_complex(x1, "logaddexp2")
    # big + log2(1 + 2**-|x1 - x2|), both parts chosen by one select so that at a tie each input gets
    # half of the gradient.
    x1_bigger = greater_equal(x1, x2)
    big = where(x1_bigger, x1, x2)
    gap = where(x1_bigger, subtract(x2, x1), subtract(x1, x2))  # -|x1 - x2|
    stable = add(big, true_divide(log1p(exp2(gap)), float(np.log(2))))
    # gap is NaN when an input is NaN or both are the same infinity; x1 + x2 is the answer then.
    return where(isnan(gap), add(x1, x2), stable)


def conjugate(x: Any, /) -> Any:
    """Complex conjugate; real inputs are returned unchanged. Example: ``fnp.conj(fnp.asarray([1.0]))``."""
    x = asarray(x)
    _no_complex(x, "conjugate")
    return x


conj = conjugate


def real(val: Any, /) -> Any:
    """The real part; real inputs are returned unchanged. Example: ``fnp.real(fnp.asarray([1.0]))``."""
    x = asarray(val)
    _no_complex(x, "real")
    return x


def imag(val: Any, /) -> Any:
    """The imaginary part: zeros of the input's dtype for real inputs.

    Example: ``fnp.imag(fnp.asarray([1.0, 2.0]))`` is ``[0., 0.]``.
    """
    from ._shape import broadcast_to

    x = asarray(val)
    _no_complex(x, "imag")
    return broadcast_to(Array(np.zeros((), x.dtype), x.weak_type), x.shape)


def isclose(a: Any, b: Any, rtol: Any = 1e-05, atol: Any = 1e-08, equal_nan: bool = False) -> Any:
    """``|a - b| <= atol + rtol * |b|`` elementwise (computed in floating point; equal infinities are close,
    NaNs only with ``equal_nan``).

    Example: ``fnp.isclose(fnp.asarray([1.0, 1.1]), 1.0)`` is ``[True, False]``.
    """
    a, b = promote_args_inexact(a, b)
    _no_complex(a, "isclose")
    tolerance = add(atol, multiply(rtol, absolute(b)))
    with np.errstate(invalid="ignore"):
        out = less_equal(absolute(subtract(a, b)), tolerance)
    out = where(logical_or(isinf(a), isinf(b)), equal(a, b), out)
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


def allclose(a: Any, b: Any, rtol: Any = 1e-05, atol: Any = 1e-08, equal_nan: bool = False) -> Any:
    """Whether ``isclose`` holds everywhere, as a 0-d bool Array.

    Example: ``fnp.allclose(fnp.ones(3), 1.0)`` is ``Array(True, dtype=bool)``.
    """
    from ._reductions import all as _all

    return _all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> Any:
    """Whether ``a1`` and ``a2`` have the same shape and elements, as a 0-d bool Array.

    Example: ``fnp.array_equal(fnp.arange(2), fnp.asarray([0.0, 1.0]))`` is ``Array(True, dtype=bool)``.
    """
    from ._reductions import all as _all

    a1, a2 = asarray(a1), asarray(a2)
    if tuple(a1.shape) != tuple(a2.shape):
        return asarray(False)
    same = equal(a1, a2)
    if equal_nan:
        same = logical_or(same, logical_and(isnan(a1), isnan(a2)))
    return _all(same)


def divmod(x1: Any, x2: Any, /) -> tuple[Any, Any]:
    """``(x1 // x2, x1 % x2)`` with NumPy's rounding. Example: ``fnp.divmod(-7, 2)`` is ``(-4, 1)``."""
    return floor_divide(x1, x2), remainder(x1, x2)


def _integer_args(name: str, x1: Any, x2: Any) -> tuple[Any, Any]:
    from ._shape import broadcast_arrays

    x1, x2 = promote_args(x1, x2)
    if x1.dtype.kind not in "iu":
        raise ValueError(f"Arguments to fnp.{name} must be integers, got {x1.dtype.name}.")
    return tuple(broadcast_arrays(x1, x2))


def gcd(x1: Any, x2: Any, /) -> Any:
    """Greatest common divisor of integers (``gcd(0, 0) == 0``).

    Euclid's algorithm, vectorised: a fixed number of steps (enough for the dtype's range) under ``where``,
    so it traces to a straight-line program.

    Example: ``fnp.gcd(fnp.asarray([12, -18]), 8)`` is ``[4, 2]``.
    """
    x1, x2 = _integer_args("gcd", x1, x2)
    a, b = absolute(x1), absolute(x2)
    # Consecutive Fibonacci numbers are the worst case: fewer than 1.45 * bits + 2 steps for any operands.
    steps = int(1.45 * 8 * x1.dtype.itemsize) + 3
    eager = _context.trace is None
    for _ in range(steps):
        if eager and not np.any(b._value):  # everything has finished: the remaining steps change nothing
            break
        nonzero = not_equal(b, 0)
        remainder_ = ew.rem_p.bind(a, where(nonzero, b, 1))
        a, b = where(nonzero, b, a), where(nonzero, remainder_, 0)
    return absolute(a)


def lcm(x1: Any, x2: Any, /) -> Any:
    """Least common multiple of integers: ``|x1| // gcd * |x2|`` (0 if either is 0; it wraps on overflow,
    as in NumPy and jax.numpy).

    Example: ``fnp.lcm(fnp.asarray([4, 6]), 10)`` is ``[20, 30]``.
    """
    x1, x2 = _integer_args("lcm", x1, x2)
    divisor = gcd(x1, x2)
    is_zero = equal(divisor, 0)
    quotient = ew.div_p.bind(absolute(x1), where(is_zero, 1, divisor))
    return where(is_zero, 0, multiply(quotient, absolute(x2)))
