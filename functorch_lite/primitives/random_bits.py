"""Random-bit primitives behind ``functorch_lite.random``: the threefry2x32 hash, fused draws, two float
kernels, and the same computations written as lax operations for ``jit`` to fuse.

``threefry2x32`` is the counter-based block cipher of Salmon, Moraes, Dror and Shaw, "Parallel random
numbers: as easy as 1, 2, 3" (SC 2011), in its 2x32-bit, 20-round form (the variant JAX uses):

- the key schedule appends a third word ``k0 ^ k1 ^ 0x1BD11BDA`` (the parity constant);
- the block starts as ``(x0 + k0, x1 + k1)``;
- a round is ``x0 += x1; x1 = rotl(x1, r); x1 ^= x0``, with rotation constants 13, 15, 26, 6 in groups
  0, 2, 4 and 17, 29, 16, 24 in groups 1, 3;
- after group ``g`` (0..4) of four rounds the key is injected: ``x0 += ks[(g+1) % 3]``,
  ``x1 += ks[(g+2) % 3] + g + 1``.

Two ways to run a draw, with the same bits (and the same float32 values):

- Primitives with NumPy kernels (eager use, ``vmap``/``grad`` without ``jit``, and ``jit`` without a C
  compiler). Composed of lax ops, each of the ~110 steps of the hash would be a full-array pass with a fresh
  buffer (a fresh large NumPy buffer costs a page fault per 4 KiB) plus one dispatch; the kernels instead run
  on cache-sized chunks with in-place ufuncs and reused scratch, and allocate only the result:

  - ``threefry2x32(k0, k1, x0, x1) -> (y0, y1)``: the hash, elementwise with lax broadcasting;
  - ``random_bits[shape, dtype](k0, k1)``, ``random_uniform[...]``, ``random_normal[...]``: a whole draw
    for keys ``(k0, k1)`` of any (batch) shape ``B``, output ``B + shape``. Element ``i`` (row-major) of a
    key's draw hashes the counter ``(0, i)`` (JAX's ``jax_threefry_partitionable`` layout); 32-bit bits
    xor the two words, 64-bit ones concatenate them, 8/16-bit ones keep the low bits; uniforms are the top
    mantissa-width bits over ``2**nmant``; normals are ``sqrt(2) * erf_inv(2 u - 1 + 2**-(nmant+1))``,
    which is JAX's ``uniform(nextafter(-1, 0), 1)`` (exactly) followed by ``sqrt(2) * erf_inv``.

- ``compose_bits`` / ``compose_uniform`` / ``compose_normal``: the same steps as lax operations, which
  ``random`` stages when tracing for a ``jit`` that builds fused C kernels; the draw then becomes one or two
  compiled loops (``stage_break`` splits a normal draw in two kernels of ~110 and ~90 steps).

``erf_inv_fast`` is Giles's single-precision polynomial ("Approximating the erfinv function", GPU Computing
Gems, 2010), the approximation XLA uses, with XLA's argument ``w = -log(1 - x*x)``; the logarithm is
computed here from ``+ - * /`` and an exponent split, so the NumPy kernel and a compiled kernel agree bit
for bit (float64 inputs use the accurate ``special_math.erf_inv``). ``fma`` is ``x * y + z`` rounded once,
as XLA contracts ``uniform``'s affine map on CPU.

Integer outputs have zero JVPs; ``erf_inv_fast``, ``fma`` and ``stage_break`` have JVPs; all batch, so they
work under ``jit``, ``vmap`` and ``grad``. Non-NumPy arrays (cupy) take whole-array paths.

Example:
    >>> [hex(int(v)) for v in _threefry_numpy(np.uint32(0), np.uint32(0), np.uint32(0), np.uint32(0))]
    ['0x6b200159', '0x99ba4efe']
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.errors import ShapeDtypeError
from ..core.jaxpr import param_printers
from ..core.trace import Primitive, ShapedArray
from . import special_math
from .common import broadcast_shapes, check_kinds, same_dtype

_U32 = np.dtype(np.uint32)
_U = np.uint32
ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
PARITY = 0x1BD11BDA
_CHUNK = 16384  # elements per chunk: the working set (a few 64 KiB buffers) stays in the L2 cache
_ROT = [[(_U(r), _U(32 - r)) for r in group] for group in ROTATIONS]
_SQRT2 = math.sqrt(2.0)


def _is_numpy(*xs: Any) -> bool:
    return all(isinstance(x, (np.ndarray, np.generic)) for x in xs)


# ---------------------------------------------------------------------------------------------------
# threefry2x32 kernels
# ---------------------------------------------------------------------------------------------------


def _threefry_generic(k0: Any, k1: Any, x0: Any, x1: Any) -> list:
    """Whole-array threefry2x32 written with operators (works for cupy arrays and NumPy alike)."""
    k2 = k0 ^ k1 ^ _U(PARITY)
    ks = (k0, k1, k2)
    x0 = x0 + k0
    x1 = x1 + k1
    for group in range(5):
        for r in ROTATIONS[group % 2]:
            x0 = x0 + x1
            x1 = (x1 << _U(r)) | (x1 >> _U(32 - r))
            x1 = x1 ^ x0
        x0 = x0 + ks[(group + 1) % 3]
        x1 = x1 + ks[(group + 2) % 3] + _U(group + 1)
    return [x0, x1]


_SMALL = 8  # at most this many blocks: hash with Python integers (110 ufunc calls cost more)
_MASK = 0xFFFFFFFF


def _threefry_int(k0: int, k1: int, x0: int, x1: int) -> tuple[int, int]:
    """One block with Python integers."""
    ks = (k0, k1, k0 ^ k1 ^ PARITY)
    x0 = (x0 + k0) & _MASK
    x1 = (x1 + k1) & _MASK
    for group in range(5):
        for r in ROTATIONS[group % 2]:
            x0 = (x0 + x1) & _MASK
            x1 = (((x1 << r) & _MASK) | (x1 >> (32 - r))) ^ x0
        x0 = (x0 + ks[(group + 1) % 3]) & _MASK
        x1 = (x1 + ks[(group + 2) % 3] + group + 1) & _MASK
    return x0, x1


def _threefry_small(k0: Any, k1: Any, c0: Any, c1: Any, out0: np.ndarray, out1: np.ndarray) -> None:
    """Blocks given as flat arrays or 0-d arrays (broadcast), into the flat ``out0``/``out1``."""

    def at(a: np.ndarray, i: int) -> int:
        return int(a) if a.ndim == 0 else int(a[i])

    for i in range(out0.size):
        out0[i], out1[i] = _threefry_int(at(k0, i), at(k1, i), at(c0, i), at(c1, i))


def _injections(k0: Any, k1: Any) -> list:
    """Per group, the words added to x0 and x1 after its four rounds, for one scalar key."""
    k0, k1 = int(k0), int(k1)
    ks = (k0, k1, k0 ^ k1 ^ PARITY)
    return [(_U(ks[(g + 1) % 3]), _U((ks[(g + 2) % 3] + g + 1) & 0xFFFFFFFF)) for g in range(5)]


def _rounds(y0: np.ndarray, y1: np.ndarray, t: np.ndarray, keys: Any) -> None:
    """The 20 rounds and key injections, in place on a chunk (``y0, y1`` already hold ``x + k``).

    ``keys`` is the list of ``_injections`` of a scalar key, or a tuple ``(k0, k1, k2)`` of chunk arrays.
    """
    add, shl, shr = np.add, np.left_shift, np.right_shift
    bor, bxor = np.bitwise_or, np.bitwise_xor
    scalar = isinstance(keys, list)
    for group in range(5):
        for left, right in _ROT[group % 2]:
            add(y0, y1, out=y0)
            shl(y1, left, out=t)
            shr(y1, right, out=y1)
            bor(y1, t, out=y1)
            bxor(y1, y0, out=y1)
        if scalar:
            a, b = keys[group]
            add(y0, a, out=y0)
            add(y1, b, out=y1)
        else:
            add(y0, keys[(group + 1) % 3], out=y0)
            add(y1, keys[(group + 2) % 3], out=y1)
            add(y1, _U(group + 1), out=y1)


def _flat_operand(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A 0-d array for a one-element operand, else the operand broadcast to ``shape`` and flattened."""
    if a.size == 1:
        return a.reshape(())
    return np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1)


def _threefry_numpy(k0: Any, k1: Any, x0: Any, x1: Any) -> list:
    """threefry2x32 on NumPy uint32 arrays (lax broadcasting), chunked, with in-place ufuncs."""
    operands = [np.asarray(a) for a in (k0, k1, x0, x1)]
    shape = np.broadcast_shapes(*[a.shape for a in operands])
    n = math.prod(shape)
    out0 = np.empty(shape, _U32)
    out1 = np.empty(shape, _U32)
    if n == 0:
        return [out0, out1]
    k0, k1, c0, c1 = [_flat_operand(a, shape) for a in operands]
    if n <= _SMALL:
        _threefry_small(k0, k1, c0, c1, out0.reshape(-1), out1.reshape(-1))
        return [out0, out1]
    scalar = k0.ndim == 0 and k1.ndim == 0
    if scalar:
        keys: Any = _injections(k0, k1)
    else:
        with np.errstate(over="ignore"):
            k2 = k0 ^ k1 ^ _U(PARITY)
    flat0, flat1 = out0.reshape(-1), out1.reshape(-1)
    scratch = np.empty(min(_CHUNK, n), _U32)

    def part(a: np.ndarray, start: int, stop: int) -> np.ndarray:
        return a if a.ndim == 0 else a[start:stop]

    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        y0, y1, t = flat0[start:stop], flat1[start:stop], scratch[: stop - start]
        np.add(part(c0, start, stop), part(k0, start, stop), out=y0)
        np.add(part(c1, start, stop), part(k1, start, stop), out=y1)
        if not scalar:
            keys = tuple(np.broadcast_to(part(k, start, stop), y0.shape) for k in (k0, k1, k2))
        _rounds(y0, y1, t, keys)
    return [out0, out1]


def _threefry_impl(k0: Any, k1: Any, x0: Any, x1: Any) -> list:
    if _is_numpy(k0, k1, x0, x1):
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
    broadcasting like lax (rank-0 operands, or equal ranks with dims equal or 1).

    Example:
        >>> threefry_2x32((fnp.uint32(0), fnp.uint32(0)), (fnp.uint32(0), fnp.arange(2, dtype=fnp.uint32)))
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
        return lax.bitwise_or(lax.shift_left(v, _U(r)), lax.shift_right_logical(v, _U(32 - r)))

    ks = (k0, k1, lax.bitwise_xor(lax.bitwise_xor(k0, k1), _U(PARITY)))
    x0 = lax.add(x0, k0)
    x1 = lax.add(x1, k1)
    for group in range(5):
        for r in ROTATIONS[group % 2]:
            x0 = lax.add(x0, x1)
            x1 = lax.bitwise_xor(rotl(x1, r), x0)
        x0 = lax.add(x0, ks[(group + 1) % 3])
        x1 = lax.add(x1, lax.add(ks[(group + 2) % 3], _U(group + 1)))  # key words first: often scalars
    return x0, x1


# ---------------------------------------------------------------------------------------------------
# The same draws composed of lax operations (what ``jit`` fuses into compiled kernels)
# ---------------------------------------------------------------------------------------------------


def _compose_words(k0: Any, k1: Any, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """Hashed words of counters ``0 .. prod(shape)-1`` under keys ``(k0, k1)`` of shape B, as lax ops."""
    from .. import lax

    lead = tuple(k0.shape)
    counters = lax.iota(_U32, math.prod(shape))
    full = (1,) * len(lead) + tuple(shape)
    if full != tuple(counters.shape):
        counters = lax.reshape(counters, full)
    if lead and shape:
        k0 = lax.reshape(k0, lead + (1,) * len(shape))
        k1 = lax.reshape(k1, lead + (1,) * len(shape))
    return threefry2x32_reference(k0, k1, _U(0), counters)


def compose_bits(k0: Any, k1: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """``random_bits`` as lax operations (same values)."""
    from .. import lax

    dtype = np.dtype(dtype)
    y0, y1 = _compose_words(k0, k1, shape)
    if dtype.itemsize == 8:
        high = lax.shift_left(lax.convert_element_type(y0, dtype), np.uint64(32))
        return lax.bitwise_or(high, lax.convert_element_type(y1, dtype))
    bits = lax.bitwise_xor(y0, y1)
    return bits if dtype == _U32 else lax.convert_element_type(bits, dtype)


def compose_uniform(k0: Any, k1: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """``random_uniform`` as lax operations: the top mantissa-width bits times 2**-nmant (exact, so the
    same floats as the mantissa construction)."""
    from .. import lax

    dtype = np.dtype(dtype)
    nmant = np.finfo(dtype).nmant
    if dtype.itemsize == 8:
        bits = compose_bits(k0, k1, shape, np.uint64)
        top = lax.shift_right_logical(bits, np.uint64(64 - nmant))
    else:
        bits = compose_bits(k0, k1, shape, _U32)
        if dtype.itemsize == 2:
            bits = lax.bitwise_and(bits, _U(0xFFFF))
        top = lax.shift_right_logical(bits, _U(dtype.itemsize * 8 - nmant))
    return lax.mul(lax.convert_element_type(top, dtype), dtype.type(2.0**-nmant))


def _lax_where(pred: Any, on_true: Any, on_false: Any) -> Any:
    from .. import lax
    from ..core.array import Array

    shape = tuple(pred.shape)
    cases = []
    for c in (on_true, on_false):
        if isinstance(c, (np.generic, float)):
            c = lax.broadcast_in_dim(Array(np.array(c, np.float32), False), shape, ())
        cases.append(c)
    return lax.select(pred, cases[0], cases[1])


def _split_binary(y: Any) -> tuple[Any, Any]:
    """``y = r * 2**-e`` with ``r`` in [0.5, 1] for ``y`` in (0, 1], by a binary search on the exponent
    (exact power-of-two scalings; the same ``r, e`` as ``frexp`` after ``_giles``'s adjustment)."""
    from .. import numpy as fnp

    e = fnp.zeros_like(y)
    for step in (16, 8, 4, 2, 1):
        small = y < np.float32(2.0**-step)
        y = _lax_where(small, y * np.float32(2.0**step), y)
        e = _lax_where(small, e + np.float32(step), e)
    return y, e


def giles_erf_inv(x: Any) -> Any:
    """Giles's float32 erf_inv as lax operations: the same float32 steps as ``erf_inv_fast``'s kernel, so
    the same values, and all of them fuse into a compiled ``jit`` kernel (no libm call)."""
    from .. import lax

    return _giles(x, _lax_where, lax.sqrt, lax.abs, _split_binary)


def compose_normal(k0: Any, k1: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """``random_normal`` (float32) as lax operations, in two fusible halves (bits to ``u``, then erf_inv)."""
    from .. import lax

    dtype = np.dtype(dtype)
    lo = np.nextafter(dtype.type(-1.0), dtype.type(0.0))
    top = lax.shift_right_logical(compose_bits(k0, k1, shape, _U32), _U(9))
    # (top * 2**-23) * 2 + lo, the first product folded (exact): u in [-1 + 2**-24, 1 - 2**-23]
    u = lax.add(lax.mul(lax.convert_element_type(top, dtype), dtype.type(2.0**-22)), lo)
    u = stage_break_p.bind(u)
    erf_inv = _giles(u, _lax_where, lax.sqrt, lax.abs, _split_binary, edges=False)  # |u| < 1
    return lax.mul(erf_inv, dtype.type(_SQRT2))


# A no-op that ends a fused jit kernel (its operand is materialised): the ~210 steps of a normal draw fuse
# best as two kernels of ~110 and ~90 steps rather than being cut wherever the kernel size limit falls.
stage_break_p = Primitive("stage_break", lambda x: x, lambda x: x)


# ---------------------------------------------------------------------------------------------------
# Finishing a chunk of hashed words: bits, unit floats, normals
# ---------------------------------------------------------------------------------------------------


def _finish_bits(width: int) -> Callable:
    def finish(y0: np.ndarray, y1: np.ndarray, t: np.ndarray, out: np.ndarray) -> None:
        if width == 64:
            out[...] = y0
            np.left_shift(out, np.uint64(32), out=out)
            np.bitwise_or(out, y1, out=out)
        elif width == 32:
            np.bitwise_xor(y0, y1, out=out)
        else:  # the low bits of the 32-bit value
            np.bitwise_xor(y0, y1, out=y0)
            np.copyto(out, y0, casting="unsafe")

    return finish


def _unit_into(y0: np.ndarray, y1: np.ndarray, t: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Floats in [0, 1) of ``dtype`` from the hashed words of a chunk (a view of scratch memory)."""
    if dtype == np.float32:
        np.bitwise_xor(y0, y1, out=y0)
        np.right_shift(y0, _U(9), out=y0)
        np.bitwise_or(y0, _U(0x3F800000), out=y0)
        floats = y0.view(np.float32)
        np.subtract(floats, np.float32(1.0), out=floats)
        return floats
    if dtype == np.float16:
        np.bitwise_xor(y0, y1, out=y0)
        np.bitwise_and(y0, _U(0xFFFF), out=y0)
        np.right_shift(y0, _U(6), out=y0)
        np.bitwise_or(y0, _U(0x3C00), out=y0)
        return y0.astype(np.uint16).view(np.float16) - np.float16(1.0)
    wide = y0.astype(np.uint64)  # float64: the 64-bit bits (y0 << 32) | y1
    np.left_shift(wide, np.uint64(32), out=wide)
    np.bitwise_or(wide, y1, out=wide)
    np.right_shift(wide, np.uint64(12), out=wide)
    np.bitwise_or(wide, np.uint64(0x3FF0000000000000), out=wide)
    floats = wide.view(np.float64)
    np.subtract(floats, 1.0, out=floats)
    return floats


def _finish_uniform(dtype: np.dtype) -> Callable:
    def finish(y0: np.ndarray, y1: np.ndarray, t: np.ndarray, out: np.ndarray) -> None:
        out[...] = _unit_into(y0, y1, t, dtype)

    return finish


def _finish_normal(dtype: np.dtype) -> Callable:
    # JAX: u = uniform(nextafter(-1, 0), 1) = max(lo, f * (1 - lo) + lo); 1 - lo rounds to 2, and f * 2 + lo
    # is exact (a multiple of 2**-(nmant+1) below 1 in magnitude), so no fused multiply-add is needed and
    # the max changes nothing. Then sqrt(2) * erf_inv(u), in the dtype.
    lo = np.nextafter(dtype.type(-1.0), dtype.type(0.0))
    sqrt2 = dtype.type(_SQRT2)

    def finish(y0: np.ndarray, y1: np.ndarray, t: np.ndarray, out: np.ndarray) -> None:
        u = _unit_into(y0, y1, t, dtype)
        np.multiply(u, dtype.type(2.0), out=u)
        np.add(u, lo, out=u)
        if dtype == np.float32:
            out[...] = _giles_numpy(u)
        elif dtype == np.float16:
            out[...] = _erf_inv_fast_impl(u)
        else:
            out[...] = special_math.erf_inv(u)
        np.multiply(out, sqrt2, out=out)

    return finish


def _draw_numpy(
    k0: np.ndarray, k1: np.ndarray, shape: tuple[int, ...], out: np.ndarray, finish: Callable
) -> None:
    """Hash counters ``0 .. prod(shape)-1`` under each key of ``(k0, k1)`` (same shape B) into ``out``
    (shape ``B + shape``), one cache-sized chunk at a time; ``finish`` turns a chunk's words into output."""
    m = math.prod(shape)
    total = out.size
    if total == 0:
        return
    flat_out = out.reshape(-1)
    size = min(_CHUNK, total)
    y0, y1, t = np.empty(size, _U32), np.empty(size, _U32), np.empty(size, _U32)
    base = np.arange(size, dtype=np.int64 if total >= 2**32 else _U32)
    scalar = k0.size == 1
    if scalar:
        key0, key1 = int(k0.reshape(())), int(k1.reshape(()))
        keys: Any = _injections(key0, key1)
    else:
        k0f, k1f = k0.reshape(-1), k1.reshape(-1)
        with np.errstate(over="ignore"):
            k2f = k0f ^ k1f ^ _U(PARITY)
    if total <= _SMALL:
        index = np.arange(total)
        owner = index // m
        keys0, keys1 = k0.reshape(-1)[owner], k1.reshape(-1)[owner]
        _threefry_small(keys0, keys1, np.zeros((), _U32), (index - owner * m).astype(_U32), y0, y1)
        finish(y0, y1, t, flat_out)
        return
    for start in range(0, total, _CHUNK):
        stop = min(start + _CHUNK, total)
        n = stop - start
        a0, a1, at = y0[:n], y1[:n], t[:n]
        if scalar:  # x0 = 0 + k0, x1 = i + k1 (mod 2**32)
            a0.fill(key0)
            np.add(base[:n], _U((start + key1) & 0xFFFFFFFF), out=a1, casting="unsafe")
        else:
            index = base[:n] + start
            owner = index // m
            counter = index - owner * m
            kc = (k0f[owner], k1f[owner], k2f[owner])
            a0[...] = kc[0]
            np.add(counter, kc[1], out=a1, casting="unsafe")
            keys = kc
        _rounds(a0, a1, at, keys)
        finish(a0, a1, at, flat_out[start:stop])


def _draw_generic(k0: Any, k1: Any, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """Whole-array hashed words for non-NumPy backends (cupy): shapes ``B + shape``."""
    xp = __import__(type(k0).__module__.split(".")[0])
    m = math.prod(shape)
    counters = xp.arange(m, dtype=xp.uint32).reshape((1,) * k0.ndim + tuple(shape))
    k0 = k0.reshape(k0.shape + (1,) * len(shape))
    k1 = k1.reshape(k1.shape + (1,) * len(shape))
    zero = xp.zeros((), xp.uint32)
    return tuple(_threefry_generic(k0, k1, zero, counters))


def _finish_generic(kind: str, y0: Any, y1: Any, dtype: np.dtype) -> Any:
    if kind == "bits":
        width = dtype.itemsize * 8
        if width == 64:
            return (y0.astype(dtype) << np.uint64(32)) | y1.astype(dtype)
        return (y0 ^ y1).astype(dtype)
    if dtype == np.float64:
        bits = (y0.astype(np.uint64) << np.uint64(32)) | y1.astype(np.uint64)
        floats = ((bits >> np.uint64(12)) | np.uint64(0x3FF0000000000000)).view(np.float64) - 1.0
    elif dtype == np.float32:
        floats = (((y0 ^ y1) >> _U(9)) | _U(0x3F800000)).view(np.float32) - np.float32(1.0)
    else:
        half = (((y0 ^ y1) & _U(0xFFFF)) >> _U(6)) | _U(0x3C00)
        floats = half.astype(np.uint16).view(np.float16) - np.float16(1.0)
    if kind == "uniform":
        return floats
    lo = np.nextafter(dtype.type(-1.0), dtype.type(0.0))
    u = floats * dtype.type(2.0) + lo
    return _erf_inv_fast_impl(u) * dtype.type(_SQRT2)


# ---------------------------------------------------------------------------------------------------
# The fused draw primitives
# ---------------------------------------------------------------------------------------------------


def _make_draw(kind: str) -> Primitive:
    """``random_<kind>[shape, dtype](k0, k1)``: one draw of ``shape`` per key, output ``k0.shape + shape``."""
    name = f"random_{kind}"

    def impl(k0: Any, k1: Any, *, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        out_shape = tuple(np.shape(k0)) + tuple(shape)
        if not _is_numpy(k0, k1):
            y0, y1 = _draw_generic(k0, k1, shape)
            return _finish_generic(kind, y0, y1, dtype)
        if kind == "bits":
            finish = _finish_bits(dtype.itemsize * 8)
        elif kind == "uniform":
            finish = _finish_uniform(dtype)
        else:
            finish = _finish_normal(dtype)
        out = np.empty(out_shape, dtype)
        with np.errstate(all="ignore"):
            _draw_numpy(np.asarray(k0), np.asarray(k1), tuple(shape), out, finish)
        return out

    def abstract_eval(
        k0: ShapedArray, k1: ShapedArray, *, shape: tuple[int, ...], dtype: np.dtype
    ) -> ShapedArray:
        if k0.dtype != _U32 or k1.dtype != _U32 or k0.shape != k1.shape:
            raise ShapeDtypeError(
                f"{name} takes the two uint32 key words of equal shapes, got {k0.str_short()}, {k1.str_short()}."
            )
        wanted = "u" if kind == "bits" else "f"
        if np.dtype(dtype).kind != wanted or np.dtype(dtype).itemsize not in (
            (1, 2, 4, 8) if kind == "bits" else (2, 4, 8)
        ):
            raise ShapeDtypeError(f"{name} cannot produce dtype {np.dtype(dtype).name}.")
        if math.prod(shape) >= 2**32:
            raise ShapeDtypeError(f"{name}: at most 2**32 - 1 values per key and call, got shape {shape}.")
        return ShapedArray(tuple(k0.shape) + tuple(shape), dtype)

    prim = Primitive(name, impl, abstract_eval, weak="never")
    param_printers[name] = lambda params: {"shape": params["shape"], "dtype": np.dtype(params["dtype"]).name}
    return prim


random_bits_p = _make_draw("bits")
random_uniform_p = _make_draw("uniform")
random_normal_p = _make_draw("normal")


# ---------------------------------------------------------------------------------------------------
# erf_inv (Giles) and fma
# ---------------------------------------------------------------------------------------------------

# Giles (2010), single precision: central branch (w < 5) and tail branch, highest coefficient first.
# Giles' published coefficients (see special_math.erf_inv), evaluated in float32 as JAX does.
_GILES_CENTRAL_F32 = [np.float32(c) for c in special_math._GILES_CENTRAL]
_GILES_TAIL_F32 = [np.float32(c) for c in special_math._GILES_TAIL]


_LN2_HI = np.float32(0.693145751953125)  # 16 significant bits: e * _LN2_HI is exact for |e| < 2**8
_LN2_LO = np.float32(1.4286068203094172e-06)
_SQRT_HALF = np.float32(0.70710677)
_LOG_SERIES = [np.float32(2.0 / k) for k in (9, 7, 5, 3, 1)]  # log r = s * sum 2 s^(2j) / (2j + 1)


def _frexp_split(y: Any) -> tuple[Any, Any]:
    """``y = r * 2**-e``, ``r`` in [0.5, 1), with ``frexp`` (NumPy or CuPy arrays)."""
    xp = np if isinstance(y, (np.ndarray, np.generic)) else __import__(type(y).__module__.split(".")[0])
    r, ex = xp.frexp(y)
    return r, (-ex).astype(np.float32)


def _giles(
    x: Any, where: Callable, sqrt: Callable, absolute: Callable, split: Callable, edges: bool = True
) -> Any:
    """Giles's single-precision erf_inv of float32 ``x``, written once for NumPy, CuPy and lax operands.

    ``w = -log(1 - x*x)`` (the argument XLA uses) with the logarithm computed here (exponent split,
    then ``log r = 2 atanh((r - 1) / (r + 1))`` as a short series), so every step is a float32 ``+ - * /``,
    ``sqrt`` or select: the NumPy kernel and a compiled ``jit`` kernel agree bit for bit, and nothing calls
    libm's scalar ``log1pf``. Then the central (w < 5) or tail polynomial, times x.
    """
    f = np.float32
    y = -(x * x) + f(1.0)
    r, e = split(y)  # y = r * 2**-e
    low = r < _SQRT_HALF
    r = where(low, r * f(2.0), r)
    e = where(low, e + f(1.0), e)
    z = (r - f(1.0)) / (r + f(1.0))
    z2 = z * z
    series = z2 * _LOG_SERIES[0] + _LOG_SERIES[1]
    for c in _LOG_SERIES[2:]:
        series = series * z2 + c
    w = e * _LN2_HI - (z * series - e * _LN2_LO)  # -log(y)
    t = w - f(2.5)
    central = t * _GILES_CENTRAL_F32[0]
    for c in _GILES_CENTRAL_F32[1:-1]:
        central = (central + c) * t
    central = central + _GILES_CENTRAL_F32[-1]
    st = sqrt(w) - f(3.0)
    tail = st * _GILES_TAIL_F32[0] + _GILES_TAIL_F32[1]
    for c in _GILES_TAIL_F32[2:]:
        tail = tail * st + c
    p = where(w < f(5.0), central, tail)
    if not edges:  # |x| < 1 is known: the selects below would pass p * x through unchanged
        return p * x
    ax = absolute(x)
    p = where(ax == f(1.0), f(np.inf), p)  # +-inf at +-1 once multiplied by x
    return where(ax <= f(1.0), p * x, f(np.nan))  # NaN outside [-1, 1] and for NaN


def _giles_numpy(x: np.ndarray) -> np.ndarray:
    return _giles(x, np.where, np.sqrt, np.abs, _frexp_split).astype(np.float32, copy=False)


def _erf_inv_fast_impl(x: Any) -> Any:
    if x.dtype == np.float64:
        return special_math.erf_inv(x) if _is_numpy(x) else _giles_generic(x)
    if not _is_numpy(x):
        return _giles_generic(x)
    dtype = x.dtype
    arr = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty(arr.shape, np.float32)
    with np.errstate(all="ignore"):
        for start in range(0, arr.size, _CHUNK):
            stop = min(start + _CHUNK, arr.size)
            out[start:stop] = _giles_numpy(arr[start:stop])
    out = out.reshape(np.shape(x)).astype(dtype, copy=False)
    return out[()] if out.ndim == 0 else out


def _giles_generic(x: Any) -> Any:
    """Whole-array Giles for CuPy arrays (float64 input is computed in float32 here)."""
    xp = __import__(type(x).__module__.split(".")[0])
    out = _giles(x.astype(np.float32), xp.where, xp.sqrt, xp.abs, _frexp_split)
    return out.astype(x.dtype)


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
    if _is_numpy(x, y, z):
        out = _fma64(*np.broadcast_arrays(np.asarray(x), np.asarray(y), np.asarray(z)))
        return out[()] if out.ndim == 0 else out
    return x * y + z


def _fma_aval(x: ShapedArray, y: ShapedArray, z: ShapedArray) -> ShapedArray:
    dtype = same_dtype("fma", x, y, z)
    check_kinds("fma", x, "f")
    shape = broadcast_shapes("fma", x.shape, y.shape, z.shape)
    return ShapedArray(shape, dtype, x.weak_type and y.weak_type and z.weak_type)


# x * y + z with one rounding (float16/32 exactly; float64 up to rare ties), as XLA contracts them on CPU.
fma_p = Primitive("fma", _fma_impl, _fma_aval)


# ---------------------------------------------------------------------------------------------------
# Transformation rules
# ---------------------------------------------------------------------------------------------------

from ..core.trace import aval_of  # noqa: E402
from ..transforms.ad import Zero, add_tangents, defjvp_zero, deflinear, tangent_aval  # noqa: E402
from ..transforms.batching import (  # noqa: E402
    bdim_at_front,
    broadcast_operands,
    broadcasting,
    vectorized,
)
from .elementwise import exp_p, mul_p  # noqa: E402
from .shape import broadcast_in_dim_p  # noqa: E402

for _p in (threefry2x32_p, random_bits_p, random_uniform_p, random_normal_p):
    defjvp_zero(_p)


def _threefry_batch(axis_size: int, vals: list, dims: list) -> tuple[list, list]:
    batched = [(v, d) for v, d in zip(vals, dims) if d is not None]
    first_v, first_d = batched[0]
    same = all(d == first_d and v.ndim == first_v.ndim for v, d in batched) and all(
        d is not None or v.ndim == 0 for v, d in zip(vals, dims)
    )
    if same:
        return threefry2x32_p.bind(*vals), [first_d, first_d]
    return threefry2x32_p.bind(*broadcast_operands(vals, dims)), [0, 0]


def _draw_batch(prim: Primitive) -> Callable:
    def rule(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, int]:
        # The keys' shape leads the output, so batching the keys (batch first) batches the draw.
        k0, k1 = (bdim_at_front(v, d, axis_size) for v, d in zip(vals, dims))
        return prim.bind(k0, k1, **params), 0

    return rule


threefry2x32_p.batch = _threefry_batch
for _p in (random_bits_p, random_uniform_p, random_normal_p):
    _p.batch = _draw_batch(_p)
vectorized(erf_inv_fast_p)
vectorized(stage_break_p)
deflinear(stage_break_p, lambda ct, x: [ct])
broadcasting(fma_p)


def _erf_inv_fast_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    y = erf_inv_fast_p.bind(x)
    if type(t) is Zero:
        return y, Zero(tangent_aval(aval_of(y)))
    from ..core.array import Array

    half_sqrt_pi = Array(np.asarray(np.sqrt(np.pi) / 2.0, dtype=aval_of(y).dtype), False)
    scale = mul_p.bind(half_sqrt_pi, exp_p.bind(mul_p.bind(y, y)))
    return y, mul_p.bind(t, scale)


erf_inv_fast_p.jvp = _erf_inv_fast_jvp


def _to_shape(t: Any, shape: tuple[int, ...]) -> Any:
    if tuple(t.shape) == shape:
        return t
    dims = tuple(range(len(shape))) if t.ndim else ()
    return broadcast_in_dim_p.bind(t, shape=shape, broadcast_dimensions=dims, sharding=None)


def _fma_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    x, y, z = primals
    tx, ty, tz = tangents
    out = fma_p.bind(x, y, z)
    shape = tuple(aval_of(out).shape)
    total: Any = Zero(tangent_aval(aval_of(out)))
    if type(tx) is not Zero:
        total = add_tangents(total, _to_shape(mul_p.bind(tx, y), shape))
    if type(ty) is not Zero:
        total = add_tangents(total, _to_shape(mul_p.bind(x, ty), shape))
    if type(tz) is not Zero:
        total = add_tangents(total, _to_shape(tz, shape))
    return out, total


fma_p.jvp = _fma_jvp
