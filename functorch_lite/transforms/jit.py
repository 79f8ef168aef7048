"""``jit``: trace once per cache key into a jaxpr, optimise it, and run it as a compiled plan.

jit is a call primitive, ``pjit``, holding the traced ClosedJaxpr. Its rules transform that jaxpr (each
result cached on the jaxpr), never the user's Python function: JVP differentiates the jaxpr; under reverse
mode the JVP jaxpr is split into a known (primal) part run as a compiled call and a linear (tangent) part
staged for the backward pass, whose transpose is itself a compiled call; batching vmaps the jaxpr.

The cache key is the static arguments (by hash and equality), the pytree structure, and the
(shape, dtype, weak_type) of every leaf, plus the x64 flag. A cache hit on plain Array arguments is:
one key tuple, one dict lookup, the generated plan, and wrapping the outputs.

Example:
    >>> f = fl.jit(lambda x: fnp.sin(x) * 2.0)
    >>> f(fnp.ones(3))
    Array([1.682942, 1.682942, 1.682942], dtype=float32)
    >>> print(f.lower(fnp.ones(3)).as_text())
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from functools import update_wrapper
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import tree_util
from ..compiler import INLINE_CALLS
from ..core.array import Array, wrap_arrays
from ..core.config import config
from ..core.jaxpr import ClosedJaxpr, Var
from ..core.passes import optimize
from ..core.source_info import describe_function, user_line
from ..core.staging import (
    ShapeDtypeStruct,
    abstractify,
    flat_argument_names,
    trace_to_jaxpr,
)
from ..core.trace import Primitive, ShapedArray, Tracer, _context
from .ad import LinearTangentTrace, Zero, instantiate, is_undefined, tangent_aval
from .batching import move_axis
from .jaxpr_transforms import batch_jaxpr, cached, closed_from, jvp_jaxpr, linearize_jaxpr, transpose_jaxpr

if TYPE_CHECKING:
    from ..compiler.executor import CompiledPlan

logger = logging.getLogger("functorch_lite")

# ---------------------------------------------------------------------------------------------------
# The call primitive
# ---------------------------------------------------------------------------------------------------

pjit_p = Primitive(
    "pjit",
    impl=None,
    abstract_eval=lambda *avals, jaxpr, name: jaxpr.out_avals,
    multiple_results=True,
)
INLINE_CALLS["pjit"] = "jaxpr"


def plan_for(closed: ClosedJaxpr, donated: tuple[bool, ...] = ()) -> CompiledPlan:
    """The compiled plan of a closed jaxpr (optimised once, cached on the jaxpr)."""

    def build() -> CompiledPlan:
        from ..compiler.executor import compile_jaxpr  # the compiler loads on the first compile

        jaxpr, consts = optimize(closed.jaxpr, closed.consts)
        return compile_jaxpr(jaxpr, consts, donated)

    return cached(closed, ("plan", donated), build)


def _wrap_outputs(values: Sequence[Any], avals: Sequence[ShapedArray]) -> list:
    return wrap_arrays(values, [a.weak_type for a in avals])


def _pjit_eager(*args: Any, jaxpr: ClosedJaxpr, name: str) -> list:
    plan = plan_for(jaxpr)
    outs = plan(*[a._value for a in args])
    if config.debug_nans:
        check_nans(jaxpr, args, outs, name)
    return _wrap_outputs(outs, jaxpr.out_avals)


pjit_p.eager = _pjit_eager


def _pjit_jvp(primals: list, tangents: list, *, jaxpr: ClosedJaxpr, name: str) -> tuple[list, list]:
    nonzero = tuple(type(t) is not Zero for t in tangents)
    n_out = len(jaxpr.out_avals)
    if not any(nonzero):
        outs = pjit_p.bind(*primals, jaxpr=jaxpr, name=name)
        return outs, [Zero(tangent_aval(a)) for a in jaxpr.out_avals]
    nz_tangents = [t for t in tangents if type(t) is not Zero]
    no_instantiation = (False,) * n_out
    if isinstance(_context.trace, LinearTangentTrace):
        # Reverse mode: the primal part runs as one compiled call producing residuals; the linear part is
        # staged for the backward pass (nested jit calls and control flow split themselves the same way).
        d = linearize_jaxpr(jaxpr, nonzero, no_instantiation)
        known_outs = pjit_p.bind(*d["known_consts"], *primals, jaxpr=d["known"], name=name)
        primal_outs, residuals = known_outs[:n_out], known_outs[n_out:]
        tangent_outs = pjit_p.bind(
            *d["linear_consts"], *residuals, *nz_tangents, jaxpr=d["linear"], name=f"{name}_lin"
        )
        out_nz = d["out_nz"]
    else:
        jvp_closed, consts, out_nz = jvp_jaxpr(jaxpr, nonzero, no_instantiation)
        outs = pjit_p.bind(*consts, *primals, *nz_tangents, jaxpr=jvp_closed, name=f"jvp({name})")
        primal_outs, tangent_outs = outs[:n_out], outs[n_out:]
    it = iter(tangent_outs)
    full = [next(it) if nz else Zero(tangent_aval(a)) for nz, a in zip(out_nz, jaxpr.out_avals)]
    return primal_outs, full


def _pjit_transpose(cts: list, *args: Any, jaxpr: ClosedJaxpr, name: str) -> list:
    linear = tuple(is_undefined(a) for a in args)
    transposed, consts = transpose_jaxpr(jaxpr, linear)
    nonlinear = [a for a in args if not is_undefined(a)]
    cts_in = pjit_p.bind(
        *consts, *nonlinear, *[instantiate(c) for c in cts], jaxpr=transposed, name=f"transpose({name})"
    )
    it = iter(cts_in)
    return [next(it) if m else None for m in linear]


def _pjit_batch(
    axis_size: int, vals: list, dims: list, *, jaxpr: ClosedJaxpr, name: str
) -> tuple[list, list]:
    in_batched = tuple(d is not None for d in dims)
    vals = [v if d is None else move_axis(v, d, 0) for v, d in zip(vals, dims)]
    batched, consts, out_batched = batch_jaxpr(jaxpr, axis_size, in_batched, (False,) * len(jaxpr.out_avals))
    outs = pjit_p.bind(*consts, *vals, jaxpr=batched, name=name)
    return outs, [0 if b else None for b in out_batched]


pjit_p.jvp = _pjit_jvp
pjit_p.transpose = _pjit_transpose
pjit_p.batch = _pjit_batch


# ---------------------------------------------------------------------------------------------------
# NaN debugging
# ---------------------------------------------------------------------------------------------------


def _has_nan(value: Any) -> bool:
    value = value._value if type(value) is Array else value
    return getattr(value, "dtype", np.dtype("i4")).kind in "fc" and bool(np.isnan(value).any())


def check_nans(closed: ClosedJaxpr, args: Sequence[Any], outs: Sequence[Any], name: str) -> None:
    """If an output has a NaN, re-run ``closed`` one primitive at a time and raise at the first one that
    produced a NaN from NaN-free inputs (as JAX's ``debug_nans`` does)."""
    if not any(_has_nan(o) for o in outs):
        return
    env: dict[Var, Any] = dict(zip(closed.jaxpr.constvars, closed.consts))
    env.update(zip(closed.jaxpr.invars, args))
    from ..core.jaxpr import Literal

    read = lambda v: v.as_array() if type(v) is Literal else env[v]  # noqa: E731
    from ..core.trace import bind_with_trace

    for eqn in closed.jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        result = bind_with_trace(None, eqn.primitive, ins, eqn.params)
        results = result if eqn.primitive.multiple_results else [result]
        env.update(zip(eqn.outvars, results))
        if any(_has_nan(r) for r in results) and not any(_has_nan(i) for i in ins):
            where = f" at {eqn.source_info}" if eqn.source_info else ""
            raise FloatingPointError(
                f"invalid value (nan) encountered in {eqn.primitive.name}{where}, inside the jitted function "
                f"{name}. (debug_nans is on: the function was re-run one operation at a time to find it.)"
            )
    raise FloatingPointError(
        f"invalid value (nan) in an input of the jitted function {name} (debug_nans is on)."
    )


# ---------------------------------------------------------------------------------------------------
# The jit API
# ---------------------------------------------------------------------------------------------------


class _Entry:
    """One cache entry: the traced jaxpr for a key, its output structure, and (lazily) its plan."""

    __slots__ = ("closed", "out_tree", "plan", "run", "out_avals", "single", "single_weak", "name")

    def __init__(self, closed: ClosedJaxpr, out_tree: Any, name: str):
        self.closed = closed
        self.out_tree = out_tree
        self.plan: CompiledPlan | None = None
        self.run = None
        self.out_avals = closed.out_avals
        self.single = out_tree.num_leaves == 1 and out_tree == tree_util.tree_structure(0)
        self.single_weak = self.out_avals[0].weak_type if self.single else False
        self.name = name


def _aval_key(x: Any) -> tuple:
    if type(x) is Array:
        v = x._value
        return (v.shape, v.dtype, x._weak)
    if isinstance(x, Tracer):
        a = x.aval
        return (a.shape, a.dtype, a.weak_type)
    a = abstractify(x)
    return (a.shape, a.dtype, a.weak_type)


def _raw(x: Any, aval_key: tuple) -> Any:
    if type(x) is Array:
        return x._value
    return np.asarray(x, dtype=aval_key[1])


class _DeletedBuffer:
    """Stands in for the buffer of an Array that was donated to a jitted function."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            "Array has been deleted: it was donated to a jitted function (donate_argnums), which reused its "
            "memory for the result. Use the function's output instead, or do not donate this argument."
        )


_live_jit_functions: weakref.WeakSet = weakref.WeakSet()
_NO_STATIC = ((), ())


@functools.lru_cache(maxsize=64)
def _positional_tree(n: int) -> Any:
    """The treedef of ``(args, kwargs)`` for ``n`` positional array leaves and no keyword arguments."""
    return tree_util.tree_structure(((0,) * n, {}))


_new_array = Array.__new__


def _clear_all_caches(name: str, value: Any) -> None:
    # Traces depend on the x64 flag, and the cache-hit path skips debug_nans checks; rather than reading
    # these flags on every call, drop the caches when they flip.
    if name in ("enable_x64", "debug_nans"):
        for f in list(_live_jit_functions):
            f.clear_cache()


config.add_listener(_clear_all_caches)


class JitFunction:
    """A jitted function: call it like the original; ``lower(*args)`` exposes the jaxpr and generated code."""

    def __init__(
        self,
        fun: Callable,
        static_argnums: Sequence[int] = (),
        static_argnames: Sequence[str] = (),
        donate_argnums: Sequence[int] = (),
        cache_size: int = 256,
    ):
        update_wrapper(self, fun)
        self.fun = fun
        self.static_argnums = tuple(sorted(static_argnums))
        self.static_argnames = tuple(static_argnames)
        self.donate_argnums = tuple(donate_argnums)
        self.cache_size = cache_size
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._fast_ok = not self.static_argnums and not self.static_argnames and not self.donate_argnums
        self._trace_count = 0
        _live_jit_functions.add(self)

    # -- calling -----------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Cache hit on plain Array arguments: one key tuple, one dict lookup, the plan, wrap the outputs.
        if not kwargs and self._fast_ok and _context.trace is None and not config.disable_jit:
            key = []
            values = []
            for a in args:
                if type(a) is not Array:
                    break
                v = a._value
                values.append(v)
                key.append((v.shape, v.dtype, a._weak))
            else:
                entry = self._cache.get((_positional_tree(len(args)), tuple(key), _NO_STATIC))
                if entry is not None and entry.run is not None:
                    outs = entry.run(*values)
                    if entry.single:
                        out = _new_array(Array)
                        out._value = outs[0]
                        out._weak = entry.single_weak
                        return out
                    return tree_util.tree_unflatten(entry.out_tree, _wrap_outputs(outs, entry.out_avals))
        if config.disable_jit:
            return self.fun(*args, **kwargs)
        return self._call_general(args, kwargs)

    def _key_and_leaves(self, args: tuple, kwargs: dict) -> tuple[Any, list, dict, Any]:
        static_vals, dynamic_args = self._split_static(args)
        static_kwargs = {k: v for k, v in kwargs.items() if k in self.static_argnames}
        dynamic_kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        for where, value in list(static_vals.items()) + list(static_kwargs.items()):
            try:
                hash(value)
            except TypeError:
                raise TypeError(
                    f"Non-hashable static arguments are not supported. Argument {where!r} of "
                    f"{describe_function(self.fun)} is a {type(value).__name__}, which is unhashable. Make it "
                    "hashable (e.g. a tuple instead of a list), or pass it as a regular (traced) argument."
                ) from None
        leaves, tree = tree_util.tree_flatten((tuple(dynamic_args), dynamic_kwargs))
        avals = tuple(_aval_key(x) for x in leaves)
        static_key = (tuple(static_vals.items()), tuple(sorted(static_kwargs.items())))
        # The same key the fast path in __call__ builds. (x64 is not in it: flipping x64 clears the caches.)
        key = (tree, avals, static_key)
        return key, leaves, {"static": static_vals, "static_kwargs": static_kwargs, "tree": tree}, avals

    def _split_static(self, args: tuple) -> tuple[dict, list]:
        static = {}
        for i in self.static_argnums:
            j = i + len(args) if i < 0 else i
            if not 0 <= j < len(args):
                raise ValueError(
                    f"jit-compiled function {describe_function(self.fun)} has static_argnums="
                    f"{self.static_argnums}, but was called with only {len(args)} positional argument(s): "
                    f"argument {i} does not exist."
                )
            static[j] = args[j]
        return static, [a for k, a in enumerate(args) if k not in static]

    def _trace(self, key: Any, leaves: list, info: dict, args: tuple, kwargs: dict) -> _Entry:
        start = time.perf_counter()
        static, static_kwargs, tree = info["static"], info["static_kwargs"], info["tree"]
        out_tree_box: list = []

        def flat_fun(*flat: Any) -> list:
            dyn_args, dyn_kwargs = tree_util.tree_unflatten(tree, flat)
            it = iter(dyn_args)
            full = [static[i] if i in static else next(it) for i in range(len(dyn_args) + len(static))]
            out = self.fun(*full, **dyn_kwargs, **static_kwargs)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            out_tree_box.append(out_tree)
            return out_leaves

        self._trace_count += 1
        dynamic = [a for k, a in enumerate(args) if k not in static]
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in static_kwargs}
        names = flat_argument_names(self.fun, tuple(dynamic), dyn_kwargs)
        in_avals = [ShapedArray(*k) for k in info["avals"]]
        closed = trace_to_jaxpr(flat_fun, in_avals, self.fun, names)
        entry = _Entry(closed, out_tree_box[0], getattr(self.fun, "__name__", "fun"))
        if config.log_compiles:
            shapes = ", ".join(a.str_short() for a in in_avals)
            logger.warning(
                "Finished tracing %s for args (%s) in %.2f ms.",
                describe_function(self.fun),
                shapes,
                1e3 * (time.perf_counter() - start),
            )
        return entry

    def _explain_miss(self, key: Any, info: dict, args: tuple, kwargs: dict) -> None:
        if not self._cache:
            logger.warning(
                "TRACING CACHE MISS for %s: first call (nothing traced yet).", describe_function(self.fun)
            )
            return
        previous = next(reversed(self._cache))
        reasons = _describe_key_difference(previous, key, self.fun, args, kwargs, info)
        logger.warning(
            "TRACING CACHE MISS at %s for %s because:\n  %s",
            user_line() or "?",
            describe_function(self.fun),
            "\n  ".join(reasons) or "the arguments' structure changed",
        )

    def _entry_for(self, args: tuple, kwargs: dict) -> tuple[_Entry, list]:
        key, leaves, info, avals = self._key_and_leaves(args, kwargs)
        info["avals"] = avals
        entry = self._cache.get(key)
        if entry is None:
            if config.explain_cache_misses:
                self._explain_miss(key, info, args, kwargs)
            entry = self._trace(key, leaves, info, args, kwargs)
            if any(isinstance(c, Tracer) for c in entry.closed.consts):
                return entry, leaves  # closes over tracers of an enclosing transform: never reused
            with self._lock:
                self._cache[key] = entry
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return entry, leaves

    def _call_general(self, args: tuple, kwargs: dict) -> Any:
        entry, leaves = self._entry_for(args, kwargs)
        if _context.trace is not None or any(isinstance(c, Tracer) for c in entry.closed.consts):
            return self._bind(entry, leaves)
        donated = self._donated_flags(args, kwargs, len(leaves))
        if entry.run is None or donated:
            entry.plan = plan_for(entry.closed, donated)
            if not donated and not config.debug_nans:  # the cache-hit path does not check for NaNs
                entry.run = entry.plan.run
        keys = [_aval_key(x) for x in leaves]
        values = [_raw(x, k) for x, k in zip(leaves, keys)]
        if donated:  # a donated buffer is written in place, so it must be our own writable array
            values = [
                v.copy() if d and not (v.flags.writeable and v.base is None) else v
                for v, d in zip(values, donated)
            ]
        outs = entry.plan.run(*values)
        if config.debug_nans:
            check_nans(entry.closed, [Array(v, k[2]) for v, k in zip(values, keys)], outs, entry.name)
        if donated:
            self._delete_donated(args)
        return tree_util.tree_unflatten(entry.out_tree, _wrap_outputs(outs, entry.out_avals))

    def _bind(self, entry: _Entry, leaves: list) -> Any:
        closed = entry.closed
        args = [
            x if isinstance(x, (Array, Tracer)) else Array(_raw(x, _aval_key(x)), _aval_key(x)[2])
            for x in leaves
        ]
        if closed.consts:
            body = closed_from(closed)
            outs = pjit_p.bind(*closed.consts, *args, jaxpr=body, name=entry.name)
        else:
            outs = pjit_p.bind(*args, jaxpr=closed, name=entry.name)
        return tree_util.tree_unflatten(entry.out_tree, outs)

    def _donated_flags(self, args: tuple, kwargs: dict, n_leaves: int) -> tuple[bool, ...]:
        if not self.donate_argnums:
            return ()
        flags: list[bool] = []
        for k, a in enumerate(args):
            if k in self.static_argnums:
                continue
            n = tree_util.tree_structure(a).num_leaves
            flags.extend([k in self.donate_argnums] * n)
        flags.extend([False] * (n_leaves - len(flags)))
        return tuple(flags)

    def _delete_donated(self, args: tuple) -> None:
        for k in self.donate_argnums:
            if k < len(args):
                for leaf in tree_util.tree_leaves(args[k]):
                    if type(leaf) is Array:
                        leaf._value = _DeletedBuffer()

    # -- inspection ---------------------------------------------------------------------------------
    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """Trace for these arguments (or ShapeDtypeStructs) without running; see ``Lowered``."""
        entry, _ = self._entry_for(args, kwargs)
        return Lowered(entry)

    def trace_count(self) -> int:
        """How many times the Python function was traced (cache misses)."""
        return self._trace_count

    def clear_cache(self) -> None:
        """Drop every traced and compiled entry."""
        with self._lock:
            self._cache.clear()

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return _BoundJit(self, obj)


class _BoundJit:
    def __init__(self, jitted: JitFunction, obj: Any):
        self._jitted, self._obj = jitted, obj

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._jitted(self._obj, *args, **kwargs)


class Lowered:
    """A traced jit computation: ``.jaxpr`` (ClosedJaxpr), ``.as_text()`` (the generated plan source) and
    ``.compile()`` (a callable on arrays)."""

    def __init__(self, entry: _Entry):
        self._entry = entry

    @property
    def jaxpr(self) -> ClosedJaxpr:
        return self._entry.closed

    @property
    def out_info(self) -> Any:
        shapes = [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in self._entry.out_avals]
        return tree_util.tree_unflatten(self._entry.out_tree, shapes)

    def as_text(self) -> str:
        """The generated straight-line code of the compiled plan."""
        return plan_for(self._entry.closed).source

    def compile(self) -> Compiled:
        return Compiled(self._entry)


class Compiled:
    """A compiled jit computation for fixed argument types: call it with flat or pytree arguments."""

    def __init__(self, entry: _Entry):
        self._entry = entry
        self._plan = plan_for(entry.closed)

    def as_text(self) -> str:
        return self._plan.source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        leaves = tree_util.tree_leaves((args, kwargs))
        outs = self._plan.run(*[_raw(x, _aval_key(x)) for x in leaves])
        return tree_util.tree_unflatten(self._entry.out_tree, _wrap_outputs(outs, self._entry.out_avals))


def _describe_key_difference(
    old: Any, new: Any, fun: Callable, args: tuple, kwargs: dict, info: dict
) -> list[str]:
    old_tree, old_avals, old_static = old
    new_tree, new_avals, new_static = new
    reasons = []
    if old_static != new_static:
        reasons.append(f"a static argument changed: {old_static} -> {new_static}")
    if len(old_avals) != len(new_avals) or (
        old_tree is not None and new_tree is not None and old_tree != new_tree
    ):
        reasons.append("the pytree structure of the arguments changed")
        return reasons
    dynamic = tuple(a for k, a in enumerate(args) if k not in info["static"])
    names = flat_argument_names(
        fun, dynamic, {k: v for k, v in kwargs.items() if k not in info["static_kwargs"]}
    )
    for name, a, b in zip(names, old_avals, new_avals):
        if a != b:
            before = ShapedArray(*a).str_short() + (" (weakly typed)" if a[2] else "")
            after = ShapedArray(*b).str_short() + (" (weakly typed)" if b[2] else "")
            reasons.append(f"argument {name} changed from {before} to {after}")
    return reasons


def jit(
    fun: Callable | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    donate_argnums: int | Sequence[int] = (),
) -> Any:
    """Compile ``fun``: trace it once per argument signature and run the optimised plan after that.

    Example:
        >>> @fl.jit
        ... def step(w, x):
        ...     return fnp.tanh(x @ w).sum()
        >>> fl.jit(lambda x, n: x ** n, static_argnums=1)(x, 3)
    """
    as_tuple = lambda v: (v,) if isinstance(v, (int, str)) else tuple(v)  # noqa: E731
    if fun is None:
        return lambda f: jit(
            f, static_argnums=static_argnums, static_argnames=static_argnames, donate_argnums=donate_argnums
        )
    return JitFunction(fun, as_tuple(static_argnums), as_tuple(static_argnames), as_tuple(donate_argnums))


@contextmanager
def disable_jit(disable: bool = True):
    """Run jitted functions eagerly inside this block (for debugging with prints and breakpoints).

    Example:
        >>> with fl.disable_jit():
        ...     f(x)            # runs the Python function op by op
    """
    previous = config.disable_jit
    config.update("disable_jit", disable)
    try:
        yield
    finally:
        config.update("disable_jit", previous)
