"""Batching machinery: the vmap trace, its tracers, and the helpers batching rules are written with.

A ``BatchTracer`` is a value with one extra dimension, ``bdim``, holding the batch. A value without a batch
dimension is never wrapped (it is the same for every batch element). Each primitive's ``batch`` rule,
``batch(axis_size, values, dims, **params) -> (out, out_dim)``, runs with the parent trace current; most are
built from the helpers here (``vectorized``, ``broadcasting``, ``move_to_front``...).

Example:
    >>> outs = vmap_flat(lambda x: [fnp.sin(x)], [xs], in_axes=[0], out_axes=[0])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..core.errors import UnexpectedTracerError
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


class BatchTracer(LazyAvalTracer):
    """A batched value: ``val`` carries the batch along dimension ``bdim``; ``aval`` is one element's type."""

    __slots__ = ("val", "bdim")

    def __init__(self, trace: BatchTrace, val: Any, bdim: int):
        self._trace = trace
        self.val = val
        self.bdim = bdim
        self._aval = None

    def _compute_aval(self) -> ShapedArray:
        full, bdim = aval_of(self.val), self.bdim
        return ShapedArray(full.shape[:bdim] + full.shape[bdim + 1 :], full.dtype, full.weak_type)


class BatchTrace(Trace):
    """Runs batching rules for the values it owns; everything else goes straight to the parent."""

    transform = "vmap"

    def __init__(self, parent: Trace | None, axis_size: int, function: Any = None):
        super().__init__(parent, function)
        self.axis_size = axis_size

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        for a in args:
            if type(a) is BatchTracer and a._trace is self:
                break
        else:
            return bind_with_trace(self.parent, prim, args, params)
        vals, dims = [], []
        for a in args:
            if type(a) is BatchTracer and a._trace is self:
                vals.append(a.val)
                dims.append(a.bdim)
            else:
                if isinstance(a, Tracer) and not a._trace.alive:
                    raise UnexpectedTracerError(lambda a=a: _escaped_message(a))
                vals.append(a)
                dims.append(None)
        previous = _context.trace
        _context.trace = self.parent
        try:
            out, out_dim = prim.batch(self.axis_size, vals, dims, **params)
        finally:
            _context.trace = previous
        if prim.multiple_results:
            return [self.wrap(o, d) for o, d in zip(out, out_dim)]
        return out if out_dim is None else BatchTracer(self, out, out_dim)

    def wrap(self, val: Any, bdim: int | None) -> Any:
        return val if bdim is None else BatchTracer(self, val, bdim)


# ---------------------------------------------------------------------------------------------------
# Helpers for rules (they bind primitives, so they work under any enclosing transformation)
# ---------------------------------------------------------------------------------------------------


def move_axis(x: Any, source: int, destination: int) -> Any:
    """``x`` with dimension ``source`` moved to ``destination`` (a transpose, or nothing)."""
    if source == destination:
        return x
    from ..primitives.shape import transpose_p

    perm = [i for i in range(x.ndim) if i != source]
    perm.insert(destination, source)
    return transpose_p.bind(x, permutation=tuple(perm))


def broadcast_batch(x: Any, axis_size: int, destination: int = 0) -> Any:
    """An unbatched ``x`` repeated ``axis_size`` times along a new dimension ``destination``."""
    from ..primitives.shape import broadcast_in_dim_p

    shape = list(x.shape)
    shape.insert(destination, axis_size)
    dims = tuple(i for i in range(len(shape)) if i != destination)
    return broadcast_in_dim_p.bind(x, shape=tuple(shape), broadcast_dimensions=dims, sharding=None)


def bdim_at_front(x: Any, bdim: int | None, axis_size: int) -> Any:
    """``x`` with its batch dimension first (materialised by broadcasting when it has none)."""
    if bdim is None:
        return broadcast_batch(x, axis_size, 0)
    return move_axis(x, bdim, 0)


def vectorized(prim: Primitive) -> None:
    """Batching rule for a unary elementwise primitive: apply it as is; the batch dim stays put."""

    def rule(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, Any]:
        return prim.bind(*vals, **params), dims[0]

    prim.batch = rule


def broadcast_operands(vals: Sequence[Any], dims: Sequence[int | None]) -> list:
    """Elementwise operands with the batch dimension first, ranks equalised the way lax broadcasts:
    batched operands become ``(B, 1.., *shape)`` and unbatched non-scalars ``(1, *shape)``; unbatched
    rank-0 operands stay scalars."""
    from ..primitives.shape import broadcast_in_dim_p, reshape_p

    rank = max((v.ndim - (d is not None)) for v, d in zip(vals, dims))
    out = []
    for v, d in zip(vals, dims):
        if d is None:
            if v.ndim == 0:
                out.append(v)
                continue
            shape = (1,) * (rank + 1 - v.ndim) + tuple(v.shape)
            dims_map = tuple(range(rank + 1 - v.ndim, rank + 1))
            out.append(broadcast_in_dim_p.bind(v, shape=shape, broadcast_dimensions=dims_map, sharding=None))
            continue
        v = move_axis(v, d, 0)
        if v.ndim - 1 < rank:
            shape = (v.shape[0],) + (1,) * (rank - (v.ndim - 1)) + tuple(v.shape[1:])
            v = reshape_p.bind(v, new_sizes=shape, dimensions=None, sharding=None)
        out.append(v)
    return out


def broadcasting(prim: Primitive) -> None:
    """Batching rule for an n-ary elementwise primitive (lax broadcasting: rank-0 and size-1 dims)."""

    def rule(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, Any]:
        # Common case: every operand batched the same way (or an unbatched scalar): apply it as is.
        first_dim = first_ndim = None
        for v, d in zip(vals, dims):
            if d is None:
                if v.ndim:
                    break
            elif first_dim is None:
                first_dim, first_ndim = d, v.ndim
            elif d != first_dim or v.ndim != first_ndim:
                break
        else:
            return prim.bind(*vals, **params), first_dim
        return prim.bind(*broadcast_operands(vals, dims), **params), 0

    prim.batch = rule


def unbatched_rule(prim: Primitive) -> Callable:
    """A rule for primitives whose operands must all be batched at the front (materialising missing ones)."""

    def rule(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, Any]:
        return prim.bind(*[bdim_at_front(v, d, axis_size) for v, d in zip(vals, dims)], **params), 0

    return rule
