"""Autodiff machinery: symbolic zeros, the JVP trace, linearization into a linear jaxpr, and the backward
pass that transposes it. No per-primitive rules live here (they are in ``primitives/``).

Forward mode runs each primitive's JVP rule with the parent trace current. Reverse mode is *linearize then
transpose*: the same JVP rules run with a ``LinearTangentTrace`` current, which evaluates everything that
does not touch a tangent on the parent trace (so primal values stay concrete and Python control flow works)
and stages only the tangent computation into a linear jaxpr. ``backward_pass`` walks that jaxpr in reverse
with each primitive's transpose rule, skipping zero cotangents.

Example:
    >>> primal_out, tangent_out = jvp_flat(fnp.sin, [x], [t])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core import dtypes
from ..core.errors import UnexpectedTracerError
from ..core.jaxpr import Jaxpr, Literal, Var
from ..core.staging import StagingTrace, StagingTracer
from ..core.trace import (
    LazyAvalTracer,
    Primitive,
    ShapedArray,
    Trace,
    Tracer,
    _context,
    _escaped_message,
    aval_of,
    bind_with_trace,
)

# The tangent dtype of integer and boolean values, as in JAX: a zero-width type with no arithmetic.
float0 = np.dtype([("float0", np.void, 0)])


class Zero:
    """A symbolic zero tangent or cotangent of type ``aval``: never materialised unless needed."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Zero({self.aval.str_short()})"


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    """The type of a tangent of ``aval``: the same for inexact dtypes, ``float0`` for integers and bools."""
    if dtypes.is_inexact(aval.dtype):
        return aval
    return ShapedArray(aval.shape, float0, False)


def zeros_like_aval(aval: ShapedArray) -> Any:
    """A concrete zeros array of ``aval`` (a float0 array for integer tangents)."""
    if aval.dtype == float0:
        return np.zeros(aval.shape, float0)
    from ..numpy import zeros

    out = zeros(aval.shape, aval.dtype)
    return out


def instantiate(t: Any) -> Any:
    """Materialise a symbolic Zero; other values pass through."""
    return zeros_like_aval(t.aval) if type(t) is Zero else t


def add_tangents(a: Any, b: Any) -> Any:
    """Sum of two tangents/cotangents, skipping symbolic zeros."""
    if type(a) is Zero:
        return b
    if type(b) is Zero:
        return a
    from ..primitives.elementwise import add_p

    return add_p.bind(a, b)


# ---------------------------------------------------------------------------------------------------
# Forward mode
# ---------------------------------------------------------------------------------------------------


class JVPTracer(LazyAvalTracer):
    """A primal value paired with its tangent (a value of the rule trace, or a symbolic Zero)."""

    __slots__ = ("primal", "tangent")

    def __init__(self, trace: JVPTrace, primal: Any, tangent: Any):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent
        self._aval = None

    def _compute_aval(self) -> ShapedArray:
        return aval_of(self.primal)


class JVPTrace(Trace):
    """Runs JVP rules. ``rule_trace`` is where the rules' operations go: the parent for ``jvp``, a
    ``LinearTangentTrace`` for ``linearize``/``vjp``/``grad``."""

    transform = "jvp"

    def __init__(self, parent: Trace | None, rule_trace: Trace | None, function: Any = None):
        super().__init__(parent, function)
        self.rule_trace = rule_trace

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                break
        else:  # nothing of ours: constant with respect to this differentiation
            return bind_with_trace(self.parent, prim, args, params)
        primals, tangents = [], []
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                primals.append(a.primal)
                tangents.append(a.tangent)
            else:
                if isinstance(a, Tracer) and not a._trace.alive:
                    raise UnexpectedTracerError(lambda a=a: _escaped_message(a))
                primals.append(a)
                tangents.append(Zero(tangent_aval(aval_of(a))))
        previous = _context.trace
        _context.trace = self.rule_trace
        try:
            primal_out, tangent_out = prim.jvp(primals, tangents, **params)
        finally:
            _context.trace = previous
        if prim.multiple_results:
            return [self._wrap(p, t) for p, t in zip(primal_out, tangent_out)]
        if type(tangent_out) is Zero:
            return primal_out
        return JVPTracer(self, primal_out, tangent_out)

    def _wrap(self, primal: Any, tangent: Any) -> Any:
        if type(tangent) is Zero:
            return primal  # constant with respect to us: no tracer needed
        return JVPTracer(self, primal, tangent)

    def to_concrete(self, tracer: Tracer) -> Any:
        primal = tracer.primal
        if isinstance(primal, Tracer):
            return primal.to_concrete()
        return primal

    def describe_origin(self, tracer: Tracer) -> str:
        primal = tracer.primal
        return primal._trace.describe_origin(primal) if isinstance(primal, Tracer) else ""


class LinearTangentTrace(StagingTrace):
    """Stages only operations that touch its own (tangent) tracers; everything else runs on the parent.

    This is partial evaluation in the context design: primal values are computed as usual (eagerly, or
    by an enclosing jit), become constants of the linear jaxpr when a tangent operation uses them
    (residuals), and only the linear tangent computation is recorded.
    """

    transform = "linearize"

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        for a in args:
            if type(a) is StagingTracer and a._trace is self:
                return self.emit(prim, args, params)
        return bind_with_trace(self.parent, prim, args, params)


def jvp_flat(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[list, list]:
    """Forward mode on flat lists: returns (primal outputs, tangent outputs), zeros materialised."""
    parent = _context.trace
    trace = JVPTrace(parent, parent, fun)
    tracers = []
    for p, t in zip(primals, tangents):
        aval = tangent_aval(aval_of(p))
        tracers.append(p if aval.dtype == float0 or type(t) is Zero else JVPTracer(trace, p, t))
    _context.trace = trace
    try:
        outs = fun(*tracers)
    finally:
        _context.trace = parent
        trace.alive = False
    primals_out, tangents_out = [], []
    for o in outs:
        if type(o) is JVPTracer and o._trace is trace:
            primals_out.append(o.primal)
            tangents_out.append(o.tangent)
        else:
            primals_out.append(o)
            tangents_out.append(zeros_like_aval(tangent_aval(aval_of(o))))
    return primals_out, tangents_out


class LinearizedFunction:
    """The result of linearizing: the linear jaxpr (tangents in -> tangents out) and its residuals."""

    def __init__(
        self, jaxpr: Jaxpr, consts: list, in_avals: list, out_avals: list, in_mask: list, out_mask: list
    ):
        self.jaxpr = jaxpr
        self.consts = consts
        self.in_avals = in_avals  # tangent avals of every primal input
        self.out_avals = out_avals  # tangent avals of every primal output
        self.in_mask = in_mask  # which inputs are jaxpr invars (the others have zero/float0 tangents)
        self.out_mask = out_mask  # which outputs are jaxpr outvars (the others are symbolic zeros)

    def jvp(self, tangents: Sequence[Any]) -> list:
        """Push tangents forward through the linear jaxpr."""
        from ..core.jaxpr import eval_jaxpr

        args = [t for t, used in zip(tangents, self.in_mask) if used]
        outs = iter(eval_jaxpr(self.jaxpr, self.consts, *args))
        return [next(outs) if used else zeros_like_aval(a) for a, used in zip(self.out_avals, self.out_mask)]

    def vjp(self, cotangents: Sequence[Any]) -> list:
        """Pull cotangents back through the transposed linear jaxpr."""
        cts = [c for c, used in zip(cotangents, self.out_mask) if used]
        cts_in = iter(backward_pass(self.jaxpr, self.consts, cts))
        out = []
        for aval, used in zip(self.in_avals, self.in_mask):
            ct = next(cts_in) if used else Zero(aval)
            out.append(instantiate(ct))
        return out


def linearize_flat(
    fun: Callable, primals: Sequence[Any], function: Any = None
) -> tuple[list, LinearizedFunction]:
    """Evaluate ``fun`` (flat list in, flat list out) at ``primals`` and stage its linearization.

    Returns the primal outputs and a LinearizedFunction (``.jvp`` pushes tangents, ``.vjp`` pulls back).
    """
    parent = _context.trace
    tangent_trace = LinearTangentTrace(parent, function or fun)
    trace = JVPTrace(parent, tangent_trace, function or fun)
    trace.transform = "grad/vjp"
    in_avals, in_mask, tracers = [], [], []
    for p in primals:
        aval = tangent_aval(aval_of(p))
        linear = aval.dtype != float0  # integer inputs have no tangent input (a float0 zero)
        in_avals.append(aval)
        in_mask.append(linear)
        tracers.append(JVPTracer(trace, p, tangent_trace.new_arg(aval)) if linear else p)
    _context.trace = trace
    try:
        outs = fun(*tracers)
    finally:
        _context.trace = parent
        trace.alive = False
    primals_out, tangent_outs, out_avals, out_mask = [], [], [], []
    for o in outs:
        if type(o) is JVPTracer and o._trace is trace:
            primals_out.append(o.primal)
            tangent_outs.append(o.tangent)
            out_mask.append(True)
        else:
            primals_out.append(o)
            out_mask.append(False)
        out_avals.append(tangent_aval(aval_of(primals_out[-1])))
    try:
        closed = tangent_trace.to_jaxpr(tangent_outs)
    finally:
        tangent_trace.alive = False
    return primals_out, LinearizedFunction(
        closed.jaxpr, closed.consts, in_avals, out_avals, in_mask, out_mask
    )


# ---------------------------------------------------------------------------------------------------
# Reverse mode: transposition
# ---------------------------------------------------------------------------------------------------


class UndefinedPrimal:
    """Marks a linear input of an equation being transposed (its cotangent is what we compute)."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined(x: Any) -> bool:
    return type(x) is UndefinedPrimal


def backward_pass(
    jaxpr: Jaxpr, consts: Sequence[Any], cotangents: Sequence[Any], args: Sequence[Any] | None = None
) -> list:
    """Transpose ``jaxpr`` at ``cotangents`` of its outputs.

    ``args`` gives, per invar, an ``UndefinedPrimal`` (a linear input, the default for all) or a value (a
    non-linear input, e.g. the saved inputs of a ``checkpoint``). Equations with no linear input (a
    recomputed forward pass) are evaluated first; then the linear ones are transposed in reverse order,
    accumulating cotangents by addition. Returns one cotangent (possibly a symbolic Zero) per invar.
    """
    if args is None:
        args = [UndefinedPrimal(v.aval) for v in jaxpr.invars]
    linear: set[Var] = {v for v, a in zip(jaxpr.invars, args) if is_undefined(a)}
    values: dict[Var, Any] = dict(zip(jaxpr.constvars, consts))
    values.update((v, a) for v, a in zip(jaxpr.invars, args) if not is_undefined(a))
    linear_eqns = []
    for eqn in jaxpr.eqns:
        if any(v in linear for v in eqn.invars):
            linear.update(eqn.outvars)
            linear_eqns.append(eqn)
        else:
            ins = [_read(values, v) for v in eqn.invars]
            outs = eqn.primitive.bind(*ins, **eqn.params)
            values.update(zip(eqn.outvars, outs if eqn.primitive.multiple_results else [outs]))

    # Accumulated cotangents of linear variables. (Literals hash by identity, so they are never in
    # ``linear``, and ``v in linear`` needs no type test.)
    cts: dict[Var, Any] = {}

    def write(v: Any, ct: Any) -> None:
        if ct is not None and type(ct) is not Zero and v in linear:
            cts[v] = add_tangents(cts[v], ct) if v in cts else ct

    for v, ct in zip(jaxpr.outvars, cotangents):
        write(v, ct)
    for eqn in reversed(linear_eqns):
        if eqn.primitive.multiple_results:
            outs_ct = [cts.pop(v, None) for v in eqn.outvars]
            if all(c is None for c in outs_ct):
                continue
            ct_arg = [c if c is not None else Zero(v.aval) for c, v in zip(outs_ct, eqn.outvars)]
        else:
            ct_arg = cts.pop(eqn.outvars[0], None)
            if ct_arg is None:
                continue
        ins = [UndefinedPrimal(v.aval) if v in linear else _read(values, v) for v in eqn.invars]
        cts_in = eqn.primitive.transpose(ct_arg, *ins, **eqn.params)
        for v, ct in zip(eqn.invars, cts_in):
            write(v, ct)
    return [cts.get(v, Zero(v.aval)) if v in linear else None for v in jaxpr.invars]


def _read(values: dict, v: Any) -> Any:
    if type(v) is Literal:
        return v.as_array()
    return values[v]


# ---------------------------------------------------------------------------------------------------
# Rule helpers used by the primitive families
# ---------------------------------------------------------------------------------------------------


def defjvp(prim: Primitive, *partials: Callable | None) -> None:
    """Define ``prim``'s JVP from one function per input: ``partial(tangent, *primals, **params)`` gives that
    input's contribution (None for non-differentiable inputs). Zero tangents are skipped.

    Example: ``defjvp(sin_p, lambda t, x: t * fnp.cos(x))``.
    """

    def jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
        primal_out = prim.bind(*primals, **params)
        total = None  # a symbolic zero, whose type is built only if no partial contributes
        for partial, t in zip(partials, tangents):
            if partial is not None and type(t) is not Zero:
                term = partial(t, *primals, **params)
                total = term if total is None else add_tangents(total, term)
        if total is None:
            return primal_out, Zero(tangent_aval(aval_of(primal_out)))
        return primal_out, total

    prim.jvp = jvp


def defjvp_zero(prim: Primitive) -> None:
    """``prim`` has a zero derivative everywhere (comparisons, integer ops, ...)."""

    def jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
        out = prim.bind(*primals, **params)
        if prim.multiple_results:
            return out, [Zero(tangent_aval(aval_of(o))) for o in out]
        return out, Zero(tangent_aval(aval_of(out)))

    prim.jvp = jvp


def deflinear(prim: Primitive, transpose: Callable) -> None:
    """``prim`` is linear in all its array inputs: its JVP applies it to the tangents (zeros materialised),
    and ``transpose(ct, *args, **params)`` gives the input cotangents."""

    def jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
        primal_out = prim.bind(*primals, **params)
        if all(type(t) is Zero for t in tangents):
            return primal_out, Zero(tangent_aval(aval_of(primal_out)))
        return primal_out, prim.bind(*[instantiate(t) for t in tangents], **params)

    prim.jvp = jvp
    prim.transpose = transpose
