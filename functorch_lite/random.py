"""``functorch_lite.random``: counter-based, splittable pseudo-random numbers that give JAX's bits.

Keys are threefry2x32 keys (two uint32 words). ``PRNGKey(seed)`` returns the raw ``uint32[2]`` array (JAX's
legacy keys); ``key(seed)`` returns a typed key array (``PRNGKeyArray``, printed ``Array((), dtype=key<fry>)``)
over the same data. Every function accepts either and returns keys of the kind it was given.

Random bits follow JAX's default (``jax_threefry_partitionable=True`` since JAX 0.5): element ``i`` of a
draw of shape ``s`` (row-major index ``i`` written as two 32-bit words ``(hi, lo)``) is
``threefry2x32(key, (hi, lo))``; 32-bit draws xor the two output words, 64-bit ones concatenate them and
8/16-bit ones keep the low bits of the 32-bit value. ``split(key, n)`` takes key ``i`` as both output words
of counter ``i``; ``fold_in(key, d)`` hashes the counter ``(0, d)``.

Distributions use JAX's transforms, so ``PRNGKey``, ``split``, ``fold_in``, ``bits``, ``uniform``,
``randint``, ``bernoulli``, ``permutation`` and ``choice`` give JAX's values bit for bit, and the
floating-point transforms (``normal``, ``gamma``, ...) agree with JAX to float32 rounding.

Everything is built from primitives (``primitives/random_bits.py`` plus lax), so it works eagerly, under
``jit``, ``vmap`` (e.g. over a batch of keys) and ``grad`` (reparameterised samples such as
``mu + sigma * normal(key)``, or ``uniform``'s ``minval``/``maxval``). Draws run as chunked NumPy kernels,
except when traced for a ``jit`` that compiles fused C kernels: then they are staged as lax operations
that fuse into compiled loops (same values; see ``_fusing``).

Differences from JAX: ``mode="high"`` (bernoulli, gumbel, categorical, choice) is not supported;
``gamma``'s rejection loop runs a fixed number of masked rounds under ``jit`` (6 outer, 4 inner: an element
still rejected after them, probability below 1e-7, keeps its last candidate), eagerly until all accept.

Example:
    >>> from functorch_lite import random
    >>> k = random.PRNGKey(0)
    >>> k1, k2 = random.split(k)
    >>> random.normal(k1, (3,))
    >>> fl.vmap(lambda k: random.uniform(k, (2,)))(random.split(k, 4)).shape
    (4, 2)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import lax, tree_util
from . import numpy as fnp
from .core import dtypes
from .core.array import Array
from .core.config import config
from .core.staging import StagingTrace
from .core.trace import Tracer, current_trace
from .primitives.random_bits import (
    compose_bits,
    compose_normal,
    compose_uniform,
    erf_inv_fast_p,
    fma_p,
    random_bits_p,
    random_normal_p,
    random_uniform_p,
    threefry2x32_p,
)

__all__ = [
    "PRNGKey",
    "PRNGKeyArray",
    "bernoulli",
    "beta",
    "bits",
    "categorical",
    "choice",
    "dirichlet",
    "exponential",
    "fold_in",
    "gamma",
    "gumbel",
    "key",
    "key_data",
    "loggamma",
    "multivariate_normal",
    "normal",
    "permutation",
    "randint",
    "split",
    "truncated_normal",
    "uniform",
    "wrap_key_data",
]

_U32 = np.dtype(np.uint32)
_MASK32 = 0xFFFFFFFF

# ---------------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------------


class KeyDtype:
    """The dtype of typed key arrays: ``key<fry>`` (threefry2x32, two uint32 words per key)."""

    name = "key<fry>"
    impl = "threefry2x32"
    key_shape = (2,)

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyDtype) or other == self.name

    def __hash__(self) -> int:
        return hash(self.name)


key_fry = KeyDtype()


class PRNGKeyArray:
    """An array of typed threefry keys over uint32 data of shape ``(*shape, 2)`` (see ``key``).

    It is a pytree node whose one child is that data, so it passes through ``jit`` and ``vmap`` (a key
    batch is mapped along its leading axis). Index it like an array: ``keys[0]``, ``for k in keys``.

    Example:
        >>> random.key(0)
        Array((), dtype=key<fry>) overlaying:
        [0 0]
    """

    __slots__ = ("_base",)
    dtype = key_fry

    def __init__(self, base: Any):
        self._base = base

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._base.shape[:-1])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d key array)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d key array")
        return (self[i] for i in range(self.shape[0]))

    def __getitem__(self, index: Any) -> PRNGKeyArray:
        index = index if isinstance(index, tuple) else (index,)
        if any(i is Ellipsis for i in index):
            index = index + (slice(None),)  # the ellipsis must not swallow the key-data axis
        return PRNGKeyArray(self._base[index])

    def reshape(self, *shape: Any) -> PRNGKeyArray:
        """Reshape the key array (the key data axis stays last)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return PRNGKeyArray(fnp.reshape(self._base, tuple(shape) + (2,)))

    def __eq__(self, other: object) -> Any:
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        return fnp.all(self._base == other._base, axis=-1)

    def __ne__(self, other: object) -> Any:
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        return fnp.any(self._base != other._base, axis=-1)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if isinstance(self._base, Tracer):
            return f"Traced<key<fry>[{','.join(map(str, self.shape))}]>"
        return f"Array({self.shape}, dtype=key<fry>) overlaying:\n{np.asarray(self._base)}"


tree_util.register_pytree_node(PRNGKeyArray, lambda k: ((k._base,), None), lambda _, ch: PRNGKeyArray(ch[0]))


def _is_array(x: Any) -> bool:
    return isinstance(x, (Array, Tracer))


def _check_key_data(data: Any) -> Any:
    """Validate raw key data (uint32, last axis of size 2) and return it as an Array or tracer."""
    if isinstance(data, PRNGKeyArray):
        return data._base
    if not _is_array(data) and not isinstance(data, np.ndarray):
        raise TypeError(
            f"Expected a PRNG key (from random.PRNGKey(seed) or random.key(seed)), got {type(data).__name__} "
            f"{data!r}."
        )
    data = fnp.asarray(data)
    if data.dtype != _U32:
        raise TypeError(
            f"invalid PRNG key data: expected key_data.dtype = uint32; got dtype={data.dtype}. Create keys "
            "with random.PRNGKey(seed) or random.key(seed) (a float or int array is not a key)."
        )
    if data.ndim < 1 or data.shape[-1] != 2:
        raise TypeError(
            f"invalid PRNG key data: expected key_data.shape to end with (2,); got shape={tuple(data.shape)} "
            "for the threefry2x32 implementation."
        )
    return data


def _single_key(key: Any, name: str) -> tuple[Any, bool]:
    """The raw uint32[2] data of one key and whether it was typed; errors for batches and non-keys."""
    typed = isinstance(key, PRNGKeyArray)
    raw = _check_key_data(key)
    if tuple(raw.shape) != (2,):
        shape = tuple(raw.shape[:-1]) if typed else tuple(raw.shape)
        raise ValueError(
            f"{name} accepts a single key, but was given a key array of shape {shape} != (). Use "
            "functorch_lite.vmap for batching (e.g. vmap(lambda k: random.normal(k, s))(keys))."
        )
    return raw, typed


def _wrap(raw: Any, typed: bool) -> Any:
    return PRNGKeyArray(raw) if typed else raw


def _u32(value: int) -> Array:
    return Array(np.array(value, dtype=_U32), False)


def _eager(*xs: Any) -> bool:
    """No transformation is active and every value is a concrete Array: use NumPy directly (fast path)."""
    return current_trace() is None and all(type(x) is Array for x in xs)


def _words(raw: Any) -> tuple[Any, Any]:
    """The two uint32 words of raw keys ``(*lead, 2)``, each of shape ``lead``."""
    if _eager(raw):
        value = raw._value
        return Array(value[..., 0], False), Array(value[..., 1], False)
    lead = tuple(raw.shape[:-1])
    zeros = (0,) * len(lead)
    first = lax.slice(raw, zeros + (0,), lead + (1,))
    second = lax.slice(raw, zeros + (1,), lead + (2,))
    return lax.reshape(first, lead), lax.reshape(second, lead)


def _stack_words(w0: Any, w1: Any) -> Any:
    if _eager(w0, w1):
        return Array(np.stack([np.asarray(w0._value), np.asarray(w1._value)], axis=-1), False)
    nd = w0.ndim
    return lax.concatenate([lax.expand_dims(w0, (nd,)), lax.expand_dims(w1, (nd,))], nd)


def _seed_words(seed: Any, name: str) -> Any:
    """JAX's threefry seeding: key = (high 32 bits, low 32 bits) of the integer seed (high = 0 unless x64)."""
    if isinstance(seed, PRNGKeyArray):
        raise TypeError(f"{name} expects an integer seed, got a key array; use it directly as a key.")
    if type(seed) is bool:
        seed = int(seed)
    if type(seed) is int:
        if not -(2**63) <= seed < 2**63:
            raise OverflowError(f"{name}: the seed {seed} does not fit in a 64-bit signed integer.")
        high = (seed >> 32) & _MASK32 if config.enable_x64 else 0
        return Array(np.array([high, seed & _MASK32], dtype=_U32), False)
    if isinstance(seed, (float, complex)):
        raise TypeError(f"PRNG key seed must be an integer; got {seed!r}.")
    seed = fnp.asarray(seed)
    if seed.ndim:
        raise TypeError(
            f"{name} accepts a scalar seed, but was given an array of shape {tuple(seed.shape)} != (). Use "
            "functorch_lite.vmap for batching."
        )
    if seed.dtype.kind not in "iub":
        raise TypeError(f"PRNG key seed must be an integer; got an array of dtype {seed.dtype}.")
    low = lax.convert_element_type(seed, _U32)
    if seed.dtype.itemsize == 8:
        high = lax.convert_element_type(lax.shift_right_logical(seed, seed.dtype.type(32)), _U32)
    else:
        high = lax.mul(low, np.uint32(0))  # zero, batched like the seed under vmap
    return _stack_words(high, low)


def PRNGKey(seed: Any) -> Any:
    """A raw threefry key, ``uint32[2]`` = ``[seed >> 32, seed & 0xFFFFFFFF]`` (the high word is 0 without x64).

    Example: ``random.PRNGKey(42)`` is ``Array([ 0, 42], dtype=uint32)``.
    """
    return _seed_words(seed, "PRNGKey")


def key(seed: Any) -> PRNGKeyArray:
    """A typed key (dtype ``key<fry>``, shape ``()``) over ``PRNGKey(seed)``'s data.

    Example: ``random.key(0)`` prints ``Array((), dtype=key<fry>) overlaying: [0 0]``.
    """
    return PRNGKeyArray(_seed_words(seed, "key"))


def key_data(keys: Any) -> Any:
    """The uint32 data under typed keys (shape ``keys.shape + (2,)``); raw keys are returned as they are.

    Example: ``random.key_data(random.key(3))`` is ``Array([0, 3], dtype=uint32)``.
    """
    return _check_key_data(keys)


def wrap_key_data(key_bits_array: Any) -> PRNGKeyArray:
    """Typed keys over uint32 data whose last axis has size 2.

    Example: ``random.wrap_key_data(random.PRNGKey(0))`` equals ``random.key(0)``.
    """
    if isinstance(key_bits_array, PRNGKeyArray):
        raise TypeError("wrap_key_data expects uint32 key data, got a typed key array (use it directly).")
    return PRNGKeyArray(_check_key_data(key_bits_array))


# ---------------------------------------------------------------------------------------------------
# Hashing counters: split, fold_in, bits
# ---------------------------------------------------------------------------------------------------


def _shape(shape: Any, name: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        out = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(
            f"{name}: shapes must be 1D sequences of concrete values of integer type, got {shape!r}. Under "
            "jit, pass shapes and counts as static arguments (jit(f, static_argnums=...))."
        ) from None
    if any(d < 0 for d in out):
        raise ValueError(f"{name}: shape {out} has a negative dimension.")
    return out


def _hash(raw: Any, shape: tuple[int, ...]) -> tuple[Any, Any]:
    """threefry2x32 of the counters ``0 .. prod(shape) - 1`` (row-major) under raw keys ``(*lead, 2)``:
    two uint32 arrays of shape ``lead + shape``."""
    lead = tuple(raw.shape[:-1])
    n = math.prod(shape)
    if n >= 2**32:
        raise ValueError(
            f"cannot draw {n} random values at once (at most 2**32 - 1 per call); split the key."
        )
    if _eager(raw):
        value = raw._value
        k0, k1 = (
            value[..., 0].reshape(lead + (1,) * len(shape)),
            value[..., 1].reshape(lead + (1,) * len(shape)),
        )
        low = np.arange(n, dtype=_U32).reshape((1,) * len(lead) + shape)
        y0, y1 = threefry2x32_p.impl(k0, k1, np.uint32(0), low)
        return Array(y0, False), Array(y1, False)
    k0, k1 = _words(raw)
    if lead and shape:
        k0 = lax.reshape(k0, lead + (1,) * len(shape))
        k1 = lax.reshape(k1, lead + (1,) * len(shape))
    low = lax.iota(_U32, n)
    if tuple(low.shape) != (1,) * len(lead) + shape:
        low = lax.reshape(low, (1,) * len(lead) + shape)
    out = threefry2x32_p.bind(k0, k1, _u32(0), low)
    return out[0], out[1]


def _split_raw(raw: Any, shape: tuple[int, ...]) -> Any:
    w0, w1 = _hash(raw, shape)
    return _stack_words(w0, w1)


def _split2(raw: Any) -> tuple[Any, Any]:
    keys = _split_raw(raw, (2,))
    return _index_lead(keys, 0), _index_lead(keys, 1)


def _index_lead(keys: Any, i: int) -> Any:
    """``keys[..., i, :]`` for raw keys of shape ``(*lead, n, 2)``."""
    nd = keys.ndim
    start = [0] * nd
    limit = list(keys.shape)
    start[nd - 2], limit[nd - 2] = i, i + 1
    out = lax.slice(keys, start, limit)
    return lax.reshape(out, tuple(keys.shape[: nd - 2]) + (2,))


def _fusing(size: int) -> bool:
    """Whether to stage a draw of ``size`` values as lax operations rather than one NumPy-kernel primitive:
    when tracing for ``jit`` and ``jit`` builds fused C kernels, the ~120 elementwise steps of a draw become
    one compiled loop (several times faster than the chunked NumPy kernel, which stays the eager path)."""
    trace = current_trace()
    while trace is not None and type(trace) is not StagingTrace:
        trace = trace.parent
    if trace is None:
        return False
    try:
        from .compiler import cpu

        if not cpu.kernels_enabled() or size < max(cpu.settings.min_elements, 1024):
            return False
        cpu.find_compiler()
    except Exception:  # no kernel backend, or no compiler: the primitives run on NumPy
        return False
    return True


def _bits_raw(raw: Any, shape: tuple[int, ...], nbits: int, fuse: bool = True) -> Any:
    """Random bits of ``shape`` per raw key ``(*lead, 2)``: shape ``lead + shape``, dtype ``uint{nbits}``."""
    k0, k1 = _words(raw)
    dtype = np.dtype(f"uint{nbits}")
    if fuse and _fusing(math.prod(raw.shape[:-1]) * math.prod(shape)):
        return compose_bits(k0, k1, shape, dtype)
    return random_bits_p.bind(k0, k1, shape=shape, dtype=dtype)


def split(key: Any, num: int | Sequence[int] = 2) -> Any:
    """``num`` new keys (a shape tuple gives an array of keys of that shape), independent of ``key``.

    Example: ``k1, k2 = random.split(random.PRNGKey(0))``; ``random.split(key, (2, 3))`` has key shape (2, 3).
    """
    raw, typed = _single_key(key, "split")
    return _wrap(_split_raw(raw, _shape(num, "split")), typed)


def fold_in(key: Any, data: Any) -> Any:
    """A new key from ``key`` and a 32-bit integer ``data`` (e.g. a step or a device index).

    Example: ``random.fold_in(random.PRNGKey(0), step)``.
    """
    raw, typed = _single_key(key, "fold_in")
    if type(data) is bool:
        data = int(data)
    if type(data) is int:
        if not 0 <= data < 2**32:
            raise OverflowError(f"fold_in: Python integer {data} out of bounds for uint32.")
        word = _u32(data)
    else:
        arr = fnp.asarray(data)
        if arr.dtype.kind not in "iub" or arr.ndim:
            raise TypeError(
                f"fold_in expects a scalar integer, got {arr.dtype} array of shape {tuple(arr.shape)}."
            )
        word = lax.convert_element_type(arr, _U32)
    k0, k1 = _words(raw)
    w0, w1 = threefry2x32_p.bind(k0, k1, _u32(0), word)
    return _wrap(_stack_words(w0, w1), typed)


def bits(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Any:
    """Uniform random bits: an unsigned integer array (uint32 by default; uint8/16/64 too).

    Example: ``random.bits(random.PRNGKey(0), (4,))`` is ``[4070199207, 4202968722, 1427181096, 2012915765]``.
    """
    raw, _ = _single_key(key, "bits")
    dtype = dtypes.canonicalize_dtype(np.uint32 if dtype is None else dtype)
    if dtype.kind != "u":
        raise ValueError(f"dtype argument to `bits` must be an unsigned int dtype, got {dtype}.")
    return _bits_raw(raw, _shape(shape, "bits"), dtype.itemsize * 8)


# ---------------------------------------------------------------------------------------------------
# Continuous distributions
# ---------------------------------------------------------------------------------------------------


def _float_dtype(dtype: Any, name: str, complex_ok: bool = False) -> np.dtype:
    dtype = dtypes.canonicalize_dtype(dtypes.default_float() if dtype is None else dtype)
    if dtype.kind != "f" and not (complex_ok and dtype.kind == "c"):
        kinds = "a float or complex" if complex_ok else "a float"
        raise ValueError(f"dtype argument to `{name}` must be {kinds} dtype, got {dtype}.")
    return dtype


def _as_dtype(x: Any, dtype: np.dtype) -> Any:
    if _is_array(x):
        return x if x.dtype == dtype else lax.convert_element_type(x, dtype)
    return Array(np.asarray(x, dtype=dtype), False)


def _check_shape(name: str, shape: tuple[int, ...], *param_shapes: tuple[int, ...]) -> None:
    try:
        ok = np.broadcast_shapes(shape, *param_shapes) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} parameter shapes must be broadcast-compatible with the shape argument, and broadcasting "
            f"them must give the shape argument. Got shape={shape} and parameter shapes "
            f"{', '.join(map(str, param_shapes))}."
        )


def _is_python_value(x: Any, value: float) -> bool:
    return type(x) in (int, float) and x == value


def _uniform_raw(
    raw: Any, shape: tuple[int, ...], dtype: np.dtype, minval: Any = 0.0, maxval: Any = 1.0, fuse: bool = True
) -> Any:
    k0, k1 = _words(raw)
    if fuse and dtype != np.float16 and _fusing(math.prod(raw.shape[:-1]) * math.prod(shape)):
        floats = compose_uniform(k0, k1, shape, dtype)
    else:
        floats = random_uniform_p.bind(k0, k1, shape=shape, dtype=dtype)
    if _is_python_value(minval, 0.0) and _is_python_value(maxval, 1.0):
        return floats  # floats * 1 + 0 (and the max with 0) change nothing
    lo = fnp.broadcast_to(_as_dtype(minval, dtype), floats.shape)
    hi = fnp.broadcast_to(_as_dtype(maxval, dtype), floats.shape)
    # JAX: max(minval, floats * (maxval - minval) + minval), the multiply-add fused (one rounding).
    return lax.max(lo, fma_p.bind(floats, lax.sub(hi, lo), lo))


def uniform(
    key: Any, shape: Sequence[int] = (), dtype: Any = None, minval: Any = 0.0, maxval: Any = 1.0
) -> Any:
    """Uniform floats in ``[minval, maxval)`` (float32 by default).

    Example: ``random.uniform(random.PRNGKey(0), (2,), minval=-1.0, maxval=1.0)``.
    """
    raw, _ = _single_key(key, "uniform")
    dtype = _float_dtype(dtype, "uniform")
    shape = _shape(shape, "uniform")
    _check_shape("uniform", shape, np.shape(minval), np.shape(maxval))
    return _uniform_raw(raw, shape, dtype, minval, maxval)


def _normal_real(raw: Any, shape: tuple[int, ...], dtype: np.dtype, fuse: bool = True) -> Any:
    # JAX: sqrt(2) * erf_inv(uniform(key, shape, dtype, nextafter(-1, 0), 1)), fused into one kernel.
    k0, k1 = _words(raw)
    if fuse and dtype == np.float32 and _fusing(math.prod(raw.shape[:-1]) * math.prod(shape)):
        return compose_normal(k0, k1, shape, dtype)
    return random_normal_p.bind(k0, k1, shape=shape, dtype=dtype)


def _normal_raw(raw: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    if dtype.kind == "c":
        real = np.dtype(np.float32 if dtype == np.complex64 else np.float64)
        k_re, k_im = _split2(raw)
        re = _normal_real(k_re, shape, real)
        im = _normal_real(k_im, shape, real)
        scale = real.type(1.0 / np.sqrt(2.0))
        return lax.mul(
            lax.add(
                lax.convert_element_type(re, dtype),
                lax.mul(lax.convert_element_type(im, dtype), dtype.type(1j)),
            ),
            dtype.type(scale),
        )
    return _normal_real(raw, shape, dtype)


def normal(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Any:
    """Standard normal samples (float32 by default; complex dtypes give a standard complex normal).

    Example: ``mu + sigma * random.normal(key, (n,))`` is differentiable in ``mu`` and ``sigma``.
    """
    raw, _ = _single_key(key, "normal")
    dtype = _float_dtype(dtype, "normal", complex_ok=True)
    return _normal_raw(raw, _shape(shape, "normal"), dtype)


def truncated_normal(
    key: Any, lower: Any, upper: Any, shape: Sequence[int] | None = None, dtype: Any = None
) -> Any:
    """Standard normal samples truncated to ``(lower, upper)`` (inverse-CDF method, as JAX).

    Example: ``random.truncated_normal(key, -2.0, 2.0, (1000,))``.
    """
    raw, _ = _single_key(key, "truncated_normal")
    dtype = _float_dtype(dtype, "truncated_normal")
    if shape is None:
        shape = np.broadcast_shapes(np.shape(lower), np.shape(upper))
    else:
        shape = _shape(shape, "truncated_normal")
        _check_shape("truncated_normal", shape, np.shape(lower), np.shape(upper))
    sqrt2 = dtype.type(np.sqrt(2.0))
    lower = _as_dtype(lower, dtype)
    upper = _as_dtype(upper, dtype)
    a = lax.erf(lax.div(lower, sqrt2))
    b = lax.erf(lax.div(upper, sqrt2))
    u = _uniform_raw(raw, shape, dtype, a, b)
    out = lax.mul(erf_inv_fast_p.bind(u), sqrt2)
    inf = dtype.type(np.inf)
    lo = fnp.broadcast_to(lax.nextafter(lax.stop_gradient(lower), inf), shape)
    hi = fnp.broadcast_to(lax.nextafter(lax.stop_gradient(upper), -inf), shape)
    return fnp.clip(out, lo, hi)


def exponential(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Any:
    """Exponential(1) samples: ``-log1p(-u)`` for uniform ``u``.

    Example: ``random.exponential(key, (10,)) / rate``.
    """
    raw, _ = _single_key(key, "exponential")
    dtype = _float_dtype(dtype, "exponential")
    u = _uniform_raw(raw, _shape(shape, "exponential"), dtype)
    return lax.neg(lax.log1p(lax.neg(u)))


def _check_mode(mode: Any, name: str) -> None:
    if mode not in (None, "low"):
        raise NotImplementedError(f"{name}: only mode='low' (JAX's default) is supported, got mode={mode!r}.")


def _gumbel_raw(raw: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    tiny = float(np.finfo(dtype).tiny)
    u = _uniform_raw(raw, shape, dtype, tiny, 1.0)
    return lax.neg(lax.log(lax.neg(lax.log(u))))


def gumbel(key: Any, shape: Sequence[int] = (), dtype: Any = None, mode: str | None = None) -> Any:
    """Standard Gumbel samples: ``-log(-log(u))`` with ``u`` uniform in ``[tiny, 1)``.

    Example: ``random.gumbel(key, (5,))``.
    """
    raw, _ = _single_key(key, "gumbel")
    _check_mode(mode, "gumbel")
    dtype = _float_dtype(dtype, "gumbel")
    return _gumbel_raw(raw, _shape(shape, "gumbel"), dtype)


# ---------------------------------------------------------------------------------------------------
# Gamma family (Marsaglia-Tsang), with JAX's per-element key sequence
# ---------------------------------------------------------------------------------------------------

_GAMMA_ROUNDS = 6  # outer rejection rounds; each rejects with probability < 0.05
_GAMMA_INNER_ROUNDS = 4  # rounds of the v <= 0 loop; each repeats with probability < 0.01


def _gamma_elements(keys: Any, alpha: Any, log_space: bool) -> Any:
    """One Gamma(alpha[i]) sample per key ``keys[i]`` (shapes ``(n, 2)`` and ``(n,)``).

    Marsaglia and Tsang, "A simple method for generating gamma variables" (2000), with the key of each
    element split exactly as JAX's per-element loop does, so the samples match JAX's. The loops run a fixed
    number of rounds with masks (elements that accepted keep their state); eagerly, rounds continue until
    every element has accepted, so only an astronomically unlikely draw is cut short under ``jit``.
    """
    dtype = alpha.dtype
    one = dtype.type(1.0)
    third = dtype.type(1.0 / 3.0)
    boost = lax.ge(alpha, one)
    boosted = lax.select(boost, alpha, lax.add(alpha, one))
    d = lax.sub(boosted, third)
    c = lax.div(third, lax.sqrt(d))
    key, subkey = _split2(keys)
    shape = tuple(alpha.shape)
    X = fnp.zeros(shape, dtype)
    V = fnp.ones(shape, dtype)
    U = fnp.full(shape, 2.0, dtype)
    active = fnp.ones(shape, bool)

    def rejected(X: Any, V: Any, U: Any) -> Any:
        squeeze = lax.ge(U, lax.sub(one, lax.mul(dtype.type(0.0331), lax.mul(X, X))))
        bound = lax.add(lax.mul(X, dtype.type(0.5)), lax.mul(d, lax.add(lax.sub(one, V), lax.log(V))))
        return lax.bitwise_and(squeeze, lax.ge(lax.log(U), bound))

    rounds = 0
    while True:
        three = _split_raw(key, (3,))
        new_key, x_key, u_key = (_index_lead(three, i) for i in range(3))
        ik, x, v = x_key, fnp.zeros(shape, dtype), fnp.full(shape, -1.0, dtype)
        for _ in range(_GAMMA_INNER_ROUNDS):
            need = lax.le(v, dtype.type(0.0))
            next_ik, sub = _split2(ik)
            xn = _normal_real(sub, (), dtype, fuse=False)
            vn = fma_p.bind(xn, c, fnp.ones(shape, dtype))
            ik = _select_keys(need, next_ik, ik)
            x = lax.select(need, xn, x)
            v = lax.select(need, vn, v)
        un = _uniform_raw(u_key, (), dtype, fuse=False)
        key = _select_keys(active, new_key, key)
        X = lax.select(active, lax.mul(x, x), X)
        V = lax.select(active, lax.mul(lax.mul(v, v), v), V)
        U = lax.select(active, un, U)
        active = lax.bitwise_and(active, rejected(X, V, U))
        rounds += 1
        if rounds >= _GAMMA_ROUNDS and (isinstance(active, Tracer) or not bool(fnp.any(active))):
            break
        if rounds >= 100 * _GAMMA_ROUNDS:
            break
    if log_space:
        log_u = lax.log1p(lax.neg(_uniform_raw(subkey, (), dtype, fuse=False)))  # log(1 - u) = -exponential
        zero = dtype.type(0.0)
        skip = lax.bitwise_or(boost, lax.eq(log_u, zero))
        log_boost = lax.select(skip, fnp.zeros(shape, dtype), lax.mul(log_u, lax.div(one, alpha)))
        return lax.add(lax.add(lax.log(d), lax.log(V)), log_boost)
    samples = lax.sub(one, _uniform_raw(subkey, (), dtype, fuse=False))
    factor = lax.select(boost, fnp.ones(shape, dtype), lax.pow(samples, lax.div(one, alpha)))
    return lax.mul(lax.mul(d, V), factor)


def _select_keys(pred: Any, on_true: Any, on_false: Any) -> Any:
    pred2 = lax.broadcast_in_dim(pred, tuple(on_true.shape), tuple(range(pred.ndim)))
    return lax.select(pred2, on_true, on_false)


def _gamma(key: Any, a: Any, shape: Any, dtype: Any, name: str, log_space: bool) -> Any:
    raw, _ = _single_key(key, name)
    dtype = _float_dtype(dtype, name)
    a = _as_dtype(a, dtype)
    if shape is None:
        shape = tuple(a.shape)
    else:
        shape = _shape(shape, name)
        _check_shape(name, shape, tuple(a.shape))
        a = fnp.broadcast_to(a, shape)
    n = math.prod(shape)
    keys = _split_raw(raw, (n,))
    flat = lax.reshape(a, (n,))
    out = _gamma_elements(keys, flat, log_space)
    return lax.reshape(out, shape)


def gamma(key: Any, a: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """Gamma(a, 1) samples (Marsaglia-Tsang, one key per element as in JAX).

    Example: ``random.gamma(key, 2.5, (100,))``.
    """
    return _gamma(key, a, shape, dtype, "gamma", log_space=False)


def loggamma(key: Any, a: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """``log`` of Gamma(a, 1) samples computed in log space (accurate for small ``a``).

    Example: ``random.loggamma(key, 0.01, (10,))``.
    """
    return _gamma(key, a, shape, dtype, "loggamma", log_space=True)


def beta(key: Any, a: Any, b: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """Beta(a, b) samples as ``Ga / (Ga + Gb)`` from two log-space gamma draws.

    Example: ``random.beta(key, 2.0, 5.0, (100,))``.
    """
    raw, typed = _single_key(key, "beta")
    dtype = _float_dtype(dtype, "beta")
    if shape is None:
        shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    else:
        shape = _shape(shape, "beta")
        _check_shape("beta", shape, np.shape(a), np.shape(b))
    key_a, key_b = _split2(raw)
    a = fnp.broadcast_to(_as_dtype(a, dtype), shape)
    b = fnp.broadcast_to(_as_dtype(b, dtype), shape)
    log_a = _gamma(key_a, a, shape, dtype, "beta", log_space=True)
    log_b = _gamma(key_b, b, shape, dtype, "beta", log_space=True)
    top = lax.max(log_a, log_b)
    scaled_a = lax.exp(lax.sub(log_a, top))
    scaled_b = lax.exp(lax.sub(log_b, top))
    return lax.div(scaled_a, lax.add(scaled_a, scaled_b))


def dirichlet(key: Any, alpha: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """Dirichlet(alpha) samples over the last axis of ``alpha`` (a softmax of log-gamma draws).

    Example: ``random.dirichlet(key, fnp.ones(3), (10,))`` has shape (10, 3).
    """
    _single_key(key, "dirichlet")
    dtype = _float_dtype(dtype, "dirichlet")
    alpha = _as_dtype(alpha, dtype)
    if alpha.ndim < 1:
        raise ValueError(f"dirichlet requires alpha.ndim >= 1, got alpha.ndim == {alpha.ndim}.")
    if shape is None:
        shape = tuple(alpha.shape[:-1])
    else:
        shape = _shape(shape, "dirichlet")
        _check_shape("dirichlet", shape, tuple(alpha.shape[:-1]))
    logs = _gamma(key, alpha, shape + tuple(alpha.shape[-1:]), dtype, "dirichlet", log_space=True)
    top = lax.stop_gradient(fnp.max(logs, axis=-1, keepdims=True))
    unnormalized = fnp.exp(logs - top)
    return unnormalized / fnp.sum(unnormalized, axis=-1, keepdims=True)


def multivariate_normal(
    key: Any,
    mean: Any,
    cov: Any,
    shape: Sequence[int] | None = None,
    dtype: Any = None,
    method: str = "cholesky",
) -> Any:
    """Samples of N(mean, cov): ``mean + factor @ z`` with ``factor factor^T = cov`` (cholesky, eigh or svd).

    Example: ``random.multivariate_normal(key, fnp.zeros(2), fnp.eye(2), (100,))`` has shape (100, 2).
    """
    raw, _ = _single_key(key, "multivariate_normal")
    if method not in ("cholesky", "eigh", "svd"):
        raise ValueError(f"multivariate_normal: method must be 'cholesky', 'eigh' or 'svd', got {method!r}.")
    dtype = _float_dtype(dtype, "multivariate_normal")
    mean = _as_dtype(mean, dtype)
    cov = _as_dtype(cov, dtype)
    if mean.ndim < 1:
        raise ValueError("multivariate_normal requires mean.ndim >= 1, got mean.ndim == 0.")
    if cov.ndim < 2:
        raise ValueError(f"multivariate_normal requires cov.ndim >= 2, got cov.ndim == {cov.ndim}.")
    n = mean.shape[-1]
    if tuple(cov.shape[-2:]) != (n, n):
        raise ValueError(
            f"multivariate_normal requires cov.shape == (..., n, n) for n={n}, but got cov.shape == "
            f"{tuple(cov.shape)}."
        )
    if shape is None:
        shape = np.broadcast_shapes(tuple(mean.shape[:-1]), tuple(cov.shape[:-2]))
    else:
        shape = _shape(shape, "multivariate_normal")
        _check_shape("multivariate_normal", shape, tuple(mean.shape[:-1]), tuple(cov.shape[:-2]))
    if method == "svd":
        u, s, _ = fnp.linalg.svd(cov)
        factor = u * fnp.sqrt(s[..., None, :])
    elif method == "eigh":
        w, v = fnp.linalg.eigh(cov)
        factor = v * fnp.sqrt(w[..., None, :])
    else:
        factor = fnp.linalg.cholesky(cov)
    z = _normal_raw(raw, tuple(shape) + (n,), dtype)
    return mean + fnp.einsum("...ij,...j->...i", factor, z)


# ---------------------------------------------------------------------------------------------------
# Discrete distributions
# ---------------------------------------------------------------------------------------------------


def bernoulli(key: Any, p: Any = 0.5, shape: Sequence[int] | None = None, mode: str = "low") -> Any:
    """Booleans that are True with probability ``p``: ``uniform(key, shape, p.dtype) < p``.

    Example: ``random.bernoulli(key, 0.3, (1000,)).mean()`` is about 0.3.
    """
    raw, _ = _single_key(key, "bernoulli")
    _check_mode(mode, "bernoulli")
    p = fnp.asarray(p)
    if p.dtype.kind != "f":
        raise TypeError(f"bernoulli probability `p` must have a floating dtype, got {p.dtype}.")
    if shape is None:
        shape = tuple(p.shape)
    else:
        shape = _shape(shape, "bernoulli")
        _check_shape("bernoulli", shape, tuple(p.shape))
    u = _uniform_raw(raw, shape, p.dtype)
    return lax.lt(u, fnp.broadcast_to(p, shape))


def _clip_convert(x: Any, dtype: np.dtype) -> Any:
    """Integer ``x`` clamped to the range both its dtype and ``dtype`` can hold, then converted to ``dtype``."""
    src, dst = np.iinfo(x.dtype), np.iinfo(dtype)
    lo, hi = max(src.min, dst.min), min(src.max, dst.max)
    if lo > src.min or hi < src.max:
        x = lax.clamp(x.dtype.type(lo), x, x.dtype.type(hi))
    return lax.convert_element_type(x, dtype)


def _urem(x: Any, y: Any) -> Any:
    """Unsigned remainder with XLA's convention ``x rem 0 == x`` (JAX's randint relies on it)."""
    zero = lax.eq(y, y.dtype.type(0))
    safe = lax.select(zero, fnp.ones_like(y), y)
    return lax.select(zero, x, lax.rem(x, safe))


def _integer_array(x: Any) -> Any:
    x = fnp.asarray(x)
    if x.dtype.kind not in "iu":
        x = x.astype(dtypes.default_int())
    return x


def randint(key: Any, shape: Sequence[int], minval: Any, maxval: Any, dtype: Any = None) -> Any:
    """Integers uniform in ``[minval, maxval)`` (bounds clipped to ``dtype``'s range), JAX's algorithm: two
    draws of ``nbits`` combined modulo the span, which keeps the bias tiny for spans that are not powers of 2.

    Example: ``random.randint(random.PRNGKey(0), (5,), 0, 10)``.
    """
    raw, _ = _single_key(key, "randint")
    dtype = dtypes.canonicalize_dtype(dtypes.default_int() if dtype is None else dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"randint only accepts integer dtypes, got {dtype}.")
    shape = _shape(shape, "randint")
    minval = _integer_array(minval)
    maxval = _integer_array(maxval)
    _check_shape("randint", shape, tuple(minval.shape), tuple(maxval.shape))
    info = np.iinfo(dtype)
    nbits = int(info.bits)
    dtype_max_in_maxval_type = _clip_convert(Array(np.array(info.max, dtype), False), maxval.dtype)
    maxval_out_of_range = lax.gt(maxval, fnp.broadcast_to(dtype_max_in_maxval_type, maxval.shape))
    lo = fnp.broadcast_to(_clip_convert(minval, dtype), shape)
    hi = fnp.broadcast_to(_clip_convert(maxval, dtype), shape)
    maxval_out_of_range = fnp.broadcast_to(maxval_out_of_range, shape)
    # 8- and 16-bit dtypes are drawn with 32-bit words and arithmetic, as JAX does.
    nbits = max(32, nbits)
    udtype = np.dtype(f"uint{nbits}")
    k1, k2 = _split2(raw)
    higher = _bits_raw(k1, shape, nbits)
    lower = _bits_raw(k2, shape, nbits)
    span = lax.sub(lax.convert_element_type(hi, udtype), lax.convert_element_type(lo, udtype))  # mod 2**nbits
    one = fnp.ones(shape, udtype)
    empty = lax.le(hi, lo)
    span = lax.select(empty, one, span)
    # maxval above dtype's range: the span is one more than hi - lo (2**nbits wraps to 0, see _urem).
    span = lax.select(lax.bitwise_and(maxval_out_of_range, lax.bitwise_not(empty)), lax.add(span, one), span)
    multiplier = _urem(fnp.full(shape, 2 ** (nbits // 2), udtype), span)  # 2**nbits mod span, in two steps
    multiplier = _urem(lax.mul(multiplier, multiplier), span)
    offset = lax.add(lax.mul(_urem(higher, span), multiplier), _urem(lower, span))
    offset = _urem(offset, span)
    return lax.add(lo, lax.convert_element_type(offset, dtype))


def categorical(
    key: Any,
    logits: Any,
    axis: int = -1,
    shape: Sequence[int] | None = None,
    replace: bool = True,
    mode: str | None = None,
) -> Any:
    """Indices drawn with probabilities ``softmax(logits)`` along ``axis`` (the Gumbel-max trick).

    Example: ``random.categorical(key, fnp.log(fnp.asarray([0.2, 0.8])), shape=(1000,))``.
    """
    raw, _ = _single_key(key, "categorical")
    _check_mode(mode, "categorical")
    logits = fnp.asarray(logits)
    if logits.dtype.kind != "f":
        raise TypeError(f"categorical: logits must have a floating dtype, got {logits.dtype}.")
    if logits.ndim == 0:
        raise ValueError("categorical: logits must have at least one dimension (the categories).")
    if not -logits.ndim <= axis < logits.ndim:
        raise ValueError(f"categorical: axis {axis} is out of bounds for logits of rank {logits.ndim}.")
    axis = axis % logits.ndim
    batch_shape = tuple(d for i, d in enumerate(logits.shape) if i != axis)
    if shape is None:
        shape = batch_shape
    else:
        shape = _shape(shape, "categorical")
        _check_shape("categorical", shape, batch_shape)
    prefix = shape[: len(shape) - len(batch_shape)]
    if replace:
        sample_shape = list(shape[len(shape) - len(batch_shape) :])
        sample_shape.insert(axis, logits.shape[axis])
        expanded = lax.expand_dims(logits, tuple(range(len(prefix))))
        g = _gumbel_raw(raw, tuple(prefix) + tuple(sample_shape), logits.dtype)
        return fnp.argmax(g + fnp.broadcast_to(expanded, g.shape), axis=axis + len(prefix))
    # Without replacement (the Gumbel top-k trick): the prod(prefix) best of one perturbed draw per category.
    n = logits.shape[axis]
    draws = math.prod(prefix)
    if draws > n:
        raise ValueError(f"categorical: cannot take {draws} samples without replacement from {n} categories.")
    scores = _gumbel_raw(raw, tuple(logits.shape), logits.dtype) + logits
    order = lax.broadcasted_iota(dtypes.default_int(), tuple(logits.shape), axis)
    _, ranked = lax.sort((lax.neg(scores), order), axis, is_stable=True, num_keys=1)
    start = [0] * logits.ndim
    limit = list(logits.shape)
    limit[axis] = draws
    best = fnp.moveaxis(lax.slice(ranked, start, limit), axis, 0)
    return fnp.reshape(best, tuple(prefix) + batch_shape)


def _take(x: Any, indices: Any, axis: int) -> Any:
    """``x`` indexed along ``axis`` by the integer array ``indices`` (their dims replace that axis)."""
    moved = fnp.moveaxis(x, axis, 0)[indices]
    k = indices.ndim
    perm = list(range(k, k + axis)) + list(range(k)) + list(range(k + axis, moved.ndim))
    return fnp.transpose(moved, perm)


def _shuffle(raw: Any, x: Any, axis: int) -> Any:
    """JAX's shuffle: ``ceil(3 log(size) / log(2**32 - 1))`` rounds of a stable sort by fresh random keys."""
    rounds = int(np.ceil(3 * np.log(max(1, x.size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        raw, sub = _split2(raw)
        sort_keys = _bits_raw(sub, tuple(x.shape), 32)
        _, x = lax.sort_key_val(sort_keys, x, axis)
    return x


def _concrete_int(x: Any, what: str) -> int:
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(f"{what} must be a concrete integer, got {x!r}.") from None


def permutation(key: Any, x: Any, axis: int = 0, independent: bool = False) -> Any:
    """A random permutation of ``range(x)`` (integer ``x``) or of ``x`` along ``axis`` (independently per
    slice if ``independent``); JAX's sort-based shuffle, so the same result as JAX.

    Example: ``random.permutation(random.PRNGKey(0), 10)``.
    """
    raw, _ = _single_key(key, "permutation")
    if np.ndim(x) == 0 if not _is_array(x) else x.ndim == 0:
        if isinstance(x, float) or (_is_array(x) and x.dtype.kind not in "iu"):
            raise TypeError("permutation: x must be an integer or at least 1-dimensional.")
        n = _concrete_int(x, "permutation: an integer x")
        return _shuffle(raw, lax.iota(dtypes.default_int(), n), 0)
    x = fnp.asarray(x)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"permutation: axis {axis} is out of bounds for an array of rank {x.ndim}.")
    axis = axis % x.ndim
    if independent or x.ndim == 1:
        return _shuffle(raw, x, axis)
    order = _shuffle(raw, lax.iota(dtypes.default_int(), x.shape[axis]), 0)
    return _take(x, order, axis)


def choice(
    key: Any,
    a: Any,
    shape: Sequence[int] = (),
    replace: bool = True,
    p: Any = None,
    axis: int = 0,
    mode: str | None = None,
) -> Any:
    """Samples from ``range(a)`` (integer ``a``) or from ``a`` along ``axis``, with or without
    replacement, uniformly or with probabilities ``p`` (JAX's algorithms, so JAX's values).

    Example: ``random.choice(key, 5, (3,), replace=False)``; ``random.choice(key, x, (10,), p=w)``.
    """
    raw, _ = _single_key(key, "choice")
    _check_mode(mode, "choice")
    shape = _shape(shape, "choice")
    scalar = np.ndim(a) == 0 if not _is_array(a) else a.ndim == 0
    if scalar:
        n_inputs = _concrete_int(a, "choice: a scalar `a`")
        arr = None
        axis = 0
    else:
        arr = fnp.asarray(a)
        if not -arr.ndim <= axis < arr.ndim:
            raise ValueError(f"choice: axis {axis} is out of bounds for an array of rank {arr.ndim}.")
        axis = axis % arr.ndim
        n_inputs = arr.shape[axis]
    n_draws = math.prod(shape)
    out_shape = shape if arr is None else tuple(arr.shape[:axis]) + shape + tuple(arr.shape[axis + 1 :])
    if n_draws == 0:
        return fnp.zeros(out_shape, dtypes.default_int() if arr is None else arr.dtype)
    if n_inputs <= 0:
        raise ValueError("choice: a must be greater than 0 unless no samples are taken.")
    if not replace and n_draws > n_inputs:
        raise ValueError(
            f"Cannot take a larger sample (size {n_draws}) than population (size {n_inputs}) when "
            "'replace=False'."
        )
    if p is None:
        if replace:
            ind = randint(raw, (n_draws,), 0, n_inputs)
            result = ind if arr is None else _take(arr, ind, axis)
        else:
            perm = permutation(raw, n_inputs if arr is None else arr, axis)
            start = [0] * perm.ndim
            limit = list(perm.shape)
            limit[axis] = n_draws
            result = lax.slice(perm, start, limit)
    else:
        p = fnp.asarray(p)
        if p.dtype.kind != "f":
            p = p.astype(dtypes.default_float())
        if tuple(p.shape) != (n_inputs,):
            raise ValueError(
                "p must be None or a 1D vector with the same size as a.shape[axis]. p has shape "
                f"{tuple(p.shape)} and a.shape[axis] is {n_inputs}."
            )
        if replace:
            cumulative = fnp.cumsum(p)
            total = cumulative[-1]
            r = total * (1 - _uniform_raw(raw, (n_draws,), p.dtype))
            # searchsorted(cumulative, r, side="left"): how many partial sums are below r.
            below = lax.lt(fnp.broadcast_to(cumulative, (n_draws, n_inputs)), r[:, None])
            ind = fnp.sum(below.astype(dtypes.default_int()), axis=1)
            result = ind if arr is None else _take(arr, ind, axis)
        else:
            # Gumbel top-k: the n_draws largest of log(p) + Gumbel noise, largest first.
            scores = _gumbel_raw(raw, (n_inputs,), p.dtype) + fnp.log(p)
            order = lax.iota(dtypes.default_int(), n_inputs)
            _, ranked = lax.sort_key_val(lax.neg(scores), order, 0)
            ind = lax.slice(ranked, (0,), (n_draws,))
            result = ind if arr is None else _take(arr, ind, axis)
    return fnp.reshape(result, out_shape)
