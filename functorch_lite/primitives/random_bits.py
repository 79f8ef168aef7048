"""Random-bit primitives behind ``functorch_lite.random``: the threefry2x32 hash and two fused float kernels.

``threefry2x32`` is the counter-based block cipher of Salmon, Moraes, Dror and Shaw, "Parallel random
numbers: as easy as 1, 2, 3" (SC 2011), in its 2x32-bit, 20-round form (the variant JAX uses):

- the key schedule appends a third word ``k0 ^ k1 ^ 0x1BD11BDA`` (the parity constant);
- the block starts as ``(x0 + k0, x1 + k1)``;
- a round is ``x0 += x1; x1 = rotl(x1, r); x1 ^= x0``, with rotation constants 13, 15, 26, 6 in groups
  0, 2, 4 and 17, 29, 16, 24 in groups 1, 3;
- after group ``g`` (0..4) of four rounds the key is injected: ``x0 += ks[(g+1) % 3]``,
  ``x1 += ks[(g+2) % 3] + g + 1``.

Why a primitive rather than a composition of lax ops: the lax composition (kept here as
``threefry2x32_reference`` and used by the tests as a cross-check) costs one full-array pass per operation
(~110 of them), and this package's shift impls add copies. The primitive's impl runs the same arithmetic on
cache-sized chunks with in-place NumPy ufuncs, which makes it several times faster on large arrays. It is
elementwise with lax broadcasting over its four uint32 operands ``(k0, k1, x0, x1)`` and returns two uint32
arrays; its JVP is zero (integer outputs) and it batches like any elementwise primitive, so it works
eagerly and under ``jit``, ``vmap`` and ``grad``. Non-NumPy arrays (cupy) take a whole-array path written
with operators, which dispatch to the array's own library.

``erf_inv_fast`` (float16/float32: Giles's single-precision polynomial, "Approximating the erfinv
function", GPU Computing Gems 2010, the same approximation XLA uses; float64: the accurate
``special_math.erf_inv``) and ``fma`` (``x * y + z`` rounded once, as XLA's fused multiply-add on CPU) exist
so that ``random.normal`` and ``random.uniform`` are fast and round like JAX's compiled kernels.

Example:
    >>> k0, k1 = np.uint32(0), np.uint32(0)
    >>> [hex(int(v)) for v in _threefry_numpy(k0, k1, np.uint32(0), np.uint32(0))]
    ['0x6b200159', '0x99ba4efe']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import ShapeDtypeError
from ..core.trace import Primitive, ShapedArray
from . import special_math
from .common import broadcast_shapes, check_kinds, same_dtype

_U32 = np.dtype(np.uint32)
ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
PARITY = 0x1BD11BDA
_CHUNK = 16384  # elements per chunk: x0, x1 and a temporary (3 x 64 KiB) stay in the L2 cache


# ---------------------------------------------------------------------------------------------------
# threefry2x32: implementations
# ---------------------------------------------------------------------------------------------------


def _threefry_generic(k0: Any, k1: Any, x0: Any, x1: Any) -> list:
    """Whole-array threefry2x32 written with operators (works for cupy arrays and NumPy alike)."""
    u = np.uint32
    k2 = k0 ^ k1 ^ u(PARITY)
    ks = (k0, k1, k2)
    x0 = x0 + k0
    x1 = x1 + k1
    for group in range(5):
        for r in ROTATIONS[group % 2]:
            x0 = x0 + x1
            x1 = (x1 << u(r)) | (x1 >> u(32 - r))
            x1 = x1 ^ x0
        x0 = x0 + ks[(group + 1) % 3]
        x1 = x1 + ks[(group + 2) % 3] + u(group + 1)
    return [x0, x1]


def _flat_operand(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A 0-d array for a one-element operand, else the operand broadcast to ``shape`` and flattened."""
    if a.size == 1:
        return a.reshape(())
    return np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1)


def _threefry_numpy(k0: Any, k1: Any, x0: Any, x1: Any) -> list:
    """threefry2x32 on NumPy uint32 arrays (lax broadcasting), chunked, with in-place ufuncs."""
    operands = [np.asarray(a) for a in (k0, k1, x0, x1)]
    shape = np.broadcast_shapes(*[a.shape for a in operands])
    n = int(np.prod(shape, dtype=np.int64))
    out0 = np.empty(shape, _U32)
    out1 = np.empty(shape, _U32)
    if n == 0:
        return [out0, out1]
    k0, k1, c0, c1 = [_flat_operand(a, shape) for a in operands]
    with np.errstate(over="ignore"):
        k2 = k0 ^ k1 ^ np.uint32(PARITY)
    ks = (k0, k1, k2)
    scalar_keys = k0.ndim == 0 and k1.ndim == 0
    # Per group: what is added to x0 and to x1 after its four rounds (scalars when the key is one key).
    if scalar_keys:
        with np.errstate(over="ignore"):
            injections = [(ks[(g + 1) % 3][()], (ks[(g + 2) % 3] + np.uint32(g + 1))[()]) for g in range(5)]
    rotations = [[(np.uint32(r), np.uint32(32 - r)) for r in group] for group in ROTATIONS]
    flat0, flat1 = out0.reshape(-1), out1.reshape(-1)
    scratch = np.empty(min(_CHUNK, n), _U32)
    add, shl, shr = np.add, np.left_shift, np.right_shift
    bor, bxor = np.bitwise_or, np.bitwise_xor

    def part(a: np.ndarray, start: int, stop: int) -> np.ndarray:
        return a if a.ndim == 0 else a[start:stop]

    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        y0, y1, t = flat0[start:stop], flat1[start:stop], scratch[: stop - start]
        add(part(c0, start, stop), part(k0, start, stop), out=y0)
        add(part(c1, start, stop), part(k1, start, stop), out=y1)
        for group in range(5):
            for left, right in rotations[group % 2]:
                add(y0, y1, out=y0)
                shl(y1, left, out=t)
                shr(y1, right, out=y1)
                bor(y1, t, out=y1)
                bxor(y1, y0, out=y1)
            if scalar_keys:
                a, b = injections[group]
                add(y0, a, out=y0)
                add(y1, b, out=y1)
            else:
                add(y0, part(ks[(group + 1) % 3], start, stop), out=y0)
                add(y1, part(ks[(group + 2) % 3], start, stop), out=y1)
                add(y1, np.uint32(group + 1), out=y1)
    return [out0, out1]


def _threefry_impl(k0: Any, k1: Any, x0: Any, x1: Any) -> list:
    if all(isinstance(a, (np.ndarray, np.generic)) for a in (k0, k1, x0, x1)):
        return _threefry_numpy(k0, k1, x0, x1)
    return _threefry_generic(k0, k1, x0, x1)


def _threefry_aval(k0: ShapedArray, k1: ShapedArray, x0: ShapedArray, x1: ShapedArray) -> list:
    for name, a in (("k0", k0), ("k1", k1), ("x0", x0), ("x1", x1)):
        if a.dtype != _U32:
            raise ShapeDtypeError(
                f"threefry2x32 requires uint32 operands, got {name}: {a.str_short()}. "
                "Convert with lax.convert_element_type(x, fnp.uint32)."
            )
    shape = broadcast_shapes("threefry2x32", k0.shape, k1.shape, x0.shape, x1.shape)
    return [ShapedArray(shape, _U32), ShapedArray(shape, _U32)]


threefry2x32_p = Primitive(
    "threefry2x32", _threefry_impl, _threefry_aval, multiple_results=True, weak="never"
)


def threefry_2x32(keypair: tuple[Any, Any], count: tuple[Any, Any]) -> tuple[Any, Any]:
    """Hash the counter words ``count = (x0, x1)`` under the key ``keypair = (k0, k1)``; all uint32,
    broadcasting like lax (rank-0 operands or equal ranks with dims equal or 1).

    Example:
        >>> threefry_2x32((fnp.uint32(0), fnp.uint32(0)), (fnp.zeros(2, fnp.uint32), fnp.arange(2, dtype=fnp.uint32)))
    """
    from ..lax import _operand

    k0, k1 = keypair
    x0, x1 = count
    out = threefry2x32_p.bind(*[_operand(a) for a in (k0, k1, x0, x1)])
    return out[0], out[1]


def threefry2x32_reference(k0: Any, k1: Any, x0: Any, x1: Any) -> tuple[Any, Any]:
    """The same hash composed of lax uint32 operations (one primitive per step): slow, used as a cross-check.

    Example: ``threefry2x32_reference(k0, k1, x0, x1)`` equals ``threefry_2x32((k0, k1), (x0, x1))``.
    """
    from .. import lax

    def rotl(v: Any, r: int) -> Any:
        return lax.bitwise_or(lax.shift_left(v, np.uint32(r)), lax.shift_right_logical(v, np.uint32(32 - r)))

    ks = (k0, k1, lax.bitwise_xor(lax.bitwise_xor(k0, k1), np.uint32(PARITY)))
    x0 = lax.add(x0, k0)
    x1 = lax.add(x1, k1)
    for group in range(5):
        for r in ROTATIONS[group % 2]:
            x0 = lax.add(x0, x1)
            x1 = lax.bitwise_xor(rotl(x1, r), x0)
        x0 = lax.add(x0, ks[(group + 1) % 3])
        x1 = lax.add(lax.add(x1, ks[(group + 2) % 3]), np.uint32(group + 1))
    return x0, x1


# ---------------------------------------------------------------------------------------------------
# Fused float kernels for the distributions
# ---------------------------------------------------------------------------------------------------


def _unit_float_impl(bits: Any, dtype: np.dtype) -> Any:
    nbits = dtype.itemsize * 8
    nmant = np.finfo(dtype).nmant
    if not isinstance(bits, (np.ndarray, np.generic)):  # cupy: whole-array expressions
        one = np.array(1.0, dtype).view(bits.dtype)
        return ((bits >> (nbits - nmant)) | one).view(dtype) - dtype.type(1.0)
    out = np.right_shift(bits, bits.dtype.type(nbits - nmant))
    out = np.asarray(out)
    np.bitwise_or(out, np.array(1.0, dtype).view(bits.dtype), out=out)
    floats = out.view(dtype)
    np.subtract(floats, dtype.type(1.0), out=floats)
    return floats


def _unit_float_aval(bits: ShapedArray, dtype: np.dtype) -> ShapedArray:
    if (
        bits.dtype.kind != "u"
        or np.dtype(dtype).kind != "f"
        or bits.dtype.itemsize != np.dtype(dtype).itemsize
    ):
        raise ShapeDtypeError(
            f"random_unit_float maps unsigned bits to a float of the same width, got {bits.str_short()} "
            f"-> {np.dtype(dtype).name}."
        )
    return ShapedArray(bits.shape, dtype)


# Unsigned bits -> floats in [0, 1): the top mantissa-width bits become the mantissa of a float in [1, 2),
# minus one (exact). Same as bitcast((bits >> (nbits - nmant)) | bits_of(1.0)) - 1.
unit_float_p = Primitive("random_unit_float", _unit_float_impl, _unit_float_aval, weak="never")


def unit_float(bits: Any, dtype: Any) -> Any:
    """Floats in [0, 1) of ``dtype`` from unsigned ``bits`` of the same width (JAX's mantissa construction).

    Example: ``unit_float(fnp.asarray([0, 2**31], fnp.uint32), fnp.float32)`` is ``[0., 0.5]``.
    """
    return unit_float_p.bind(bits, dtype=np.dtype(dtype))


# Giles (2010), single precision: central branch (w < 5) and tail branch, highest coefficient first.
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


def _giles_chunk(x: np.ndarray, out: np.ndarray, w: np.ndarray) -> None:
    """erf_inv of a float32 chunk ``x`` into ``out`` (``w`` is scratch of the same size)."""
    f32 = np.float32
    np.multiply(x, x, out=w)
    np.negative(w, out=w)
    np.log1p(w, out=w)
    np.negative(w, out=w)  # w = -log(1 - x^2), as XLA computes it
    tail = np.flatnonzero(~(w < f32(5.0)))  # rare (|x| > 0.9966), and NaN (|x| > 1)
    wt = np.sqrt(w[tail]) - f32(3.0) if tail.size else None
    np.subtract(w, f32(2.5), out=w)
    out.fill(f32(_GILES_CENTRAL[0]))
    for c in _GILES_CENTRAL[1:]:
        np.multiply(out, w, out=out)
        np.add(out, f32(c), out=out)
    if tail.size:
        p = np.full(tail.size, f32(_GILES_TAIL[0]))
        for c in _GILES_TAIL[1:]:
            p = p * wt + f32(c)
        out[tail] = p
        edge = tail[np.abs(x[tail]) == f32(1.0)]
        out[edge] = np.inf  # times x below: +-inf at +-1
    np.multiply(out, x, out=out)


def _erf_inv_fast_impl(x: Any) -> Any:
    if not isinstance(x, (np.ndarray, np.generic)) or x.dtype == np.float64:
        return special_math.erf_inv(x) if isinstance(x, (np.ndarray, np.generic)) else _erf_inv_generic(x)
    dtype = x.dtype
    arr = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty(arr.shape, np.float32)
    scratch = np.empty(min(_CHUNK, arr.size), np.float32)
    with np.errstate(all="ignore"):
        for start in range(0, arr.size, _CHUNK):
            stop = min(start + _CHUNK, arr.size)
            _giles_chunk(arr[start:stop], out[start:stop], scratch[: stop - start])
    out = out.reshape(np.shape(x)).astype(dtype, copy=False)
    return out[()] if out.ndim == 0 else out


def _erf_inv_generic(x: Any) -> Any:
    """Giles's polynomial with whole-array operators and selects (for cupy arrays)."""
    xp = type(x).__module__.split(".")[0]
    mod = __import__(xp)
    w = -mod.log1p(-x * x)
    central = x.dtype.type(_GILES_CENTRAL[0])
    wc = w - 2.5
    for c in _GILES_CENTRAL[1:]:
        central = central * wc + c
    tail = x.dtype.type(_GILES_TAIL[0])
    wt = mod.sqrt(w) - 3.0
    for c in _GILES_TAIL[1:]:
        tail = tail * wt + c
    p = mod.where(w < 5.0, central, tail)
    p = mod.where(mod.abs(x) == 1.0, mod.inf, p)
    return (p * x).astype(x.dtype)


def _erf_inv_fast_aval(x: ShapedArray) -> ShapedArray:
    check_kinds("erf_inv_fast", x, "f")
    return x


erf_inv_fast_p = Primitive("erf_inv_fast", _erf_inv_fast_impl, _erf_inv_fast_aval)


def _fma64(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """float64 ``x * y + z`` with error-free transformations (Dekker's product, Knuth's sum): the exact
    result rounded once, except in rare double-rounding ties; non-finite cases use the plain formula."""
    plain = x * y + z
    split = 134217729.0  # 2**27 + 1
    with np.errstate(all="ignore"):
        p = x * y
        xs = x * split
        xh = xs - (xs - x)
        xl = x - xh
        ys = y * split
        yh = ys - (ys - y)
        yl = y - yh
        p_err = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
        s = p + z
        t = s - p
        s_err = (p - (s - t)) + (z - t)
        fused = s + (p_err + s_err)
    return np.where(np.isfinite(fused), fused, plain)


def _fma_impl(x: Any, y: Any, z: Any) -> Any:
    dtype = np.result_type(x, y, z)
    if dtype.itemsize < 8:  # float16/32 products are exact in float64: one rounding at the end
        wide = np.float64
        return (np.multiply(x, y, dtype=wide) + np.asarray(z, wide)).astype(dtype)
    if isinstance(x, (np.ndarray, np.generic)):
        out = _fma64(*np.broadcast_arrays(np.asarray(x), np.asarray(y), np.asarray(z)))
        return out[()] if out.ndim == 0 else out
    return x * y + z


def _fma_aval(x: ShapedArray, y: ShapedArray, z: ShapedArray) -> ShapedArray:
    dtype = same_dtype("fma", x, y, z)
    check_kinds("fma", x, "f")
    shape = broadcast_shapes("fma", x.shape, y.shape, z.shape)
    return ShapedArray(shape, dtype, x.weak_type and y.weak_type and z.weak_type)


# x * y + z with one rounding (float16/float32; float64 rounds twice), as XLA contracts them on CPU.
fma_p = Primitive("fma", _fma_impl, _fma_aval)


# ---------------------------------------------------------------------------------------------------
# Transformation rules
# ---------------------------------------------------------------------------------------------------

from ..core.trace import aval_of  # noqa: E402
from ..transforms.ad import Zero, add_tangents, defjvp_zero, tangent_aval  # noqa: E402
from ..transforms.batching import broadcast_operands, broadcasting, vectorized  # noqa: E402
from .elementwise import exp_p, mul_p  # noqa: E402

defjvp_zero(threefry2x32_p)
defjvp_zero(unit_float_p)


def _threefry_batch(axis_size: int, vals: list, dims: list) -> tuple[list, list]:
    batched = [(v, d) for v, d in zip(vals, dims) if d is not None]
    first_v, first_d = batched[0]
    same = all(d == first_d and v.ndim == first_v.ndim for v, d in batched) and all(
        d is not None or v.ndim == 0 for v, d in zip(vals, dims)
    )
    if same:
        return threefry2x32_p.bind(*vals), [first_d, first_d]
    return threefry2x32_p.bind(*broadcast_operands(vals, dims)), [0, 0]


threefry2x32_p.batch = _threefry_batch
vectorized(unit_float_p)
vectorized(erf_inv_fast_p)
broadcasting(fma_p)


def _erf_inv_fast_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    y = erf_inv_fast_p.bind(x)
    if type(t) is Zero:
        return y, Zero(tangent_aval(aval_of(y)))
    half_sqrt_pi = np.asarray(np.sqrt(np.pi) / 2.0, dtype=aval_of(y).dtype)
    from ..lax import _operand

    scale = mul_p.bind(_operand(half_sqrt_pi, y), exp_p.bind(mul_p.bind(y, y)))
    return y, mul_p.bind(t, scale)


erf_inv_fast_p.jvp = _erf_inv_fast_jvp


def _fma_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    x, y, z = primals
    tx, ty, tz = tangents
    out = fma_p.bind(x, y, z)
    total: Any = Zero(tangent_aval(aval_of(out)))
    if type(tx) is not Zero:
        total = add_tangents(total, mul_p.bind(tx, y))
    if type(ty) is not Zero:
        total = add_tangents(total, mul_p.bind(x, ty))
    if type(tz) is not Zero:
        total = add_tangents(total, tz)
    return out, total


fma_p.jvp = _fma_jvp
