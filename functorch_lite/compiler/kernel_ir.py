"""The kernel IR: one fused loop nest, independent of the target language.

A ``Kernel`` runs over an iteration space of ``rank`` axes whose extents are known only at run time (they
travel with the call, so one compiled kernel serves every shape of the same structure). Axes listed in
``inner`` are reduced; the others are "outer". Every value is an SSA ``Op`` in topological order. A value
is *inner* if it varies along an inner axis (it must be computed inside a loop over the inner axes) and
*outer* otherwise (one value per point of the outer axes: per element for a purely elementwise kernel, per
row for a row kernel). Reductions turn inner values into outer values; a kernel may hold several of them,
one after another (softmax and layernorm need two each), but all over the same inner axes.

Arrays are ``Param``s. ``emb[d]`` says which axis of the array indexes kernel axis ``d`` (``-1``: the
array does not vary along it, i.e. stride 0 — this is how broadcasts, transposes and inserted unit
dimensions are expressed without copies).

Example (``out = tanh(x) * y`` with ``y`` of shape ``(n1,)`` broadcast over rows)::

    Kernel(rank=2, inner=(), params=[Param("in0", f32, 2, (0, 1)), Param("in1", f32, 1, (-1, 0)),
                                     Param("out0", f32, 2, (0, 1), is_output=True)],
           ops=[Op(0, "load", (), f32, 0), Op(1, "tanh", (0,), f32), Op(2, "load", (), f32, 1),
                Op(3, "mul", (1, 2), f32)],
           stores=[(2, 3)])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

# Reductions the renderers know: name -> combining primitive (of the lowering table).
REDUCTIONS = {
    "reduce_sum": "add",
    "reduce_prod": "mul",
    "reduce_max": "max",
    "reduce_min": "min",
    "reduce_and": "and",
    "reduce_or": "or",
}


class Param(NamedTuple):
    """An array argument: ``name`` (``in0``, ``out1``...), element ``dtype``, its ``ndim`` and ``emb``."""

    name: str
    dtype: np.dtype
    ndim: int
    emb: tuple[int, ...]
    is_output: bool = False


class Op(NamedTuple):
    """``t<out> = op(t<args>...)`` of type ``dtype``.

    Special ops: ``load`` (``attr`` = param index), ``const`` (``attr`` = a numpy scalar), ``iota``
    (``attr`` = kernel axis, its index converted to ``dtype``), and the reductions of ``REDUCTIONS``
    (one argument, reduced over the kernel's inner axes). ``attr`` holds the primitive's static parameters
    otherwise (e.g. the exponent of ``integer_pow``, the source dtype of ``convert``).
    """

    out: int
    op: str
    args: tuple[int, ...]
    dtype: np.dtype
    attr: Any = None


def _spell(attr: Any) -> str:
    if isinstance(attr, np.generic):
        return f"{attr.dtype.str}:{attr.tobytes().hex()}"
    if isinstance(attr, np.dtype):
        return attr.str
    return repr(attr)


class Kernel:
    """A fused loop nest: see the module docstring. (A plain class: defining a dataclass costs about a
    millisecond of every process's first jit.)"""

    __slots__ = ("name", "rank", "inner", "params", "ops", "stores", "aliased", "_levels", "_structure")

    def __init__(
        self,
        name: str,
        rank: int,
        inner: tuple[int, ...],
        params: list[Param],
        ops: list[Op],
        stores: list[tuple[int, int]],  # (param index, value id)
        aliased: bool = False,  # an output may share memory with an input (in-place): no ``restrict``
    ):
        self.name, self.rank, self.inner = name, rank, inner
        self.params, self.ops, self.stores, self.aliased = params, ops, stores, aliased
        self._levels: dict[int, bool] = {}
        self._structure: str | None = None

    def __repr__(self) -> str:
        return (
            f"Kernel(name={self.name!r}, rank={self.rank!r}, inner={self.inner!r}, params={self.params!r}, "
            f"ops={self.ops!r}, stores={self.stores!r}, aliased={self.aliased!r})"
        )

    def structure(self) -> str:
        """What the kernel computes, as text: equal for kernels that differ only in their name and in
        ``aliased``; with those two, the disk cache's key. Constants are spelled by their bits (``-0.0`` and
        ``0.0`` differ); dtypes by their short codes (``repr`` of a dtype is slow, and every process's
        first jit computes this, for deduplication and again for the key: it is kept)."""
        if self._structure is None:
            parts = [f"{self.rank};{self.inner};{self.stores}"]
            for p in self.params:
                parts.append(f"{p.name},{p.dtype.str},{p.ndim},{p.emb},{p.is_output}")
            for o in self.ops:
                parts.append(f"{o.out},{o.op},{o.args},{o.dtype.str},{_spell(o.attr)}")
            self._structure = "|".join(parts)
        return self._structure

    @property
    def outer(self) -> tuple[int, ...]:
        return tuple(d for d in range(self.rank) if d not in self.inner)

    @property
    def elementwise(self) -> bool:
        """No reductions, at least one axis: its strided loop is compiled apart (``render.render_c``)."""
        return not self.inner and self.rank > 0

    @property
    def loop_order(self) -> tuple[int, ...]:
        """Outer axes first (the loop nest), then the inner axes (each reduction's loop)."""
        return self.outer + tuple(self.inner)

    def op_of(self) -> dict[int, Op]:
        return {op.out: op for op in self.ops}

    def is_inner(self, value: int) -> bool:
        """Whether ``value`` varies along an inner axis (computed inside a reduction loop)."""
        if not self._levels:
            inner = set(self.inner)
            for op in self.ops:
                if op.op == "load":
                    emb = self.params[op.attr].emb
                    level = any(emb[d] >= 0 for d in inner)
                elif op.op == "iota":
                    level = op.attr in inner
                elif op.op in REDUCTIONS:
                    level = False
                else:
                    level = any(self._levels[a] for a in op.args)
                self._levels[op.out] = level
        return self._levels[value]

    def reductions(self) -> list[Op]:
        return [op for op in self.ops if op.op in REDUCTIONS]

    def summary(self) -> str:
        """A one-line description for comments: the primitives it computes."""
        names = [op.op for op in self.ops if op.op not in ("load", "const")]
        kind = "row kernel" if len(self.reductions()) > 1 else "reduction" if self.inner else "elementwise"
        return f"{kind}, {len(self.params)} arrays: " + " ".join(names)
