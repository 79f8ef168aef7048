"""Transformations of jaxprs, shared by every higher-order primitive (jit's ``pjit``, ``cond``, ``while``,
``scan``): JVP, linearization (a known/primal part plus a linear/tangent part), transposition and batching.

Each takes a *const-free* closed jaxpr (values a function closes over are leading operands) and returns
new const-free jaxprs plus the constants they need, built by tracing ``eval_jaxpr`` under the
corresponding trace. Results are cached on the input jaxpr (a weak-key table), so a 1000-step scan or a
jitted function is differentiated, transposed and batched once, never per call or per step.

Example:
    >>> jaxpr, consts, out_nz = jvp_jaxpr(closed, nonzero=(True,), instantiate_out=(False,))
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from ..core import dtypes
from ..core.jaxpr import ClosedJaxpr, Jaxpr, eval_jaxpr
from ..core.staging import as_operand, trace_to_jaxpr
from ..core.trace import ShapedArray, Tracer, _context, aval_of, set_current_trace
from .ad import (
    JVPTrace,
    JVPTracer,
    LinearTangentTrace,
    UndefinedPrimal,
    Zero,
    backward_pass,
    float0,
    instantiate,
    tangent_aval,
    zeros_like_aval,
)
from .batching import BatchTrace, BatchTracer, broadcast_batch, move_axis

# Everything derived from a jaxpr is cached on the jaxpr object itself (weakly keyed), so it lives exactly
# as long as the jaxpr does.
_derived: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_derived_lock = threading.Lock()


def cached(closed: ClosedJaxpr, key: Any, build: Callable[[], Any]) -> Any:
    """``build()``'s result for (``closed``, ``key``), computed once."""
    table = _derived.get(closed)
    if table is not None and key in table:
        return table[key]
    value = build()
    with _derived_lock:
        _derived.setdefault(closed, {})[key] = value
    return value


def closed_from(traced: ClosedJaxpr) -> ClosedJaxpr:
    """A const-free jaxpr whose leading invars are ``traced``'s constvars."""
    j = traced.jaxpr
    return ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.eqns, j.outvars), [])


def trace_internal(fun: Callable, in_avals: Sequence[ShapedArray]) -> tuple[ClosedJaxpr, list]:
    """Trace a rule's helper function into a const-free jaxpr (consts as leading invars) + its consts."""
    with set_current_trace(None):
        traced = trace_to_jaxpr(fun, list(in_avals), fun)
    return closed_from(traced), [as_operand(c) for c in traced.consts]


def _eval_with(trace: Any, closed: ClosedJaxpr, tracers: list) -> list:
    """``closed`` evaluated on ``tracers`` with ``trace`` current; the trace is retired afterwards."""
    with set_current_trace(trace):
        try:
            return eval_jaxpr(closed.jaxpr, closed.consts, *tracers)
        finally:
            trace.alive = False


def is_nonzero(t: Any) -> bool:
    return type(t) is not Zero and t is not None and aval_of(t).dtype != float0


def split_jvp_outputs(outs: Sequence[Any], trace: JVPTrace, instantiate_out: Sequence[bool]) -> tuple:
    """Primal outputs, the tangents of the outputs that have one (symbolic zeros dropped, except where
    ``instantiate_out`` asks for zeros of an inexact output), and which outputs have one."""
    primal_outs, tangent_outs, out_nz = [], [], []
    for o, inst in zip(outs, instantiate_out):
        if type(o) is JVPTracer and o._trace is trace:
            p, t = o.primal, o.tangent
        else:
            p, t = o, None
        aval = aval_of(p)
        if not dtypes.is_inexact(aval.dtype) or (t is not None and not is_nonzero(t)):
            t = None
        if t is None and inst and dtypes.is_inexact(aval.dtype):
            t = zeros_like_aval(tangent_aval(aval))
        primal_outs.append(p)
        out_nz.append(t is not None)
        if t is not None:
            tangent_outs.append(t)
    return primal_outs, tangent_outs, tuple(out_nz)


def jvp_jaxpr(
    closed: ClosedJaxpr, nonzero: tuple[bool, ...], instantiate_out: tuple[bool, ...]
) -> tuple[ClosedJaxpr, list, tuple[bool, ...]]:
    """The JVP of a const-free ``closed``: inputs (jvp consts, primals, tangents of the ``nonzero`` inputs) ->
    (primal outputs, tangents of the non-zero outputs). Output tangents that are symbolic zeros are left
    out unless ``instantiate_out`` asks for them (inexact outputs only). Returns the jaxpr, its consts and
    which outputs have tangents."""

    def build() -> tuple[ClosedJaxpr, list, tuple[bool, ...]]:
        in_avals = closed.in_avals
        n = len(in_avals)
        box: list = []

        def fun(*args: Any) -> list:
            primals, tangents = args[:n], iter(args[n:])
            parent = _context.trace
            trace = JVPTrace(parent, parent, fun)
            tracers = [JVPTracer(trace, p, next(tangents)) if nz else p for p, nz in zip(primals, nonzero)]
            outs = _eval_with(trace, closed, tracers)
            primal_outs, tangent_outs, out_nz = split_jvp_outputs(outs, trace, instantiate_out)
            box.append(out_nz)
            return primal_outs + tangent_outs

        tangent_avals = [tangent_aval(a) for a, nz in zip(in_avals, nonzero) if nz]
        jaxpr, consts = trace_internal(fun, list(in_avals) + tangent_avals)
        return jaxpr, consts, box[0]

    return cached(closed, ("cf_jvp", nonzero, instantiate_out), build)


def batch_jaxpr(
    closed: ClosedJaxpr, axis_size: int, in_batched: tuple[bool, ...], force_out: tuple[bool, ...]
) -> tuple[ClosedJaxpr, list, tuple[bool, ...]]:
    """``closed`` vmapped over the inputs marked ``in_batched`` (batch dim 0): inputs (batch consts,
    inputs) -> outputs, each batched at 0 or unbatched; ``force_out`` outputs are always batched. Returns the
    jaxpr, its consts and which outputs are batched."""

    def build() -> tuple[ClosedJaxpr, list, tuple[bool, ...]]:
        avals = [
            ShapedArray((axis_size, *a.shape), a.dtype, a.weak_type) if b else a
            for a, b in zip(closed.in_avals, in_batched)
        ]
        box: list = []

        def fun(*args: Any) -> list:
            parent = _context.trace
            trace = BatchTrace(parent, axis_size, fun)
            tracers = [BatchTracer(trace, x, 0) if b else x for x, b in zip(args, in_batched)]
            outs = _eval_with(trace, closed, tracers)
            results, flags = [], []
            for o, force in zip(outs, force_out):
                if type(o) is BatchTracer and o._trace is trace:
                    results.append(move_axis(o.val, o.bdim, 0))
                    flags.append(True)
                elif force:
                    results.append(broadcast_batch(as_operand(o), axis_size, 0))
                    flags.append(True)
                else:
                    results.append(o)
                    flags.append(False)
            box.append(tuple(flags))
            return results

        jaxpr, consts = trace_internal(fun, avals)
        return jaxpr, consts, box[0]

    return cached(closed, ("cf_batch", axis_size, in_batched, force_out), build)


def linearize_jaxpr(
    closed: ClosedJaxpr, nonzero: tuple[bool, ...], instantiate_out: tuple[bool, ...]
) -> dict:
    """Reverse mode's split of a const-free ``closed``, done the way ``linearize`` does it: the body runs
    under a JVP trace whose rules stage tangent operations into a ``LinearTangentTrace`` and everything else
    into an enclosing staging trace. Nested control flow and jit calls split themselves the same way.

    Returns ``known``: (known consts, primals) -> (primal outputs, residuals), and ``linear``: (linear consts,
    residuals, tangents of the ``nonzero`` inputs) -> tangents of the non-zero outputs (``out_nz``; the
    ``instantiate_out`` ones always), with the consts of both and the number of residuals."""

    def build() -> dict:
        box: dict = {}

        def known_fun(*primals: Any) -> list:
            parent = _context.trace
            tangent_trace = LinearTangentTrace(parent, known_fun)
            trace = JVPTrace(parent, tangent_trace, known_fun)
            tracers = [
                JVPTracer(trace, p, tangent_trace.new_arg(tangent_aval(aval_of(p)))) if nz else p
                for p, nz in zip(primals, nonzero)
            ]
            outs = _eval_with(trace, closed, tracers)
            # Instantiated zeros are made concrete: constants of the linear jaxpr, not residuals.
            with set_current_trace(None):
                primal_outs, tangent_outs, out_nz = split_jvp_outputs(outs, trace, instantiate_out)
            try:
                lin = tangent_trace.to_jaxpr(tangent_outs)
            finally:
                tangent_trace.alive = False
            # The linear jaxpr's constants that are values of the known computation are the residuals.
            res_idx = [i for i, c in enumerate(lin.consts) if isinstance(c, Tracer) and c._trace is parent]
            box.update(lin=lin, res_idx=res_idx, out_nz=out_nz)
            return primal_outs + [lin.consts[i] for i in res_idx]

        known, known_consts = trace_internal(known_fun, closed.in_avals)
        lin, res_idx = box["lin"], box["res_idx"]
        lj = lin.jaxpr
        res_set = set(res_idx)
        const_idx = [i for i in range(len(lin.consts)) if i not in res_set]
        invars = [lj.constvars[i] for i in const_idx] + [lj.constvars[i] for i in res_idx] + lj.invars
        return {
            "known": known,
            "known_consts": known_consts,
            "linear": ClosedJaxpr(Jaxpr([], invars, lj.eqns, lj.outvars), []),
            "linear_consts": [as_operand(lin.consts[i]) for i in const_idx],
            "n_res": len(res_idx),
            "out_nz": box["out_nz"],
        }

    return cached(closed, ("cf_linearize", nonzero, instantiate_out), build)


def transpose_jaxpr(closed: ClosedJaxpr, linear: tuple[bool, ...]) -> tuple[ClosedJaxpr, list]:
    """The transpose of a const-free ``closed`` that is linear in the inputs marked ``linear``: inputs
    (consts, non-linear inputs, output cotangents) -> cotangents of the linear inputs (zeros instantiated)."""

    def build() -> tuple[ClosedJaxpr, list]:
        in_avals = closed.in_avals
        n_nonlinear = sum(1 for m in linear if not m)

        def body(*args: Any) -> list:
            nonlinear, cts = iter(args[:n_nonlinear]), list(args[n_nonlinear:])
            full = [UndefinedPrimal(a) if m else next(nonlinear) for a, m in zip(in_avals, linear)]
            out = backward_pass(closed.jaxpr, closed.consts, cts, full)
            return [instantiate(c) for c, m in zip(out, linear) if m]

        avals = [a for a, m in zip(in_avals, linear) if not m] + [tangent_aval(a) for a in closed.out_avals]
        return trace_internal(body, avals)

    return cached(closed, ("transpose", linear), build)
