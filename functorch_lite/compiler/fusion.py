"""Partition a jaxpr into fused kernel groups and library calls, and build each group's kernel IR.

Rules (DESIGN.md section 6):

* elementwise primitives over one iteration space fuse into one loop; ``broadcast_in_dim``, ``squeeze``,
  ``transpose`` and reshapes that only add or drop unit dimensions are index maps (an array's axis per
  kernel axis, or stride 0), never copies;
* elementwise producers fuse into a reduction, and elementwise consumers of the reduced value fuse after
  it (the iteration space grows to the reduction's input);
* a reduction whose result is broadcast back over its own input continues the kernel only when the
  reduced axes are the innermost ones: a *row kernel* (softmax, layernorm: several passes over each row
  inside one kernel); otherwise the kernel ends there;
* a reduction over leading axes only (a column sum) stays a library call: numpy's reduce is vectorised
  along the contiguous axis, a kernel would walk each column with a large stride;
* everything else (``dot_general``, ``conv``, gathers, control flow, ...) stays a library call (numpy).

Groups are grown backwards from a root (the last equation not yet placed): a producer joins when every
consumer of its result is already in the group (index maps are duplicated instead, they cost nothing), or
when every consumer outside it comes after the group's root: the kernel then also stores that value. A
group runs where its root was, so steps still run in root order and the partition has no cycles.

Example:
    >>> steps = partition(jaxpr)
    >>> [s.kind for s in steps]
    ['kernel', 'eqn', 'kernel']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.jaxpr import Eqn, Jaxpr, Literal, Var
from . import render
from .kernel_ir import REDUCTIONS, Kernel, Op, Param

MAX_RANK = 8
MAX_PARAMS = 32
MAX_OPS = 200
MAX_EXPORTS = 8  # values a kernel stores besides its root and the jaxpr's outputs

_INDEX_MAPS = ("broadcast_in_dim", "reshape", "squeeze", "transpose")
# Params an elementwise primitive may carry into a kernel (anything else keeps it a library call).
_ALLOWED_PARAMS = {
    "integer_pow": {"y"},
    "convert_element_type": {"new_dtype", "weak_type", "sharding"},
    "round": {"rounding_method"},
}

_registry: dict[str, Any] | None = None


def _primitives() -> dict[str, Any]:
    """The primitive objects we lower, by name (a primitive of the same name elsewhere is not ours)."""
    global _registry
    if _registry is None:
        from ..primitives import elementwise, reductions, shape
        from . import executor

        table: dict[str, Any] = {"alias": executor._Alias}
        for module in (elementwise, reductions, shape):
            for value in vars(module).values():
                name = getattr(value, "name", None)
                if isinstance(name, str) and hasattr(value, "abstract_eval"):
                    if name in render.LOWER or name in REDUCTIONS or name in _INDEX_MAPS or name == "iota":
                        table.setdefault(name, value)
        _registry = table
    return _registry


def classify(eqn: Eqn, cpu: bool = True) -> str | None:
    """``'ew'`` (elementwise), ``'map'`` (index map), ``'red'`` (reduction) or None (library call)."""
    prim = eqn.primitive
    name = prim.name
    if _primitives().get(name) is not prim or len(eqn.outvars) != 1:
        return None
    out = eqn.outvars[0].aval
    if len(out.shape) > MAX_RANK or not render.supported_dtype(out.dtype):
        return None
    in_avals = [v.aval for v in eqn.invars]
    if any(len(a.shape) > MAX_RANK or not render.supported_dtype(a.dtype) for a in in_avals):
        return None
    if name in _INDEX_MAPS:
        if name == "reshape":
            if eqn.params.get("dimensions") is not None:
                return None
            if [d for d in in_avals[0].shape if d != 1] != [d for d in out.shape if d != 1]:
                return None
        return "map"
    if name in REDUCTIONS:
        if not render.lowerable(name, [a.dtype for a in in_avals], out.dtype, cpu):
            return None
        # A kernel reduces along rows. Over leading axes only (a column sum), numpy's reduce, vectorised along
        # the contiguous axis, beats a kernel walking each column with a large stride.
        nonunit = _nonunit(in_avals[0].shape)
        return "red" if not nonunit or nonunit[-1] in eqn.params["axes"] else None
    if name == "iota":
        return "ew"
    if set(eqn.params) - _ALLOWED_PARAMS.get(name, set()):
        return None
    if not render.lowerable(name, [a.dtype for a in in_avals], out.dtype, cpu):
        return None
    return "ew"


def _nonunit(shape: tuple) -> list[int]:
    return [a for a, n in enumerate(shape) if n != 1]


def _input_embedding(eqn: Eqn, kind: str, e_out: tuple, x: Any) -> tuple:
    """The embedding of input ``x`` of an elementwise / index-map equation whose output has ``e_out``."""
    out_shape = eqn.outvars[0].aval.shape
    shape = x.aval.shape
    name = eqn.primitive.name
    if kind == "ew":
        if not shape:
            return (-1,) * len(e_out)
        return tuple(a if a >= 0 and shape[a] == out_shape[a] and shape[a] > 1 else -1 for a in e_out)
    if name == "broadcast_in_dim":
        inv = {dst: src for src, dst in enumerate(eqn.params["broadcast_dimensions"]) if shape[src] > 1}
    elif name == "transpose":
        inv = {dst: src for dst, src in enumerate(eqn.params["permutation"]) if shape[src] > 1}
    else:  # reshape / squeeze that only add or drop unit dimensions
        inv = dict(zip(_nonunit(out_shape), _nonunit(shape)))
    return tuple(inv.get(a, -1) if a >= 0 else -1 for a in e_out)


class Group:
    """A set of equations computed by one kernel over ``space`` (reduced axes ``inner``).

    The compiler's working records are plain slotted classes: defining a dataclass costs about a millisecond,
    paid by every process's first jit.
    """

    __slots__ = (
        "root", "space", "inner", "n_reductions", "members", "duplicated", "exported", "emb", "uses", "in_emb",
    )  # fmt: skip

    def __init__(self, root: int, space: tuple[int, ...], inner: tuple[int, ...] = (), n_reductions: int = 0):
        self.root = root
        self.space = space
        self.inner = inner
        self.n_reductions = n_reductions
        self.members: set[int] = set()
        self.duplicated: set[int] = set()  # index maps also computed outside
        self.exported: set[Var] = set()  # values also read outside (stored)
        self.emb: dict[Var, tuple] = {}  # embedding of each value computed here
        self.uses: dict[Var, set] = {}  # embeddings the members read each var with
        self.in_emb: dict[int, list] = {}  # per member: the embedding of each input

    def add(self, j: int, eqn: Eqn, e_out: tuple, in_embs: list) -> None:
        self.members.add(j)
        self.emb[eqn.outvars[0]] = e_out
        self.in_emb[j] = list(in_embs)
        for x, e in zip(eqn.invars, in_embs):
            if type(x) is Var:
                self.uses.setdefault(x, set()).add(e)

    def remap(self, new_of_old: dict[int, int], rank: int) -> None:
        def move(e: tuple) -> tuple:
            out = [-1] * rank
            for old, a in enumerate(e):
                if a >= 0:
                    out[new_of_old[old]] = a
            return tuple(out)

        self.emb = {v: move(e) for v, e in self.emb.items()}
        self.uses = {v: {move(e) for e in es} for v, es in self.uses.items()}
        self.in_emb = {j: [move(e) for e in es] for j, es in self.in_emb.items()}


class _Partitioner:
    def __init__(self, jaxpr: Jaxpr, cpu: bool = True):
        self.jaxpr = jaxpr
        self.eqns = jaxpr.eqns
        self.kind = [classify(e, cpu) for e in self.eqns]
        self.producer: dict[Var, int] = {}
        self.consumers: dict[Var, set[int]] = {}
        for i, e in enumerate(self.eqns):
            for v in e.outvars:
                self.producer[v] = i
            for v in e.invars:
                if type(v) is Var:
                    self.consumers.setdefault(v, set()).add(i)
        self.outputs = {v for v in jaxpr.outvars if type(v) is Var}
        self.owner: dict[int, Group] = {}

    def run(self) -> list[Group]:
        groups = []
        for i in reversed(range(len(self.eqns))):
            if i in self.owner or self.kind[i] not in ("ew", "red"):
                continue
            g = self._start(i)
            self._grow(g)
            for j in g.members - g.duplicated:
                self.owner[j] = g
            groups.append(g)
        groups.reverse()
        return groups

    def _start(self, i: int) -> Group:
        e = self.eqns[i]
        if self.kind[i] == "red":
            space = tuple(e.invars[0].aval.shape)
            axes = tuple(sorted(e.params["axes"]))
            g = Group(i, space, inner=tuple(a for a in axes if space[a] > 1) or axes, n_reductions=1)
            kept = [a for a in range(len(space)) if a not in axes]
            e_out = [-1] * len(space)
            for o, a in enumerate(kept):
                if space[a] > 1:
                    e_out[a] = o
            g.add(i, e, tuple(e_out), [tuple(a if n > 1 else -1 for a, n in enumerate(space))])
        else:
            space = tuple(e.outvars[0].aval.shape)
            g = Group(i, space)
            e_out = tuple(a if n > 1 else -1 for a, n in enumerate(space))
            g.add(i, e, e_out, [_input_embedding(e, "ew", e_out, x) for x in e.invars])
        return g

    def _grow(self, g: Group) -> None:
        changed = True
        while changed:
            changed = False
            for v in sorted(g.uses, key=lambda v: -self.producer.get(v, -1)):
                j = self.producer.get(v)
                if j is None or j in g.members or j in self.owner or self.kind[j] is None:
                    continue
                if len(g.members) >= MAX_OPS:
                    return
                if self._absorb(g, j):
                    changed = True
                    break

    def _absorb(self, g: Group, j: int) -> bool:
        e = self.eqns[j]
        kind = self.kind[j]
        v = e.outvars[0]
        uses = g.uses.get(v, set())
        if len(uses) != 1:
            return False
        (e_v,) = uses
        readers = self._readers_outside(g, v)
        if kind == "red" and self.consumers.get(v, set()) - g.members:
            return False  # the kernel ends at a reduction read elsewhere
        duplicate = kind == "map" and bool(readers)
        # Any other value read outside the kernel is stored by it: safe when every outside reader comes after
        # the group's root (plan steps then still run in root order, no cycle through the group).
        export = kind != "map" and bool(readers)
        if export and (min(readers) < g.root or len(g.exported) >= MAX_EXPORTS):
            return False
        if kind == "red":
            if not self._absorb_reduction(g, j, e_v):
                return False
            if export:
                g.exported.add(v)
            return True
        if (v in self.outputs or export) and not self._injective(g, e_v):
            return False
        in_embs = [_input_embedding(e, kind, e_v, x) for x in e.invars]
        for x, ex in zip(e.invars, in_embs):
            if type(x) is Var and x in g.emb and g.emb[x] != ex:
                return False  # computed here with another index map
        g.add(j, e, e_v, in_embs)
        if duplicate:
            g.duplicated.add(j)
        if export:
            g.exported.add(v)
        return True

    def _readers_outside(self, g: Group, v: Var) -> set[int]:
        """Equations outside ``g`` that read ``v``: directly, or through index maps ``g`` duplicates (those run
        outside too)."""
        readers: set[int] = set()
        for c in self.consumers.get(v, ()):
            if c not in g.members:
                readers.add(c)
            elif c in g.duplicated:
                readers |= self._readers_outside(g, self.eqns[c].outvars[0])
        return readers

    def _injective(self, g: Group, e_v: tuple) -> bool:
        """Whether storing a value with embedding ``e_v`` writes each element once (per outer point)."""
        inner_value = any(e_v[d] >= 0 for d in g.inner)
        for d, n in enumerate(g.space):
            if n > 1 and e_v[d] < 0 and (inner_value or d not in g.inner):
                return False
        return True

    def _absorb_reduction(self, g: Group, j: int, e_v: tuple) -> bool:
        e = self.eqns[j]
        x = e.invars[0]
        shape = tuple(x.aval.shape)
        axes = set(e.params["axes"])
        kept = [a for a in range(len(shape)) if a not in axes]
        reduced = [a for a in sorted(axes) if shape[a] > 1]
        if not reduced or (x in g.emb):
            return False
        missing = [d for d, n in enumerate(g.space) if n > 1 and e_v[d] < 0]
        if not missing:
            if g.n_reductions:
                return False  # a reduction of a reduction: two kernels
            # consumers after it: the space grows to the reduction's input; old axis d is input kept[e_v[d]]
            g.remap({d: kept[a] for d, a in enumerate(e_v) if a >= 0}, len(shape))
            g.space = shape
            g.inner = tuple(reduced)
            e_x = tuple(a if n > 1 else -1 for a, n in enumerate(shape))
        else:
            # a row kernel: the reduced value is broadcast back over the reduced, innermost, axes
            if len(missing) != len(reduced) or any(g.space[d] != shape[a] for d, a in zip(missing, reduced)):
                return False
            if g.inner and tuple(missing) != tuple(g.inner):
                return False
            if [d for d, n in enumerate(g.space) if n > 1 and d >= min(missing)] != missing:
                return False
            e_x_list = [kept[a] if a >= 0 else -1 for a in e_v]
            for d, a in zip(missing, reduced):
                e_x_list[d] = a
            e_x = tuple(e_x_list)
            g.inner = tuple(missing)
        (e_now,) = g.uses[e.outvars[0]]  # after a remap, the uses hold the new embedding
        g.add(j, e, e_now, [e_x])
        g.n_reductions += 1
        return True


class Step:
    """One step of the plan: a fused ``kernel`` (with its group) or a library call ``eqn``."""

    __slots__ = ("kind", "eqn", "kernel", "inputs", "outputs", "dims", "eqns")

    def __init__(
        self,
        kind: str,
        eqn: Eqn | None = None,
        kernel: Kernel | None = None,
        inputs: list[Any] | None = None,
        outputs: list[Var] | None = None,
        dims: tuple[int, ...] = (),
        eqns: list[Eqn] | None = None,
    ):
        self.kind = kind
        self.eqn = eqn
        self.kernel = kernel
        self.inputs = inputs or []  # Vars (or Literals) passed to the kernel, in order
        self.outputs = outputs or []
        self.dims = dims
        self.eqns = eqns or []  # the group's equations (its numpy fallback)


def worthwhile(n_ops: int, elements: int, min_elements: int) -> bool:
    """Whether a kernel beats the numpy calls it replaces (a foreign call and argument checks cost about
    a microsecond; numpy's per-call overhead is about half of that)."""
    if n_ops == 0 or elements == 0:
        return False
    if elements < min_elements:
        return False
    return n_ops >= 2 or elements >= 128 * min_elements


def partition(
    jaxpr: Jaxpr, consts: dict[Var, Any] | None = None, min_elements: int = 256, cpu: bool = True
) -> list[Step]:
    """The plan's steps: kernels for the worthwhile groups, library calls for the other equations.

    ``consts`` maps constvars to their values (0-d ones become literals inside kernels). ``cpu``: only
    what C kernels compute with vector instructions is fused (``render.lowerable``); False for CUDA.
    """
    consts = consts or {}
    p = _Partitioner(jaxpr, cpu)
    groups = p.run()
    kernels: dict[int, Step] = {}
    members: set[int] = set()
    for g in groups:
        n_ops = sum(p.kind[i] in ("ew", "red") for i in g.members)
        if not worthwhile(n_ops, math.prod(g.space), min_elements):
            continue
        step = _build(p, g, consts, f"k{len(kernels)}")
        if step is None:
            continue
        kernels[g.root] = step
        members |= g.members - g.duplicated
    steps: list[Step] = []
    for i, eqn in enumerate(p.eqns):
        if i in kernels:
            steps.append(kernels[i])
        elif i not in members:
            steps.append(Step("eqn", eqn=eqn))
    return _prune(_in_dependency_order(steps, jaxpr), jaxpr)


def _in_dependency_order(steps: list[Step], jaxpr: Jaxpr) -> list[Step]:
    """Reorder steps (stably) so each runs after the steps producing its inputs: a kernel sits at its group's
    root, which can precede a library call feeding another member. Effectful steps keep their order."""
    from ..core.jaxpr import effectful_primitives

    defined = set(jaxpr.invars) | set(jaxpr.constvars)
    pending, ordered = list(steps), []
    while pending:
        deferred: list[Step] = []
        effect_blocked = False
        for s in pending:
            ins = s.eqn.invars if s.kind == "eqn" else s.inputs
            effectful = s.kind == "eqn" and s.eqn.primitive.name in effectful_primitives
            ready = all(type(v) is not Var or v in defined for v in ins) and not (
                effectful and effect_blocked
            )
            if ready:
                ordered.append(s)
                defined.update(s.eqn.outvars if s.kind == "eqn" else s.outputs)
            else:
                deferred.append(s)
                effect_blocked = effect_blocked or effectful
        if len(deferred) == len(pending):  # no progress: leave the rest as they were (the caller checks)
            return ordered + deferred
        pending = deferred
    return ordered


def _prune(steps: list[Step], jaxpr: Jaxpr) -> list[Step]:
    """Drop library steps whose results nothing needs any more (index maps duplicated into kernels)."""
    from ..core.jaxpr import effectful_primitives

    needed = {v for v in jaxpr.outvars if type(v) is Var}
    kept = []
    for s in reversed(steps):
        if s.kind == "eqn":
            if s.eqn.primitive.name not in effectful_primitives and not any(
                v in needed for v in s.eqn.outvars
            ):
                continue
            needed.update(v for v in s.eqn.invars if type(v) is Var)
        else:
            needed.update(v for v in s.inputs if type(v) is Var)
        kept.append(s)
    kept.reverse()
    return kept


def _uniform(value: Any) -> bool:
    """Whether a constant (a backend array or scalar) is one value everywhere: 0-d, or broadcast (every
    stride 0, as constant folding of a ``broadcast_in_dim`` leaves it). It then becomes a kernel literal."""
    strides = getattr(value, "strides", None)
    return np.ndim(value) == 0 or (strides is not None and value.size > 0 and not any(strides))


def _build(p: _Partitioner, g: Group, consts: dict[Var, Any], kname: str) -> Step | None:
    """The kernel IR of group ``g`` (None if it exceeds the kernel limits)."""
    rank = len(g.space)
    order = sorted(g.members)
    produced = {p.eqns[i].outvars[0] for i in order}
    params: list[Param] = []
    inputs: list[Any] = []
    ops: list[Op] = []
    value: dict[Any, int] = {}
    loaded: dict[tuple, int] = {}

    def new(op: str, args: tuple, dtype: Any, attr: Any = None) -> int:
        vid = len(ops)
        ops.append(Op(vid, op, args, np.dtype(dtype), attr))
        return vid

    def operand(x: Any, e: tuple) -> int:
        if type(x) is Literal:
            return new("const", (), x.aval.dtype, np.asarray(x.val, dtype=x.aval.dtype)[()])
        if x in produced:
            return value[x]
        c = getattr(consts.get(x), "_value", consts.get(x))
        if x in consts and _uniform(c):
            return new("const", (), x.aval.dtype, np.asarray(c, dtype=x.aval.dtype).flat[0])
        key = (x, e)
        if key not in loaded:
            params.append(Param(f"in{len(params)}", np.dtype(x.aval.dtype), len(x.aval.shape), e))
            inputs.append(x)
            loaded[key] = new("load", (), x.aval.dtype, len(params) - 1)
        return loaded[key]

    for i in order:
        e = p.eqns[i]
        v = e.outvars[0]
        kind = p.kind[i]
        e_v = g.emb[v]
        in_embs = g.in_emb[i]
        if kind == "map":
            value[v] = operand(e.invars[0], in_embs[0])
            continue
        if kind == "red":
            value[v] = new(e.primitive.name, (operand(e.invars[0], in_embs[0]),), v.aval.dtype)
            continue
        name = e.primitive.name
        if name == "iota":
            dim = e.params["dimension"]
            axis = next((d for d, a in enumerate(e_v) if a == dim), -1)
            value[v] = new("iota", (), v.aval.dtype, axis)
            continue
        args = tuple(operand(x, ex) for x, ex in zip(e.invars, in_embs))
        attr: Any = None
        if name == "integer_pow":
            attr = e.params["y"]
        elif name == "round":
            attr = e.params.get("rounding_method", 0)
        value[v] = new(name, args, v.aval.dtype, attr)
    # outputs: the root, and members' values that the jaxpr returns or that are read outside
    root_out = p.eqns[g.root].outvars[0]
    outs = [root_out] + [
        p.eqns[i].outvars[0]
        for i in order
        if i != g.root
        and i not in g.duplicated
        and (p.eqns[i].outvars[0] in p.outputs or p.eqns[i].outvars[0] in g.exported)
    ]
    stores = []
    for v in outs:
        params.append(Param(f"out{len(stores)}", np.dtype(v.aval.dtype), len(v.aval.shape), g.emb[v], True))
        stores.append((len(params) - 1, value[v]))
    if len(params) > MAX_PARAMS:
        return None
    # Unit axes of the space carry no index: drop them (embeddings never map them), so the innermost loop
    # is always a real one. A reduction over unit axes only is the identity.
    keep = [d for d in range(rank) if g.space[d] != 1]
    params = [Param(q.name, q.dtype, q.ndim, tuple(q.emb[d] for d in keep), q.is_output) for q in params]
    inner = tuple(keep.index(d) for d in g.inner if d in keep)
    if not inner:
        ops = [Op(o.out, "alias", o.args, o.dtype) if o.op in REDUCTIONS else o for o in ops]
    kernel = Kernel(kname, len(keep), inner, params, ops, stores)
    eqns = [p.eqns[i] for i in order]
    dims = tuple(g.space[d] for d in keep)
    return Step("kernel", kernel=kernel, inputs=inputs, outputs=outs, dims=dims, eqns=eqns)
