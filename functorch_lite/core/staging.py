"""Staging: trace a Python function into a jaxpr. ``make_jaxpr`` and ``eval_shape`` live here.

Under a ``StagingTrace`` every primitive is recorded (omnistaging), even on constants. Values from outside
(closed-over arrays, tracers of enclosing transforms) become constvars; 0-d concrete constants become
inline literals.

Example:
    >>> print(fl.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(fnp.ones(3)))
    { lambda ; a:f32[3]. let b:f32[3] = sin a; c:f32[3] = mul b 2.0:f32[] in (c,) }
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

import numpy as np

from .. import tree_util
from . import dtypes
from .array import Array
from .errors import UnexpectedTracerError
from .jaxpr import ClosedJaxpr, Eqn, Jaxpr, Literal, Var
from .passes import dce_closed
from .source_info import user_line
from .trace import ShapedArray, Trace, Tracer, _context, _escaped_message, aval_of


def _is_literal_value(x: Any) -> bool:
    value = x._value if type(x) is Array else x
    return isinstance(value, (np.ndarray, np.generic, bool, int, float, complex))


class StagingTracer(Tracer):
    """A value being staged into a jaxpr: an abstract value bound to a jaxpr variable (or literal)."""

    __slots__ = ("aval", "var", "_line")

    def __init__(self, trace: StagingTrace, aval: ShapedArray, var: Any, line: str | None = None):
        self._trace = trace
        self.aval = aval
        self.var = var
        self._line = line


class StagingTrace(Trace):
    """Records every primitive applied under it as a jaxpr equation.

    ``arg_names`` (one per flat input) lets error messages say which argument a value depends on.
    """

    transform = "jit/make_jaxpr"

    def __init__(self, parent: Trace | None, function: Any = None, arg_names: Sequence[str] = ()):
        super().__init__(parent, function)
        self.arg_names = list(arg_names)
        self.invars: list[Var] = []
        self.eqns: list[Eqn] = []
        self.constvars: list[Var] = []
        self.consts: list[Any] = []
        self._const_tracers: dict[int, StagingTracer] = {}
        self._lifted: list[Any] = []

    def new_arg(self, aval: ShapedArray) -> StagingTracer:
        var = Var(aval)
        self.invars.append(var)
        return StagingTracer(self, aval, var)

    def lift(self, x: Any) -> StagingTracer:
        """Own tracers pass through; anything else becomes a constant of the jaxpr."""
        if isinstance(x, StagingTracer) and x._trace is self:
            return x
        tracer = self._const_tracers.get(id(x))
        if tracer is not None:
            return tracer
        if isinstance(x, Tracer):
            if not x._trace.alive:
                raise UnexpectedTracerError(lambda: _escaped_message(x))
            aval = x.aval
            concrete = None
        else:
            aval = aval_of(x)
            concrete = x
        if concrete is not None and aval.shape == () and _is_literal_value(concrete):
            value = concrete._value if type(concrete) is Array else concrete
            tracer = StagingTracer(self, aval, Literal(np.asarray(value, dtype=aval.dtype)[()], aval))
        else:
            var = Var(aval)
            self.constvars.append(var)
            self.consts.append(x)
            tracer = StagingTracer(self, aval, var)
        self._const_tracers[id(x)] = tracer
        self._lifted.append(x)  # keeps id(x) from being reused while we trace
        return tracer

    def process(self, prim: Any, args: tuple, params: dict) -> Any:
        return self.emit(prim, args, params, user_line())

    def emit(self, prim: Any, args: tuple, params: dict, line: str | None = None) -> Any:
        """Record ``prim`` applied to ``args`` as an equation and return its output tracer(s)."""
        tracers = [a if type(a) is StagingTracer and a._trace is self else self.lift(a) for a in args]
        out = prim.abstract_eval(*[t.aval for t in tracers], **params)
        if prim.multiple_results:
            outs = [StagingTracer(self, a, Var(a), line) for a in out]
        else:
            outs = [StagingTracer(self, out, Var(out), line)]
        self.eqns.append(Eqn(prim, [t.var for t in tracers], [t.var for t in outs], params, line))
        return outs if prim.multiple_results else outs[0]

    def describe_origin(self, tracer: Tracer) -> str:
        depends = self._argument_dependencies(tracer.var)
        if not depends:
            return ""
        names = ", ".join(depends[:5])
        return f"The value depends on the traced argument(s) {names}.\n"

    def _argument_dependencies(self, var: Any) -> list[str]:
        producer = {v: e for e in self.eqns for v in e.outvars}
        names = {v: n for v, n in zip(self.invars, self.arg_names)}
        found: list[str] = []
        stack, seen = [var], set()
        while stack:
            v = stack.pop()
            if type(v) is not Var or v in seen:
                continue
            seen.add(v)
            if v in names:
                found.append(names[v])
            elif v in producer:
                stack.extend(producer[v].invars)
        return sorted(found)

    def to_jaxpr(self, outputs: Sequence[Any]) -> ClosedJaxpr:
        out_tracers = [self.lift(o) for o in outputs]
        jaxpr = Jaxpr(self.constvars, self.invars, self.eqns, [t.var for t in out_tracers])
        jaxpr, consts = dce_closed(jaxpr, self.consts)
        return ClosedJaxpr(jaxpr, consts)


def trace_to_jaxpr(
    flat_fun: Callable, in_avals: Sequence[ShapedArray], function: Any = None, arg_names: Sequence[str] = ()
) -> ClosedJaxpr:
    """Trace ``flat_fun`` (flat inputs -> flat list of outputs) at ``in_avals`` into a ClosedJaxpr.

    Example: ``trace_to_jaxpr(lambda x: [fnp.sin(x)], [ShapedArray((3,), np.float32)])``.
    """
    parent = _context.trace
    trace = StagingTrace(parent, function or flat_fun, arg_names)
    tracers = [trace.new_arg(a) for a in in_avals]
    _context.trace = trace
    try:
        outs = flat_fun(*tracers)
        closed = trace.to_jaxpr(outs)
    finally:
        _context.trace = parent
        trace.alive = False
    return closed


class ShapeDtypeStruct:
    """A shape and dtype standing in for an array, as in ``jax.ShapeDtypeStruct``.

    Example: ``fl.eval_shape(f, fl.ShapeDtypeStruct((3,), fnp.float32))``.
    """

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape: Sequence[int], dtype: Any, weak_type: bool = False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ShapeDtypeStruct) and (self.shape, self.dtype, self.weak_type) == (
            other.shape,
            other.dtype,
            other.weak_type,
        )

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name}{weak})"


def abstractify(x: Any) -> ShapedArray:
    """The ShapedArray standing for an argument: arrays, scalars, tracers or ShapeDtypeStructs."""
    if isinstance(x, ShapeDtypeStruct):
        return ShapedArray(x.shape, dtypes.canonicalize_dtype(x.dtype), x.weak_type)
    if isinstance(x, (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex)):
        return aval_of(x)
    raise TypeError(
        f"Argument {x!r} of type {type(x).__name__} is not a valid array type. Pass arrays, scalars or "
        "ShapeDtypeStructs, or mark the argument static (static_argnums=...)."
    )


def as_operand(x: Any) -> Any:
    """Arrays and tracers pass through; Python scalars and NumPy arrays become Arrays (scalars weakly typed)."""
    if isinstance(x, (Array, Tracer)):
        return x
    abstractify(x)  # raises the usual message for non-array arguments
    dtype, weak = dtypes.dtype_and_weak(x)
    return Array(np.array(x, dtype=dtype), weak)


def argument_names(fun: Callable, args: tuple, kwargs: dict) -> list[str] | None:
    """Names of the positional and keyword arguments of ``fun`` (for messages), or None."""
    try:
        signature = inspect.signature(fun)
        bound = signature.bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None
    return list(bound.arguments)


def flat_argument_names(fun: Callable, args: tuple, kwargs: dict) -> list[str]:
    """One readable name per flattened leaf: ``x``, ``params['w']``, ``batch[0]``."""
    names = argument_names(fun, args, kwargs) or [f"args[{i}]" for i in range(len(args))]
    names = names[: len(args)] + list(kwargs)
    flat: list[str] = []
    for name, value in zip(names, list(args) + list(kwargs.values())):
        for path, _ in tree_util.tree_flatten_with_path(value)[0]:
            flat.append(name + tree_util.keystr(path))
    return flat


def _split_static(args: tuple, static_argnums: Sequence[int], name: str) -> tuple[tuple, dict[int, Any]]:
    static = {}
    for i in static_argnums:
        j = i + len(args) if i < 0 else i
        if not 0 <= j < len(args):
            raise ValueError(
                f"{name}: static_argnums={tuple(static_argnums)} refers to argument {i}, but the function "
                f"was called with {len(args)} positional arguments."
            )
        static[j] = args[j]
    return tuple(a for k, a in enumerate(args) if k not in static), static


def _merge_static(dynamic: Sequence[Any], static: dict[int, Any]) -> list:
    out, it = [], iter(dynamic)
    for k in range(len(dynamic) + len(static)):
        out.append(static[k] if k in static else next(it))
    return out


def trace_function(
    fun: Callable, args: tuple, kwargs: dict, static_argnums: Sequence[int] = (), name: str = "make_jaxpr"
) -> tuple[ClosedJaxpr, Any]:
    """Trace ``fun(*args, **kwargs)`` with pytree arguments; returns the jaxpr and the output treedef."""
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    dynamic, static = _split_static(args, static_argnums, name)
    flat_args, in_tree = tree_util.tree_flatten((dynamic, kwargs))
    in_avals = [abstractify(x) for x in flat_args]
    out_tree_box: list[Any] = []

    def flat_fun(*flat: Any) -> list:
        dyn, kw = tree_util.tree_unflatten(in_tree, flat)
        out = fun(*_merge_static(dyn, static), **kw)
        leaves, out_tree = tree_util.tree_flatten(out)
        out_tree_box.append(out_tree)
        return leaves

    names = flat_argument_names(fun, tuple(dynamic), kwargs)
    closed = trace_to_jaxpr(flat_fun, in_avals, fun, names)
    return closed, out_tree_box[0]


def make_jaxpr(
    fun: Callable, static_argnums: int | Sequence[int] = (), return_shape: bool = False
) -> Callable:
    """Return a function that traces ``fun`` and gives its ClosedJaxpr (printed in JAX's format).

    Example:
        >>> print(fl.make_jaxpr(lambda w, x, b: fnp.tanh(w * x + b))(1.0, 2.0, 3.0))
        { lambda ; a:f32[] b:f32[] c:f32[]. let
            d:f32[] = mul a b
            e:f32[] = add d c
            f:f32[] = tanh e
          in (f,) }
    """

    @wraps(fun)
    def make_jaxpr_f(*args: Any, **kwargs: Any) -> Any:
        closed, out_tree = trace_function(fun, args, kwargs, static_argnums)
        if return_shape:
            shapes = [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in closed.out_avals]
            return closed, tree_util.tree_unflatten(out_tree, shapes)
        return closed

    return make_jaxpr_f


def eval_shape(fun: Callable, *args: Any, **kwargs: Any) -> Any:
    """The output shapes and dtypes of ``fun(*args)`` as ShapeDtypeStructs, computed without any FLOPs.

    Example: ``fl.eval_shape(lambda x: x @ x.T, fl.ShapeDtypeStruct((4, 3), fnp.float32))`` is
    ``ShapeDtypeStruct(shape=(4, 4), dtype=float32)``.
    """
    closed, out_tree = trace_function(fun, args, kwargs, name="eval_shape")
    shapes = [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in closed.out_avals]
    return tree_util.tree_unflatten(out_tree, shapes)
