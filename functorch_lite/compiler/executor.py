"""The compiled plan: a jaxpr turned into generated straight-line Python that calls primitive impls.

No interpretation at run time: every equation is one line ``c = _p3(a, b)`` with the impl (params bound)
as a closure constant. Dead buffers are reused: an elementwise ufunc writes into an input buffer (or a
donated argument) that nothing reads afterwards — tracked through views, since reshape/broadcast/slice
results share memory with their input. Call-like primitives (nested jit, custom_jvp/vjp, checkpoint) are
inlined first.

Example:
    >>> plan = compile_jaxpr(closed.jaxpr, closed.consts)
    >>> print(plan.source)
    def run(a):
        b = _p0(a)
        c = _p1(b, _k0, out=b)
        return (c,)
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.array import Array
from ..core.errors import CompilerWarning
from ..core.jaxpr import Eqn, Jaxpr, Literal, Var
from ..core.trace import Tracer
from . import INLINE_CALLS, cpu, cuda, fusion, pool


def _is_ufunc(impl: Any) -> bool:
    return isinstance(impl, np.ufunc) and impl.nout == 1


def inline_calls(jaxpr: Jaxpr, consts: list) -> tuple[Jaxpr, list]:
    """Replace call equations (see ``INLINE_CALLS``) by the equations of their bodies."""
    if not any(e.primitive.name in INLINE_CALLS for e in jaxpr.eqns):
        return jaxpr, consts
    consts = list(consts)
    constvars = list(jaxpr.constvars)
    eqns: list[Eqn] = []

    def emit(body: Jaxpr, body_consts: list, args: list, outs: list) -> None:
        rename: dict[Var, Any] = {}
        for v, c in zip(body.constvars, body_consts):
            new = Var(v.aval)
            constvars.append(new)
            consts.append(c)
            rename[v] = new
        rename.update(zip(body.invars, args))
        sub = lambda v: rename.get(v, v) if type(v) is Var else v  # noqa: E731
        for e in body.eqns:
            if e.primitive.name in INLINE_CALLS:
                inner = e.params[INLINE_CALLS[e.primitive.name]]
                new_outs = [Var(v.aval) for v in e.outvars]
                rename.update(zip(e.outvars, new_outs))
                emit(inner.jaxpr, inner.consts, [sub(v) for v in e.invars], new_outs)
                continue
            new_outs = [Var(v.aval) for v in e.outvars]
            rename.update(zip(e.outvars, new_outs))
            eqns.append(e.replace(invars=[sub(v) for v in e.invars], outvars=new_outs))
        for target, v in zip(outs, body.outvars):
            eqns.append(_copy_eqn(sub(v), target))

    for e in jaxpr.eqns:
        if e.primitive.name in INLINE_CALLS:
            inner = e.params[INLINE_CALLS[e.primitive.name]]
            emit(inner.jaxpr, inner.consts, list(e.invars), list(e.outvars))
        else:
            eqns.append(e)
    return Jaxpr(constvars, jaxpr.invars, eqns, jaxpr.outvars), consts


class _Alias:
    """A pseudo-primitive that binds one variable to another's value (from inlining)."""

    name = "alias"
    multiple_results = False

    @staticmethod
    def impl(x: Any) -> Any:
        return x


def _copy_eqn(source: Any, target: Var) -> Eqn:
    return Eqn(_Alias, [source], [target], {}, None)


class CompiledPlan:
    """A callable on backend arrays (numpy/cupy): ``plan(*values) -> tuple of values``.

    ``source`` is the generated Python followed by the C of its fused kernels (rendered on first read).
    """

    def __init__(self, source: str, run: Any, jaxpr: Jaxpr, kernel_source: Any = None):
        self._source = source
        self._kernel_source = kernel_source  # a function giving the C translation unit, or None
        self.run = run
        self.jaxpr = jaxpr

    @property
    def source(self) -> str:
        if self._kernel_source is not None:
            c_source, self._kernel_source = self._kernel_source(), None
            self._source += c_source
        return self._source

    def __call__(self, *values: Any) -> tuple:
        return self.run(*values)


def compile_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], donated: Sequence[bool] = ()) -> CompiledPlan:
    """Generate and build the straight-line Python plan for ``jaxpr``.

    ``consts`` are the values of the constvars (Arrays or backend arrays); ``donated[i]`` marks input ``i``
    as donated, so its buffer may be overwritten. Groups of elementwise/reduction equations become fused C
    kernels (``fusion``, ``render``, ``cpu``) when a C compiler is available and the arrays are large
    enough; everything else, and everything when there is no compiler, calls the primitives' impls.
    """
    jaxpr, consts = inline_calls(jaxpr, list(consts))
    consts = [c._value if type(c) is Array else c for c in consts]
    if any(isinstance(c, Tracer) for c in consts):
        raise TypeError("cannot compile a jaxpr whose constants are tracers")
    if jaxpr.eqns and cpu.kernels_enabled():
        steps = fusion.partition(jaxpr, dict(zip(jaxpr.constvars, consts)), cpu.settings.min_elements)
        if any(s.kind == "kernel" for s in steps) and not _steps_are_ordered(jaxpr, steps):
            warnings.warn(
                "functorch_lite: the fusion pass produced an invalid kernel order for this function; running "
                "it unfused (correct, slower). Please report this function.",
                CompilerWarning,
                stacklevel=2,
            )
            steps = []
        if any(s.kind == "kernel" for s in steps):
            plan = _generate(jaxpr, consts, donated, steps)
            if plan is not None:
                return plan
    return _generate(jaxpr, consts, donated, [fusion.Step("eqn", eqn=e) for e in jaxpr.eqns])


def _generate(jaxpr: Jaxpr, consts: list, donated: Sequence[bool], steps: list) -> CompiledPlan | None:
    """The plan running ``steps``; None if its kernels cannot be built (the caller falls back to numpy)."""
    names: dict[Var, str] = {}
    counter = itertools.count()
    namespace: dict[str, Any] = {"__name__": "functorch_lite.compiler.generated", "_asarray": np.asarray}

    def fresh(prefix: str = "v") -> str:
        return f"{prefix}{next(counter)}"

    def constant(value: Any, prefix: str = "_k") -> str:
        name = fresh(prefix)
        namespace[name] = value
        return name

    # Where each value's memory comes from, to decide when a buffer is dead: ufunc and kernel results own
    # a fresh buffer; anything else may alias all of its inputs (views), so it joins their buffers.
    owner: dict[Var, frozenset] = {}
    owned_by_us: set[int] = set()
    buffer_ids = itertools.count()

    args = []
    for i, v in enumerate(jaxpr.invars):
        names[v] = fresh("a")
        args.append(names[v])
        bid = next(buffer_ids)
        owner[v] = frozenset([bid])
        if i < len(donated) and donated[i]:
            owned_by_us.add(bid)
    for v, c in zip(jaxpr.constvars, consts):
        names[v] = constant(c, "_c")
        owner[v] = frozenset([next(buffer_ids)])

    def atom(v: Any) -> str:
        if type(v) is Literal:
            return constant(np.asarray(v.val, dtype=v.aval.dtype)[()])
        return names[v]

    owner_of = _propagate_owners(steps, owner, buffer_ids, owned_by_us)
    # Last step index reading each buffer (outputs count as read at the end).
    last_read: dict[int, int] = {}
    for k, step in enumerate(steps):
        for v in _step_inputs(step):
            if type(v) is Var:
                for bid in owner_of[v]:
                    last_read[bid] = k
    end = len(steps)
    for v in jaxpr.outvars:
        if type(v) is Var:
            for bid in owner_of[v]:
                last_read[bid] = end

    reused: set[int] = set()
    in_place: dict[int, dict[int, Var]] = {}  # kernel step -> output index -> input written in place
    for k, step in enumerate(steps):
        if step.kind == "kernel":
            in_place[k] = _in_place_targets(step, k, owner_of, last_read, owned_by_us, reused)
            step.kernel.aliased = bool(in_place[k])
    kernels = _distinct_kernels(steps)
    strided = _StridedKernels(kernels)
    c_source = None
    if kernels:
        try:
            library, c_source = cpu.build(kernels)
        except cpu.CompilerUnavailable as exc:
            cpu.warn_once("nocc", f"functorch_lite: {exc}; jit runs on numpy (same plan, no fused kernels).")
            return None
        except cpu.BuildError as exc:
            cpu.warn_once(
                str(exc)[:200], f"functorch_lite: building fused kernels failed, using numpy: {exc}"
            )
            return None

    # Each intermediate is dropped after the last step that reads it, so that its memory (a pooled buffer,
    # or numpy's allocator's) serves a later step while still in cache.
    last_step: dict[Var, int] = {}
    for k, step in enumerate(steps):
        for v in _step_inputs(step):
            if type(v) is Var:
                last_step[v] = k
    kept = set(jaxpr.invars) | set(jaxpr.constvars) | {v for v in jaxpr.outvars if type(v) is Var}
    dead_after: dict[int, list[Var]] = {}
    for v, k in last_step.items():
        if v not in kept:
            dead_after.setdefault(k, []).append(v)
    slots: dict = {}
    lines = [f"def run({', '.join(args)}):"]
    for k, step in enumerate(steps):
        if k > 0 and dead_after.get(k - 1):
            lines.append(f"    del {', '.join(sorted({names[v] for v in dead_after[k - 1]}))}")
        if step.kind == "kernel":
            lines.extend(
                _kernel_lines(
                    step,
                    library,
                    strided,
                    in_place[k],
                    names,
                    namespace,
                    fresh,
                    constant,
                    consts,
                    jaxpr,
                    slots,
                )
            )
            continue
        eqn = step.eqn
        prim = eqn.primitive
        impl = prim.impl
        if impl is None:
            impl = _eager_adapter(prim, eqn)
        elif eqn.params:
            impl = functools.partial(impl, **eqn.params)
        fn = constant(impl, "_p")
        ins = [atom(v) for v in eqn.invars]
        outs = [fresh() for _ in eqn.outvars]
        for v, name in zip(eqn.outvars, outs):
            names[v] = name
        out_kw = ""
        if not eqn.params and _is_ufunc(prim.impl) and len(eqn.outvars) == 1:
            target = _reusable_input(eqn, k, owner_of, last_read, owned_by_us, reused)
            if target is not None:
                out_kw = f", out={names[target]}"
                reused.update(owner_of[target])
        elif prim.name == "dot_general" and prim.impl is not None:
            # a matrix product writes into a pooled buffer, as a kernel does: its memory comes back to this
            # plan instead of the allocator, which maps fresh pages for every large result
            aval = eqn.outvars[0].aval
            if pool.pooled(aval.shape, aval.dtype):
                out_kw = f", out={_slot_for(tuple(aval.shape), np.dtype(aval.dtype), slots, constant)}.take()"
        lhs = ", ".join(outs) + ("," if prim.multiple_results and len(outs) == 1 else "")
        if prim.multiple_results and not outs:
            lhs = "_"
        lines.append(f"    {lhs} = {fn}({', '.join(ins)}{out_kw})")
    outs = ", ".join(atom(v) for v in jaxpr.outvars)
    lines.append(f"    return ({outs}{',' if len(jaxpr.outvars) == 1 else ''})")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<functorch_lite.jit>", "exec"), namespace)  # our own generated code only
    if c_source is not None:
        unit = c_source
        c_source = lambda: (  # noqa: E731
            f"\n# ---- fused kernels: one C translation unit, built with {cpu.describe()} ----\n" + unit()
        )
    return CompiledPlan(source, namespace["run"], jaxpr, c_source)


def _distinct_kernels(steps: list) -> list:
    """The kernels to compile, each structure once: a step whose kernel repeats an earlier one's (a layer
    applied twice, a chain repeated) calls the earlier function, so the compiler sees it once. If one of
    the steps writes in place, the shared kernel is compiled for that (``aliased``: no ``restrict``)."""
    first: dict[str, Any] = {}
    for step in steps:
        if step.kind == "kernel":
            kernel = first.setdefault(step.kernel.structure(), step.kernel)
            kernel.aliased |= step.kernel.aliased
            step.kernel = kernel
    return list(first.values())


def _steps_are_ordered(jaxpr: Jaxpr, steps: list) -> bool:
    """Every step reads only values defined before it (inputs, constants, earlier steps' outputs)."""
    defined = set(jaxpr.invars) | set(jaxpr.constvars)
    for step in steps:
        if any(type(v) is Var and v not in defined for v in _step_inputs(step)):
            return False
        defined.update(step.eqn.outvars if step.kind == "eqn" else step.outputs)
    return all(type(v) is not Var or v in defined for v in jaxpr.outvars)


def _step_inputs(step: Any) -> list:
    return list(step.eqn.invars) if step.kind == "eqn" else list(step.inputs)


def _propagate_owners(steps: list, owner: dict, buffer_ids: Any, owned_by_us: set) -> dict:
    owner_of = dict(owner)
    for step in steps:
        if step.kind == "kernel":
            for v in step.outputs:
                bid = next(buffer_ids)
                owner_of[v] = frozenset([bid])
                owned_by_us.add(bid)
            continue
        eqn = step.eqn
        prim = eqn.primitive
        if _is_ufunc(prim.impl) and not eqn.params:
            for v in eqn.outvars:
                bid = next(buffer_ids)
                owner_of[v] = frozenset([bid])
                if v.aval.shape:  # numpy returns scalars, not writable buffers, for 0-d results
                    owned_by_us.add(bid)
        else:
            joined = frozenset().union(*[owner_of[v] for v in eqn.invars if type(v) is Var])
            for v in eqn.outvars:
                owner_of[v] = joined | {next(buffer_ids)}
    return owner_of


def _in_place_targets(
    step: Any, k: int, owner_of: dict, last_read: dict, owned_by_us: set, reused: set
) -> dict:
    """Inputs a kernel may overwrite with an output: a dead buffer of ours (a donated argument or an
    earlier result) read only here, at the same index map as the output."""
    kernel = step.kernel
    n_in = len(step.inputs)
    counts: dict[Var, int] = {}
    for x in step.inputs:
        counts[x] = counts.get(x, 0) + 1
    targets: dict[int, Var] = {}
    for j, out in enumerate(step.outputs):
        out_param = kernel.params[n_in + j]
        for i, x in enumerate(step.inputs):
            if counts[x] != 1 or x.aval.shape != out.aval.shape or x.aval.dtype != out.aval.dtype:
                continue
            if kernel.params[i].emb != out_param.emb or not out.aval.shape:
                continue
            bids = owner_of[x]
            if len(bids) == 1 and all(
                b in owned_by_us and last_read.get(b) == k and b not in reused for b in bids
            ):
                targets[j] = x
                reused.update(bids)
                break
    return targets


def _kernel_lines(
    step, library, strided, in_place, names, namespace, fresh, constant, consts, jaxpr, slots
) -> list[str]:
    """``outs = buffers; if kernel(dims, ins..., outs...): outs = fallback(ins...)``."""
    kernel = step.kernel
    fn = library.function(kernel.name, 1 + len(kernel.params))
    kname = constant(fn, "_kern")
    dims = constant(np.array(step.dims, dtype=np.int64), "_dims")
    ins = []
    for x in step.inputs:
        name = names[x]
        ins.append(f"_asarray({name})" if not x.aval.shape else name)
    lines = []
    outs = []
    for j, v in enumerate(step.outputs):
        name = fresh()
        outs.append(name)
        shape, dtype = tuple(v.aval.shape), np.dtype(v.aval.dtype)
        if j in in_place:
            lines.append(f"    {name} = {names[in_place[j]]}")
        elif pool.pooled(shape, dtype):
            lines.append(f"    {name} = {_slot_for(shape, dtype, slots, constant)}.take()")
        else:
            lines.append(f"    {name} = _empty({constant(shape, '_shape')}, {constant(dtype, '_dt')})")
            namespace["_empty"] = np.empty
    unique = list(dict.fromkeys(step.inputs))
    fallback = constant(_fallback(step, unique, jaxpr, consts, strided), "_fallback")
    lhs = ", ".join(outs) + ("," if len(outs) == 1 else "")
    lines.append(f"    if {kname}({dims}, {', '.join(ins + outs)}):")
    lines.append(f"        {lhs} = {fallback}({dims}, {', '.join(ins + outs)})")
    for v, name in zip(step.outputs, outs):
        names[v] = name
    return lines


def _slot_for(shape: tuple, dtype: np.dtype, slots: dict, constant: Any) -> str:
    """The name of the plan's buffer slot for ``shape`` and ``dtype`` (one per shape and dtype, shared by
    the steps that output them; each adds one buffer to what it may keep)."""
    key = (shape, dtype)
    if key not in slots:
        slot = pool.Slot(shape, dtype, capacity=1)
        slots[key] = (slot, constant(slot, "_slot"))
    slot, name = slots[key]
    slot.capacity += 1
    return name


class _StridedKernels:
    """A plan's elementwise kernels compiled for any strides, built the first time one of its steps meets
    an innermost stride other than 1 (a transposed or sliced argument, a broadcast like ``fnp.ones``)."""

    def __init__(self, kernels: list):
        self.kernels = [k for k in kernels if k.elementwise]
        self.library: Any = None
        self.failed = False

    def call(self, step: Any, dims: np.ndarray, args: tuple) -> bool:
        """Run ``step``'s strided kernel on the arguments its unit-stride kernel refused (writing the same
        outputs, in place where the plan said so); False if it cannot (not ndarrays, unaligned memory)."""
        if not step.kernel.elementwise or self.failed:
            return False
        try:
            arrays = [a if type(a) is np.ndarray else np.asarray(a) for a in args]
        except TypeError:  # GPU arrays
            return False
        if any(type(a) is not np.ndarray for a in arrays):
            return False
        if self.library is None:
            try:
                self.library = cpu.build(self.kernels, strided=True)[0]
            except (cpu.CompilerUnavailable, cpu.BuildError):
                self.failed = True
                return False
        fn = self.library.function(step.kernel.name, 1 + len(step.kernel.params))
        return not fn(dims, *arrays)


def _fallback(step: Any, inputs: list, jaxpr: Jaxpr, consts: list, strided: _StridedKernels) -> Any:
    """What runs a kernel step whose kernel refused its arguments (``dims, inputs..., outputs...``): the
    strided version of an elementwise kernel, else the group's equations as a numpy plan (other array
    types, unaligned memory), built on first use; on GPU arrays the same group runs as CuPy kernels."""
    const_of = dict(zip(jaxpr.constvars, consts))
    built: list = []
    stats = cpu.stats
    n_in = len(step.inputs)
    pick = [step.inputs.index(x) for x in inputs]

    def numpy_run(*values: Any) -> Any:
        stats["fallbacks"] += 1
        if not built:
            used = {v for e in step.eqns for v in e.invars if type(v) is Var}
            produced = {v for e in step.eqns for v in e.outvars}
            constvars = [v for v in jaxpr.constvars if v in used and v not in produced and v not in inputs]
            body = Jaxpr(constvars, list(inputs), list(step.eqns), list(step.outputs))
            steps = [fusion.Step("eqn", eqn=e) for e in step.eqns]
            built.append(_generate(body, [const_of[v] for v in constvars], (), steps).run)
        return built[0](*values)

    elsewhere = cuda.dispatcher(step, inputs, numpy_run)

    def run(dims: np.ndarray, *args: Any) -> Any:
        if strided.call(step, dims, args):
            return args[n_in:]
        return elsewhere(*[args[i] for i in pick])

    return run


def _reusable_input(eqn: Eqn, k: int, owner_of: dict, last_read: dict, owned_by_us: set, reused: set) -> Any:
    out = eqn.outvars[0].aval
    if not out.shape:
        return None
    for v in eqn.invars:
        if type(v) is not Var or v.aval.shape != out.shape or v.aval.dtype != out.dtype:
            continue
        bids = owner_of[v]
        if len(bids) == 1 and all(
            b in owned_by_us and last_read.get(b) == k and b not in reused for b in bids
        ):
            return v
    return None


def _eager_adapter(prim: Any, eqn: Eqn) -> Any:
    """Run a primitive without a backend impl (e.g. a higher-order one) on raw values via its eager path."""
    weak = [v.aval.weak_type for v in eqn.invars]
    params = eqn.params

    def run(*values: Any) -> Any:
        out = prim.eager(*[Array(x, w) for x, w in zip(values, weak)], **params)
        if prim.multiple_results:
            return [o._value for o in out]
        return out._value

    return run
