"""Every public function of ``functorch_lite.numpy`` (and ``fnp.linalg``) under every transformation.

One table entry per function (``CASES``): a draw function that, from hypothesis, picks small shapes (0-4 per
dimension, rank 0-3 as the function allows), static arguments (axis, keepdims, mode, ...) and inputs from a
domain (float32 unless the function needs ints or bools), and returns ``(fn, batched_args)``: ``fn`` takes
the array arguments positionally with the static ones closed over, and each batched argument carries a
leading batch axis of size ``B``. For every entry:

1. ``test_jit``: ``fl.jit(fn)(*args)`` equals ``fn(*args)`` exactly (pytree structure, dtype, shape, NaN
   positions, values). The inputs are below the compiler's fused-kernel threshold (256 elements), so this
   checks the generated numpy plan, not the C kernels;
2. ``test_vmap``: ``fl.vmap(fn, in_axes, out_axes)`` over the batched arguments equals stacking ``fn`` over a
   Python loop; each argument is drawn mapped at 0, at 1 (when its rank allows) or unmapped (``None``), and
   ``out_axes`` is 0 or -1. Exact, except for contractions and ``linalg`` (BLAS sums in another order);
3. ``test_grad`` (differentiable entries, with ``enable_x64``): ``fl.grad`` of a fixed weighted sum of the
   float outputs (a plain sum would not see permutations), w.r.t. every float argument, against central
   finite differences in float64 (every coordinate for small inputs, else random directions), and
   ``fl.jit(fl.grad(...))`` against ``fl.grad``; domains keep inputs away from kinks and poles;
4. ``test_jaxpr``: ``fl.make_jaxpr(fn)`` then ``fl.eval_jaxpr`` equals eager exactly.

Some functions have extra entries (ids ``name[label]``): integer/bool inputs, mixed dtypes, NaN inputs, and
known bugs as strict xfails (``Case.xfail``). Creation functions with no array argument (``zeros``,
``eye``, ...) take one ignored dummy argument, so that vmap has something to map. Functions whose output
shape depends on values (``nonzero``, ``unique``, ``bincount``, traced ``repeat`` counts) are tested with
their static ``size=`` / ``length=`` / ``total_repeat_length=``.
``test_table_covers_every_public_function`` checks the table against ``dir(fnp)`` and ``fnp.linalg``
(``SKIP`` lists the public callables that are not array functions).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import tree_util

# NaN/inf inputs and empty reductions are part of the domains: NumPy's warnings about them are expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
B = 3  # batch size of the vmap checks
SETTINGS = settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
# Known bugs (strict xfails) fail on purpose: no time spent shrinking them.
XFAIL_SETTINGS = settings(SETTINGS, phases=[Phase.explicit, Phase.generate])

# ---------------------------------------------------------------------------------------------------
# Input domains
# ---------------------------------------------------------------------------------------------------


def _floats(lo, hi):
    lo, hi = float(np.float32(lo)), float(np.float32(hi))  # bounds representable in float32
    return st.floats(lo, hi, width=32, allow_nan=False, allow_infinity=False)


def _signed(lo, hi):
    return st.one_of(_floats(-hi, -lo), _floats(lo, hi))


_SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0]
# name -> (dtype, element strategy); arrays come from hypothesis' ``hnp.arrays``.
DOMAINS = {
    "real": ("float32", _floats(-3, 3)),
    "pos": ("float32", _floats(0.25, 3)),  # log, sqrt, power's base
    "nz": ("float32", _signed(0.25, 3)),  # away from 0: abs, reciprocal, divisors
    "mid": ("float32", _signed(0.5, 1.5)),  # products stay moderate
    "unit": ("float32", _floats(-0.9, 0.9)),  # arcsin, arccos, arctanh
    "gt1": ("float32", _floats(1.25, 4)),  # arccosh
    "small": ("float32", _floats(-1.2, 1.2)),  # tan, away from its poles
    "offgrid": ("float32", st.integers(-24, 23).map(lambda k: (2 * k + 1) / 8)),  # never an integer
    "divisor": ("float32", st.sampled_from([-3.0, -2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0, 3.0])),
    "ties": ("float32", st.sampled_from([-1.0, 0.0, 0.0, 0.5, 1.0, 2.0])),  # repeated values and zeros
    "special": ("float32", st.one_of(_floats(-3, 3), st.sampled_from(_SPECIALS))),
    "nan": ("float32", st.one_of(_floats(-3, 3), _floats(-3, 3), st.just(np.nan))),
    "nanmid": ("float32", st.one_of(_signed(0.5, 1.5), _signed(0.5, 1.5), st.just(np.nan))),
    "int": ("int32", st.integers(-6, 6)),
    "int8": ("int8", st.integers(-5, 5)),
    "uint8": ("uint8", st.integers(0, 6)),
    "nonneg": ("int32", st.integers(0, 6)),
    "intnz": ("int32", st.integers(-6, 6).filter(bool)),
    "shift": ("int32", st.integers(0, 5)),
    "bool": ("bool", st.booleans()),
}
# In the gradient check, domains with NaN/inf or ties become smooth ones.
GRAD_DOMAINS = {"special": "real", "nan": "real", "ties": "nz", "nanmid": "nanmid"}


class Ctx:
    """Wraps hypothesis' ``draw`` with helpers for shapes, axes and batched arrays."""

    def __init__(self, draw, grad: bool = False):
        self.draw, self.grad = draw, grad

    def __call__(self, strategy):
        return self.draw(strategy)

    def int(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def choice(self, seq):
        return self.draw(st.sampled_from(list(seq)))

    def flag(self):
        return self.draw(st.booleans())

    def shape(self, min_rank=0, max_rank=3, min_side=0, max_side=4):
        return tuple(
            self.draw(
                hnp.array_shapes(min_dims=min_rank, max_dims=max_rank, min_side=min_side, max_side=max_side)
            )
        )

    def bshapes(self, n=2, min_rank=0, max_rank=3, min_side=0):
        """``n`` shapes that broadcast together (NumPy rules: different ranks allowed)."""
        drawn = self.draw(
            hnp.mutually_broadcastable_shapes(
                num_shapes=n, min_dims=min_rank, max_dims=max_rank, min_side=min_side, max_side=4
            )
        )
        return [tuple(s) for s in drawn.input_shapes]

    def axis(self, ndim, none=False):
        """An int axis of a rank-``ndim`` array (negative allowed), or None."""
        options = list(range(-ndim, ndim)) + ([None] if none or ndim == 0 else [])
        return self.choice(options)

    def axes(self, ndim):
        """None, an int, or a tuple of distinct axes."""
        kind = self.int(0, 2)
        if kind == 0 or ndim == 0:
            return None if ndim == 0 or self.flag() else ()
        if kind == 1:
            return self.axis(ndim)
        chosen = self.draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
        return tuple(i - ndim if self.flag() else i for i, c in enumerate(chosen) if c)

    def rng(self):
        return np.random.default_rng(self.int(0, 2**32 - 1))

    def arr(self, shape, dom="real"):
        """A batched input: shape ``(B, *shape)`` with elements from domain ``dom``."""
        if isinstance(dom, tuple):
            dom = dom[1] if self.grad else dom[0]
        elif self.grad:
            dom = GRAD_DOMAINS.get(dom, dom)
        full = (B, *shape)
        if dom in ("anyint", "anyint_nb"):  # a drawn integer (or bool) dtype, for promotion and int paths
            dom = self.choice(["int", "int8", "uint8"] + (["bool"] if dom == "anyint" else []))
        if dom.startswith("distinct"):
            return self.distinct(full, dom)
        dtype, elements = DOMAINS[dom]
        return self.draw(hnp.arrays(dtype, full, elements=elements))

    def distinct(self, full, dom="distinct"):
        """Pairwise distinct values on a grid of step 1/4 (``distinct``), the grid shifted by 1/8
        (``distinct2``, so never equal to a ``distinct`` value), or with distinct nonzero magnitudes
        (``distinct_abs``): no ties, so max/sort/median are smooth at the input."""
        n = int(np.prod(full))
        perm = self.rng().permutation(n).astype(np.float64)
        if dom == "distinct_abs":
            signs = np.where(self.rng().random(n) < 0.5, -1.0, 1.0)
            values = (perm + 1.0) * 0.25 * signs
        else:
            values = (perm - n // 2) * 0.25 + (0.125 if dom == "distinct2" else 0.0)
        return values.reshape(full).astype(np.float32)

    def matrices(self, batch, m, n, kind="general"):
        """Batched float32 matrices ``(B, *batch, m, n)``: ``general`` (well conditioned when square),
        ``spd`` (symmetric positive definite), ``sym`` (symmetric, eigenvalues at least 0.5 apart) or
        ``lowrank``."""
        rng = self.rng()
        full = (B, *batch)
        if kind == "spd":
            x = rng.normal(size=(*full, n, n))
            a = x @ np.swapaxes(x, -1, -2) / max(n, 1) + np.eye(n)
        elif kind == "sym":
            q, _ = np.linalg.qr(rng.normal(size=(*full, n, n)))
            d = rng.permuted(np.broadcast_to(np.arange(n, dtype=np.float64), (*full, n)), axis=-1)
            d = (d - n / 2) * 0.75 + rng.uniform(-0.1, 0.1, size=d.shape)
            a = (q * d[..., None, :]) @ np.swapaxes(q, -1, -2)
        elif kind == "lowrank":
            r = self.int(0, min(m, n))
            a = rng.normal(size=(*full, m, r)) @ rng.normal(size=(*full, r, n))
        else:
            a = rng.normal(size=(*full, m, n)) * 0.5
            if m == n:
                a = a + 2.0 * np.eye(n)
        return a.astype(np.float32)


# ---------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------

Draw = Callable[[Ctx], "tuple[Callable, list[np.ndarray]]"]


@dataclass
class Case:
    name: str  # the public name: "sin", "linalg.det"
    draw: Draw
    diff: bool = True  # check fl.grad against finite differences
    vmap: bool = True
    argnums: tuple[int, ...] | None = None  # arguments to differentiate (default: every float argument)
    grad_out: Callable | None = None  # maps the output to the pytree whose weighted sum is differentiated
    vtol: float = 0.0  # rtol/atol of the vmap-vs-loop comparison (jit and eval_jaxpr must match exactly)
    gtol: float = 1e-4  # gradient tolerance, relative to 1 + sum |g * v|
    label: str = ""  # a suffix for the test id when one function has several entries
    xfail: dict[str, str] = field(default_factory=dict)  # check name -> "BUG: ..." reason

    @property
    def id(self):
        return f"{self.name}[{self.label}]" if self.label else self.name


def _fn(name):
    module, _, attr = name.rpartition(".")
    return getattr(fnp.linalg if module == "linalg" else fnp, attr)


def unary(dom="real"):
    return lambda f: lambda c: (f, [c.arr(c.shape(), dom)])


def nary(*doms, min_rank=0):
    def make(f):
        def draw(c):
            shapes = c.bshapes(len(doms), min_rank=min_rank)
            return f, [c.arr(s, d) for s, d in zip(shapes, doms)]

        return draw

    return make


def same_dtype_pair(dtypes_=("int", "bool"), second=None):
    """Two broadcastable int (or bool) arrays of one drawn dtype."""

    def make(f):
        def draw(c):
            dom = c.choice(dtypes_)
            s1, s2 = c.bshapes(2)
            return f, [c.arr(s1, dom), c.arr(s2, second or dom)]

        return draw

    return make


def reduction(dom="real", axis="multi", keepdims=True, min_side=0, min_rank=0, max_rank=3, extra=None):
    """``f(a, axis=..., keepdims=..., **extra(c, shape))``; ``axis`` is "multi" (None/int/tuple), "single"
    (None or an int) or "none" (not passed); ``min_side``/``min_rank`` may be pairs (checks, gradient check)."""

    def make(f):
        def draw(c):
            side = min_side[c.grad] if isinstance(min_side, tuple) else min_side
            rank = min_rank[c.grad] if isinstance(min_rank, tuple) else min_rank
            shape = c.shape(min_side=side, min_rank=rank, max_rank=max_rank)
            kw = {}
            if axis == "multi":
                kw["axis"] = c.axes(len(shape))
            elif axis == "single":
                kw["axis"] = c.axis(len(shape), none=True)
            if keepdims:
                kw["keepdims"] = c.flag()
            if extra is not None:
                kw.update(extra(c, shape, kw))
            return partial(f, **kw), [c.arr(shape, dom)]

        return draw

    return make


def custom(draw):
    """``draw(c, f)`` written out for one function."""
    return lambda f: partial(draw, f=f)


def _dummy(c):
    return [c.arr((), "real")]


CASES: list[Case] = []


# Contractions may sum in another order when batched (BLAS): their vmap results match to rounding only.
_CONTRACTIONS = {"dot", "vdot", "inner", "matmul", "tensordot", "einsum", "convolve", "correlate", "kron"}


def case(name, make, **kw):
    if name in _CONTRACTIONS or name.startswith("linalg."):
        kw.setdefault("vtol", 1e-5)
    CASES.append(Case(name, make(_fn(name)), **kw))


# --- elementwise, one argument ---------------------------------------------------------------------
for _name, _dom in [
    ("sin", "real"), ("cos", "real"), ("tan", "small"), ("sinh", "real"), ("cosh", "real"),
    ("tanh", "real"), ("arctan", "real"), ("arcsinh", "real"), ("arcsin", "unit"), ("arccos", "unit"),
    ("arctanh", "unit"), ("arccosh", "gt1"), ("exp", "real"), ("exp2", "real"), ("expm1", "real"),
    ("log", "pos"), ("log2", "pos"), ("log10", "pos"), ("log1p", "pos"), ("sqrt", "pos"), ("cbrt", "nz"),
    ("reciprocal", "nz"), ("square", "real"), ("negative", "real"), ("positive", "real"),
    ("abs", "nz"), ("absolute", "nz"), ("fabs", "nz"), ("sign", ("ties", "nz")),
    ("deg2rad", "real"), ("radians", "real"), ("rad2deg", "real"), ("degrees", "real"), ("sinc", "real"),
    ("conj", "real"), ("conjugate", "real"), ("real", "real"), ("imag", "real"), ("copy", "special"),
    ("floor", "offgrid"), ("ceil", "offgrid"), ("trunc", "offgrid"), ("rint", "offgrid"),
    ("fix", "offgrid"), ("nan_to_num", "special"),
]:  # fmt: skip
    case(_name, unary(_dom))
    case(_name, unary("anyint_nb"), diff=False, label="int")  # int inputs: promoted to float or kept
for _name in ["isfinite", "isinf", "isnan", "signbit"]:
    case(_name, unary("special"), diff=False)
case("logical_not", unary("ties"), diff=False)
for _name in ["bitwise_not", "invert"]:
    case(_name, custom(lambda c, f: (f, [c.arr(c.shape(), c.choice(["int", "bool"]))])), diff=False)


def _round(c, f):
    # (2k + 1) / 8 is at least 1/40 away from the rounding jumps with -1, 0 or 1 decimals, but on them with 2.
    return partial(f, decimals=c.int(-1, 1 if c.grad else 2)), [c.arr(c.shape(), "offgrid")]


for _name in ["round", "around"]:
    case(_name, custom(_round))


def _astype(c, f):
    dtype = "float64" if c.grad else c.choice(["float32", "int32", "bool", "float16", "int8"])
    return partial(f, dtype=dtype), [c.arr(c.shape(), "real")]


case("astype", custom(_astype))

# --- elementwise, two or three arguments ----------------------------------------------------------
for _name, _doms in [
    ("add", ("real", "real")), ("subtract", ("real", "real")), ("multiply", ("real", "real")),
    ("divide", ("real", "nz")), ("true_divide", ("real", "nz")), ("power", ("pos", "real")),
    ("float_power", ("pos", "real")), ("arctan2", ("nz", "nz")), ("hypot", ("nz", "nz")),
    ("logaddexp", ("real", "real")), ("logaddexp2", ("real", "real")),
    ("maximum", ("distinct", "distinct2")), ("minimum", ("distinct", "distinct2")),
    ("fmax", ("distinct", "distinct2")), ("fmin", ("distinct", "distinct2")),
    ("copysign", ("nz", "nz")), ("heaviside", (("ties", "nz"), "real")),
    ("mod", ("offgrid", "divisor")), ("remainder", ("offgrid", "divisor")), ("fmod", ("offgrid", "divisor")),
    ("floor_divide", ("offgrid", "divisor")), ("divmod", ("offgrid", "divisor")),
    ("where", ("bool", "real", "real")),
]:  # fmt: skip
    case(_name, nary(*_doms))
for _name in ["add", "subtract", "multiply", "divide", "true_divide", "arctan2", "hypot", "logaddexp", "maximum",
              "minimum", "fmax", "fmin", "copysign", "heaviside", "equal", "less"]:  # fmt: skip
    case(_name, nary("anyint_nb", "anyint_nb"), diff=False, label="intmix")  # mixed int dtypes promote
for _name in ["add", "multiply", "divide", "maximum", "power", "greater"]:
    case(_name, nary("anyint", "real"), diff=False, label="mixed")
case("where", nary("bool", "anyint", "real"), diff=False, label="mixed")
for _name in ["fmax", "fmin", "maximum", "minimum"]:
    case(_name, nary("nan", "nan"), diff=False, label="nan")
for _name in ["mod", "remainder", "fmod", "floor_divide", "divmod"]:
    case(_name, nary("int", "intnz"), diff=False, label="int")
for _name in ["power"]:
    case(_name, nary("int", "shift"), diff=False, label="int")
for _name in ["equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "nextafter"]:
    case(_name, nary("ties", "ties"), diff=False)
for _name in ["logical_and", "logical_or", "logical_xor"]:
    case(_name, same_dtype_pair(("bool", "ties")), diff=False)
for _name in ["bitwise_and", "bitwise_or", "bitwise_xor"]:
    case(_name, same_dtype_pair(("int", "bool")), diff=False)
for _name in ["left_shift", "right_shift"]:
    case(_name, same_dtype_pair(("int",), second="shift"), diff=False)
for _name in ["gcd", "lcm"]:
    case(_name, same_dtype_pair(("int",)), diff=False)


def _close(c, f):
    kw = dict(equal_nan=c.flag())
    if c.flag():
        kw.update(rtol=c.choice([0.0, 1e-5, 0.5]), atol=c.choice([0.0, 1e-8, 0.6]))
    s1, s2 = c.bshapes(2)
    return partial(f, **kw), [c.arr(s1, "ties"), c.arr(s2, "special")]


for _name in ["isclose", "allclose"]:
    case(_name, custom(_close), diff=False)


def _array_equal(c, f):
    shape = c.shape()
    other = shape if c.int(0, 3) else c.shape()
    return partial(f, equal_nan=c.flag()), [c.arr(shape, "ties"), c.arr(other, "ties")]


case("array_equal", custom(_array_equal), diff=False)


def _clip(c, f):
    s = c.bshapes(3)
    which = c.choice(["both", "min", "max"])
    x, lo, hi = c.arr(s[0], "distinct"), c.arr(s[1], "distinct2"), c.arr(s[2], "distinct2")
    if which == "both":
        return f, [x, lo, lo + 0.5 * c.int(1, 4)]
    if which == "min":
        return (lambda a, m: f(a, m, None)), [x, lo]
    return (lambda a, m: f(a, None, m)), [x, hi]


case("clip", custom(_clip))

# --- reductions ------------------------------------------------------------------------------------
for _name, _dom in [
    ("sum", "real"), ("mean", "real"), ("prod", "mid"), ("nansum", ("nan", "nanmid")),
    ("nanprod", ("nanmid", "nanmid")), ("nanmean", "nan"),
]:  # fmt: skip
    case(_name, reduction(_dom))
for _name in ["max", "min", "amax", "amin", "ptp", "nanmax", "nanmin"]:
    case(_name, reduction("distinct", min_side=1))


def _initial_where(c, shape, kw):
    out = {"initial": c.choice([-50.0, 50.0])}
    if c.flag():
        out["where"] = np.asarray(c(hnp.arrays(bool, shape)))
    return out


for _name in ["max", "min", "nanmax", "nanmin"]:
    case(_name, reduction("distinct", extra=_initial_where), label="initial")
case(
    "sum",
    reduction("real", extra=lambda c, s, kw: {"where": c(hnp.arrays(bool, s)), "initial": 0.5}),
    label="where",
)
for _name in ["all", "any"]:
    case(_name, reduction("ties"), diff=False)
    case(_name, reduction("bool"), diff=False, label="bool")
case("count_nonzero", reduction("ties"), diff=False)


def _ddof(c, shape, kw):
    """ddof 0 or 1; in the gradient check at least 2 elements are reduced (std's sqrt is not smooth at 0)."""
    out = {"ddof": c.choice([0, 1])}
    if c.grad and kw["axis"] == ():
        out["axis"] = None
    return out


for _name, _dom in [
    ("var", "distinct"), ("std", "distinct"), ("nanvar", ("nan", "distinct")), ("nanstd", ("nan", "distinct")),
]:  # fmt: skip
    case(_name, reduction(_dom, min_side=(0, 2), min_rank=(0, 1), extra=_ddof))
for _name in ["argmax", "argmin", "nanargmax", "nanargmin"]:
    case(_name, reduction("distinct", axis="single", min_side=1), diff=False)
for _name in ["cumsum", "cumprod", "nancumsum", "nancumprod"]:
    _d = {"cumsum": "real", "cumprod": "mid", "nancumsum": ("nan", "nanmid"), "nancumprod": "nanmid"}[_name]
    case(_name, reduction(_d, axis="single", keepdims=False))
for _name in ["median", "nanmedian"]:
    case(_name, reduction("distinct", min_side=1))
case("nanmedian", reduction(("nan", "distinct"), min_side=1), label="nan")
# Integer and bool inputs: accumulation dtypes (sum of int8 is int32, mean of ints is float, ...).
for _name in ["sum", "prod", "mean", "var", "std", "nansum", "count_nonzero", "all", "any"]:
    case(_name, reduction("anyint"), diff=False, label="int")
for _name in ["max", "min", "amax", "amin", "ptp", "median", "nanmax"]:
    case(_name, reduction("anyint_nb", min_side=1), diff=False, label="int")
for _name in ["argmax", "argmin"]:
    case(_name, reduction("anyint", axis="single", min_side=1), diff=False, label="int")
for _name in ["cumsum", "cumprod"]:
    case(_name, reduction("anyint", axis="single", keepdims=False), diff=False, label="int")


def _quantile_extra(scale):
    def extra(c, shape, kw):
        return {"method": c.choice(["linear", "lower", "higher", "nearest", "midpoint"])}

    def make(f):
        base = reduction("distinct", min_side=1, extra=extra)(f)

        def draw(c):
            g, (a,) = base(c)
            qshape = c.choice([(), (2,)])
            q = np.stack([c(hnp.arrays("float32", qshape, elements=_floats(0.05, 0.95))) for _ in range(B)])
            return (lambda x, qq: g(x, qq * scale)), [a, q]

        return draw

    return make


for _name, _scale in [
    ("quantile", 1.0),
    ("nanquantile", 1.0),
    ("percentile", 100.0),
    ("nanpercentile", 100.0),
]:
    case(_name, _quantile_extra(_scale), argnums=(0,))


def _average(c, f):
    shape = c.shape(min_side=1)
    ax = c.axis(len(shape), none=True)
    returned, keepdims = c.flag(), c.flag()
    if c.flag():
        wshape = shape if ax is None or c.flag() else (shape[ax],)
        fn = lambda a, w: f(a, axis=ax, weights=w, returned=returned, keepdims=keepdims)
        return fn, [c.arr(shape, "real"), c.arr(wshape, "pos")]
    return partial(f, axis=ax, returned=returned, keepdims=keepdims), [c.arr(shape, "real")]


case("average", custom(_average))

# --- shapes and joining ----------------------------------------------------------------------------


def _reshape_target(c, shape):
    dims = list(c(st.permutations(list(shape)))) if shape else []
    merged = []
    for d in dims:
        if merged and c.flag():
            merged[-1] *= d
        else:
            merged.append(d)
    if c.flag():
        merged.insert(c.int(0, len(merged)), 1)
    if merged and 0 not in merged and c.flag():
        merged[c.int(0, len(merged) - 1)] = -1
    return tuple(merged)


def _reshape(c, f):
    shape = c.shape()
    return partial(f, shape=_reshape_target(c, shape)), [c.arr(shape)]


def _transpose(c, f):
    shape = c.shape()
    return partial(f, axes=c.choice([None, tuple(c(st.permutations(range(len(shape)))))])), [c.arr(shape)]


def _swapaxes(c, f):
    shape = c.shape(min_rank=1)
    return partial(f, axis1=c.axis(len(shape)), axis2=c.axis(len(shape))), [c.arr(shape)]


case("reshape", custom(_reshape))
case("ravel", unary())
case("transpose", custom(_transpose))
case("swapaxes", custom(_swapaxes))


def _moveaxis(c, f):
    shape = c.shape(min_rank=1)
    n = len(shape)
    k = c.int(1, n)
    src = tuple(c(st.permutations(range(n))))[:k]
    dst = tuple(c(st.permutations(range(-n, 0))))[:k]
    dst = tuple(sorted(set(dst), key=dst.index))
    if len(set(d % n for d in dst)) != k:
        dst = tuple(range(k))
    if k == 1 and c.flag():
        src, dst = src[0], dst[0]
    return partial(f, source=src, destination=dst), [c.arr(shape)]


case("moveaxis", custom(_moveaxis))


def _squeeze(c, f):
    shape = tuple(d if c.int(0, 2) else 1 for d in c.shape())
    ones = [i for i, d in enumerate(shape) if d == 1]
    axis = None if not ones or c.flag() else tuple(i for i in ones if c.flag()) or ones[0]
    return partial(f, axis=axis), [c.arr(shape)]


case("squeeze", custom(_squeeze))


def _expand_dims(c, f):
    shape = c.shape(max_rank=2)
    k = c.int(1, 2)
    n = len(shape) + k
    axes = tuple(c(st.permutations(range(n))))[:k]
    return partial(f, axis=axes[0] - n if k == 1 and c.flag() else axes), [c.arr(shape)]


case("expand_dims", custom(_expand_dims))
for _name, _lo in [("atleast_1d", 0), ("atleast_2d", 0), ("atleast_3d", 0)]:

    def _atleast(c, f):
        k = c.int(1, 3)
        return (lambda *a: f(*a)), [c.arr(c.shape(max_rank=3)) for _ in range(k)]

    case(_name, custom(_atleast))


def _flip(c, f):
    shape = c.shape()
    return partial(f, axis=c.axes(len(shape))), [c.arr(shape)]


case("flip", custom(_flip))
case("fliplr", custom(lambda c, f: (f, [c.arr(c.shape(min_rank=2))])))
case("flipud", custom(lambda c, f: (f, [c.arr(c.shape(min_rank=1))])))


def _rot90(c, f):
    shape = c.shape(min_rank=2)
    axes = tuple(c(st.permutations(range(-len(shape), 0))))[:2]
    return partial(f, k=c.int(-2, 4), axes=axes), [c.arr(shape)]


case("rot90", custom(_rot90))


def _roll(c, f):
    shape = c.shape()
    n = len(shape)
    if n == 0 or c.flag():
        return partial(f, shift=c.int(-5, 5), axis=None), [c.arr(shape)]
    k = c.int(1, n)
    axes = tuple(c.axis(n) for _ in range(k))
    shift = tuple(c.int(-5, 5) for _ in axes)
    return partial(f, shift=shift if k > 1 else shift[0], axis=axes if k > 1 else axes[0]), [c.arr(shape)]


case("roll", custom(_roll))


def _tile(c, f):
    shape = c.shape(max_rank=2)
    reps = c.int(0, 2) if c.flag() else tuple(c.int(0, 2) for _ in range(c.int(0, 3)))
    return partial(f, reps=reps), [c.arr(shape)]


case("tile", custom(_tile))


def _repeat(c, f):
    shape = c.shape(max_rank=2)
    ax = c.axis(len(shape), none=True)
    n = int(np.prod(shape)) if ax is None else shape[ax]
    if c.flag():
        return partial(f, repeats=c.int(0, 3), axis=ax), [c.arr(shape)]
    # Traced per-element counts need the static total_repeat_length; here it is at most the counts' sum (no
    # shortfall: see repeat[shortfall]).
    reps = c(hnp.arrays("int32", (B, n), elements=st.integers(0, 3)))
    total = c.int(0, int(reps.sum(axis=1).min()))
    return (lambda a, r: f(a, r, axis=ax, total_repeat_length=total)), [c.arr(shape), reps]


case("repeat", custom(_repeat))


def _repeat_shortfall(c, f):
    n = c.int(2, 4)
    reps = np.asarray(c(hnp.arrays("int32", (B, n), elements=st.integers(0, 3))))
    reps[:, 0], reps[:, -1] = 1, 0  # the last element is not repeated
    total = int(reps.sum(axis=1).max()) + 1
    return (lambda a, r: f(a, r, total_repeat_length=total)), [c.arr((n,), "distinct"), reps]


case(
    "repeat",
    custom(_repeat_shortfall),
    diff=False,
    label="shortfall",
)


def _pad(c, f):
    mode = c.choice(["constant", "empty", "edge", "reflect", "symmetric", "wrap"])
    shape = c.shape(min_side=0 if mode in ("constant", "empty") else 1)
    form = c.int(0, 2)
    if form == 0 or not shape:
        width = c.int(0, 3)
    elif form == 1:
        width = (c.int(0, 3), c.int(0, 3))
    else:
        width = tuple((c.int(0, 3), c.int(0, 3)) for _ in shape)
    kw = {}
    if mode in ("reflect", "symmetric"):
        kw["reflect_type"] = c.choice(["even", "odd"])
    if mode == "constant" and c.flag():
        return (lambda a, v: f(a, width, mode=mode, constant_values=v)), [c.arr(shape), c.arr((), "real")]
    return partial(f, pad_width=width, mode=mode, **kw), [c.arr(shape)]


case("pad", custom(_pad))


def _broadcast_to(c, f):
    shape = c.shape(max_rank=2)
    target = tuple(c.int(0, 3) if d == 1 else d for d in shape)
    target = tuple(c.int(0, 3) for _ in range(c.int(0, 2))) + target
    return partial(f, shape=target), [c.arr(shape)]


case("broadcast_to", custom(_broadcast_to))
case(
    "broadcast_arrays", custom(lambda c, f: ((lambda *a: f(*a)), [c.arr(s) for s in c.bshapes(c.int(1, 3))]))
)


def _same_but(c, shape, axis, k):
    """``k`` shapes equal to ``shape`` except along ``axis``."""
    out = []
    for _ in range(k):
        s = list(shape)
        if axis is not None:
            s[axis] = c.int(0, 3)
        out.append(tuple(s))
    return out


def _concatenate(c, f):
    shape = c.shape(min_rank=1)
    ax = c.axis(len(shape), none=True)
    shapes = [c.shape() for _ in range(c.int(1, 3))] if ax is None else _same_but(c, shape, ax, c.int(1, 3))
    return (lambda *a: f(list(a), axis=ax)), [c.arr(s) for s in shapes]


case("concatenate", custom(_concatenate))


def _append(c, f):
    shape = c.shape(min_rank=1)
    ax = c.axis(len(shape), none=True)
    other = c.shape() if ax is None else _same_but(c, shape, ax, 1)[0]
    return partial(f, axis=ax), [c.arr(shape), c.arr(other)]


case("append", custom(_append))


def _stack(c, f):
    shape = c.shape()
    k = c.int(1, 3)
    ax = c.int(-len(shape) - 1, len(shape))
    return (lambda *a: f(list(a), axis=ax)), [c.arr(shape) for _ in range(k)]


case("stack", custom(_stack))


def _stacker(min_rank, axis):
    def draw(c, f):
        shape = c.shape(min_rank=min_rank)
        ax = None if axis is None or len(shape) <= axis else axis
        shapes = [shape] * c.int(1, 3) if ax is None else _same_but(c, shape, ax, c.int(1, 3))
        return (lambda *a: f(tuple(a))), [c.arr(s) for s in shapes]

    return draw


case("hstack", custom(_stacker(1, 1)))
case("vstack", custom(_stacker(2, 0)))
case("dstack", custom(_stacker(3, 2)))
case("hstack", custom(_stacker(0, None)), label="same")
case("vstack", custom(_stacker(0, None)), label="same")
case("dstack", custom(_stacker(0, None)), label="same")


def _column_stack(c, f):
    rows = c.int(0, 4)
    shapes = [(rows,) if c.flag() else (rows, c.int(0, 3)) for _ in range(c.int(1, 3))]
    return (lambda *a: f(list(a))), [c.arr(s) for s in shapes]


case("column_stack", custom(_column_stack))


def _splitter(name):
    def draw(c, f):
        min_rank = {"split": 1, "array_split": 1, "hsplit": 1, "vsplit": 2, "dsplit": 3}[name]
        shape = c.shape(min_rank=min_rank)
        ax = {"vsplit": 0, "dsplit": 2, "hsplit": 1 if len(shape) > 1 else 0}.get(name, c.axis(len(shape)))
        n = shape[ax]
        if c.flag():  # indices
            spec = sorted(c.int(0, n + 1) for _ in range(c.int(0, 3)))
        elif name == "array_split":
            spec = c.int(1, 5)
        else:
            spec = c.choice([d for d in range(1, 5) if n % d == 0])
        kw = {"axis": ax} if name in ("split", "array_split") else {}
        return (lambda a: f(a, spec, **kw)), [c.arr(shape)]

    return draw


for _name in ["split", "array_split", "hsplit", "vsplit", "dsplit"]:
    case(_name, custom(_splitter(_name)))


def _take(c, f):
    shape = c.shape(min_rank=1, min_side=1)
    ax = c.axis(len(shape), none=True)
    n = int(np.prod(shape)) if ax is None else shape[ax]
    mode = c.choice([None, "fill", "clip", "wrap"])
    idx = c(hnp.arrays("int32", (B, *c.shape(max_rank=2)), elements=st.integers(-n - 2, n + 2)))
    kw = dict(axis=ax, mode=mode)
    if mode in (None, "fill") and (c.grad or c.flag()):  # the default fill, NaN, has no finite difference
        kw["fill_value"] = -7.0
    return partial(f, **kw), [c.arr(shape), idx]


case("take", custom(_take))


def _take_along_axis(c, f):
    shape = c.shape(min_rank=1, min_side=1)
    ax = c.axis(len(shape))
    ishape = tuple(c.choice([d, 1]) for d in shape)
    ishape = ishape[:ax] + (c.int(0, 4),) + ishape[ax + 1 :] if ax != -1 else ishape[:-1] + (c.int(0, 4),)
    n = shape[ax]
    mode = c.choice([None, "clip"])
    idx = c(hnp.arrays("int32", (B, *ishape), elements=st.integers(-n, n - 1 if mode is None else n + 2)))
    return partial(f, axis=ax, mode=mode), [c.arr(shape), idx]


case("take_along_axis", custom(_take_along_axis))

# --- creation --------------------------------------------------------------------------------------
_DTYPES = [None, "float32", "int32", "bool", "float16", "uint8"]


def _creation(make_call):
    """A function with no array arguments; ``fn`` takes (and ignores) one dummy argument."""

    def draw(c, f):
        call = make_call(c, f)
        return (lambda _: call()), _dummy(c)

    return draw


def _shape_call(c, f):
    return partial(f, c.shape(), dtype=c.choice(_DTYPES))


def _eye_call(c, f):
    return partial(f, c.int(0, 4), c.choice([None, c.int(0, 4)]), k=c.int(-3, 3), dtype=c.choice(_DTYPES))


for _name in ["zeros", "ones", "empty"]:
    case(_name, custom(_creation(_shape_call)), diff=False)
for _name in ["eye", "tri"]:
    case(_name, custom(_creation(_eye_call)), diff=False)
case("identity", custom(_creation(lambda c, f: partial(f, c.int(0, 4), dtype=c.choice(_DTYPES)))), diff=False)


def _arange_call(c, f):
    if c.flag():
        return partial(f, c.int(-3, 6), dtype=c.choice([None, "float32", "int32"]))
    if c.flag():
        return partial(f, c.int(-4, 4), c.int(-4, 8), c.choice([1, 2, 3, -1]))
    return partial(f, c.choice([-1.5, 0.0, 0.25]), c.choice([2.0, 3.5]), c.choice([0.5, 0.75]))


case("arange", custom(_creation(_arange_call)), diff=False)


def _indices_call(c, f):
    return partial(f, c.shape(), dtype=c.choice([None, "int32", "float32"]), sparse=c.flag())


case("indices", custom(_creation(_indices_call)), diff=False)


def _full(c, f):
    shape = c.shape()
    fill_shape = shape[len(shape) - c.int(0, len(shape)) :]
    dtype = None if c.grad else c.choice([None, "float32", "int32"])
    return (lambda v: f(shape, v, dtype=dtype)), [c.arr(fill_shape)]


case("full", custom(_full))


def _like(with_fill):
    def draw(c, f):
        shape = c.shape()
        kw = dict(dtype=c.choice(_DTYPES if not c.grad else [None]), shape=c.choice([None, c.shape()]))
        if with_fill:
            return (lambda a, v: f(a, v, **kw)), [c.arr(shape, "special"), c.arr((), "real")]
        return partial(f, **kw), [c.arr(shape, "special")]

    return draw


for _name in ["zeros_like", "ones_like", "empty_like"]:
    case(_name, custom(_like(False)), diff=False)
case("full_like", custom(_like(True)))


def _asarray(c, f):
    dtype = "float64" if c.grad else c.choice([None, "float32", "int32", "bool", "float16"])
    kw = dict(dtype=dtype)
    if f is fnp.array and c.flag():
        kw["ndmin"] = c.int(0, 4)
    return partial(f, **kw), [c.arr(c.shape(), "real")]


case("asarray", custom(_asarray))
case("array", custom(_asarray))


def _diag(c, f):
    shape = c.shape(min_rank=1, max_rank=2)
    return partial(f, k=c.int(-3, 3)), [c.arr(shape)]


case("diag", custom(_diag))
case("diagflat", custom(lambda c, f: (partial(f, k=c.int(-3, 3)), [c.arr(c.shape(max_rank=2))])))
case("tril", custom(lambda c, f: (partial(f, k=c.int(-3, 3)), [c.arr(c.shape(min_rank=2))])))
case("triu", custom(lambda c, f: (partial(f, k=c.int(-3, 3)), [c.arr(c.shape(min_rank=2))])))


def _spaced(traced):
    def draw(c, f):
        name = f.__name__
        s1, s2 = c.bshapes(2, max_rank=1)
        kw = dict(num=c.int(0, 5), endpoint=c.flag(), axis=c.choice([0, -1]))
        if name == "linspace" and kw["num"] > kw["endpoint"]:  # else the step is NaN: no finite differences
            kw["retstep"] = c.flag()
        if name == "logspace":
            kw["base"] = c.choice([10.0, 2.0])
        dom = "pos" if name == "geomspace" else ("unit" if name == "logspace" else "real")
        start, stop = c.arr(s1, dom), c.arr(s2, dom)
        if traced:
            return partial(f, **kw), [start, stop]
        return (lambda _: f(start[0], stop[0], **kw)), _dummy(c)

    return draw


for _name in ["linspace", "logspace", "geomspace"]:
    case(_name, custom(_spaced(False)), diff=False)
    case(_name, custom(_spaced(True)), label="traced")


def _meshgrid(c, f):
    k = c.int(1, 3)
    kw = dict(indexing=c.choice(["xy", "ij"]), sparse=c.flag())
    return (lambda *a: f(*a, **kw)), [c.arr((c.int(0, 3),)) for _ in range(k)]


case("meshgrid", custom(_meshgrid))

# --- products, einsum, convolution ----------------------------------------------------------------


def _dot(c, f):
    ra, rb = c.int(0, 3), c.int(0, 3)
    n = c.int(0, 4)
    if ra == 0 or rb == 0:
        sa, sb = c.shape(ra, ra), c.shape(rb, rb)
    else:
        sa = c.shape(ra - 1, ra - 1) + (n,)
        sb = (n,) if rb == 1 else c.shape(rb - 2, rb - 2) + (n, c.int(0, 4))
    return f, [c.arr(sa), c.arr(sb)]


case("dot", custom(_dot))


def _matmul(c, f):
    batch = c.bshapes(2, max_rank=2)
    m, n, k = c.int(0, 4), c.int(0, 4), c.int(0, 4)
    sa = (n,) if c.int(0, 3) == 0 else (*batch[0], m, n)
    sb = (n,) if c.int(0, 3) == 0 else (*batch[1], n, k)
    return f, [c.arr(sa), c.arr(sb)]


case("matmul", custom(_matmul))
case("linalg.matmul", custom(_matmul))


def _inner(c, f):
    n = c.int(0, 4)
    sa = c.shape(max_rank=1)
    sb = c.shape(max_rank=1)
    if c.int(0, 3):
        sa, sb = sa + (n,), sb + (n,)
    elif c.flag():  # a scalar operand
        sa = ()
    else:
        sb = ()
    return f, [c.arr(sa), c.arr(sb)]


case("inner", custom(_inner))
case("outer", custom(lambda c, f: (f, [c.arr(c.shape(max_rank=2)), c.arr(c.shape(max_rank=2))])))
case("linalg.outer", custom(lambda c, f: (f, [c.arr(c.shape(1, 1)), c.arr(c.shape(1, 1))])))
case("kron", custom(lambda c, f: (f, [c.arr(c.shape(max_rank=2)), c.arr(c.shape(max_rank=2))])))


def _vdot(c, f):
    shape = c.shape()
    other = shape if c.flag() else tuple(reversed(shape))
    return f, [c.arr(shape), c.arr(other)]


case("vdot", custom(_vdot))


def _tensordot(c, f):
    k = c.int(0, 2)
    common = c.shape(k, k)
    sa = c.shape(max_rank=2) + common
    sb = common + c.shape(max_rank=2)
    if c.flag():
        return partial(f, axes=k), [c.arr(sa), c.arr(sb)]
    ax_a = [len(sa) - k + i for i in range(k)]
    ax_b = list(range(k))
    order = list(c(st.permutations(range(k))))
    return partial(f, axes=([ax_a[i] for i in order], [ax_b[i] for i in order])), [c.arr(sa), c.arr(sb)]


case("tensordot", custom(_tensordot))
case("linalg.tensordot", custom(_tensordot))

_EINSUMS = [
    "ij,jk->ik", "ij,jk", "ii->i", "ii", "ij->ji", "i,i->", "i,j->ij", "bij,bjk->bik", "ij,ij->ij",
    "...i,...i->...", "ijk->", "ij->", "iij->ij", "i,i,i->i", "ij,jk,kl->il", "...ij->...ji", "i->", "",
]  # fmt: skip


def _einsum(c, f):
    spec = c.choice(_EINSUMS)
    sizes = {ch: c.int(0, 3) for ch in "abcdefghijklmnopqrstuvwxyz"}
    ell = c.shape(max_rank=2)
    ins = spec.split("->")[0].split(",") if spec else [""]
    shapes = [(ell if "..." in s else ()) + tuple(sizes[ch] for ch in s.replace("...", "")) for s in ins]
    opt = c.choice([True, False, "greedy", "optimal"])
    return (lambda *a: f(spec, *a, optimize=opt)), [c.arr(s) for s in shapes]


case("einsum", custom(_einsum))


def _diagonal(c, f):
    shape = c.shape(min_rank=2)
    n = len(shape)
    a1, a2 = tuple(c(st.permutations(range(n))))[:2]
    kw = dict(offset=c.int(-3, 3), axis1=a1 - n if c.flag() else a1, axis2=a2)
    return partial(f, **kw), [c.arr(shape)]


case("diagonal", custom(_diagonal))
case("trace", custom(_diagonal))


def _convolve(c, f):
    sa, sv = (c.int(1, 5),), (c.int(1, 4),)
    return partial(f, mode=c.choice(["full", "same", "valid"])), [c.arr(sa), c.arr(sv)]


case("convolve", custom(_convolve))
case("correlate", custom(_convolve))

# --- sorting and searching -------------------------------------------------------------------------


def _sort(c, f, min_side=0):
    shape = c.shape(min_side=1 if c.grad else min_side)
    ax = c.axis(len(shape), none=True)
    kw = dict(axis=ax, stable=c.flag(), descending=c.flag())
    return partial(f, **kw), [c.arr(shape, ("ties", "distinct"))]


case("sort", custom(_sort))
case("sort", custom(lambda c, f: (f, [c.arr(c.choice([(0,), (2, 0)]))])), label="empty")
case("sort", custom(lambda c, f: (f, [c.arr(c.shape(min_rank=1), "nan")])), diff=False, label="nan")
case("argsort", custom(_sort), diff=False)
case("sort", custom(lambda c, f: (f, [c.arr(c.shape(min_rank=1), "anyint")])), diff=False, label="int")


def _partition(c, f):
    shape = c.shape(min_rank=1, min_side=1)
    ax = c.axis(len(shape))
    return partial(f, kth=c.int(0, shape[ax] - 1), axis=ax), [c.arr(shape, "distinct")]


case("partition", custom(_partition))
case("argpartition", custom(_partition), diff=False)


def _lexsort(c, f):
    shape = c.shape(min_rank=1)
    k, ax = c.int(1, 3), c.axis(len(shape))
    return (lambda *a: f(list(a), axis=ax)), [c.arr(shape, "ties") for _ in range(k)]


case("lexsort", custom(_lexsort), diff=False)


def _nonzero(c, f):
    shape = c.shape(min_rank=1)  # NumPy and jax.numpy reject 0-d input
    n = int(np.prod(shape))
    kw = dict(size=c.int(0, n + 2))
    if c.flag():
        kw["fill_value"] = c.int(-1, 3)
    return partial(f, **kw), [c.arr(shape, c.choice(["ties", "bool"]))]


for _name in ["nonzero", "argwhere", "flatnonzero"]:
    case(_name, custom(_nonzero), diff=False)


def _unique(c, f):
    shape = c.shape()
    n = int(np.prod(shape))
    kw = dict(size=c.int(1, n + 2), return_index=c.flag(), return_inverse=c.flag(), return_counts=c.flag())
    if n == 0 or c.flag():  # an empty input needs fill_value (as in jax.numpy)
        kw["fill_value"] = -9.0
    return partial(f, **kw), [c.arr(shape, c.choice(["ties", "nan"]))]


case("unique", custom(_unique), diff=False)


def _bincount(c, f):
    shape = (c.int(0, 6),)
    kw = dict(minlength=c.int(0, 3), length=c.int(1 if c.grad else 0, 8))
    x = c.arr(shape, "nonneg")
    if c.grad or c.flag():
        return (lambda a, w: f(a, w, **kw)), [x, c.arr(shape)]
    return partial(f, **kw), [x]


case("bincount", custom(_bincount))


def _bincount_length0(c, f):
    n = c.int(1, 4)
    return (lambda a, w: f(a, w, length=0)), [c.arr((n,), "nonneg"), c.arr((n,))]


case("bincount", custom(_bincount_length0), label="length0")


def _searchsorted(c, f):
    a = np.sort(c.arr((c.int(0, 5),), "ties"), axis=-1)
    kw = dict(side=c.choice(["left", "right"]), method=c.choice(["scan", "sort", "compare_all"]))
    return partial(f, **kw), [a, c.arr(c.shape(), "ties")]


case("searchsorted", custom(_searchsorted), diff=False)


def _digitize(c, f):
    bins = np.sort(c.arr((c.int(0, 5),), "ties"), axis=-1)
    bins = bins[..., ::-1] if c.flag() else bins
    return partial(f, right=c.flag()), [c.arr(c.shape(), "ties"), np.ascontiguousarray(bins)]


case("digitize", custom(_digitize), diff=False)

# --- linalg ----------------------------------------------------------------------------------------


def _square(kind="general", max_n=4, min_n=0):
    def make(f):
        def draw(c):
            batch = c.shape(max_rank=1, max_side=2)
            n = c.int(min_n, max_n)
            return f, [c.matrices(batch, n, n, kind)]

        return draw

    return make


def _rect(kind="general", tall=False):
    def make(f):
        def draw(c):
            batch = c.shape(max_rank=1, max_side=2)
            m, n = c.int(0, 4), c.int(0, 4)
            if tall and m < n:
                m, n = n, m
            return f, [c.matrices(batch, m, n, kind)]

        return draw

    return make


def _sym_grad(out):
    """Eigenvectors are defined up to sign: differentiate the eigenvalues and the squared vectors."""
    w, v = out
    return w, v * v


case("linalg.det", _square())
case("linalg.slogdet", _square())
case("linalg.inv", _square())
case("linalg.svdvals", _rect())
case("linalg.matrix_transpose", _rect())
case("linalg.eigvalsh", _square("sym"))
case("linalg.eigh", _square("sym"), grad_out=_sym_grad)


def _cholesky(c, f):
    fn, args = _square("spd")(f)(c)
    return partial(fn, upper=c.flag()), args


case("linalg.cholesky", custom(_cholesky))
case("linalg.matrix_rank", _rect("lowrank"), diff=False)


def _cond(c, f):
    p = c.choice([None, 2, -2, "fro", 1, -1, np.inf, -np.inf] if not c.grad else [None, 2, "fro"])
    fn, args = _square(min_n=1)(f)(c)
    return partial(fn, p=p), args


case("linalg.cond", custom(_cond))


def _solve(c, f):
    batch = c.shape(max_rank=1, max_side=2)
    n = c.int(0, 4)
    a = c.matrices(batch, n, n)
    b = c.arr((*batch, n, c.int(0, 3)) if c.flag() or not batch else (n,))
    return f, [a, b]


case("linalg.solve", custom(_solve))


def _matrix_power(c, f):
    fn, args = _square()(f)(c)
    return partial(fn, n=c.int(-2, 4)), args


case("linalg.matrix_power", custom(_matrix_power))


def _pinv(c, f):
    fn, args = _rect()(f)(c)
    return fn, args


case("linalg.pinv", custom(_pinv))


def _qr(c, f):
    batch = c.shape(max_rank=1, max_side=2)
    m, n = c.int(0, 4), c.int(0, 4)
    mode = c.choice(["reduced", "complete", "r"])
    if c.grad:  # derivatives exist for the reduced (or m == n) factorisation of a tall matrix
        m, n, mode = max(m, n), min(m, n), c.choice(["reduced", "r"])
    return partial(f, mode=mode), [c.matrices(batch, m, n)]


case("linalg.qr", custom(_qr))


def _svd(c, f):
    batch = c.shape(max_rank=1, max_side=2)
    m, n = c.int(0, 4), c.int(0, 4)
    full, uv = c.flag() and not c.grad, c.flag()
    return partial(f, full_matrices=full, compute_uv=uv), [c.matrices(batch, m, n)]


def _svd_grad(out):
    if not isinstance(out, (tuple, list)) and not hasattr(out, "S"):
        return out
    u, s, vh = out
    return u * u, s, vh * vh


case("linalg.svd", custom(_svd), grad_out=_svd_grad)

_VECTOR_ORDS = [None, 1, 2, np.inf, -np.inf, 0, 3, -1]
_MATRIX_ORDS = ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


def _vector_norm(c, f):
    shape = c.shape(min_side=1)  # the max/min of an empty array (ord=+-inf) raises, as in jax.numpy
    ords = [o for o in _VECTOR_ORDS if not (c.grad and o == 0)]  # ord=0 counts nonzeros
    kw = dict(axis=c.axes(len(shape)), keepdims=c.flag())
    o = c.choice(ords)
    if o is not None:
        kw["ord"] = o
    return partial(f, **kw), [c.arr(shape, ("special", "distinct_abs"))]


case("linalg.vector_norm", custom(_vector_norm))


def _matrix_norm(c, f):
    o = c.choice(["fro", "nuc", 1, -1, np.inf, -np.inf] if c.grad else _MATRIX_ORDS)
    batch = c.shape(max_rank=1, max_side=2)
    m, n = c.int(1, 4), c.int(1, 4)  # the max/min of an empty array raises, as in jax.numpy
    a = c.distinct((B, *batch, m, n), "distinct_abs") if c.grad else c.matrices(batch, m, n)
    return partial(f, ord=o, keepdims=c.flag()), [a]


case("linalg.matrix_norm", custom(_matrix_norm))


def _norm(c, f):
    if c.flag():  # a vector norm: a 1-D input, or an int axis
        shape = c.shape(min_rank=1, max_rank=2, min_side=1)
        ax = c.axis(len(shape), none=len(shape) == 1)
        o = c.choice([o for o in _VECTOR_ORDS if not (c.grad and o == 0)])
        return partial(f, ord=o, axis=ax, keepdims=c.flag()), [c.arr(shape, ("special", "distinct_abs"))]
    shape = c.shape(min_rank=2, min_side=1)
    a1, a2 = tuple(c(st.permutations(range(len(shape)))))[:2]
    o = c.choice([None, "fro", 1, -1, np.inf, -np.inf] + ([] if c.grad else ["nuc", 2, -2]))
    return partial(f, ord=o, axis=(a1, a2), keepdims=c.flag()), [c.arr(shape, ("real", "distinct_abs"))]


case("linalg.norm", custom(_norm))

# Not array functions (skipped by test_table_covers_every_public_function, with the reason):
SKIP = {
    # dtype and promotion helpers: they take dtypes/values and return dtypes or Python bools.
    "promote_types", "result_type", "can_cast",
    # static metadata of an array: Python ints/tuples, the same traced or not.
    "shape", "ndim", "size", "broadcast_shapes",
    # returns a contraction plan (Python objects), not arrays.
    "einsum_path",
    # conversion from foreign (DLPack) objects, which cannot be traced.
    "from_dlpack",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------------


def _leaves(tree):
    return tree_util.tree_leaves(tree)


def _assert_leaf(got, want, rtol, atol, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if want.dtype.kind in "fc":
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN positions differ")
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def assert_tree_close(got, want, rtol=0.0, atol=0.0, what=""):
    got_leaves, got_def = tree_util.tree_flatten(got)
    want_leaves, want_def = tree_util.tree_flatten(want)
    assert got_def == want_def, f"{what}: pytree {got_def}, expected {want_def}"
    for i, (g, w) in enumerate(zip(got_leaves, want_leaves)):
        _assert_leaf(g, w, rtol, atol, f"{what} leaf {i}")


def _params(check):
    out = []
    for c in CASES:
        if (check == "grad" and not c.diff) or (check == "vmap" and not c.vmap):
            continue
        marks = [pytest.mark.xfail(strict=True, reason=c.xfail[check])] if check in c.xfail else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def _arrays(args):
    return [fnp.asarray(a) for a in args]


def _run(case, check, body):
    """Run ``body(case, data)`` as a hypothesis test (without shrinking for a known bug)."""

    @(XFAIL_SETTINGS if check in case.xfail else SETTINGS)
    @given(data=st.data())
    def run(data):
        body(case, data)

    run()


@pytest.mark.parametrize("case", _params("jit"))
def test_jit(case):
    _run(case, "jit", _check_jit)


def _check_jit(case, data):
    fn, batched = case.draw(Ctx(data.draw))
    args = _arrays([a[0] for a in batched])
    want = fn(*args)
    got = fl.jit(fn)(*args)
    assert_tree_close(got, want, rtol=0, atol=0, what="jit")


@pytest.mark.parametrize("case", _params("jaxpr"))
def test_jaxpr(case):
    _run(case, "jaxpr", _check_jaxpr)


def _check_jaxpr(case, data):
    fn, batched = case.draw(Ctx(data.draw))
    args = _arrays([a[0] for a in batched])
    want = _leaves(fn(*args))
    closed = fl.make_jaxpr(fn)(*args)
    got = fl.eval_jaxpr(closed.jaxpr, closed.consts, *args)
    assert len(got) == len(want), f"{len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        _assert_leaf(g, w, 0, 0, f"eval_jaxpr leaf {i}")


@pytest.mark.parametrize("case", _params("vmap"))
def test_vmap(case):
    _run(case, "vmap", _check_vmap)


def _check_vmap(case, data):
    fn, batched = case.draw(Ctx(data.draw))
    in_axes = [data.draw(st.sampled_from([0, None] + ([1] if a.ndim >= 2 else []))) for a in batched]
    if all(ax is None for ax in in_axes):
        in_axes[0] = 0
    mapped = [a[0] if ax is None else np.moveaxis(a, 0, ax) for a, ax in zip(batched, in_axes)]
    out_axes = data.draw(st.sampled_from([0, 0, -1]))  # -1: the batch axis last in every output
    got = fl.vmap(fn, in_axes=tuple(in_axes), out_axes=out_axes)(*_arrays(mapped))
    rows = [fn(*_arrays([a[0] if ax is None else a[i] for a, ax in zip(batched, in_axes)])) for i in range(B)]
    want = tree_util.tree_map(
        lambda *xs: np.moveaxis(np.stack([np.asarray(x) for x in xs]), 0, out_axes), *rows
    )
    what = f"vmap in_axes={tuple(in_axes)} out_axes={out_axes}"
    assert_tree_close(got, want, rtol=case.vtol, atol=case.vtol, what=what)


def _weights(shape):
    size = int(np.prod(shape))
    return (1.0 + 0.5 * np.sin(1.0 + np.arange(size))).reshape(shape)


def _scalarize(out, grad_out):
    """A weighted sum of every float leaf: unlike a plain sum, it sees permutations (sort, flip, ...)."""
    total = 0.0
    for leaf in _leaves(grad_out(out) if grad_out else out):
        if np.dtype(leaf.dtype).kind == "f":
            total = total + fnp.sum(leaf * _weights(leaf.shape))
    return total


@pytest.mark.parametrize("case", _params("grad"))
def test_grad(case, x64):
    _run(case, "grad", _check_grad)


def _check_grad(case, data):
    fn, batched = case.draw(Ctx(data.draw, grad=True))
    args = [a[0].astype(np.float64) if a.dtype.kind == "f" else a[0] for a in batched]
    argnums = tuple(i for i, a in enumerate(args) if a.dtype.kind == "f" and i in (case.argnums or range(99)))
    assert argnums, "no float argument to differentiate"

    def scalar(*a):
        return _scalarize(fn(*a), case.grad_out)

    grads = fl.grad(scalar, argnums=argnums)(*_arrays(args))
    for i, g in zip(argnums, grads):
        assert (np.shape(g), np.asarray(g).dtype) == (args[i].shape, args[i].dtype), (
            f"gradient of argument {i}"
        )
    jitted = fl.jit(fl.grad(scalar, argnums=argnums))(*_arrays(args))  # grad composes with jit
    assert_tree_close(jitted, grads, rtol=1e-9, atol=1e-9, what="jit(grad)")
    sizes = [args[i].size for i in argnums]
    if sum(sizes) <= 8:  # every coordinate
        directions = []
        for k in range(len(argnums)):
            for j in range(sizes[k]):
                d = [np.zeros_like(args[i2]) for i2 in argnums]
                d[k].reshape(-1)[j] = 1.0
                directions.append(d)
    else:  # random directions
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
        directions = [[rng.normal(size=args[i].shape) for i in argnums] for _ in range(3)]
    eps = 1e-4
    for d in directions:
        moved = []
        for sign in (1.0, -1.0):
            shifted = list(args)
            for k, i in enumerate(argnums):
                shifted[i] = args[i] + sign * eps * d[k]
            moved.append(float(np.asarray(scalar(*_arrays(shifted)))))
        numeric = (moved[0] - moved[1]) / (2 * eps)
        analytic = sum(float(np.vdot(np.asarray(g), v)) for g, v in zip(grads, d))
        scale = 1.0 + sum(float(np.abs(np.asarray(g) * v).sum()) for g, v in zip(grads, d))
        assert abs(analytic - numeric) <= case.gtol * scale, (
            f"directional derivative {analytic} != finite difference {numeric}"
        )


# ---------------------------------------------------------------------------------------------------
# Coverage
# ---------------------------------------------------------------------------------------------------


def _public(module, prefix=""):
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    out = set()
    for n in names:
        obj = getattr(module, n)
        if callable(obj) and not inspect.isclass(obj) and not inspect.ismodule(obj):
            out.add(prefix + n)
    return out


def test_table_covers_every_public_function():
    public = _public(fnp) | _public(fnp.linalg, "linalg.")
    table = {c.name for c in CASES}
    assert not (SKIP - public), f"skip-list names that are not public functions: {sorted(SKIP - public)}"
    assert not (table - public), f"table names that are not public functions: {sorted(table - public)}"
    missing = public - table - SKIP
    assert not missing, f"public fnp functions with no table entry: {sorted(missing)}"
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate table ids"
