"""One C-style renderer for the kernel IR, with dialect tables: C (CPU, gcc), CUDA (CuPy ``RawKernel``) and
the bodies of CuPy ``ElementwiseKernel`` / ``ReductionKernel``.

The lowering table ``LOWER`` maps each fusible primitive (by name) to a function that writes its C
expression; dtype-dependent semantics live in small helpers emitted into the prelude on demand. numpy's
semantics are kept exactly: float32 maths stays in float32 (``f``-suffixed functions and constants),
``max``/``min`` propagate NaN, integer arithmetic wraps (it is done in unsigned types), integer ``div``
/``rem`` by zero and ``MIN / -1`` give what the numpy impls give instead of trapping, shifts past the bit
width saturate, float->int conversions saturate (NaN -> 0), bool is a byte holding 0 or 1.

float32 ``exp``, ``tanh``, ``log`` (and ``logistic``, built on ``exp``) use our own branch-free versions,
which vectorise (glibc's are scalar calls); they are emitted into each translation unit that uses them and
inlined into the loops (a call to a shared SIMD-clone function costs the loop 13-16% and its runtime
library's twelve clones ~0.1 s of compile time on a cold cache).
Other transcendentals would be scalar libm calls, slower than numpy's SIMD loops, so on the CPU they stay
numpy calls (``lowerable``). Error bounds, measured against float64 numpy on 2e7 inputs spread over the
whole range: ``fl_expf`` <= 1.02 ulp (numpy's float32 exp: 2.4), ``fl_tanhf`` <= 2.25 ulp (numpy: 1.4),
``fl_logf`` <= 1.26 ulp (numpy: 3.8); each is within 3 ulp of numpy's float32 result. Subnormals,
overflow, NaN, +-inf and zeros are exact. Method: ``exp(x) = 2**n * exp(r)``, ``n = round(x / ln 2)``,
``r`` reduced in two steps (a 16-bit ``ln 2`` head makes ``n * head`` exact), ``exp(r) = 1 + r + r*r*P(r)``
with a degree-4 ``P`` fitted by weighted least squares iterated towards minimax on ``|r| <= ln2/2``, and
``2**n`` applied in two halves so subnormal results round once; ``tanh(x) = x + x**3 Q(x*x)`` (degree-4,
same fit) for ``|x| < 0.625``, else ``(e - 1) / (e + 1)`` with ``e = exp(2|x|)``, ``|x|`` clamped at 9.1;
``log(x) = e ln2 + 2 atanh(s)``, ``s = (m - 1) / (m + 1)`` for the mantissa ``m`` in ``[sqrt(1/2), sqrt 2)``
(series to ``s**9``; subnormals scaled by ``2**23`` first). ``fmaf`` is exactly rounded everywhere (an
instruction where FMA exists), so results do not depend on the machine. Where the argument of ``exp`` is
known to be ``<= 0`` or NaN (``x - max(x)`` over the row holding ``x``, as in softmax; logistic's ``-|x|``),
``fl_expnegf`` skips the overflow clamp (softmax 6% faster); it gives ``fl_expf``'s bits on every such
float32 (all 2**32 inputs compared).

Example:
    >>> src = render_c([kernel])            # one translation unit
    >>> cuda_src = render_cuda([kernel])    # extern "C" __global__ kernels, grid-stride loops
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .kernel_ir import REDUCTIONS, Kernel, Op

FORMAT_VERSION = "fl-kernels-2"

# ---------------------------------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------------------------------

CTYPE = {
    "bool": "u8",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "float32": "f32",
    "float64": "f64",
}
SUPPORTED_DTYPES = frozenset(np.dtype(k) for k in CTYPE)

# The kernel runtime's source (``runtime.c``) also holds the types and declarations that every C kernel
# translation unit starts with, between its marker comments.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtime.c"), "rb") as _f:
    RUNTIME_SOURCE = _f.read().decode()  # as bytes: its digest names the library pip builds from it


def _runtime_section(name: str) -> str:
    start = RUNTIME_SOURCE.index(f"/* == {name} == */\n") + len(f"/* == {name} == */\n")
    return RUNTIME_SOURCE[start : RUNTIME_SOURCE.index("/* == ", start)]


TYPEDEFS = _runtime_section("types")
C_RUNTIME_DECLS = _runtime_section("declarations")


def ctype(dtype: np.dtype) -> str:
    return CTYPE[np.dtype(dtype).name]


def _wide_unsigned(dtype: np.dtype) -> str:
    """The unsigned type integer arithmetic of ``dtype`` is done in (so overflow wraps, never UB)."""
    return "u64" if np.dtype(dtype).itemsize == 8 else "u32"


def supported_dtype(dtype: np.dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype in SUPPORTED_DTYPES and dtype.isnative


# ---------------------------------------------------------------------------------------------------
# Dialects
# ---------------------------------------------------------------------------------------------------


class Dialect(NamedTuple):
    """What differs between the targets: spellings, qualifiers, how bits are reinterpreted.

    Immutable records here are ``NamedTuple``s: a dataclass costs about a millisecond to define, which
    every process's first jit would pay when it imports the compiler.
    """

    name: str
    inline: str  # qualifier of helper functions
    restrict: str
    f2i: str  # reinterpret float32 bits as i32
    i2f: str
    declare_libm: bool  # C needs prototypes (we include no headers); CUDA has the math API built in
    inf_f32: str
    nan_f32: str
    inf_f64: str
    nan_f64: str
    scratch: bool  # may a row kernel keep a row of intermediate values in a scratch buffer


C = Dialect(
    name="c",
    inline="static inline __attribute__((always_inline))",
    restrict="__restrict__",
    f2i="fl_f2i",
    i2f="fl_i2f",
    declare_libm=True,
    inf_f32="__builtin_inff()",
    nan_f32='__builtin_nanf("")',
    inf_f64="__builtin_inf()",
    nan_f64='__builtin_nan("")',
    scratch=True,
)
CUDA = Dialect(
    name="cuda",
    inline="static __device__ __forceinline__",
    restrict="__restrict__",
    f2i="__float_as_int",
    i2f="__int_as_float",
    declare_libm=False,
    inf_f32="__int_as_float(0x7f800000)",
    nan_f32="__int_as_float(0x7fc00000)",
    inf_f64="__longlong_as_double(0x7ff0000000000000LL)",
    nan_f64="__longlong_as_double(0x7ff8000000000000LL)",
    scratch=False,
)


def const(value: object, dtype: np.dtype, d: Dialect) -> str:
    """A C literal of exactly ``value`` in ``dtype``."""
    dtype = np.dtype(dtype)
    kind = dtype.kind
    if kind == "b":
        return "((u8)1)" if bool(value) else "((u8)0)"
    if kind in "iu":
        v = int(np.asarray(value, dtype=dtype))
        if kind == "i" and v == np.iinfo(dtype).min:
            return f"(({ctype(dtype)})({v + 1}LL - 1LL))"
        return f"(({ctype(dtype)}){v}{'ULL' if kind == 'u' else 'LL'})"
    x = np.asarray(value, dtype=dtype)[()]
    f32 = dtype == np.float32
    if np.isnan(x):
        return d.nan_f32 if f32 else d.nan_f64
    if np.isinf(x):
        inf = d.inf_f32 if f32 else d.inf_f64
        return f"(-{inf})" if x < 0 else inf
    text = str(np.float32(x)) if f32 else repr(float(x))  # shortest text that reads back exactly
    if "." not in text and "e" not in text:
        text += ".0"
    return f"({text}f)" if f32 else f"({text})"


# ---------------------------------------------------------------------------------------------------
# Helpers emitted into the prelude on demand (deterministic: sorted by name)
# ---------------------------------------------------------------------------------------------------


def _helper_source(name: str, d: Dialect) -> str:
    """The definition of helper ``name`` (derived from its name: ``fl_<what>_<types>``)."""
    q = d.inline
    parts = name.split("_")
    what = parts[1]
    if what in ("max", "min"):  # NaN-propagating, as numpy.maximum / minimum
        t = parts[2]
        cmp = ">=" if what == "max" else "<="
        return f"{q} {t} {name}({t} a, {t} b) {{ return ((a {cmp} b) | (a != a)) ? a : b; }}\n"
    if what == "div":  # integer division, as the numpy impl of lax.div (truncating; x/0 and MIN/-1 defined)
        t = parts[2]
        if t[0] == "u":
            return f"{q} {t} {name}({t} a, {t} b) {{ return b == 0 ? ({t})0 : ({t})(a / b); }}\n"
        w = _wide_unsigned(np.dtype(_NP_OF[t]))
        return (
            f"{q} {t} {name}({t} a, {t} b) {{\n"
            f"  if (b == 0) return ({t})(a < 0);\n"
            f"  if (b == -1) return ({t})(0u - ({w})a);\n"
            f"  return ({t})(a / b);\n}}\n"
        )
    if what == "rem":  # integer remainder with the dividend's sign (np.fmod): x % 0 == 0
        t = parts[2]
        if t[0] == "u":
            return f"{q} {t} {name}({t} a, {t} b) {{ return b == 0 ? ({t})0 : ({t})(a % b); }}\n"
        return f"{q} {t} {name}({t} a, {t} b) {{ return (b == 0 || b == -1) ? ({t})0 : ({t})(a % b); }}\n"
    if what == "f2int":  # saturating float -> integer conversion; NaN -> 0 (the numpy impl)
        src, dst = parts[2], parts[3]
        info = np.iinfo(np.dtype(_NP_OF[dst]))
        hi = const(float(info.max) + 1.0, np.dtype(_NP_OF[src]), d)
        lo = const(float(info.min), np.dtype(_NP_OF[src]), d)
        return (
            f"{q} {dst} {name}({src} x) {{\n"
            f"  return x != x ? ({dst})0 : x >= {hi} ? {const(info.max, _NP_OF[dst], d)} : "
            f"x < {lo} ? {const(info.min, _NP_OF[dst], d)} : ({dst})x;\n}}\n"
        )
    if what == "shl":
        t, bits = parts[2], 8 * np.dtype(_NP_OF[parts[2]]).itemsize
        w = _wide_unsigned(np.dtype(_NP_OF[t]))
        neg = "b < 0 || " if t[0] == "i" else ""
        return (
            f"{q} {t} {name}({t} a, {t} b) {{ return ({neg}b >= {bits}) ? ({t})0 : ({t})(({w})a << b); }}\n"
        )
    if what == "shrl":
        t, bits = parts[2], 8 * np.dtype(_NP_OF[parts[2]]).itemsize
        ut = "u" + t[1:] if t[0] == "i" else t
        neg = "b < 0 || " if t[0] == "i" else ""
        return (
            f"{q} {t} {name}({t} a, {t} b) {{ return ({neg}b >= {bits}) ? ({t})0 : ({t})(({ut})a >> b); }}\n"
        )
    if what == "shra":
        t, bits = parts[2], 8 * np.dtype(_NP_OF[parts[2]]).itemsize
        st = "i" + t[1:] if t[0] == "u" else t
        return (
            f"{q} {t} {name}({t} a, {t} b) {{ {st} sa = ({st})a, sb = ({st})b;\n"
            f"  return ({t})(sa >> ((sb < 0 || sb >= {bits}) ? {bits - 1} : sb)); }}\n"
        )
    if what == "expcore":
        fma = "__builtin_fmaf" if d is C else "fmaf"
        return (
            f"{q} f32 fl_expcore(f32 x) {{\n"
            f"  const f32 t = {fma}(x, 1.44269504088896341f, 12582912.0f);\n"
            "  const f32 nf = t - 12582912.0f;\n"
            f"  const i32 n = {d.f2i}(t) - 0x4B400000;\n"
            f"  f32 r = {fma}(nf, -0.693145751953125f, x);  /* exact: nf * head has at most 24 bits */\n"
            f"  r = {fma}(nf, -1.428606765330187e-06f, r);\n"
            f"  f32 p = {fma}(0.0013760145520791411f, r, 0.008368900045752525f);\n"
            f"  p = {fma}(p, r, 0.04166937619447708f);\n"
            f"  p = {fma}(p, r, 0.166665181517601f);\n"
            f"  p = {fma}(p, r, 0.49999988079071045f);\n"
            f"  const f32 e = 1.0f + {fma}(r * r, p, r);\n"
            "  /* 2^n in two factors, so that subnormal results round once; e in [0.70, 1.42] times 2^n1\n"
            "     (|n1| <= 75) stays normal, so the first is an exact add to e's exponent */\n"
            "  const i32 n1 = n >> 1, n2 = n - n1;\n"
            f"  return {d.i2f}((i32)((u32){d.f2i}(e) + ((u32)n1 << 23))) * {d.i2f}((n2 + 127) << 23);\n}}\n"
        )
    if what == "expf":
        return (
            f"{q} f32 fl_expf(f32 x) {{\n"
            "  /* clamp x to [-104, 88.75] on its bits (one integer min each, where float compares that keep\n"
            "     NaN cost four instructions): as signed integers positive floats keep their order and all\n"
            "     negatives are below 88.75; as unsigned, negatives order by magnitude above all positives */\n"
            f"  i32 b = {d.f2i}(x);\n"
            "  b = b < 0x42B18000 ? b : 0x42B18000;\n"
            "  u32 u = (u32)b;\n"
            "  u = u < 0xC2D00000u ? u : 0xC2D00000u;\n"
            f"  const f32 y = fl_expcore({d.i2f}((i32)u));\n"
            "  return x != x ? x : y;\n}\n"
        )
    if what == "expnegf":  # exp of an argument known to be <= 0 or NaN: no overflow clamp
        return (
            f"{q} f32 fl_expnegf(f32 x) {{\n"
            "  /* clamp x to >= -104: x <= 0, so its bits order by magnitude, as unsigned (spelled as in fl_expf,\n"
            "     which gcc turns into one unsigned min) */\n"
            f"  u32 u = (u32){d.f2i}(x);\n"
            "  u = u < 0xC2D00000u ? u : 0xC2D00000u;\n"
            f"  const f32 y = fl_expcore({d.i2f}((i32)u));\n"
            "  return x != x ? x : y;\n}\n"
        )
    if what == "tanhf":
        fma = "__builtin_fmaf" if d is C else "fmaf"
        return (
            f"{q} f32 fl_tanhf(f32 x) {{\n"
            f"  const f32 a = {d.i2f}({d.f2i}(x) & 0x7fffffff);\n"
            "  const f32 z = x * x;\n"
            f"  f32 q = {fma}(-0.005693164654076099f, z, 0.020627465099096298f);\n"
            f"  q = {fma}(q, z, -0.053735725581645966f);\n"
            f"  q = {fma}(q, z, 0.1333138644695282f);\n"
            f"  q = {fma}(q, z, -0.3333328068256378f);\n"
            "  const f32 small = x + x * (z * q);\n"
            "  const f32 c = a > 9.1f ? 9.1f : a;\n"
            "  const f32 e = fl_expcore(c + c);\n"
            "  f32 big = (e - 1.0f) / (e + 1.0f);\n"
            f"  big = {d.i2f}({d.f2i}(big) | ({d.f2i}(x) & (i32)0x80000000));\n"
            "  return a < 0.625f ? small : big;\n}\n"
        )
    if what == "logf":
        fma = "__builtin_fmaf" if d is C else "fmaf"
        inf, nan = d.inf_f32, d.nan_f32
        return (
            f"{q} f32 fl_logf(f32 x) {{\n"
            "  /* x = 2^e m, m in [sqrt(1/2), sqrt(2)); log(m) = 2 atanh(s), s = (m - 1) / (m + 1) */\n"
            "  const i32 tiny = x < 1.17549435e-38f;  /* subnormal or <= 0: scale by 2^23 first */\n"
            "  const f32 xs = tiny ? x * 8388608.0f : x;\n"
            f"  const i32 bits = {d.f2i}(xs);\n"
            "  const i32 k = (bits - 0x3f3504f3) >> 23;\n"
            f"  const f32 m = {d.i2f}(bits - (k << 23));\n"
            "  const f32 e = (f32)(k - (tiny ? 23 : 0));\n"
            "  const f32 f = m - 1.0f;\n"
            "  const f32 s = f / (m + 1.0f);\n"
            "  const f32 z = s * s;\n"
            f"  f32 p = {fma}(z, 0.11111111f, 0.14285715f);\n"
            f"  p = {fma}(p, z, 0.2f);\n"
            f"  p = {fma}(p, z, 0.33333334f);\n"
            "  const f32 lm = (f - s * f) + 2.0f * s * z * p;  /* 2s = f - s f */\n"
            f"  f32 r = {fma}(e, 0.693145751953125f, {fma}(e, 1.428606765330187e-06f, lm));\n"
            f"  r = x == 0.0f ? (-{inf}) : r;\n"
            f"  r = x < 0.0f ? {nan} : r;\n"
            f"  return (x == {inf} || x != x) ? x : r;\n}}\n"
        )
    if what == "bits":  # C only: reinterpret float bits without headers (vectorises)
        return (
            f"{q} i32 fl_f2i(f32 f) {{ i32 i; __builtin_memcpy(&i, &f, 4); return i; }}\n"
            f"{q} f32 fl_i2f(i32 i) {{ f32 f; __builtin_memcpy(&f, &i, 4); return f; }}\n"
        )
    raise KeyError(name)


_NP_OF = {v: k for k, v in CTYPE.items() if k != "bool"}
_HELPER_DEPS = {
    "fl_expf": ["fl_expcore"],
    "fl_expnegf": ["fl_expcore"],
    "fl_tanhf": ["fl_expcore"],
    "fl_expcore": ["fl_bits"],
    "fl_logf": ["fl_bits"],
}

# libm prototypes (C dialect), by function name
_LIBM_F32 = (
    "expf exp2f logf log1pf expm1f sinf cosf tanf asinf acosf atanf sinhf coshf asinhf acoshf "
    "atanhf sqrtf cbrtf floorf ceilf roundf rintf fmodf powf atan2f nextafterf"
)
_LIBM = {n: ("f32", 2 if n in ("fmodf", "powf", "atan2f", "nextafterf") else 1) for n in _LIBM_F32.split()}
_LIBM.update({n[:-1]: ("f64", k) for n, (_, k) in list(_LIBM.items())})


class Emitter:
    """Collects the helpers and libm functions a kernel's code uses, and makes temporaries."""

    def __init__(self, dialect: Dialect):
        self.d = dialect
        self.helpers: set[str] = set()
        self.libm: set[str] = set()
        self.lines: list[str] = []
        self._tmp = 0

    def helper(self, name: str) -> str:
        if name not in self.helpers:
            self.helpers.add(name)
            for dep in _HELPER_DEPS.get(name, []):
                if dep == "fl_bits" and self.d is not C:
                    continue
                self.helper(dep)
        return name

    def math(self, name: str, dtype: np.dtype) -> str:
        """The libm function ``name`` (float64 spelling) for ``dtype``."""
        fn = name + "f" if np.dtype(dtype) == np.float32 else name
        self.libm.add(fn)
        return fn

    def temp(self, ct: str, expr: str) -> str:
        name = f"u{self._tmp}"
        self._tmp += 1
        self.lines.append(f"const {ct} {name} = {expr};")
        return name

    def prelude(self) -> str:
        out = [TYPEDEFS]
        if self.d.declare_libm:
            for fn in sorted(self.libm):
                t, k = _LIBM[fn]
                out.append(f"{t} {fn}({', '.join([t] * k)});\n")
        order = sorted(self.helpers, key=lambda n: (n not in ("fl_bits",), n != "fl_expcore", n))
        for name in order:
            out.append(_helper_source(name, self.d))
        return "".join(out)


# ---------------------------------------------------------------------------------------------------
# The lowering table: primitive name -> C expression
# ---------------------------------------------------------------------------------------------------

Lowering = Callable[[Emitter, Op, list, list], str]
LOWER: dict[str, Lowering] = {}
# Cheap ops are recomputed freely in row kernels; the others are kept in a scratch row when reused.
CHEAP = {
    "load", "const", "iota", "add", "sub", "mul", "neg", "abs", "max", "min", "eq", "ne", "lt", "le", "gt",
    "ge", "select_n", "convert_element_type", "and", "or", "xor", "not", "stop_gradient", "alias", "clamp",
    "sign", "floor", "ceil", "integer_pow",
}  # fmt: skip


def _kind(dtype: np.dtype) -> str:
    return np.dtype(dtype).kind


def _arith(sym: str) -> Lowering:
    def lower(e: Emitter, op: Op, a: list, ts: list) -> str:
        t = ctype(op.dtype)
        k = _kind(op.dtype)
        if k == "f":
            return f"({a[0]} {sym} {a[1]})"
        if k == "b":  # numpy: bool + is or, bool * is and
            return f"(u8)({a[0]} {'|' if sym == '+' else '&'} {a[1]})"
        w = _wide_unsigned(op.dtype)
        return f"({t})(({w}){a[0]} {sym} ({w}){a[1]})"

    return lower


def _unary_math(name: str, approx_f32: str | None = None) -> Lowering:
    def lower(e: Emitter, op: Op, a: list, ts: list) -> str:
        if approx_f32 and op.dtype == np.float32:
            return f"{e.helper(approx_f32)}({a[0]})"
        return f"{e.math(name, op.dtype)}({a[0]})"

    return lower


def _binary_math(name: str) -> Lowering:
    return lambda e, op, a, ts: f"{e.math(name, op.dtype)}({a[0]}, {a[1]})"


def _cmp(sym: str) -> Lowering:
    return lambda e, op, a, ts: f"(u8)({a[0]} {sym} {a[1]})"


def _bitwise(sym: str) -> Lowering:
    return lambda e, op, a, ts: f"({ctype(op.dtype)})({a[0]} {sym} {a[1]})"


def _maxmin(what: str) -> Lowering:
    def lower(e: Emitter, op: Op, a: list, ts: list) -> str:
        t = ctype(op.dtype)
        k = _kind(op.dtype)
        if k == "f":
            return f"{e.helper(f'fl_{what}_{t}')}({a[0]}, {a[1]})"
        if k == "b":
            return f"(u8)({a[0]} {'|' if what == 'max' else '&'} {a[1]})"
        return f"({a[0]} {'>' if what == 'max' else '<'} {a[1]} ? {a[0]} : {a[1]})"

    return lower


def _neg(e: Emitter, op: Op, a: list, ts: list) -> str:
    if _kind(op.dtype) == "f":
        return f"(-{a[0]})"
    return f"({ctype(op.dtype)})(0u - ({_wide_unsigned(op.dtype)}){a[0]})"


def _abs(e: Emitter, op: Op, a: list, ts: list) -> str:
    k = _kind(op.dtype)
    if k == "f":
        fn = "fabsf" if op.dtype == np.float32 else "fabs"
        return f"{'__builtin_' if e.d is C else ''}{fn}({a[0]})"
    if k in "ub":
        return a[0]
    return f"({a[0]} < 0 ? {_neg(e, op, a, ts)} : {a[0]})"


def _sign(e: Emitter, op: Op, a: list, ts: list) -> str:
    t, x = ctype(op.dtype), a[0]
    k = _kind(op.dtype)
    if k == "f":
        one = const(1, op.dtype, e.d)
        return f"({x} > 0 ? {one} : {x} < 0 ? -{one} : {x} == 0 ? {const(0, op.dtype, e.d)} : {x})"
    if k == "u":
        return f"({t})({x} > 0)"
    return f"({t})(({x} > 0) - ({x} < 0))"


def _div(e: Emitter, op: Op, a: list, ts: list) -> str:
    if _kind(op.dtype) == "f":
        return f"({a[0]} / {a[1]})"
    return f"{e.helper('fl_div_' + ctype(op.dtype))}({a[0]}, {a[1]})"


def _rem(e: Emitter, op: Op, a: list, ts: list) -> str:
    if _kind(op.dtype) == "f":
        return f"{e.math('fmod', op.dtype)}({a[0]}, {a[1]})"
    return f"{e.helper('fl_rem_' + ctype(op.dtype))}({a[0]}, {a[1]})"


def _not(e: Emitter, op: Op, a: list, ts: list) -> str:
    if _kind(op.dtype) == "b":
        return f"(u8)!{a[0]}"
    return f"({ctype(op.dtype)})~{a[0]}"


def _shift(kind: str) -> Lowering:
    return lambda e, op, a, ts: f"{e.helper(f'fl_{kind}_{ctype(op.dtype)}')}({a[0]}, {a[1]})"


def _is_finite(e: Emitter, op: Op, a: list, ts: list) -> str:
    return f"(u8)(({a[0]} - {a[0]}) == 0)"  # inf - inf and NaN - NaN are NaN


def _round(e: Emitter, op: Op, a: list, ts: list) -> str:
    method = op.attr or 0
    return f"{e.math('rint' if method == 1 else 'round', op.dtype)}({a[0]})"


def _rsqrt(e: Emitter, op: Op, a: list, ts: list) -> str:
    return f"({const(1, op.dtype, e.d)} / {e.math('sqrt', op.dtype)}({a[0]}))"


_EXP_NONPOSITIVE = _unary_math("exp", "fl_expnegf")  # exp(x) where x <= 0 or NaN is known


def _logistic(e: Emitter, op: Op, a: list, ts: list) -> str:
    # as the numpy impl: e = exp(-|x|); x >= 0 ? 1 / (1 + e) : e / (1 + e)
    t, x = ctype(op.dtype), a[0]
    one = const(1, op.dtype, e.d)
    ex = e.temp(t, f"{_EXP_NONPOSITIVE(e, op, [f'(-{_abs(e, op, [x], ts)})'], ts)}")
    return f"({x} >= 0 ? {one} / ({one} + {ex}) : {ex} / ({one} + {ex}))"


def _integer_pow(e: Emitter, op: Op, a: list, ts: list) -> str:
    # square-and-multiply in exactly the order of the numpy impl
    y = op.attr
    t = ctype(op.dtype)
    mul = _arith("*")
    n, base, result = abs(y), a[0], None
    while n:
        if n & 1:
            result = base if result is None else e.temp(t, mul(e, op, [result, base], ts))
        n >>= 1
        if n:
            base = e.temp(t, mul(e, op, [base, base], ts))
    if result is None:
        result = const(1, op.dtype, e.d)
    if y < 0:
        result = f"({const(1, op.dtype, e.d)} / {result})"
    return result


def _convert(e: Emitter, op: Op, a: list, ts: list) -> str:
    src, dst, x = np.dtype(ts[0]), np.dtype(op.dtype), a[0]
    if src == dst:
        return x
    if dst.kind == "b":
        return f"(u8)({x} != 0)"
    if src.kind == "f" and dst.kind in "iu":
        return f"{e.helper(f'fl_f2int_{ctype(src)}_{ctype(dst)}')}({x})"
    return f"({ctype(dst)}){x}"


def _select_n(e: Emitter, op: Op, a: list, ts: list) -> str:
    which, cases = a[0], a[1:]
    if len(cases) == 1:
        return cases[0]
    if np.dtype(ts[0]).kind == "b":
        return f"({which} ? {cases[1]} : {cases[0]})"
    expr = cases[-1]  # np.choose(mode="clip")
    for k in range(len(cases) - 2, -1, -1):
        expr = f"({which} <= {k} ? {cases[k]} : {expr})"
    return expr


def _clamp(e: Emitter, op: Op, a: list, ts: list) -> str:
    lo, x, hi = a
    mx = _maxmin("max")(e, op, [x, lo], ts)
    return _maxmin("min")(e, op, [mx, hi], ts)


def _identity(e: Emitter, op: Op, a: list, ts: list) -> str:
    return a[0]


LOWER.update(
    add=_arith("+"),
    sub=_arith("-"),
    mul=_arith("*"),
    div=_div,
    rem=_rem,
    max=_maxmin("max"),
    min=_maxmin("min"),
    pow=_binary_math("pow"),
    atan2=_binary_math("atan2"),
    nextafter=_binary_math("nextafter"),
    neg=_neg,
    abs=_abs,
    sign=_sign,
    floor=_unary_math("floor"),
    ceil=_unary_math("ceil"),
    round=_round,
    is_finite=_is_finite,
    exp=_unary_math("exp", "fl_expf"),
    exp2=_unary_math("exp2"),
    log=_unary_math("log", "fl_logf"),
    log1p=_unary_math("log1p"),
    expm1=_unary_math("expm1"),
    tanh=_unary_math("tanh", "fl_tanhf"),
    logistic=_logistic,
    sin=_unary_math("sin"),
    cos=_unary_math("cos"),
    tan=_unary_math("tan"),
    asin=_unary_math("asin"),
    acos=_unary_math("acos"),
    atan=_unary_math("atan"),
    sinh=_unary_math("sinh"),
    cosh=_unary_math("cosh"),
    asinh=_unary_math("asinh"),
    acosh=_unary_math("acosh"),
    atanh=_unary_math("atanh"),
    sqrt=_unary_math("sqrt"),
    rsqrt=_rsqrt,
    cbrt=_unary_math("cbrt"),
    eq=_cmp("=="),
    ne=_cmp("!="),
    lt=_cmp("<"),
    le=_cmp("<="),
    gt=_cmp(">"),
    ge=_cmp(">="),
    select_n=_select_n,
    clamp=_clamp,
    integer_pow=_integer_pow,
    convert_element_type=_convert,
    stop_gradient=_identity,
    alias=_identity,
    shift_left=_shift("shl"),
    shift_right_logical=_shift("shrl"),
    shift_right_arithmetic=_shift("shra"),
    **{"not": _not, "and": _bitwise("&"), "or": _bitwise("|"), "xor": _bitwise("^")},
)

# Which dtype kinds each primitive accepts in a kernel (others stay numpy calls).
FLOAT_ONLY = {
    "pow", "atan2", "nextafter", "floor", "ceil", "round", "is_finite", "exp", "exp2", "log", "log1p",
    "expm1", "tanh", "logistic", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh",
    "acosh", "atanh", "sqrt", "rsqrt", "cbrt",
}  # fmt: skip
INT_ONLY = {"shift_left", "shift_right_logical", "shift_right_arithmetic"}
NO_BOOL = {"sub", "div", "rem", "neg", "sign", "integer_pow"}


# Maths a C kernel could only do with scalar libm calls, several times slower than numpy's SIMD loops:
# on the CPU these stay numpy calls (the CUDA dialect has fast versions of all of them).
SCALAR_ON_CPU = {
    "exp2", "log1p", "expm1", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
    "atanh", "cbrt", "pow", "atan2", "nextafter",
}  # fmt: skip
VECTOR_F32_ONLY = {"exp", "tanh", "log", "logistic"}  # our vector versions are float32


def lowerable(name: str, in_dtypes: list, out_dtype: np.dtype, cpu: bool = True) -> bool:
    """Whether primitive ``name`` on these dtypes can go into a kernel (``cpu``: a fast C kernel)."""
    if name not in LOWER and name not in REDUCTIONS:
        return False
    dts = [np.dtype(t) for t in in_dtypes] + [np.dtype(out_dtype)]
    if not all(supported_dtype(t) for t in dts):
        return False
    kind = np.dtype(out_dtype).kind
    if cpu and (name in SCALAR_ON_CPU or (name in VECTOR_F32_ONLY and np.dtype(out_dtype) != np.float32)):
        return False
    if cpu and name == "rem" and kind == "f":
        return False  # fmod
    if name == "is_finite":
        return np.dtype(in_dtypes[0]).kind == "f"
    if name in FLOAT_ONLY and any(t.kind != "f" for t in dts):
        return False
    if name in INT_ONLY and kind not in "iu":
        return False
    if name in NO_BOOL and kind == "b":
        return False
    if name in ("reduce_sum", "reduce_prod"):
        return kind != "b"
    return True


def reduction_identity(name: str, dtype: np.dtype) -> object:
    dtype = np.dtype(dtype)
    k = dtype.kind
    if name == "reduce_sum" or name == "reduce_or":
        return 0
    if name == "reduce_prod":
        return 1
    if name == "reduce_and":
        return 1 if k == "b" else (-1 if k == "i" else np.iinfo(dtype).max)
    if name == "reduce_max":
        return -np.inf if k == "f" else 0 if k == "b" else np.iinfo(dtype).min
    if name == "reduce_min":
        return np.inf if k == "f" else 1 if k == "b" else np.iinfo(dtype).max
    raise KeyError(name)


# ---------------------------------------------------------------------------------------------------
# Kernel bodies: scheduling shared by the dialects
# ---------------------------------------------------------------------------------------------------


class _Body:
    """Emits the statements of one kernel; the loop structure is the renderer's.

    Outer values are emitted once per outer point, in the order ``schedule()`` gives (a reduction comes
    after the outer values its loop reads). Inner values are recomputed in every loop over the inner axes
    that needs them, except expensive ones reused by a later loop, which a C row kernel keeps in a
    scratch row (``scratch``).
    """

    def __init__(self, k: Kernel, e: Emitter):
        self.k, self.e, self.d = k, e, e.d
        self.ops = k.op_of()
        self.reds = k.reductions()
        self.outer_vals = {v for v in self.ops if not k.is_inner(v)}
        self.scratch: list[int] = []
        self.materialised: set[int] = set()  # scratch values already written by an earlier loop
        self.nonpositive = self._nonpositive()

    def _nonpositive(self) -> set[int]:
        """Values known to be <= 0 or NaN: ``x - max(x)``, the max taken over the row that holds ``x``
        (softmax's exp argument, whose exp then needs no overflow clamp)."""

        def source(v: int) -> int:  # through the ops that pass a value on unchanged
            while v in self.ops and self.ops[v].op in ("stop_gradient", "alias"):
                v = self.ops[v].args[0]
            return v

        found = set()
        for op in self.k.ops:
            if op.op == "sub":
                top = self.ops.get(source(op.args[1]))
                if top is not None and top.op == "reduce_max" and source(top.args[0]) == source(op.args[0]):
                    found.add(op.out)
        return found

    def cone(self, roots: list[int], stop: set[int]) -> list[int]:
        """Values needed for ``roots`` in topological order; ``stop`` values are included, not entered."""
        need: set[int] = set()
        stack = list(roots)
        while stack:
            v = stack.pop()
            if v in need:
                continue
            need.add(v)
            if v not in stop:
                stack.extend(self.ops[v].args)
        return [op.out for op in self.k.ops if op.out in need]

    def inner_cone(self, roots: list[int], stop: set[int] = frozenset()) -> list[int]:
        """Inner values needed for ``roots`` (outer values and ``stop`` values are not entered)."""
        cone = self.cone(roots, self.outer_vals | set(stop))
        return [v for v in cone if v not in self.outer_vals]

    def outer_deps(self, v: int) -> list[int]:
        op = self.ops[v]
        if op.op in REDUCTIONS:  # the outer values read inside its loop
            cone = self.cone([op.args[0]], self.outer_vals)
            return [w for w in cone if w in self.outer_vals]
        return list(op.args)

    def final_stores(self) -> list[tuple[int, int]]:
        return [(p, v) for p, v in self.k.stores if self.k.is_inner(v)]

    def outer_stores(self) -> list[tuple[int, int]]:
        return [(p, v) for p, v in self.k.stores if not self.k.is_inner(v)]

    def schedule(self) -> list[int]:
        """Outer values (reductions included) in emission order."""
        roots = [r.out for r in self.reds] + [v for _, v in self.outer_stores()]
        final = self.inner_cone([v for _, v in self.final_stores()])
        roots += [a for w in final for a in self.ops[w].args if a in self.outer_vals]
        order: list[int] = []
        seen: set[int] = set()

        def visit(v: int) -> None:
            if v in seen:
                return
            seen.add(v)
            for w in self.outer_deps(v):
                visit(w)
            order.append(v)

        for v in roots:
            visit(v)
        return order

    def stmt(self, op: Op, load: Callable[[int], str], lines: list[str]) -> None:
        """Append the statement defining ``t<op.out>``; ``load(p)`` is the element of array ``p`` here."""
        t = ctype(op.dtype)
        if op.op == "load":
            expr = load(op.attr)
        elif op.op == "const":
            expr = const(op.attr, op.dtype, self.d)
        elif op.op == "iota":
            expr = f"({t})i{op.attr}" if op.attr >= 0 else const(0, op.dtype, self.d)
        else:
            self.e.lines = []
            lower = _EXP_NONPOSITIVE if op.op == "exp" and op.args[0] in self.nonpositive else LOWER[op.op]
            expr = lower(self.e, op, [f"t{a}" for a in op.args], [self.ops[a].dtype for a in op.args])
            lines.extend(self.e.lines)
        lines.append(f"const {t} t{op.out} = {expr};")

    def combine(self, red: Op, a: str, b: str) -> str:
        fake = Op(-1, REDUCTIONS[red.op], (), red.dtype)
        self.e.lines = []
        expr = LOWER[fake.op](self.e, fake, [a, b], [red.dtype, red.dtype])
        assert not self.e.lines
        return expr

    def plan_scratch(self, limit: int = 4) -> None:
        """Choose the expensive inner values that more than one loop needs (C row kernels)."""
        loops = [[r.args[0]] for r in self.reds] + [[v for _, v in self.final_stores()]]
        cached: set[int] = set()
        seen: set[int] = set()
        for roots in loops:
            if not roots:
                continue
            cone = self.inner_cone(roots, cached)
            for v in cone:
                if v in seen and v not in cached and self.ops[v].op not in CHEAP and len(cached) < limit:
                    cached.add(v)
            seen.update(cone)
        self.scratch = sorted(cached)


def _offset(k: Kernel, p: int, axes: tuple[int, ...]) -> str:
    terms = [f"i{d} * s{p}_{d}" for d in axes if k.params[p].emb[d] >= 0]
    return " + ".join(terms) if terms else "0"


def _indent(lines: list[str], level: int) -> str:
    pad = "  " * level
    return "".join(pad + line + "\n" for line in lines)


def _ind(lines: list[str]) -> list[str]:
    return ["  " + line for line in lines]


LANES = 32  # partial results of a reduction over a unit-stride axis (vectorised; shorter add chains)


class CRenderer:
    """Kernels as C functions: nested per-dimension loops over runtime extents and element strides.

    Kernel ``k`` gives ``static int k_body(const fl_args*, i64 lo, i64 hi, int tid)`` (the loop nest, the
    parallel axis restricted to ``[lo, hi)``) and the exported ``int k(dims, arrays...)``, which has the
    runtime library read the data pointers, shapes and strides straight from the ndarray objects and check
    them (returning 1, so that the caller falls back to numpy, on anything unexpected), collapse
    dimensions that every array steps through contiguously, and run the body, on several OpenMP threads
    above a size threshold. Every innermost loop comes in two versions, unit stride (vectorised) and
    general strides; for elementwise kernels the second is a separate translation unit (``strided``),
    compiled only when a plan first meets such strides. Reductions accumulate into 32 partial results
    (vectorisable, and more accurate than one running sum).
    """

    dialect = C

    def __init__(self, strided: bool = False):
        self.strided = strided

    def kernel(self, k: Kernel, e: Emitter) -> str:
        b = _Body(k, e)
        lines: list[str] = []
        r = "" if k.aliased else f" {C.restrict}"
        for p, prm in enumerate(k.params):
            cst = "" if prm.is_output else "const "
            lines.append(f"{cst}{ctype(prm.dtype)}*{r} const p{p} = ({cst}{ctype(prm.dtype)}*)A->p[{p}];")
        for d in range(k.rank):
            lines.append(f"const i64 n{d} = A->n[{d}];")
            for p, prm in enumerate(k.params):
                if prm.emb[d] >= 0:
                    lines.append(f"const i64 s{p}_{d} = A->s[{p}][{d}];")
        if k.inner:
            b.plan_scratch()
        rows = self._output_rows(k, b)
        row_pointers = []
        for j, v in enumerate(b.scratch):
            t = ctype(b.ops[v].dtype)
            name = f"scb{v}" if v in rows else f"sc{v}"
            lines.append(f"{t}* const {name} = ({t}*)A->sc[{j}] + (i64)tid * A->sc_n;")
            if v in rows:
                p, last = rows[v], k.inner[0]
                at = f"p{p} + {_offset(k, p, k.outer)}"
                row_pointers.append(f"{t}* const sc{v} = s{p}_{last} == 1 ? {at} : scb{v};")
        if not k.outer:
            lines.extend(row_pointers + self._outer_body(k, b))
        else:
            lines.append("const int pax = A->pax;")
            for d in k.outer:
                lines.append(f"const i64 b{d} = pax == {d} ? lo : 0, e{d} = pax == {d} ? hi : n{d};")
            last = k.outer[-1]
            if k.inner:
                lines.extend(self._loops(k.outer, row_pointers + self._outer_body(k, b), bounds=True))
            elif self.strided:  # elementwise, any strides: the version built only when first needed
                slow = self._loops(k.outer, self._outer_body(k, b), bounds=True)
                return self._body_function(f"{k.name}_body", [*lines, *slow], vectorise=False) + self._entry(
                    k, b
                )
            else:  # elementwise, unit stride innermost (vectorised); refuses other strides before writing
                fast = self._loops(k.outer[:-1], self._blocks(k, b, last), bounds=True)
                contig = self._contiguous(k, last, outputs=True)
                body = [*lines, f"if (!({contig})) return 1;", *self._block_buffers(k, last), *fast]
                return self._body_function(f"{k.name}_body", body) + self._entry(k, b)
        return self._body_function(f"{k.name}_body", lines) + self._entry(k, b)

    @staticmethod
    def _output_rows(k: Kernel, b: _Body) -> dict[int, int]:
        """Scratch values kept in an output's row instead (value -> output param), where that output is a
        contiguous row of the same dtype written only by the last pass: softmax's ``exp(x - max)`` goes
        straight into the output row, and the last pass divides it in place. The row's write-allocate
        then overlaps the exp pass's arithmetic instead of the last pass's stores (12% on softmax here).
        Not for in-place kernels (the output row may be an input row still to be read), several inner
        axes, or an output shared between outer points (a broadcast output row)."""
        if k.aliased or len(k.inner) != 1:
            return {}
        free = [p for p, _ in b.final_stores() if all(e >= 0 for e in k.params[p].emb)]
        rows: dict[int, int] = {}
        for v in b.scratch:
            match = next((p for p in free if k.params[p].dtype == b.ops[v].dtype), None)
            if match is not None:
                rows[v] = match
                free.remove(match)
        return rows

    @staticmethod
    def _body_function(name: str, lines: list[str], vectorise: bool = True) -> str:
        """``static int name(A, lo, hi, tid)``. The strided version of an elementwise loop is not vectorised:
        gathers seldom pay."""
        attr = "" if vectorise else '__attribute__((optimize("no-tree-vectorize"))) '
        head = (
            f"static {attr}int {name}(const fl_args* const A, const i64 lo, const i64 hi, const int tid) {{\n"
        )
        return head + _indent([*lines, "return 0;"], 1) + "}\n"

    @staticmethod
    def _contiguous(k: Kernel, axis: int, outputs: bool) -> str:
        ps = [p for p, prm in enumerate(k.params) if prm.emb[axis] >= 0 and (outputs or not prm.is_output)]
        return " && ".join(f"s{p}_{axis} == 1" for p in ps) or "1"

    @staticmethod
    def _loops(axes: tuple[int, ...], body: list[str], bounds: bool) -> list[str]:
        """Nested loops over ``axes`` around ``body`` (``bounds``: the parallel axis's ``[lo, hi)``)."""
        for d in reversed(axes):
            head = (
                f"for (i64 i{d} = b{d}; i{d} < e{d}; i{d}++) {{"
                if bounds
                else (f"for (i64 i{d} = 0; i{d} < n{d}; i{d}++) {{")
            )
            body = [head, *_ind(body), "}"]
        return body

    def _outer_body(self, k: Kernel, b: _Body) -> list[str]:
        """The code at one point of the outer loop nest."""
        lines: list[str] = []
        b.materialised = set()
        for v in b.schedule():
            op = b.ops[v]
            if op.op in REDUCTIONS:
                lines.extend(self._reduction(k, b, op))
            else:
                b.stmt(op, lambda p: f"p{p}[{_offset(k, p, k.outer)}]", lines)
        final = b.final_stores()
        if final:
            lines.extend(self._final_pass(k, b, final))
        for p, v in b.outer_stores():
            lines.append(f"p{p}[{_offset(k, p, k.outer)}] = t{v};")
        return lines

    @staticmethod
    def _block_width(k: Kernel) -> int:
        """Elements per block: 64 bytes of the narrowest type (one AVX-512 vector), at least 16."""
        narrowest = min(
            np.dtype(x).itemsize for x in [prm.dtype for prm in k.params] + [o.dtype for o in k.ops]
        )
        return max(16, 64 // narrowest)

    def _block_buffers(self, k: Kernel, last: int) -> list[str]:
        """The local buffers a row's last, partial block runs on (zeroed, so that the lanes past the row's
        end hold valid operands: integer division by them takes the same guarded path as any zero)."""
        width = self._block_width(k)
        return [
            f"{ctype(prm.dtype)} bf{p}[{width}] = {{0}};"
            for p, prm in enumerate(k.params)
            if prm.emb[last] >= 0
        ]

    def _blocks(self, k: Kernel, b: _Body, last: int) -> list[str]:
        """The unit-stride innermost axis ``last`` of an elementwise kernel in blocks of a fixed width. The
        block's loop has a constant trip count, so the compiler vectorises it whole and builds no scalar
        remainder loop (about a tenth less compile time, and short rows run vector code too); a row's last,
        partial block runs on copies of its elements in local buffers."""
        width = self._block_width(k)
        streams = [p for p, prm in enumerate(k.params) if prm.emb[last] >= 0]
        inputs = [p for p in streams if not k.params[p].is_output]
        outputs = [p for p in streams if k.params[p].is_output]
        at = {p: f"p{p} + {_offset(k, p, k.outer[:-1])} + c{last}" for p in streams}
        body: list[str] = []
        if any(op.op == "iota" and op.attr == last for op in k.ops):
            body.append(f"const i64 i{last} = c{last} + j;")
        b.materialised = set()
        for v in b.schedule():
            b.stmt(
                b.ops[v],
                lambda p: f"x{p}[j]" if p in streams else f"p{p}[{_offset(k, p, k.outer)}]",
                body,
            )
        body += [f"x{p}[j] = t{v};" for p, v in b.outer_stores()]
        lines = [f"const i64 m = e{last} - c{last};"]
        for p in streams:
            cst = "" if k.params[p].is_output else "const "
            lines.append(f"{cst}{ctype(k.params[p].dtype)}* x{p} = {at[p]};")
        lines.append(f"if (m < {width}) {{")
        if inputs:
            lines.append(
                f"  for (i64 j = 0; j < m; j++) {{ {' '.join(f'bf{p}[j] = x{p}[j];' for p in inputs)} }}"
            )
        lines.append("  " + " ".join(f"x{p} = bf{p};" for p in streams))
        lines.append("}")
        lines += ["#pragma GCC ivdep", f"for (int j = 0; j < {width}; j++) {{", *_ind(body), "}"]
        copy_out = " ".join(f"({at[p]})[j] = bf{p}[j];" for p in outputs)
        lines.append(f"if (m < {width}) for (i64 j = 0; j < m; j++) {{ {copy_out} }}")
        return [f"for (i64 c{last} = b{last}; c{last} < e{last}; c{last} += {width}) {{", *_ind(lines), "}"]

    def _bases(self, k: Kernel, level: tuple[int, ...]) -> list[str]:
        """Pointers ``q<p>`` to each array at the current outer point and outer inner indices ``level``."""
        out = []
        for p, prm in enumerate(k.params):
            if not any(prm.emb[d] >= 0 for d in k.inner):
                continue  # read at the outer point only
            cst = "" if prm.is_output else "const "
            out.append(f"{cst}{ctype(prm.dtype)}* const q{p} = p{p} + {_offset(k, p, k.outer + level)};")
        return out

    def _inner_stmts(self, k: Kernel, b: _Body, roots: list[int], idx: str, contiguous: bool) -> list[str]:
        """Statements computing inner ``roots`` at index ``idx`` of the innermost inner axis."""
        last = k.inner[-1]
        lines: list[str] = []

        def load(p: int) -> str:
            prm = k.params[p]
            if not any(prm.emb[d] >= 0 for d in k.inner):
                return f"p{p}[{_offset(k, p, k.outer)}]"
            if prm.emb[last] < 0:
                return f"q{p}[0]"
            return f"q{p}[{idx}]" if contiguous else f"q{p}[({idx}) * s{p}_{last}]"

        for v in b.inner_cone(roots, b.materialised):
            if v in b.materialised:
                lines.append(f"const {ctype(b.ops[v].dtype)} t{v} = sc{v}[so + {idx}];")
                continue
            b.stmt(b.ops[v], load, lines)
            if v in b.scratch:
                lines.append(f"sc{v}[so + {idx}] = t{v};")
        return lines

    def _reduction(self, k: Kernel, b: _Body, red: Op) -> list[str]:
        """One pass over the inner axes accumulating ``red`` (and filling scratch rows on the way)."""
        t = ctype(red.dtype)
        ident = const(reduction_identity(red.op, red.dtype), red.dtype, C)
        src = red.args[0]
        last, level = k.inner[-1], tuple(k.inner[:-1])
        cone = b.inner_cone([src], b.materialised)
        read = {b.ops[v].attr for v in cone if b.ops[v].op == "load" and v not in b.materialised}
        contig = " && ".join(f"s{p}_{last} == 1" for p in sorted(read) if k.params[p].emb[last] >= 0) or "1"
        new_scratch = {v for v in b.inner_cone([src], b.materialised) if v in b.scratch}

        # unit stride: 8 partial results in a vectorised loop; otherwise (and for the tail) one
        lanes = self._inner_stmts(k, b, [src], f"i{last} + j", True)
        lanes.append(f"acc[j] = {b.combine(red, 'acc[j]', f't{src}')};")
        tail = self._inner_stmts(k, b, [src], f"i{last}", False)
        tail.append(f"acc[0] = {b.combine(red, 'acc[0]', f't{src}')};")
        core = [*self._bases(k, level), f"i64 i{last} = 0;", f"if ({contig}) {{"]
        core += [f"  for (; i{last} + {LANES} <= n{last}; i{last} += {LANES}) {{"]
        core += ["    #pragma GCC unroll 1"]  # keep the 8 lanes a loop: it vectorises, unrolled it may not
        core += [f"    for (int j = 0; j < {LANES}; j++) {{", *_ind(_ind(_ind(lanes))), "    }", "  }", "}"]
        core += [f"for (; i{last} < n{last}; i{last}++) {{", *_ind(tail), "}", f"so += n{last};"]
        tree = [f"acc[{j}]" for j in range(LANES)]
        while len(tree) > 1:
            tree = [b.combine(red, tree[i], tree[i + 1]) for i in range(0, len(tree), 2)]
        halving = []
        if red.op in ("reduce_max", "reduce_min"):
            # Order-free combines fold the lanes in halves, vector by vector: the pairwise tree reads each lane
            # back as a scalar from the just-stored vector, a store-forwarding stall per lane on every row.
            halving = [
                f"for (int w = {LANES // 2}; w > 0; w /= 2)",
                f"  for (int j = 0; j < w; j++) acc[j] = {b.combine(red, 'acc[j]', 'acc[j + w]')};",
            ]
            tree = ["acc[0]"]
        b.materialised |= new_scratch
        return [
            f"{t} t{red.out};",
            "{",
            f"  {t} acc[{LANES}];",
            f"  for (int j = 0; j < {LANES}; j++) acc[j] = {ident};",
            "  i64 so = 0;",
            *_ind(self._loops(level, core, bounds=False)),
            *_ind(halving),
            f"  t{red.out} = {tree[0]};",
            "}",
        ]

    def _final_pass(self, k: Kernel, b: _Body, final: list[tuple[int, int]]) -> list[str]:
        last, level = k.inner[-1], tuple(k.inner[:-1])

        def version(contiguous: bool) -> list[str]:
            stmts = self._inner_stmts(k, b, [v for _, v in final], f"i{last}", contiguous)
            for p, v in final:
                at = (
                    "0"
                    if k.params[p].emb[last] < 0
                    else f"i{last}"
                    if contiguous
                    else f"i{last} * s{p}_{last}"
                )
                stmts.append(f"q{p}[{at}] = t{v};")
            head = [f"for (i64 i{last} = 0; i{last} < n{last}; i{last}++) {{"]
            if contiguous and k.aliased:
                head.insert(0, "#pragma GCC ivdep")
            return [*head, *_ind(stmts), "}"]

        core = [*self._bases(k, level), f"if ({self._contiguous(k, last, outputs=True)}) {{"]
        core += [*_ind(version(True)), "} else {", *_ind(version(False)), "}", f"so += n{last};"]
        return ["{", "  i64 so = 0;", *_ind(self._loops(level, core, bounds=False)), "}"]

    def _entry(self, k: Kernel, b: _Body) -> str:
        n = len(k.params)
        emb = ", ".join(str(x) for prm in k.params for x in prm.emb) or "0"
        nd = ", ".join(str(prm.ndim) for prm in k.params)
        isz = ", ".join(str(np.dtype(prm.dtype).itemsize) for prm in k.params)
        out = ", ".join("1" if prm.is_output else "0" for prm in k.params)
        order = ", ".join(str(d) for d in k.loop_order) or "0"
        cls = ", ".join("1" if d in k.inner else "0" for d in range(k.rank)) or "0"
        args = ", ".join(f"const fl_arr* a{p}" for p in range(n))
        cost = 1 + 8 * sum(op.op not in CHEAP for op in k.ops)
        lines = [
            f"FL_EXPORT int {k.name}(const fl_arr* dims, {args}) {{",
            f"  static const signed char emb[] = {{{emb}}};",
            f"  static const signed char nd[] = {{{nd}}};",
            f"  static const unsigned char isz[] = {{{isz}}};",
            f"  static const unsigned char out[] = {{{out}}};",
            f"  static const signed char order[] = {{{order}}};",
            f"  static const unsigned char cls[] = {{{cls}}};",
            f"  const fl_arr* const arrs[] = {{{', '.join(f'a{p}' for p in range(n))}}};",
            "  fl_args A;",
            f"  int rc = functorch_lite_prepare(&A, dims, arrs, {n}, {k.rank}, emb, nd, isz, out, order, cls);",
            "  if (rc) return rc < 0 ? 0 : rc;",
            "  const int threads = functorch_lite_threads();",
        ]
        if not b.scratch:
            lines.append(f"  return functorch_lite_launch({k.name}_body, &A, {cost}, threads);")
            return "\n".join(lines) + "\n}\n"
        for j, v in enumerate(b.scratch):  # one row per thread, allocated before any work starts
            t = ctype(b.ops[v].dtype)
            lines.append(f"  A.sc[{j}] = malloc(sizeof({t}) * (A.sc_n > 0 ? A.sc_n : 1) * threads);")
        lines.append("  rc = 0;")
        lines.append("  if (" + " && ".join(f"A.sc[{j}]" for j in range(len(b.scratch))) + ")")
        lines.append(f"    rc = functorch_lite_launch({k.name}_body, &A, {cost}, threads);")
        lines.append("  else rc = 1;")
        lines += [f"  free(A.sc[{j}]);" for j in range(len(b.scratch))]
        lines.append("  return rc;")
        return "\n".join(lines) + "\n}\n"


def render_runtime() -> str:
    """The runtime library's translation unit: reading ndarray objects, collapsing dimensions, threads."""
    return RUNTIME_SOURCE


def render_c(kernels: list[Kernel], strided: bool = False) -> str:
    """One C translation unit holding ``kernels`` (the same kernels always give the same text). An
    elementwise kernel's loop takes unit-stride innermost axes only (it returns 1 on others, before writing
    anything); ``strided``: the version for any strides instead, which a plan builds only if it meets them
    (a third less to compile for every jit)."""
    e = Emitter(C)
    bodies = [CRenderer(strided).kernel(k, e) for k in kernels]
    header = f"/* functorch_lite fused kernels ({FORMAT_VERSION}); generated, do not edit */\n"
    summary = "".join(f"/* {k.name}: {k.summary()} */\n" for k in kernels)
    return header + summary + e.prelude() + C_RUNTIME_DECLS + "\n" + "\n".join(bodies)


# ---------------------------------------------------------------------------------------------------
# CUDA (RawKernel): a grid-stride loop over the outer points; reductions loop serially per point
# ---------------------------------------------------------------------------------------------------


def cuda_signature(k: Kernel) -> list[tuple[str, str]]:
    """The (kind, name) of each kernel argument: arrays, then extents, then element strides."""
    args = [("array", f"p{p}") for p in range(len(k.params))]
    args += [("extent", f"n{d}") for d in range(k.rank)]
    args += [
        ("stride", f"s{p}_{d}") for p, prm in enumerate(k.params) for d in range(k.rank) if prm.emb[d] >= 0
    ]
    return args


class CudaRenderer:
    """``extern "C" __global__`` kernels: one thread per outer point, grid-stride over all of them, the
    outer index unravelled with one div/mod per dimension (CuPy's scheme)."""

    dialect = CUDA

    def kernel(self, k: Kernel, e: Emitter) -> str:
        b = _Body(k, e)
        params = []
        r = "" if k.aliased else f" {CUDA.restrict}"
        for kind, name in cuda_signature(k):
            if kind == "array":
                prm = k.params[int(name[1:])]
                cst = "" if prm.is_output else "const "
                params.append(f"{cst}{ctype(prm.dtype)}*{r} {name}")
            else:
                params.append(f"const i64 {name}")
        lines = ["const i64 total = " + (" * ".join(f"n{d}" for d in k.outer) or "1") + ";"]
        lines.append("for (i64 f = (i64)blockIdx.x * blockDim.x + threadIdx.x; f < total;")
        lines.append("     f += (i64)blockDim.x * gridDim.x) {")
        body = ["i64 rest = f;"]
        for d in reversed(k.outer):
            body.append(f"const i64 i{d} = rest % n{d}; rest /= n{d};")
        body.append("(void)rest;")
        body.extend(self._point(k, b))
        lines.extend(_ind(body))
        lines.append("}")
        return f'extern "C" __global__ void {k.name}({", ".join(params)}) {{\n' + _indent(lines, 1) + "}\n"

    @staticmethod
    def _loops(k: Kernel, body: list[str]) -> list[str]:
        for d in reversed(k.inner):
            body = [f"for (i64 i{d} = 0; i{d} < n{d}; i{d}++) {{", *_ind(body), "}"]
        return body

    def _point(self, k: Kernel, b: _Body) -> list[str]:
        lines: list[str] = []
        every = k.outer + tuple(k.inner)
        inner_load = lambda p: f"p{p}[{_offset(k, p, every)}]"  # noqa: E731
        for v in b.schedule():
            op = b.ops[v]
            if op.op in REDUCTIONS:
                t = ctype(op.dtype)
                ident = const(reduction_identity(op.op, op.dtype), op.dtype, CUDA)
                inner: list[str] = []
                for w in b.inner_cone([op.args[0]]):
                    b.stmt(b.ops[w], inner_load, inner)
                inner.append(f"acc = {b.combine(op, 'acc', f't{op.args[0]}')};")
                lines += [f"{t} t{op.out};", "{", f"  {t} acc = {ident};", *_ind(self._loops(k, inner))]
                lines += [f"  t{op.out} = acc;", "}"]
            else:
                b.stmt(op, lambda p: f"p{p}[{_offset(k, p, k.outer)}]", lines)
        final = b.final_stores()
        if final:
            inner = []
            for w in b.inner_cone([v for _, v in final]):
                b.stmt(b.ops[w], inner_load, inner)
            inner += [f"p{p}[{_offset(k, p, every)}] = t{v};" for p, v in final]
            lines.extend(self._loops(k, inner))
        lines += [f"p{p}[{_offset(k, p, k.outer)}] = t{v};" for p, v in b.outer_stores()]
        return lines


def render_cuda(kernels: list[Kernel]) -> str:
    """One CUDA source holding ``kernels`` as ``extern "C" __global__`` functions (CuPy ``RawModule``)."""
    e = Emitter(CUDA)
    bodies = [CudaRenderer().kernel(k, e) for k in kernels]
    header = f"/* functorch_lite fused kernels ({FORMAT_VERSION}, CUDA); generated, do not edit */\n"
    return header + e.prelude() + "\n" + "\n".join(bodies)


# ---------------------------------------------------------------------------------------------------
# CuPy ElementwiseKernel / ReductionKernel bodies
# ---------------------------------------------------------------------------------------------------

CUPY_TYPE = {np.dtype(k): k for k in CTYPE}


class CupyElementwise(NamedTuple):
    """Arguments of ``cupy.ElementwiseKernel(in_params, out_params, operation, name, preamble=...)``."""

    in_params: str
    out_params: str
    operation: str
    name: str
    preamble: str


class CupyReduction(NamedTuple):
    """Arguments of ``cupy.ReductionKernel(...)``; ``axis`` are the kernel's inner axes."""

    in_params: str
    out_params: str
    map_expr: str
    reduce_expr: str
    post_map_expr: str
    identity: str
    name: str
    reduce_type: str
    preamble: str
    axis: tuple[int, ...]


def _params_decl(k: Kernel, outputs: bool) -> str:
    return ", ".join(f"{CUPY_TYPE[np.dtype(p.dtype)]} {p.name}" for p in k.params if p.is_output == outputs)


def _by_name(k: Kernel) -> Callable[[int], str]:
    return lambda p: f"(({ctype(k.params[p].dtype)}){k.params[p].name})"


def cupy_elementwise(k: Kernel) -> CupyElementwise:
    """The ElementwiseKernel of a kernel without reductions. Its inputs are passed as views of the
    kernel's iteration space (broadcast or transposed through strides, never copied), so the body reads
    each one by name."""
    if k.inner:
        raise ValueError(f"{k.name} has reductions: use cupy_reduction or the RawKernel")
    e = Emitter(CUDA)
    b = _Body(k, e)
    lines: list[str] = []
    for op in k.ops:
        b.stmt(op, _by_name(k), lines)
    lines += [f"{k.params[p].name} = t{v};" for p, v in k.stores]
    return CupyElementwise(
        _params_decl(k, False), _params_decl(k, True), "\n".join(lines), k.name, e.prelude()
    )


def cupy_reduction(k: Kernel) -> CupyReduction | None:
    """The ReductionKernel of a kernel with one reduction whose outputs depend only on the reduced value
    and constants (the pre-map and each post-map become ``__device__`` functions in the preamble, as
    ``cupy.fuse`` does); None for other kernels (they run as RawKernels)."""
    reds = k.reductions()
    if len(reds) != 1 or not k.stores:
        return None
    red = reds[0]
    e = Emitter(CUDA)
    b = _Body(k, e)
    for v in b.cone([v for _, v in k.stores], {red.out}):
        if v != red.out and (b.ops[v].op in ("load", "iota") or k.is_inner(v)):
            return None
    t = ctype(red.dtype)
    ins = [p for p in k.params if not p.is_output]
    lines: list[str] = []
    for v in b.cone([red.args[0]], set()):
        b.stmt(b.ops[v], _by_name(k), lines)
    sig = ", ".join(f"const {ctype(p.dtype)} {p.name}" for p in ins)
    pre = (
        f"{CUDA.inline} {t} {k.name}_map({sig}) {{\n" + _indent(lines, 1) + f"  return t{red.args[0]};\n}}\n"
    )
    posts = []
    for p, v in k.stores:
        lines = []
        for w in b.cone([v], {red.out}):
            if w != red.out:
                b.stmt(b.ops[w], _by_name(k), lines)
        head = f"{CUDA.inline} {ctype(k.params[p].dtype)} {k.name}_post{p}(const {t} t{red.out}) {{\n"
        posts.append(head + _indent(lines, 1) + f"  return t{v};\n}}\n")
    reduce_expr = b.combine(red, "a", "b")
    return CupyReduction(
        in_params=_params_decl(k, False),
        out_params=_params_decl(k, True),
        map_expr=f"{k.name}_map({', '.join(p.name for p in ins)})",
        reduce_expr=reduce_expr,
        post_map_expr=" ".join(f"{k.params[p].name} = {k.name}_post{p}(a);" for p, _ in k.stores),
        identity=const(reduction_identity(red.op, red.dtype), red.dtype, CUDA),
        name=k.name,
        reduce_type=t,
        preamble=e.prelude() + pre + "".join(posts),
        axis=tuple(k.inner),
    )
