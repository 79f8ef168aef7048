"""Primitives, ``bind``, and the context-based ("stackless") trace machinery.

There is one current-trace slot per thread. ``None`` means *eval*: ``bind`` then calls the primitive's
eager implementation directly (one branch, no avals, no checks). A transform installs its trace, whose
``parent`` is the trace that was current; the trace owns a tracer iff ``tracer._trace is trace``, treats
every other value as a constant, and runs rules with the parent as the current trace, so nesting works
without levels and perturbation confusion cannot happen.

Example:
    >>> sin_p = Primitive("sin", impl=np.sin, abstract_eval=unary_aval)
    >>> sin_p.bind(Array(np.float32(1.0)))
    Array(0.84147096, dtype=float32)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from . import dtypes
from .errors import (
    ConcretizationTypeError,
    MissingRuleError,
    TracerArrayConversionError,
    TracerBoolConversionError,
    TracerIntegerConversionError,
    UnexpectedTracerError,
)
from .source_info import describe_function, user_line


class ShapedArray:
    """The abstract value of an array: shape, dtype and weak type. Tracers and jaxpr variables carry one.

    Example: ``ShapedArray((3,), np.dtype("float32")).str_short()`` is ``'f32[3]'``.
    """

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, weak_type: bool = False):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def update(self, shape=None, dtype=None, weak_type=None) -> ShapedArray:
        return ShapedArray(
            self.shape if shape is None else shape,
            self.dtype if dtype is None else dtype,
            self.weak_type if weak_type is None else weak_type,
        )

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is ShapedArray
            and self.shape == other.shape
            and self.dtype == other.dtype
            and self.weak_type == other.weak_type
        )

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self.dtype.name}[{','.join(map(str, self.shape))}]{weak})"


def _no_rule(transform: str) -> Callable:
    def missing(prim_name: str) -> Callable:
        def raise_missing(*args: Any, **params: Any) -> Any:
            raise MissingRuleError(
                f"Primitive '{prim_name}' has no {transform} rule, so it cannot be used under "
                f"{transform}. Add the rule in its family's file under functorch_lite/primitives/ "
                "(or avoid the transformation for this operation)."
            )

        return raise_missing

    return missing


class Primitive:
    """A named operation with one slot per rule: impl, abstract_eval, jvp, transpose, batch, lower.

    ``impl`` works on backend arrays (numpy/cupy) and returns backend arrays. ``abstract_eval`` maps
    ShapedArrays (plus params) to the output ShapedArray(s) and checks the operands. ``weak`` says when the
    output is weakly typed: ``"inputs"`` (all inputs weak, as for elementwise ops), ``"never"``, or a
    function of ``(*input_weak_flags, **params)``.

    Example:
        >>> neg_p = Primitive("neg", impl=np.negative, abstract_eval=unary_aval)
    """

    __slots__ = (
        "name",
        "impl",
        "abstract_eval",
        "multiple_results",
        "weak",
        "eager",
        "jvp",
        "transpose",
        "batch",
        "lower",
    )

    def __init__(
        self,
        name: str,
        impl: Callable,
        abstract_eval: Callable,
        *,
        multiple_results: bool = False,
        weak: str | Callable = "inputs",
    ):
        self.name = name
        self.impl = impl
        self.abstract_eval = abstract_eval
        self.multiple_results = multiple_results
        self.weak = weak
        self.eager = _make_eager(self)
        self.jvp = _no_rule("jvp (forward-mode differentiation)")(name)
        self.transpose = _no_rule("transpose (reverse-mode differentiation)")(name)
        self.batch = _no_rule("batching (vmap)")(name)
        self.lower = None

    def bind(self, *args: Any, **params: Any) -> Any:
        """Apply the primitive under the current trace (eagerly when no transform is active)."""
        trace = _context.trace
        if trace is None:
            return self.eager(*args, **params)
        return trace.process(self, args, params)

    def __repr__(self) -> str:
        return self.name


def _make_eager(prim: Primitive) -> Callable:
    """Build the eval-trace function: unwrap Arrays, call impl, wrap the result(s) with their weak type."""
    from .array import Array  # core.array imports this module

    impl, weak, many = prim.impl, prim.weak, prim.multiple_results
    new = Array.__new__

    def wrap(value: Any, weak_type: bool) -> Array:
        out = new(Array)
        out._value = value
        out._weak = weak_type
        return out

    if weak == "never":

        def eager(*args: Any, **params: Any) -> Any:
            out = impl(*[a._value for a in args], **params)
            if many:
                return [wrap(o, False) for o in out]
            return wrap(out, False)

    elif weak == "inputs":

        def eager(*args: Any, **params: Any) -> Any:
            weak_type = True
            values = []
            for a in args:
                values.append(a._value)
                weak_type = weak_type and a._weak
            out = impl(*values, **params)
            if many:
                return [wrap(o, weak_type) for o in out]
            return wrap(out, weak_type)

    else:

        def eager(*args: Any, **params: Any) -> Any:
            out = impl(*[a._value for a in args], **params)
            weak_type = weak(*[a._weak for a in args], **params)
            if many:
                return [wrap(o, w) for o, w in zip(out, weak_type)]
            return wrap(out, weak_type)

    return eager


class _Context(threading.local):
    trace: Trace | None = None


_context = _Context()


def current_trace() -> Trace | None:
    """The trace that ``bind`` dispatches to right now (None = eager evaluation)."""
    return _context.trace


class set_current_trace:
    """Context manager installing ``trace`` as the current trace for this thread.

    Example:
        >>> with set_current_trace(trace):
        ...     out = f(*tracers)
    """

    __slots__ = ("trace", "previous")

    def __init__(self, trace: Trace | None):
        self.trace = trace

    def __enter__(self) -> Trace | None:
        self.previous = _context.trace
        _context.trace = self.trace
        return self.trace

    def __exit__(self, *exc: Any) -> None:
        _context.trace = self.previous


def bind_with_trace(trace: Trace | None, prim: Primitive, args: Any, params: dict) -> Any:
    """Bind ``prim`` with ``trace`` current (rules use this to emit into the parent trace)."""
    previous = _context.trace
    _context.trace = trace
    try:  # what ``prim.bind`` does with ``trace`` current, without repacking the arguments
        if trace is None:
            return prim.eager(*args, **params)
        return trace.process(prim, args, params)
    finally:
        _context.trace = previous


class Trace:
    """Base of all transformation traces. Subclasses implement ``process`` (and ``to_concrete``).

    ``transform`` names the transformation in messages; ``function`` is the user function being
    transformed (for messages), ``alive`` turns False when the transform returns, so a leaked tracer used
    later raises UnexpectedTracerError.
    """

    transform = "a transformation"

    def __init__(self, parent: Trace | None, function: Any = None):
        self.parent = parent
        self.function = function
        self.alive = True

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        raise NotImplementedError

    def to_concrete(self, tracer: Tracer) -> Any:
        """The concrete Array behind ``tracer``, or None when it is abstract."""
        return None

    def describe_origin(self, tracer: Tracer) -> str:
        """Lines explaining where an abstract tracer came from (overridden by staging)."""
        return ""

    def check_alive(self, tracer: Tracer) -> None:
        if not self.alive:
            raise UnexpectedTracerError(lambda: _escaped_message(tracer))


def _function_name(function: Any) -> str:
    return describe_function(function) if function is not None else "a function"


def _escaped_message(tracer: Tracer) -> str:
    trace = tracer._trace
    line = getattr(tracer, "_line", None)
    made = f"\nThe leaked value was created at {line}." if line else ""
    return (
        f"Encountered an unexpected tracer: a value of type {tracer.aval.str_short()} created while "
        f"{trace.transform} was tracing {_function_name(trace.function)} is being used after that "
        f"transformation returned.{made}\n"
        "A transformed function had a side effect that let an intermediate value escape (stored in a "
        "global, an attribute, a list, ...). Fix: return the value from the function instead of storing "
        "it, or pass it in as an argument."
    )


class Tracer:
    """A value being traced by a transformation. Python operators forward to ``functorch_lite.numpy``.

    Conversions that need a concrete value (``bool``, ``int``, ``np.asarray``) work when the value is
    concrete (e.g. under ``grad`` without ``jit``) and otherwise raise typed errors with the fix.
    """

    __slots__ = ("_trace", "__weakref__")
    __array_priority__ = 1000

    aval: ShapedArray

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def weak_type(self) -> bool:
        return self.aval.weak_type

    @property
    def ndim(self) -> int:
        return len(self.aval.shape)

    @property
    def size(self) -> int:
        return self.aval.size

    @property
    def _value(self) -> Any:
        # Reached only when a tracer gets to the eager path: its transformation has ended.
        raise UnexpectedTracerError(lambda: _escaped_message(self))

    @property
    def _weak(self) -> bool:
        raise UnexpectedTracerError(lambda: _escaped_message(self))

    def to_concrete(self) -> Any:
        """The concrete Array behind this tracer, or None."""
        return self._trace.to_concrete(self)

    def _concrete_or_raise(self, error: type, what: str, fix: str) -> Any:
        value = self.to_concrete()
        if value is None:
            line = user_line()  # captured now; the message itself is built only if shown
            raise error(lambda: self._abstract_message(what, fix, line))
        return value

    def _abstract_message(self, what: str, fix: str, line: str | None) -> str:
        trace = self._trace
        where = f" at {line}" if line else ""
        origin = trace.describe_origin(self)
        return (
            f"{what} of an abstract traced value of type {self.aval.str_short()}{where}, while "
            f"{trace.transform} was tracing {_function_name(trace.function)}.\n"
            f"{origin}"
            f"The value is not known while tracing, so Python cannot use it here.\nFix: {fix}"
        )

    def __bool__(self) -> bool:
        value = self._concrete_or_raise(
            TracerBoolConversionError,
            "Attempted boolean conversion (a Python `if`, `while`, `and`, `or` or `not`)",
            "use functorch_lite.lax.cond / lax.while_loop or fnp.where for data-dependent choices, or "
            "mark the argument static (jit(f, static_argnums=...)) if it is a configuration value.",
        )
        return bool(value)

    def __index__(self) -> int:
        value = self._concrete_or_raise(
            TracerIntegerConversionError,
            "Attempted integer conversion (`__index__`: used as a Python index, a range bound or a shape)",
            "mark the argument static (jit(f, static_argnums=...)), or use lax.dynamic_slice / "
            "lax.fori_loop, which accept traced indices.",
        )
        return value.__index__()

    def __int__(self) -> int:
        value = self._concrete_or_raise(
            TracerIntegerConversionError,
            "Attempted int() conversion",
            "keep the value as an array (use .astype(fnp.int32)), or mark the argument static.",
        )
        return int(value)

    def __float__(self) -> float:
        value = self._concrete_or_raise(
            ConcretizationTypeError,
            "Attempted float() conversion",
            "keep the value as an array (use .astype(fnp.float32)), or mark the argument static.",
        )
        return float(value)

    def __complex__(self) -> complex:
        value = self._concrete_or_raise(
            ConcretizationTypeError,
            "Attempted complex() conversion",
            "keep the value as an array, or mark the argument static.",
        )
        return complex(value)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        line = user_line()
        raise TracerArrayConversionError(
            lambda: self._abstract_message(
                "Attempted conversion to a NumPy array (np.asarray, np.array or a raw NumPy function)",
                "use functorch_lite.numpy (imported as fnp) instead of numpy inside transformed "
                "functions, or pass the array in as a static/non-traced value.",
                line,
            )
        )

    def item(self) -> Any:
        """The Python scalar, when the value is concrete."""
        value = self._concrete_or_raise(
            ConcretizationTypeError, "Attempted .item()", "keep the value as an array."
        )
        return value.item()

    def tolist(self) -> Any:
        """A nested Python list, when the value is concrete."""
        value = self._concrete_or_raise(
            ConcretizationTypeError, "Attempted .tolist()", "keep the value as an array."
        )
        return value.tolist()

    def __len__(self) -> int:
        if not self.aval.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.aval.shape[0]

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.aval.shape[0]))

    def __hash__(self) -> int:
        raise TypeError(
            f"unhashable type: traced array {self.aval.str_short()}. Arrays are not hashable; to use a "
            "value as a static (hashable) argument, pass a Python scalar or tuple."
        )

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            "Traced arrays are immutable; item assignment is not supported. Use x = x.at[index].set(value)."
        )

    def __repr__(self) -> str:
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"


class LazyAvalTracer(Tracer):
    """A tracer whose ``aval`` is derived from the value it carries, on first use: the rules of eager
    transforms (JVP, batching) work on the carried values, and most results never need their type."""

    __slots__ = ("_aval",)

    def _compute_aval(self) -> ShapedArray:
        raise NotImplementedError

    @property
    def aval(self) -> ShapedArray:
        aval = self._aval
        if aval is None:
            aval = self._aval = self._compute_aval()
        return aval


def aval_of(x: Any) -> ShapedArray:
    """The ShapedArray of an Array, a tracer, a NumPy array or a Python scalar."""
    if type(x) is Array:  # the common case first: transforms call this for every value they touch
        value = x._value
        return ShapedArray(value.shape, dtypes.canonicalize_dtype(value.dtype), x._weak)
    if isinstance(x, Tracer):
        return x.aval
    dtype, weak = dtypes.dtype_and_weak(x)
    return ShapedArray(np.shape(x), dtype, weak)


from .array import Array  # noqa: E402  (core.array imports this module lazily, so no cycle)

# isinstance(tracer, Array) is True, as for jax.Array, so user annotations hold under transforms.
Array.register(Tracer)
