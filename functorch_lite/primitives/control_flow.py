"""Structured control flow: ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``, ``map`` and
``associative_scan``, with the higher-order primitives ``cond``, ``while`` and ``scan``.

Each primitive holds closed jaxprs (const-free: values the user's functions close over are hoisted into
leading operands, as JAX does) and every rule transforms those jaxprs, never the user's Python function:

- **eager** picks the branch / runs the loop, each body compiled once by ``plan_for`` (cached on the jaxpr),
  so one iteration is one call of straight-line generated code. Inside ``jit`` the executor runs these
  impl-less primitives through the same eager path.
- **JVP** differentiates the bodies (``jvp_jaxpr``); loops iterate to a fixpoint over which carries have
  non-zero tangents. Under reverse mode (a ``LinearTangentTrace`` is current) each body is linearized
  once by ``linearize_jaxpr`` (the body runs under a JVP trace whose tangent operations are staged into
  a ``LinearTangentTrace``, so nested control flow splits itself) into a known part, run on the primals and
  producing residuals (stacked along the scan axis for ``scan``; loop-invariant ones passed once as
  consts), and a linear part staged into the tangent trace. The transpose of a linear ``cond`` transposes
  each branch; that of a linear ``scan`` is a reverse scan carrying the cotangents. ``while`` can be
  linearized (for ``jacfwd``) but not transposed (an unbounded loop cannot store its residuals): its
  transpose raises with the fix.
- **batching**: a batched predicate turns ``cond`` into a ``select_n`` of every branch's output and makes
  ``while`` run until every lane is done; loop carries are batched to a fixpoint.

Every derived jaxpr is cached on the jaxpr it comes from, so a 1000-step scan is traced once, differentiated
once and transposed once.

Example:
    >>> fl.lax.cond(x > 0, fnp.sin, fnp.cos, x)
    >>> h, hs = fl.lax.scan(lambda h, x: (fnp.tanh(x @ w + h @ u), h), h0, xs)
    >>> fl.lax.fori_loop(0, 10, lambda i, x: x * 2.0, 1.0)
    Array(1024., dtype=float32, weak_type=True)
"""

from __future__ import annotations

import builtins
import inspect
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import tree_util
from ..core import dtypes
from ..core.array import Array, wrap_arrays
from ..core.jaxpr import ClosedJaxpr, Jaxpr, Var, eval_jaxpr, param_printers
from ..core.passes import dce_jaxpr
from ..core.source_info import describe_function
from ..core.staging import abstractify, as_operand, trace_to_jaxpr
from ..core.trace import Primitive, ShapedArray, Tracer, _context, aval_of
from ..transforms.ad import (
    LinearTangentTrace,
    UndefinedPrimal,
    Zero,
    add_tangents,
    backward_pass,
    instantiate,
    is_undefined,
    tangent_aval,
    zeros_like_aval,
)
from ..transforms.batching import bdim_at_front, move_axis
from ..transforms.jaxpr_transforms import (
    batch_jaxpr,
    cached,
    closed_from,
    is_nonzero,
    jvp_jaxpr,
    linearize_jaxpr,
    trace_internal,
    transpose_jaxpr,
)
from ..transforms.jit import plan_for
from .elementwise import clamp_p, convert_element_type_p, eq_p, select_n_p, stop_gradient_p
from .reductions import reduce_or_p
from .shape import broadcast_in_dim_p, rev_p, slice_p

__all__ = ["associative_scan", "cond", "fori_loop", "map", "scan", "switch", "while_loop"]

_INDEX_DTYPE = np.dtype(np.int32)

# ---------------------------------------------------------------------------------------------------
# Helpers: tracing user functions, type checks with JAX's messages, jaxpr surgery
# ---------------------------------------------------------------------------------------------------


def _type_str(aval: ShapedArray) -> str:
    return f"{aval.dtype.name}[{','.join(builtins.map(str, aval.shape))}]"


def _mismatch(a: ShapedArray, b: ShapedArray) -> str | None:
    """Why two avals differ (ignoring weak types), or None when they match."""
    if a.shape != b.shape and a.dtype != b.dtype:
        return "the shapes and dtypes do not match"
    if a.shape != b.shape:
        return "the shapes do not match"
    if a.dtype != b.dtype:
        return "the dtypes do not match"
    return None


def _leaf_paths(tree: Any) -> list[str]:
    """``keystr`` of every leaf position of a treedef (``''`` for a single leaf)."""
    skeleton = tree_util.tree_unflatten(tree, list(range(tree.num_leaves)))
    return [tree_util.keystr(path) for path, _ in tree_util.tree_flatten_with_path(skeleton)[0]]


def _first_param_name(fun: Callable, default: str) -> str:
    try:
        params = list(inspect.signature(fun).parameters)
    except (TypeError, ValueError):
        return default
    return params[0] if params else default


def _trace_user(
    fun: Callable, in_trees: Sequence[Any], in_avals: Sequence[ShapedArray]
) -> tuple[ClosedJaxpr, list, Any]:
    """Trace ``fun(*args)`` where ``args`` are rebuilt from the flat avals with ``in_trees`` (one treedef per
    positional argument). Returns the const-free jaxpr (consts as leading invars), the consts as operands,
    and the output treedef."""
    sizes = [t.num_leaves for t in in_trees]
    out_tree_box: list = []

    def flat_fun(*leaves: Any) -> list:
        args, start = [], 0
        for tree, n in zip(in_trees, sizes):
            args.append(tree_util.tree_unflatten(tree, leaves[start : start + n]))
            start += n
        out_leaves, out_tree = tree_util.tree_flatten(fun(*args))
        out_tree_box.append(out_tree)
        return out_leaves

    traced = trace_to_jaxpr(flat_fun, list(in_avals), fun)
    return closed_from(traced), [as_operand(c) for c in traced.consts], out_tree_box[0]


def _permute(closed: ClosedJaxpr, in_order: Sequence[int], out_order: Sequence[int]) -> ClosedJaxpr:
    """``closed`` with its inputs and outputs reordered (by index lists)."""
    j = closed.jaxpr
    return ClosedJaxpr(
        Jaxpr([], [j.invars[i] for i in in_order], j.eqns, [j.outvars[i] for i in out_order]), []
    )


def _pad_invars(
    closed: ClosedJaxpr, before: Sequence[ShapedArray], after: Sequence[ShapedArray] = ()
) -> ClosedJaxpr:
    """``closed`` taking extra unused inputs of types ``before`` (first) and ``after`` (last)."""
    j = closed.jaxpr
    invars = [Var(a) for a in before] + list(j.invars) + [Var(a) for a in after]
    return ClosedJaxpr(Jaxpr([], invars, j.eqns, j.outvars), [])


def _join_consts(jaxprs: Sequence[ClosedJaxpr], nconsts: Sequence[int]) -> list[ClosedJaxpr]:
    """Jaxprs taking ``(own consts, rest)`` -> jaxprs all taking ``(consts of all of them, rest)``."""
    const_avals = [j.in_avals[:n] for j, n in zip(jaxprs, nconsts)]
    out = []
    for k, (j, n) in enumerate(zip(jaxprs, nconsts)):
        before = [a for avals in const_avals[:k] for a in avals]
        after = [a for avals in const_avals[k + 1 :] for a in avals]
        inv = j.jaxpr.invars
        invars = [Var(a) for a in before] + inv[:n] + [Var(a) for a in after] + inv[n:]
        out.append(ClosedJaxpr(Jaxpr([], invars, j.jaxpr.eqns, j.jaxpr.outvars), []))
    return out


def _zeros(aval: ShapedArray) -> Any:
    """Zeros of ``aval`` built from a scalar literal (so no constant array enters a traced jaxpr)."""
    scalar = Array(np.zeros((), aval.dtype), False)
    if aval.shape == ():
        return scalar
    return broadcast_in_dim_p.bind(scalar, shape=aval.shape, broadcast_dimensions=(), sharding=None)


def _convert_to(x: Any, aval: ShapedArray) -> Any:
    """``x`` converted to ``aval``'s dtype and weak type (a no-op when it has them already)."""
    a = aval_of(x)
    if a.dtype == aval.dtype and a.weak_type == aval.weak_type:
        return x
    return convert_element_type_p.bind(x, new_dtype=aval.dtype, weak_type=aval.weak_type, sharding=None)


def _promote_weak_carry(in_avals: Sequence[ShapedArray], out_avals: Sequence[ShapedArray]) -> list | None:
    """JAX's weak-type promotion of loop carries: a weakly typed initial value takes the type the body gives
    it (``0`` carried through ``c + 1.0`` becomes a float). Returns the new carry avals, or None."""
    changed, new = False, []
    for a, b in zip(in_avals, out_avals):
        if a.shape == b.shape and a.dtype == b.dtype:
            if a.weak_type and not b.weak_type:
                new.append(a.update(weak_type=False))
                changed = True
                continue
        elif a.weak_type and a.shape == b.shape:
            dtype, weak = dtypes.result_type_and_weak((a.dtype, True), (b.dtype, b.weak_type))
            if dtype == b.dtype:
                new.append(ShapedArray(a.shape, b.dtype, weak and b.weak_type))
                changed = True
                continue
        new.append(a)
    return new if changed else None


def _check_carry(
    what: str, carry_name: str, in_tree: Any, in_avals: Sequence, out_tree: Any, out_avals: Sequence
) -> None:
    """Raise JAX's TypeError when a loop body changes the structure or a type of its carry."""
    if in_tree != out_tree:
        raise TypeError(
            f"{what} body function carry input and carry output must have the same pytree structure, but "
            f"they differ:\n\nThe input carry {carry_name} is {in_tree} but the carry output is "
            f"{out_tree}.\n\n"
            "Revise the function so that the carry output has the same pytree structure as the carry input."
        )
    for path, a, b in zip(_leaf_paths(in_tree), in_avals, out_avals):
        reason = _mismatch(a, b)
        if reason:
            component = "" if not path else " component"
            raise TypeError(
                f"{what} body function carry input and carry output must have equal types, but they differ:"
                f"\n\nThe input carry{component} {carry_name}{path} has type {_type_str(a)} but the "
                f"corresponding output carry component has type {_type_str(b)}, so {reason}.\n\n"
                "Revise the function so that all output types match the corresponding input types."
            )


def _zero_tangents(avals: Sequence[ShapedArray]) -> list:
    return [Zero(tangent_aval(a)) for a in avals]


# ---------------------------------------------------------------------------------------------------
# cond / switch
# ---------------------------------------------------------------------------------------------------


def _cond_out_avals(branches: tuple[ClosedJaxpr, ...]) -> list[ShapedArray]:
    """The joined output types: those of branch 0, weakly typed only where every branch's output is."""
    first = branches[0].out_avals
    return [a.update(weak_type=all(b.out_avals[k].weak_type for b in branches)) for k, a in enumerate(first)]


def _cond_abstract_eval(index: ShapedArray, *args: ShapedArray, branches: tuple) -> list[ShapedArray]:
    if index.shape != () or index.dtype.kind not in "iu":
        raise TypeError(f"cond: the branch index must be an integer scalar, got {index.str_short()}.")
    for k, b in enumerate(branches):
        if len(b.in_avals) != len(args) or any(_mismatch(a, x) for a, x in zip(b.in_avals, args)):
            got = ", ".join(a.str_short() for a in args)
            want = ", ".join(a.str_short() for a in b.in_avals)
            raise TypeError(f"cond: branch {k} takes ({want}) but the operands are ({got}).")
    return _cond_out_avals(branches)


cond_p = Primitive("cond", impl=None, abstract_eval=_cond_abstract_eval, multiple_results=True)


def _cond_eager(index: Any, *args: Any, branches: tuple) -> list:
    i = builtins.min(builtins.max(int(index._value), 0), len(branches) - 1)
    outs = plan_for(branches[i]).run(*[a._value for a in args])
    weak = cached(
        branches[0], ("cond_weak", branches), lambda: [a.weak_type for a in _cond_out_avals(branches)]
    )
    return wrap_arrays(outs, weak)


cond_p.eager = _cond_eager


def _check_branch_outputs(names: Sequence[str], funs: Sequence[Callable], trees: list, jaxprs: list) -> None:
    """JAX's messages for branches whose outputs differ in pytree structure or in type."""
    first_name, first_fun = names[0], funs[0]
    for name, fun, tree, jaxpr in zip(names[1:], funs[1:], trees[1:], jaxprs[1:]):
        who = f"{first_name} is {describe_function(first_fun)}\n{name} is {describe_function(fun)}"
        if tree != trees[0]:
            raise TypeError(
                "cond branch outputs must have the same pytree structure, but they differ:\n\n"
                f"{who}\n\n{first_name} output is {trees[0]} but {name} output is {tree}.\n\n"
                f"Revise {first_name} and/or {name} so that they have the same pytree structure."
            )
        for path, a, b in zip(_leaf_paths(tree), jaxprs[0].out_avals, jaxpr.out_avals):
            reason = _mismatch(a, b)
            if reason:
                raise TypeError(
                    "cond branches must have equal output types but they differ.\n\n"
                    f"{who}\n\nThe output of {first_name}{path} has type {_type_str(a)} but the "
                    f"corresponding output of {name} has type {_type_str(b)}, so {reason}.\n\n"
                    f"Revise {first_name} and/or {name} so that all output types match."
                )


def _bind_cond(index: Any, funs: Sequence[Callable], names: Sequence[str], operands: tuple) -> Any:
    ops_flat, ops_tree = tree_util.tree_flatten(tuple(operands))
    ops_flat = [as_operand(x) for x in ops_flat]
    avals = [abstractify(x) for x in ops_flat]
    traced = [_trace_user(lambda args, f=f: f(*args), [ops_tree], avals) for f in funs]
    jaxprs = [t[0] for t in traced]
    _check_branch_outputs(names, funs, [t[2] for t in traced], jaxprs)
    branches = _join_consts(jaxprs, [len(t[1]) for t in traced])
    consts = [c for t in traced for c in t[1]]
    outs = cond_p.bind(index, *consts, *ops_flat, branches=tuple(branches))
    return tree_util.tree_unflatten(traced[0][2], outs)


def _describe_value(x: Any) -> str:
    return (
        x.aval.str_short() if isinstance(x, Tracer) else str(np.asarray(x._value if type(x) is Array else x))
    )


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands: Any) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``, as one ``cond`` primitive: both
    branches are traced (their outputs must have equal structure and types); only the chosen one runs.

    ``pred`` is a scalar boolean or integer (non-zero is true). Under ``vmap`` with a batched ``pred`` both
    branches run and the results are selected elementwise.

    Example: ``fl.lax.cond(x > 0, lambda x: x, lambda x: -x, x)`` is ``abs(x)``.
    """
    if not (callable(true_fun) and callable(false_fun)):
        raise TypeError("lax.cond: true_fun and false_fun arguments should be callable.")
    pred = as_operand(pred)
    aval = aval_of(pred)
    if aval.shape != ():
        raise TypeError(f"Pred must be a scalar, got {_describe_value(pred)} of shape {aval.shape}.")
    if aval.dtype != dtypes.bool_ and aval.dtype.kind not in "iu":
        raise TypeError(
            f"Pred type must be either boolean or integer, got {aval.dtype.name}. Compare it explicitly "
            "(e.g. x > 0) to get a boolean predicate."
        )
    if aval.dtype != dtypes.bool_:
        pred = convert_element_type_p.bind(pred, new_dtype=dtypes.bool_, weak_type=False, sharding=None)
    index = convert_element_type_p.bind(pred, new_dtype=_INDEX_DTYPE, weak_type=False, sharding=None)
    return _bind_cond(index, [false_fun, true_fun], ["false_fun", "true_fun"], operands)


def switch(index: Any, branches: Sequence[Callable], *operands: Any) -> Any:
    """``branches[index](*operands)``, with ``index`` clamped into ``[0, len(branches) - 1]``.

    Example: ``fl.lax.switch(i, [fnp.sin, fnp.cos, fnp.tanh], x)``.
    """
    branches = tuple(branches)
    if not branches:
        raise ValueError("Empty branch sequence")
    if not all(callable(b) for b in branches):
        raise TypeError("lax.switch: branches argument should be a sequence of callables.")
    index = as_operand(index)
    aval = aval_of(index)
    if aval.shape != ():
        raise TypeError(f"Branch index must be scalar, got {_describe_value(index)} of shape {aval.shape}.")
    if aval.dtype.kind not in "iu":
        raise TypeError(f"Index type must be an integer, got {_describe_value(index)} as {aval.dtype.name}")
    if len(branches) == 1:
        return branches[0](*operands)
    index = convert_element_type_p.bind(index, new_dtype=_INDEX_DTYPE, weak_type=False, sharding=None)
    lo = Array(np.zeros((), _INDEX_DTYPE), False)
    hi = Array(np.asarray(len(branches) - 1, _INDEX_DTYPE), False)
    index = clamp_p.bind(lo, index, hi)
    names = ["branches[0]"] + [f"branches[{k}]" for k in range(1, len(branches))]
    return _bind_cond(index, branches, names, operands)


# -- cond: JVP, partial evaluation, transpose ----------------------------------------------------------


def _cond_jvp_branches(branches: tuple, nonzero: tuple[bool, ...]) -> tuple[list, list, tuple[bool, ...]]:
    """Every branch's JVP with one joined pattern of non-zero output tangents, consts joined."""
    n_out = len(branches[0].out_avals)
    first = [jvp_jaxpr(b, nonzero, (False,) * n_out) for b in branches]
    joined = tuple(builtins.any(r[2][k] for r in first) for k in range(n_out))
    results = [r if r[2] == joined else jvp_jaxpr(b, nonzero, joined) for r, b in zip(first, branches)]
    jaxprs = _join_consts([r[0] for r in results], [len(r[1]) for r in results])
    consts = [c for r in results for c in r[1]]
    return jaxprs, consts, joined


def _cond_linearize(branches: tuple, nonzero: tuple[bool, ...]) -> tuple:
    """Known and linear branches of a cond under reverse mode. Known branch k: (known consts of every
    branch, operands) -> (outputs, residual slots); linear branch k: (linear consts of every branch, residual
    slots, tangents) -> tangents. Residuals share slots by type across branches (JAX's
    ``_merge_branch_residuals``); a branch fills the slots it does not use with zeros."""

    def build() -> tuple:
        n_out = len(branches[0].out_avals)
        first = [linearize_jaxpr(b, nonzero, (False,) * n_out) for b in branches]
        out_nz = tuple(builtins.any(r["out_nz"][k] for r in first) for k in range(n_out))
        parts = [r if r["out_nz"] == out_nz else linearize_jaxpr(b, nonzero, out_nz) for r, b in
                 zip(first, branches)]  # fmt: skip
        knowns = _join_consts([r["known"] for r in parts], [len(r["known_consts"]) for r in parts])
        linears = _join_consts([r["linear"] for r in parts], [len(r["linear_consts"]) for r in parts])
        known_consts = [c for r in parts for c in r["known_consts"]]
        linear_consts = [c for r in parts for c in r["linear_consts"]]
        n_lc = len(linear_consts)
        slot_avals: list[ShapedArray] = []
        assignment: list[list[int]] = []
        for known in knowns:
            used: set[int] = set()
            mine = []
            for r in known.out_avals[n_out:]:
                key = (r.shape, r.dtype)
                s = next(
                    (s for s, a in enumerate(slot_avals) if (a.shape, a.dtype) == key and s not in used), None
                )
                if s is None:
                    s = len(slot_avals)
                    slot_avals.append(ShapedArray(r.shape, r.dtype, False))
                used.add(s)
                mine.append(s)
            assignment.append(mine)
        known_branches, linear_branches = [], []
        for known, linear, part, slots in zip(knowns, linears, parts, assignment):

            def merged(*args: Any, known: ClosedJaxpr = known, slots: list = slots) -> list:
                outs = eval_jaxpr(known.jaxpr, [], *args)
                filled: list = [None] * len(slot_avals)
                for s, value in zip(slots, outs[n_out:]):
                    filled[s] = value
                return list(outs[:n_out]) + [
                    v if v is not None else _zeros(slot_avals[s]) for s, v in enumerate(filled)
                ]

            merged_jaxpr, merged_consts = trace_internal(merged, known.in_avals)
            if merged_consts:
                raise TypeError("internal error: residual merging introduced constants")
            known_branches.append(merged_jaxpr)
            lin = linear.jaxpr
            n_res = part["n_res"]
            by_slot = dict(zip(slots, lin.invars[n_lc : n_lc + n_res]))
            invars = lin.invars[:n_lc] + [
                by_slot[s] if s in by_slot else Var(a) for s, a in enumerate(slot_avals)
            ]
            invars += lin.invars[n_lc + n_res :]
            linear_branches.append(ClosedJaxpr(Jaxpr([], invars, lin.eqns, lin.outvars), []))
        return tuple(known_branches), known_consts, tuple(linear_branches), linear_consts, out_nz

    return cached(branches[0], ("cond_linearize", branches, nonzero), build)


def _cond_jvp(primals: list, tangents: list, *, branches: tuple) -> tuple[list, list]:
    index, ops = primals[0], primals[1:]
    ts = tangents[1:]
    nonzero = tuple(is_nonzero(t) for t in ts)
    out_avals = _cond_out_avals(branches)
    if not any(nonzero):
        return cond_p.bind(*primals, branches=branches), _zero_tangents(out_avals)
    nz_tangents = [t for t, nz in zip(ts, nonzero) if nz]
    n_out = len(out_avals)
    if isinstance(_context.trace, LinearTangentTrace):
        known, known_consts, linear, linear_consts, out_nz = _cond_linearize(branches, nonzero)
        outs = cond_p.bind(index, *known_consts, *ops, branches=known)
        primal_outs, residuals = outs[:n_out], outs[n_out:]
        tangent_outs = cond_p.bind(index, *linear_consts, *residuals, *nz_tangents, branches=linear)
    else:
        jvps, consts, out_nz = cached(
            branches[0], ("cond_jvp", branches, nonzero), lambda: _cond_jvp_branches(branches, nonzero)
        )
        outs = cond_p.bind(index, *consts, *ops, *nz_tangents, branches=tuple(jvps))
        primal_outs, tangent_outs = outs[:n_out], outs[n_out:]
    it = iter(tangent_outs)
    return primal_outs, [next(it) if nz else Zero(tangent_aval(a)) for nz, a in zip(out_nz, out_avals)]


def _cond_transpose(cts: list, index: Any, *args: Any, branches: tuple) -> list:
    if is_undefined(index):
        raise TypeError("cond is not linear in its branch index.")
    linear = tuple(is_undefined(a) for a in args)
    transposed = [transpose_jaxpr(b, linear) for b in branches]
    joined = _join_consts([t[0] for t in transposed], [len(t[1]) for t in transposed])
    consts = [c for t in transposed for c in t[1]]
    nonlinear = [a for a in args if not is_undefined(a)]
    cts = [instantiate(c) if c is not None else zeros_like_aval(tangent_aval(a)) for c, a in
           zip(cts, branches[0].out_avals)]  # fmt: skip
    cts_in = cond_p.bind(index, *consts, *nonlinear, *cts, branches=tuple(joined))
    it = iter(cts_in)
    return [None] + [next(it) if m else None for m in linear]


cond_p.jvp = _cond_jvp
cond_p.transpose = _cond_transpose


# -- cond: batching --------------------------------------------------------------------------------------


def _broadcast_selector(which: Any, shape: tuple[int, ...]) -> Any:
    """A batched (B,) selector broadcast over an output of shape (B, ...)."""
    if tuple(which.shape) == tuple(shape):
        return which
    return broadcast_in_dim_p.bind(which, shape=tuple(shape), broadcast_dimensions=(0,), sharding=None)


def _cond_batch(axis_size: int, vals: list, dims: list, *, branches: tuple) -> tuple[list, list]:
    index, ops = vals[0], vals[1:]
    idim, op_dims = dims[0], dims[1:]
    n_out = len(branches[0].out_avals)
    if idim is not None:
        # A batched predicate: run every branch on every lane and select (JAX's rule). Operands are masked
        # with stop_gradient in the lanes that did not take the branch, so that branch's derivative (NaN
        # for log of a negative, say) cannot leak into the gradient.
        index = move_axis(index, idim, 0)
        ops = [v if d is None else move_axis(v, d, 0) for v, d in zip(ops, op_dims)]
        in_batched = tuple(d is not None for d in op_dims)
        outs_per_branch = []
        for k, branch in enumerate(branches):
            mask = eq_p.bind(index, Array(np.asarray(k, _INDEX_DTYPE), False))
            masked = []
            for v, b in zip(ops, in_batched):
                if b and dtypes.is_inexact(aval_of(v).dtype):
                    sel = _broadcast_selector(mask, tuple(v.shape))
                    v = select_n_p.bind(sel, stop_gradient_p.bind(v), v)
                masked.append(v)
            jaxpr, consts, _ = batch_jaxpr(branch, axis_size, in_batched, (True,) * n_out)
            outs_per_branch.append(eval_jaxpr(jaxpr.jaxpr, [], *consts, *masked))
        outs = []
        for k in range(n_out):
            cases = [o[k] for o in outs_per_branch]
            outs.append(select_n_p.bind(_broadcast_selector(index, tuple(cases[0].shape)), *cases))
        return outs, [0] * n_out
    ops = [v if d is None else move_axis(v, d, 0) for v, d in zip(ops, op_dims)]
    in_batched = tuple(d is not None for d in op_dims)
    first = [batch_jaxpr(b, axis_size, in_batched, (False,) * n_out) for b in branches]
    joined = tuple(builtins.any(r[2][k] for r in first) for k in range(n_out))
    results = [r if r[2] == joined else batch_jaxpr(b, axis_size, in_batched, joined) for r, b in
               zip(first, branches)]  # fmt: skip
    jaxprs = _join_consts([r[0] for r in results], [len(r[1]) for r in results])
    consts = [c for r in results for c in r[1]]
    outs = cond_p.bind(index, *consts, *ops, branches=tuple(jaxprs))
    return outs, [0 if b else None for b in joined]


cond_p.batch = _cond_batch


# ---------------------------------------------------------------------------------------------------
# while_loop
# ---------------------------------------------------------------------------------------------------

_WHILE_REVERSE_ERROR = (
    "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with dynamic start/stop "
    "values: the number of iterations is unknown, so the values the backward pass needs cannot be stored. "
    "Fix: use lax.scan or fori_loop with static bounds (Python ints), e.g. "
    "lax.fori_loop(0, 100, body, x) or lax.scan(step, init, xs). Forward mode (fl.jvp, fl.jacfwd) works."
)


def _while_abstract_eval(*args: ShapedArray, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts) -> list:
    carry = args[cond_nconsts + body_nconsts :]
    if len(body_jaxpr.out_avals) != len(carry) or any(
        _mismatch(a, b) for a, b in zip(carry, body_jaxpr.out_avals)
    ):
        raise TypeError("while: the body's output types must equal the carry's types.")
    return list(carry)


while_p = Primitive("while", impl=None, abstract_eval=_while_abstract_eval, multiple_results=True)


def _while_eager(*args: Any, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts) -> list:
    cond_run = plan_for(cond_jaxpr).run
    values = [a._value for a in args]
    cc = tuple(values[:cond_nconsts])
    bc = tuple(values[cond_nconsts : cond_nconsts + body_nconsts])
    carry = tuple(values[cond_nconsts + body_nconsts :])
    body_run, steady = _loop_plans(body_jaxpr, body_nconsts, len(carry))
    while cond_run(*cc, *carry)[0]:
        carry = body_run(*bc, *carry)
        body_run = steady
    return wrap_arrays(carry, [a._weak for a in args[cond_nconsts + body_nconsts :]])


while_p.eager = _while_eager


def while_loop(cond_fun: Callable, body_fun: Callable, init_val: Any) -> Any:
    """``while cond_fun(val): val = body_fun(val)``, as one ``while`` primitive; returns the final ``val``.

    The carry keeps its structure and types. Forward-mode differentiable and batchable; reverse mode
    raises (use ``scan`` or ``fori_loop`` with static bounds).

    Example: ``fl.lax.while_loop(lambda c: c[0] < 10, lambda c: (c[0] + 1, c[1] * 2.0), (0, x))``.
    """
    if not (callable(cond_fun) and callable(body_fun)):
        raise TypeError("lax.while_loop: cond_fun and body_fun arguments should be callable.")
    init_flat, in_tree = tree_util.tree_flatten(init_val)
    init_flat = [as_operand(x) for x in init_flat]
    avals = [abstractify(x) for x in init_flat]
    for _ in range(3):
        body, body_consts, out_tree = _trace_user(body_fun, [in_tree], avals)
        if out_tree != in_tree:
            break
        promoted = _promote_weak_carry(avals, body.out_avals[: len(avals)])
        if promoted is None:
            break
        avals = promoted
        init_flat = [_convert_to(x, a) for x, a in zip(init_flat, avals)]
    _check_carry("while_loop", _first_param_name(body_fun, "carry"), in_tree, avals, out_tree, body.out_avals)
    cond, cond_consts, cond_tree = _trace_user(cond_fun, [in_tree], avals)
    outs = cond.out_avals
    if cond_tree.num_leaves != 1 or outs[0].shape != () or outs[0].dtype != dtypes.bool_:
        shown = ", ".join(_type_str(a) for a in outs)
        raise TypeError(f"cond_fun must return a boolean scalar, but got output type(s) [{shown}].")
    out = while_p.bind(
        *cond_consts,
        *body_consts,
        *init_flat,
        cond_jaxpr=cond,
        body_jaxpr=body,
        cond_nconsts=len(cond_consts),
        body_nconsts=len(body_consts),
    )
    return tree_util.tree_unflatten(in_tree, out)


def _while_jvp(primals: list, tangents: list, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cn, bn = cond_nconsts, body_nconsts
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=cn, body_nconsts=bn)
    carry_avals = body_jaxpr.out_avals
    bc_nz = [is_nonzero(t) for t in tangents[cn : cn + bn]]
    carry_nz = [is_nonzero(t) for t in tangents[cn + bn :]]
    if not any(bc_nz) and not any(carry_nz):
        return while_p.bind(*primals, **params), _zero_tangents(carry_avals)
    nk = len(carry_nz)
    for _ in range(nk + 1):  # fixpoint: a carry whose tangent becomes non-zero keeps one from the start
        jvp, jconsts, out_nz = jvp_jaxpr(body_jaxpr, tuple(bc_nz + carry_nz), tuple(carry_nz))
        grown = [a or b for a, b in zip(carry_nz, out_nz)]
        if grown == carry_nz:
            break
        carry_nz = grown
    nj, n_tbc, n_tc = len(jconsts), sum(bc_nz), sum(carry_nz)
    # jvp inputs: jconsts, bconsts, carry, bconst tangents, carry tangents -> consts first, then the carry.
    order = (
        list(range(nj + bn))
        + list(range(nj + bn + nk, nj + bn + nk + n_tbc))
        + list(range(nj + bn, nj + bn + nk))
        + list(range(nj + bn + nk + n_tbc, nj + bn + nk + n_tbc + n_tc))
    )
    body = cached(body_jaxpr, ("while_jvp_body", tuple(bc_nz), tuple(carry_nz)),
                   lambda: _permute(jvp, order, range(nk + n_tc)))  # fmt: skip
    t_avals = [tangent_aval(a) for a, nz in zip(carry_avals, carry_nz) if nz]
    cond = cached(cond_jaxpr, ("while_jvp_cond", tuple(t.shape for t in t_avals), tuple(carry_nz)),
                   lambda: _pad_invars(cond_jaxpr, [], t_avals))  # fmt: skip
    cc, bc, carry = primals[:cn], primals[cn : cn + bn], primals[cn + bn :]
    t_bc = [t for t, nz in zip(tangents[cn : cn + bn], bc_nz) if nz]
    t_carry = _carry_tangents(tangents[cn + bn :], carry_nz, carry_avals)
    outs = while_p.bind(
        *cc, *jconsts, *bc, *t_bc, *carry, *t_carry,
        cond_jaxpr=cond, body_jaxpr=body, cond_nconsts=cn, body_nconsts=nj + bn + n_tbc,
    )  # fmt: skip
    primal_outs = outs[:nk]
    if isinstance(_context.trace, LinearTangentTrace):
        # Linearizing (linearize, jacfwd): the loop above, which recomputes the primals next to the tangents,
        # is staged whole into the linear jaxpr, so the primal outputs come from a plain loop run here. Only
        # transposing it (vjp, grad) is impossible: the transpose rule raises.
        primal_outs = while_p.bind(*primals, **params)
    it = iter(outs[nk:])
    return primal_outs, [next(it) if nz else Zero(tangent_aval(a)) for nz, a in zip(carry_nz, carry_avals)]


def _while_transpose(cts: list, *args: Any, **params: Any) -> list:
    raise TypeError(_WHILE_REVERSE_ERROR)


while_p.jvp = _while_jvp
while_p.transpose = _while_transpose


def _while_batch(
    axis_size: int, vals: list, dims: list, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts
):
    cn, bn = cond_nconsts, body_nconsts
    vals = [v if d is None else move_axis(v, d, 0) for v, d in zip(vals, dims)]
    batched = [d is not None for d in dims]
    cc_b, bc_b, carry_b = batched[:cn], batched[cn : cn + bn], batched[cn + bn :]
    nk = len(carry_b)
    for _ in range(nk + 1):
        _, _, out_b = batch_jaxpr(body_jaxpr, axis_size, tuple(bc_b + carry_b), tuple(carry_b))
        grown = [a or b for a, b in zip(carry_b, out_b)]
        if grown == carry_b:
            break
        carry_b = grown
    _, _, (pred_b,) = batch_jaxpr(cond_jaxpr, axis_size, tuple(cc_b + carry_b), (False,))
    if pred_b:
        carry_b = [True] * nk
    cc, bc, carry = vals[:cn], vals[cn : cn + bn], vals[cn + bn :]
    carry = [bdim_at_front(v, None, axis_size) if b and not was else v
             for v, b, was in zip(carry, carry_b, batched[cn + bn :])]  # fmt: skip
    cond_b, cond_consts, _ = batch_jaxpr(cond_jaxpr, axis_size, tuple(cc_b + carry_b), (False,))
    body_b, body_consts, _ = batch_jaxpr(body_jaxpr, axis_size, tuple(bc_b + carry_b), tuple(carry_b))
    if not pred_b:
        outs = while_p.bind(
            *cond_consts, *cc, *body_consts, *bc, *carry,
            cond_jaxpr=cond_b, body_jaxpr=body_b,
            cond_nconsts=len(cond_consts) + cn, body_nconsts=len(body_consts) + bn,
        )  # fmt: skip
        return outs, [0 if b else None for b in carry_b]

    # A batched predicate: loop while any lane is running; finished lanes keep their values (select).
    def build() -> tuple:
        n_cc, n_bc = len(cond_consts) + cn, len(body_consts) + bn

        def new_cond(*args: Any) -> list:
            pred = eval_jaxpr(cond_b.jaxpr, [], *args)[0]
            return [reduce_or_p.bind(pred, axes=(0,))]

        def new_body(*args: Any) -> list:
            c_args, b_args, state = args[:n_cc], args[n_cc : n_cc + n_bc], args[n_cc + n_bc :]
            pred = eval_jaxpr(cond_b.jaxpr, [], *c_args, *state)[0]
            new = eval_jaxpr(body_b.jaxpr, [], *b_args, *state)
            return [
                select_n_p.bind(_broadcast_selector(pred, tuple(n.shape)), old, n)
                for old, n in zip(state, new)
            ]

        carry_avals = [ShapedArray((axis_size, *a.shape), a.dtype, a.weak_type) for a in body_jaxpr.out_avals]
        c_avals, b_avals = cond_b.in_avals[:n_cc], body_b.in_avals[:n_bc]
        c_jaxpr, c_consts = trace_internal(new_cond, c_avals + carry_avals)
        b_jaxpr, b_consts = trace_internal(new_body, c_avals + b_avals + carry_avals)
        return c_jaxpr, c_consts, b_jaxpr, b_consts

    key = ("while_batched_pred", body_jaxpr, axis_size, tuple(cc_b), tuple(bc_b))
    c_jaxpr, c_consts, b_jaxpr, b_consts = cached(cond_jaxpr, key, build)
    c_ops = [*cond_consts, *cc]
    outs = while_p.bind(
        *c_consts, *c_ops, *b_consts, *c_ops, *body_consts, *bc, *carry,
        cond_jaxpr=c_jaxpr, body_jaxpr=b_jaxpr,
        cond_nconsts=len(c_consts) + len(c_ops),
        body_nconsts=len(b_consts) + len(c_ops) + len(body_consts) + bn,
    )  # fmt: skip
    return outs, [0] * nk


while_p.batch = _while_batch


# ---------------------------------------------------------------------------------------------------
# scan
# ---------------------------------------------------------------------------------------------------


def _scan_abstract_eval(*args: ShapedArray, jaxpr, length, reverse, num_consts, num_carry, linear, unroll):
    carry = args[num_consts : num_consts + num_carry]
    xs = args[num_consts + num_carry :]
    body_in = jaxpr.in_avals
    if len(body_in) != len(args):
        raise TypeError(f"scan: the body takes {len(body_in)} inputs but {len(args)} operands were given.")
    for x, b in zip(xs, body_in[num_consts + num_carry :]):
        if x.shape[:1] != (length,) or _mismatch(ShapedArray(x.shape[1:], x.dtype), b):
            raise TypeError(
                f"scan: a scanned-over operand of type {x.str_short()} does not match the body's input "
                f"{b.str_short()} with length {length}."
            )
    outs = jaxpr.out_avals
    for c, o in zip(carry, outs[:num_carry]):
        if _mismatch(c, o):
            raise TypeError(f"scan: the carry type {c.str_short()} changes to {o.str_short()} in the body.")
    ys = [ShapedArray((length, *a.shape), a.dtype, a.weak_type) for a in outs[num_carry:]]
    return list(carry) + ys


scan_p = Primitive("scan", impl=None, abstract_eval=_scan_abstract_eval, multiple_results=True)
param_printers["scan"] = lambda params: {k: v for k, v in params.items() if k != "linear"}


def _loop_plans(body: ClosedJaxpr, n_before: int, nk: int) -> tuple[Callable, Callable]:
    """The compiled plans of a loop body taking ``(consts, carry, ...)``: a plain one for the first iteration
    and one for the others, with the carried buffers donated wherever the body produces that carry as a fresh
    buffer (an elementwise result), so e.g. a gradient accumulator is updated in place instead of
    reallocated at every step. The analysis runs on the plan's own (optimised) jaxpr."""

    def build() -> tuple[Callable, Callable]:
        plain = plan_for(body)
        j = plain.jaxpr
        producer = {v: e for e in j.eqns for v in e.outvars}
        outs = j.outvars[:nk]
        fresh = []
        for v in outs:
            eqn = producer.get(v) if type(v) is Var else None
            impl = eqn.primitive.impl if eqn is not None else None
            fresh.append(
                isinstance(impl, np.ufunc)
                and impl.nout == 1
                and not eqn.params
                and v.aval.shape != ()
                and builtins.sum(1 for w in outs if w is v) == 1
            )
        if not any(fresh):
            return plain.run, plain.run
        donated = (False,) * n_before + tuple(fresh) + (False,) * (len(j.invars) - n_before - nk)
        return plain.run, plan_for(body, donated).run

    return cached(body, ("loop_plans", n_before, nk), build)


def _scan_eager(*args: Any, jaxpr, length, reverse, num_consts, num_carry, linear, unroll) -> list:
    nc, nk = num_consts, num_carry
    run, steady = _loop_plans(jaxpr, nc, nk)
    values = [a._value for a in args]
    consts = tuple(values[:nc])
    carry = tuple(values[nc : nc + nk])
    xs = values[nc + nk :]
    y_avals = jaxpr.out_avals[nk:]
    ys = [np.empty((length, *a.shape), a.dtype) for a in y_avals]
    steps = range(length - 1, -1, -1) if reverse else range(length)
    if not xs and not ys:
        for _ in steps:
            carry = run(*consts, *carry)
            run = steady
    elif not ys:
        for i in steps:
            carry = run(*consts, *carry, *[x[i] for x in xs])
            run = steady
    else:
        for i in steps:
            outs = run(*consts, *carry, *[x[i] for x in xs])
            run = steady
            carry = outs[:nk]
            for buffer, y in zip(ys, outs[nk:]):
                buffer[i] = y
    weak = [a._weak for a in args[nc : nc + nk]] + [a.weak_type for a in y_avals]
    return wrap_arrays(list(carry) + ys, weak)


scan_p.eager = _scan_eager


def _scan_length(xs_flat: list, length: Any) -> int:
    lengths = []
    for x in xs_flat:
        shape = aval_of(x).shape
        if not shape:
            raise ValueError(f"scan got value with no leading axis to scan over: {_describe_value(x)}.")
        lengths.append(shape[0])
    if length is not None:
        length = operator.index(length)
        if any(n != length for n in lengths):
            raise ValueError(
                f"scan got `length` argument of {length} which disagrees with leading axis sizes {lengths}."
            )
        return length
    if not lengths:
        raise ValueError("scan got no values to scan over and `length` not provided.")
    if len(set(lengths)) > 1:
        raise ValueError(
            f"scan got values with different leading axis sizes: {', '.join(builtins.map(str, lengths))}."
        )
    return lengths[0]


def scan(
    f: Callable,
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the final carry and the
    stacked ``y``s, as one ``scan`` primitive (JAX's semantics: pytrees, ``xs=None`` with ``length``,
    ``reverse``). Differentiable in both modes (reverse mode stores the per-step residuals) and batchable.

    Example:
        >>> def step(h, x):
        ...     h = fnp.tanh(x @ wx + h @ wh)
        ...     return h, h
        >>> h_last, hs = fl.lax.scan(step, h0, xs)
    """
    if not callable(f):
        raise TypeError(f"lax.scan: f argument should be callable, got {type(f).__name__}.")
    xs_flat, xs_tree = tree_util.tree_flatten(xs)
    xs_flat = [as_operand(x) for x in xs_flat]
    n = _scan_length(xs_flat, length)
    init_flat, init_tree = tree_util.tree_flatten(init)
    init_flat = [as_operand(x) for x in init_flat]
    carry_avals = [abstractify(x) for x in init_flat]
    x_avals = [ShapedArray(a.shape[1:], a.dtype, a.weak_type) for a in (abstractify(x) for x in xs_flat)]
    nk = len(carry_avals)
    split_box: list = []

    def body(carry: Any, x: Any) -> Any:
        out = f(carry, x)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(
                f"scan body output must be a pair (carry, y), got {type(out).__name__}"
                + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
                + f" from {describe_function(f)}."
            )
        split_box.append(tree_util.tree_structure(out[0]))
        return tuple(out)

    for _ in range(3):
        split_box.clear()
        jaxpr, consts, out_tree = _trace_user(body, [init_tree, xs_tree], carry_avals + x_avals)
        carry_tree = split_box[-1]
        if carry_tree != init_tree:
            break
        promoted = _promote_weak_carry(carry_avals, jaxpr.out_avals[:nk])
        if promoted is None:
            break
        carry_avals = promoted
        init_flat = [_convert_to(x, a) for x, a in zip(init_flat, carry_avals)]
    _check_carry(
        "scan", _first_param_name(f, "carry"), init_tree, carry_avals, carry_tree, jaxpr.out_avals[:nk]
    )
    y_tree = tree_util.treedef_children(out_tree)[1]
    if isinstance(unroll, bool):
        unroll = builtins.max(n, 1) if unroll else 1
    unroll = operator.index(unroll)
    if unroll < 1:
        raise ValueError(f"scan: unroll must be a positive integer or a bool, got {unroll}.")
    operands = [*consts, *init_flat, *xs_flat]
    outs = scan_p.bind(
        *operands,
        jaxpr=jaxpr,
        length=n,
        reverse=bool(reverse),
        num_consts=len(consts),
        num_carry=nk,
        linear=(False,) * len(operands),
        unroll=unroll,
    )
    return tree_util.tree_unflatten(init_tree, outs[:nk]), tree_util.tree_unflatten(y_tree, outs[nk:])


# -- scan: JVP and linearization ------------------------------------------------------------------------


def _scan_jvp_fixpoint(jaxpr: ClosedJaxpr, nc: int, nk: int, nonzero: list[bool]) -> tuple:
    const_nz, carry_nz, xs_nz = nonzero[:nc], list(nonzero[nc : nc + nk]), nonzero[nc + nk :]
    n_y = len(jaxpr.out_avals) - nk
    for _ in range(nk + 1):
        jvp, jconsts, out_nz = jvp_jaxpr(
            jaxpr, tuple(const_nz + carry_nz + xs_nz), tuple(carry_nz) + (False,) * n_y
        )
        grown = [a or b for a, b in zip(carry_nz, out_nz[:nk])]
        if grown == carry_nz:
            return jvp, jconsts, const_nz, carry_nz, xs_nz, out_nz
        carry_nz = grown
    raise TypeError("internal error: the scan JVP fixpoint did not converge")


def _scan_jvp_forward(jaxpr: ClosedJaxpr, nc: int, nk: int, nonzero: tuple[bool, ...]) -> tuple:
    """The forward-mode scan body: consts (jvp consts, consts, const tangents), carry (carry, carry
    tangents), xs (xs, xs tangents) -> (carry, carry tangents, ys, ys tangents)."""

    def build() -> tuple:
        jvp, jconsts, const_nz, carry_nz, xs_nz, out_nz = _scan_jvp_fixpoint(jaxpr, nc, nk, list(nonzero))
        nj, nx = len(jconsts), len(xs_nz)
        ntc, ntk, ntx = sum(const_nz), sum(carry_nz), sum(xs_nz)
        n_y = len(out_nz) - nk
        nty = sum(out_nz[nk:])
        p = nj + nc + nk + nx  # start of the tangent inputs
        order = (
            list(range(nj + nc))
            + list(range(p, p + ntc))
            + list(range(nj + nc, nj + nc + nk))
            + list(range(p + ntc, p + ntc + ntk))
            + list(range(nj + nc + nk, p))
            + list(range(p + ntc + ntk, p + ntc + ntk + ntx))
        )
        q = nk + n_y
        out_order = (
            list(range(nk))
            + list(range(q, q + ntk))
            + list(range(nk, q))
            + list(range(q + ntk, q + ntk + nty))
        )
        body = _permute(jvp, order, out_order)
        counts = (nj, ntc, ntk, ntx, nty)
        return body, jconsts, tuple(carry_nz), out_nz, counts

    return cached(jaxpr, ("scan_jvp_fwd", nc, nk, nonzero), build)


def _scan_linearize(jaxpr: ClosedJaxpr, nc: int, nk: int, nonzero: tuple[bool, ...]) -> dict:
    """Split a scan under reverse mode into a known scan (primal outputs + residuals stacked along the scan
    axis) and a linear scan over the residuals and tangents (JAX's ``_scan_partial_eval``).

    Residuals are classified: a const of the body goes to the linear scan as a const; a value computed from
    consts alone is hoisted (computed once, before the loop) and passed as a const; a scanned-over input is
    passed as the original ``xs``; only the rest is stacked by the known scan, one slice per step."""

    def build() -> dict:
        const_nz, carry_nz, xs_nz = list(nonzero[:nc]), list(nonzero[nc : nc + nk]), list(nonzero[nc + nk :])
        n_y = len(jaxpr.out_avals) - nk
        for _ in range(nk + 1):  # fixpoint over the carries with non-zero tangents
            lin = linearize_jaxpr(jaxpr, tuple(const_nz + carry_nz + xs_nz), tuple(carry_nz) + (False,) * n_y)
            grown = [a or b for a, b in zip(carry_nz, lin["out_nz"][:nk])]
            if grown == carry_nz:
                break
            carry_nz = grown
        known = lin["known"].jaxpr
        n_kc = len(lin["known_consts"])
        n_prim = nk + n_y
        const_vars = {v: k for k, v in enumerate(known.invars[: n_kc + nc])}
        xs_vars = {v: k for k, v in enumerate(known.invars[n_kc + nc + nk :])}
        invariant: set[Var] = set(const_vars)
        invariant_eqns = []
        for eqn in known.eqns:
            if all(type(v) is not Var or v in invariant for v in eqn.invars):
                invariant.update(eqn.outvars)
                invariant_eqns.append(eqn)
        forwarded, hoisted, xs_forwarded, stacked = [], [], [], []  # residual positions by kind
        for i, r in enumerate(known.outvars[n_prim:]):
            if type(r) is not Var or r in invariant:
                (forwarded if type(r) is Var and r in const_vars else hoisted).append(i)
            elif r in xs_vars:
                xs_forwarded.append(i)
            else:
                stacked.append(i)
        res = known.outvars[n_prim:]
        known_body = Jaxpr([], known.invars, known.eqns, known.outvars[:n_prim] + [res[i] for i in stacked])
        hoist = Jaxpr([], known.invars[: n_kc + nc], invariant_eqns, [res[i] for i in hoisted])
        # The linear scan: consts (linear consts, forwarded and hoisted residuals, const tangents), carry
        # tangents, xs (stacked residuals, forwarded xs, xs tangents) -> carry tangents, ys tangents.
        lj = lin["linear"].jaxpr
        n_lc = len(lin["linear_consts"])
        res_vars = lj.invars[n_lc : n_lc + lin["n_res"]]
        t_in = lj.invars[n_lc + lin["n_res"] :]
        ntc, ntk = sum(const_nz), sum(carry_nz)
        invars = (
            lj.invars[:n_lc]
            + [res_vars[i] for i in forwarded + hoisted]
            + t_in[:ntc]
            + t_in[ntc : ntc + ntk]
            + [res_vars[i] for i in stacked + xs_forwarded]
            + t_in[ntc + ntk :]
        )
        return {
            "known": ClosedJaxpr(dce_jaxpr(known_body), []),
            "known_consts": lin["known_consts"],
            "hoist": ClosedJaxpr(dce_jaxpr(hoist), []),
            "linear": ClosedJaxpr(Jaxpr([], invars, lj.eqns, lj.outvars), []),
            "linear_consts": lin["linear_consts"],
            "forwarded": [const_vars[res[i]] for i in forwarded],
            "xs_forwarded": [xs_vars[res[i]] for i in xs_forwarded],
            "n_hoisted": len(hoisted),
            "carry_nz": tuple(carry_nz),
            "out_nz": lin["out_nz"],
        }

    return cached(jaxpr, ("scan_linearize", nc, nk, nonzero), build)


def _scan_jvp(
    primals: list, tangents: list, *, jaxpr, length, reverse, num_consts, num_carry, linear, unroll
):
    nc, nk = num_consts, num_carry
    params = dict(length=length, reverse=reverse, unroll=unroll)
    nonzero = tuple(is_nonzero(t) for t in tangents)
    out_avals = _scan_abstract_eval(*[aval_of(p) for p in primals], jaxpr=jaxpr, num_consts=nc, num_carry=nk,
                                    linear=linear, **params)  # fmt: skip
    if not any(nonzero):
        outs = scan_p.bind(*primals, jaxpr=jaxpr, num_consts=nc, num_carry=nk, linear=linear, **params)
        return outs, _zero_tangents(out_avals)
    consts, carry, xs = primals[:nc], primals[nc : nc + nk], primals[nc + nk :]
    t_consts = [t for t, nz in zip(tangents[:nc], nonzero[:nc]) if nz]
    t_xs = [t for t, nz in zip(tangents[nc + nk :], nonzero[nc + nk :]) if nz]
    if isinstance(_context.trace, LinearTangentTrace):
        info = _scan_linearize(jaxpr, nc, nk, nonzero)
        carry_nz, out_nz = info["carry_nz"], info["out_nz"]
        all_consts = [*info["known_consts"], *consts]
        known_outs = scan_p.bind(
            *all_consts, *carry, *xs, jaxpr=info["known"], num_consts=len(all_consts), num_carry=nk,
            linear=(False,) * (len(all_consts) + nk + len(xs)), **params,
        )  # fmt: skip
        n_prim = len(out_avals)
        primal_outs, stacked = known_outs[:n_prim], known_outs[n_prim:]
        hoisted = eval_jaxpr(info["hoist"].jaxpr, [], *all_consts) if info["n_hoisted"] else []
        res_consts = [*info["linear_consts"], *[all_consts[k] for k in info["forwarded"]], *hoisted]
        res_xs = list(stacked) + [xs[k] for k in info["xs_forwarded"]]
        t_carry = _carry_tangents(tangents[nc : nc + nk], carry_nz, out_avals[:nk])
        lin_ops = [*res_consts, *t_consts, *t_carry, *res_xs, *t_xs]
        n_lin_consts = len(res_consts) + len(t_consts)
        lin_flags = (
            (False,) * len(res_consts) + (True,) * (len(t_consts) + len(t_carry))
            + (False,) * len(res_xs) + (True,) * len(t_xs)
        )  # fmt: skip
        tangent_outs = scan_p.bind(
            *lin_ops, jaxpr=info["linear"], num_consts=n_lin_consts, num_carry=len(t_carry), linear=lin_flags,
            **params,
        )  # fmt: skip
        t_carry_out, t_ys = tangent_outs[: len(t_carry)], tangent_outs[len(t_carry) :]
    else:
        body, jconsts, carry_nz, out_nz, (nj, ntc, ntk, ntx, nty) = _scan_jvp_forward(jaxpr, nc, nk, nonzero)
        t_carry = _carry_tangents(tangents[nc : nc + nk], carry_nz, out_avals[:nk])
        ops = [*jconsts, *consts, *t_consts, *carry, *t_carry, *xs, *t_xs]
        flags = (
            (False,) * nj + tuple(linear[:nc]) + (True,) * ntc + tuple(linear[nc : nc + nk]) + (True,) * ntk
            + tuple(linear[nc + nk :]) + (True,) * ntx
        )  # fmt: skip
        outs = scan_p.bind(
            *ops, jaxpr=body, num_consts=nj + nc + ntc, num_carry=nk + ntk, linear=flags, **params
        )
        n_y = len(out_avals) - nk
        primal_outs = list(outs[:nk]) + list(outs[nk + ntk : nk + ntk + n_y])
        t_carry_out, t_ys = outs[nk : nk + ntk], outs[nk + ntk + n_y :]
    it_c, it_y = iter(t_carry_out), iter(t_ys)
    out_t = [next(it_c) if nz else Zero(tangent_aval(a)) for nz, a in zip(carry_nz, out_avals[:nk])]
    out_t += [next(it_y) if nz else Zero(tangent_aval(a)) for nz, a in zip(out_nz[nk:], out_avals[nk:])]
    return primal_outs, out_t


def _carry_tangents(tangents: Sequence[Any], carry_nz: Sequence[bool], avals: Sequence[ShapedArray]) -> list:
    """The initial carry tangents of the non-zero pattern, symbolic zeros instantiated."""
    return [
        t if is_nonzero(t) else zeros_like_aval(tangent_aval(a))
        for t, nz, a in zip(tangents, carry_nz, avals)
        if nz
    ]


scan_p.jvp = _scan_jvp


# -- scan: transpose ---------------------------------------------------------------------------------------


def _scan_transpose_jaxpr(
    jaxpr: ClosedJaxpr, nc: int, nk: int, const_lin: tuple, xs_lin: tuple, ys_zero: tuple
) -> tuple[ClosedJaxpr, list]:
    """The body of the reverse scan transposing a linear scan: consts (non-linear consts), carry
    (cotangent accumulators of the linear consts, carry cotangents), xs (non-linear xs, ys cotangents) ->
    (accumulators, carry cotangents, xs cotangents)."""

    def build() -> tuple[ClosedJaxpr, list]:
        in_avals, out_avals = jaxpr.in_avals, jaxpr.out_avals
        c_avals, k_avals, x_avals = in_avals[:nc], in_avals[nc : nc + nk], in_avals[nc + nk :]
        res_c = [a for a, lin in zip(c_avals, const_lin) if not lin]
        acc = [tangent_aval(a) for a, lin in zip(c_avals, const_lin) if lin]
        ct_k = [tangent_aval(a) for a in out_avals[:nk]]
        res_x = [a for a, lin in zip(x_avals, xs_lin) if not lin]
        ct_y = [tangent_aval(a) for a, z in zip(out_avals[nk:], ys_zero) if not z]
        sizes = [len(res_c), len(acc), len(ct_k), len(res_x), len(ct_y)]

        def body(*args: Any) -> list:
            parts, start = [], 0
            for size in sizes:
                parts.append(list(args[start : start + size]))
                start += size
            rc, accs, ck, rx, cy = (iter(p) for p in parts)
            full = [UndefinedPrimal(a) if lin else next(rc) for a, lin in zip(c_avals, const_lin)]
            full += [UndefinedPrimal(a) for a in k_avals]
            full += [UndefinedPrimal(a) if lin else next(rx) for a, lin in zip(x_avals, xs_lin)]
            cts = list(ck) + [
                Zero(tangent_aval(a)) if z else next(cy) for a, z in zip(out_avals[nk:], ys_zero)
            ]
            cts_in = backward_pass(jaxpr.jaxpr, [], cts, full)
            new_acc = [
                add_tangents(next(accs), ct if ct is not None else Zero(tangent_aval(a)))
                for a, lin, ct in zip(c_avals, const_lin, cts_in[:nc])
                if lin
            ]
            ct_carry = [instantiate(ct) if ct is not None else zeros_like_aval(tangent_aval(a))
                        for a, ct in zip(k_avals, cts_in[nc : nc + nk])]  # fmt: skip
            ct_xs = [instantiate(ct) if ct is not None else zeros_like_aval(tangent_aval(a))
                     for a, lin, ct in zip(x_avals, xs_lin, cts_in[nc + nk :]) if lin]  # fmt: skip
            return [instantiate(a) for a in new_acc] + ct_carry + ct_xs

        return trace_internal(body, res_c + acc + ct_k + res_x + ct_y)

    return cached(jaxpr, ("scan_transpose", nc, nk, const_lin, xs_lin, ys_zero), build)


def _scan_transpose(cts: list, *args: Any, jaxpr, length, reverse, num_consts, num_carry, linear, unroll):
    nc, nk = num_consts, num_carry
    consts, carry, xs = args[:nc], args[nc : nc + nk], args[nc + nk :]
    const_lin = tuple(is_undefined(a) for a in consts)
    xs_lin = tuple(is_undefined(a) for a in xs)
    for a, flag in zip(carry, linear[nc : nc + nk]):
        if not is_undefined(a) and not flag:
            raise TypeError("scan transpose: a non-linear loop carry cannot be transposed.")
    out_avals = jaxpr.out_avals
    ct_carry = [
        instantiate(c) if c is not None else zeros_like_aval(tangent_aval(a))
        for c, a in zip(cts[:nk], out_avals)
    ]
    ys_zero = tuple(c is None or type(c) is Zero for c in cts[nk:])
    body, tconsts = _scan_transpose_jaxpr(jaxpr, nc, nk, const_lin, xs_lin, ys_zero)
    res_c = [a for a in consts if not is_undefined(a)]
    acc = [zeros_like_aval(tangent_aval(a.aval)) for a in consts if is_undefined(a)]
    res_x = [a for a in xs if not is_undefined(a)]
    ct_ys = [c for c, z in zip(cts[nk:], ys_zero) if not z]
    n_consts = len(tconsts) + len(res_c)
    n_carry = len(acc) + nk
    flags = (False,) * n_consts + (True,) * n_carry + (False,) * len(res_x) + (True,) * len(ct_ys)
    outs = scan_p.bind(
        *tconsts, *res_c, *acc, *ct_carry, *res_x, *ct_ys,
        jaxpr=body, length=length, reverse=not reverse, num_consts=n_consts, num_carry=n_carry,
        linear=flags, unroll=unroll,
    )  # fmt: skip
    ct_consts = iter(outs[: len(acc)])
    ct_init = outs[len(acc) : n_carry]
    ct_xs = iter(outs[n_carry:])
    result = [next(ct_consts) if lin else None for lin in const_lin]
    result += [ct if is_undefined(a) else None for a, ct in zip(carry, ct_init)]
    result += [next(ct_xs) if lin else None for lin in xs_lin]
    return result


scan_p.transpose = _scan_transpose


# -- scan: batching ------------------------------------------------------------------------------------


def _scan_batch(axis_size: int, vals: list, dims: list, *, jaxpr, length, reverse, num_consts, num_carry,
                linear, unroll) -> tuple[list, list]:  # fmt: skip
    nc, nk = num_consts, num_carry
    batched = [d is not None for d in dims]
    const_b, carry_b, xs_b = batched[:nc], batched[nc : nc + nk], batched[nc + nk :]
    n_y = len(jaxpr.out_avals) - nk
    for _ in range(nk + 1):
        _, _, out_b = batch_jaxpr(
            jaxpr, axis_size, tuple(const_b + carry_b + xs_b), tuple(carry_b) + (False,) * n_y
        )
        grown = [a or b for a, b in zip(carry_b, out_b[:nk])]
        if grown == carry_b:
            break
        carry_b = grown
    body, bconsts, out_b = batch_jaxpr(
        jaxpr, axis_size, tuple(const_b + carry_b + xs_b), tuple(carry_b) + (False,) * n_y
    )
    consts = [v if d is None else move_axis(v, d, 0) for v, d in zip(vals[:nc], dims[:nc])]
    carry = [
        bdim_at_front(v, d, axis_size) if b else v
        for v, d, b in zip(vals[nc : nc + nk], dims[nc : nc + nk], carry_b)
    ]
    xs = [v if d is None else move_axis(v, d, 1) for v, d in zip(vals[nc + nk :], dims[nc + nk :])]
    outs = scan_p.bind(
        *bconsts, *consts, *carry, *xs, jaxpr=body, length=length, reverse=reverse,
        num_consts=len(bconsts) + nc, num_carry=nk, linear=(False,) * len(bconsts) + tuple(linear),
        unroll=unroll,
    )  # fmt: skip
    return outs, [0 if b else None for b in carry_b] + [1 if b else None for b in out_b[nk:]]


scan_p.batch = _scan_batch


# ---------------------------------------------------------------------------------------------------
# fori_loop, map, associative_scan
# ---------------------------------------------------------------------------------------------------


def _concrete_bound(x: Any) -> Any:
    """A concrete integer Array (or Python int) for a static loop bound, or None when it is traced."""
    if isinstance(x, Tracer):
        x = x.to_concrete()
        if x is None:
            return None
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"fori_loop bounds must be integers, got {x!r}.")
    return x


def fori_loop(
    lower: Any, upper: Any, body_fun: Callable, init_val: Any, *, unroll: int | bool | None = None
) -> Any:
    """``for i in range(lower, upper): val = body_fun(i, val)``; returns the final ``val``.

    With concrete bounds (Python ints or concrete arrays) this is a ``scan`` (so it is reverse-mode
    differentiable); with traced bounds it is a ``while_loop`` (forward mode only).

    Example: ``fl.lax.fori_loop(0, 10, lambda i, x: x + i, 0.0)`` is ``45.0``.
    """
    if not callable(body_fun):
        raise TypeError("lax.fori_loop: body_fun argument should be callable.")
    lo, hi = _concrete_bound(lower), _concrete_bound(upper)
    lower_op, upper_op = as_operand(lower), as_operand(upper)
    lo_aval, hi_aval = aval_of(lower_op), aval_of(upper_op)
    for a in (lo_aval, hi_aval):
        if a.shape != () or a.dtype.kind not in "iu":
            raise TypeError(f"fori_loop bounds must be integer scalars, got {a.str_short()}.")
    if lo_aval.dtype != hi_aval.dtype:
        if not (lo_aval.weak_type or hi_aval.weak_type):
            raise TypeError(
                "lower and upper arguments to fori_loop must have equal types, got "
                f"{lo_aval.dtype.name} and {hi_aval.dtype.name}"
            )
        dtype = hi_aval.dtype if lo_aval.weak_type else lo_aval.dtype
        lower_op = _convert_to(lower_op, ShapedArray((), dtype, False))
        upper_op = _convert_to(upper_op, ShapedArray((), dtype, False))
    if lo is not None and hi is not None:
        start, stop = int(lo), int(hi)

        def step(carry: Any, _: Any) -> Any:
            i, x = carry
            return (i + 1, body_fun(i, x)), None

        length = builtins.max(stop - start, 0)
        (_, out), _ = scan(
            step, (lower_op, init_val), None, length=length, unroll=1 if unroll is None else unroll
        )
        return out
    if unroll is not None and unroll is not False and unroll != 1:
        raise ValueError("Can only use `unroll` in `fori_loop` if the loop bounds are statically known.")

    def loop_cond(carry: Any) -> Any:
        i, stop, _ = carry
        return i < stop

    def loop_body(carry: Any) -> Any:
        i, stop, x = carry
        return i + 1, stop, body_fun(i, x)

    return while_loop(loop_cond, loop_body, (lower_op, upper_op, init_val))[2]


def map(f: Callable, xs: Any, *, batch_size: int | None = None) -> Any:
    """``f`` applied to every slice of ``xs`` along the leading axis, stacked (a ``scan`` with no carry).
    ``batch_size`` runs ``vmap(f)`` over chunks of that many slices instead (the rest vmapped at the end).

    Example: ``fl.lax.map(lambda row: row @ w, xs)``.
    """
    if batch_size is None:
        _, ys = scan(lambda _, x: ((), f(x)), (), xs)
        return ys
    from .. import numpy as fnp
    from ..transforms.vmap import vmap

    batch_size = operator.index(batch_size)
    if batch_size < 1:
        raise ValueError(f"lax.map: batch_size must be a positive integer, got {batch_size}.")
    leaves, tree = tree_util.tree_flatten(xs)
    n = _scan_length([as_operand(x) for x in leaves], None)
    num_batches, rest = divmod(n, batch_size)
    if num_batches == 0:
        return vmap(f)(xs)
    main = [
        fnp.reshape(x[: num_batches * batch_size], (num_batches, batch_size, *x.shape[1:])) for x in leaves
    ]
    _, ys = scan(lambda _, x: ((), vmap(f)(x)), (), tree_util.tree_unflatten(tree, main))
    ys = tree_util.tree_map(lambda y: fnp.reshape(y, (num_batches * batch_size, *y.shape[2:])), ys)
    if rest:
        tail = vmap(f)(tree_util.tree_unflatten(tree, [x[num_batches * batch_size :] for x in leaves]))
        ys = tree_util.tree_map(lambda a, b: fnp.concatenate([a, b]), ys, tail)
    return ys


def _slice_axis(x: Any, start: int, stop: int | None, step: int, axis: int) -> Any:
    n = x.shape[axis]
    stop = n if stop is None else (stop if stop >= 0 else n + stop)
    starts = [0] * x.ndim
    limits = list(x.shape)
    strides = [1] * x.ndim
    starts[axis], limits[axis], strides[axis] = start, builtins.max(stop, start), step
    return slice_p.bind(x, start_indices=tuple(starts), limit_indices=tuple(limits), strides=tuple(strides))


def _interleave(a: Any, b: Any, axis: int) -> Any:
    """Elements of ``a`` at even positions and of ``b`` at odd ones (``len(a)`` is ``len(b)`` or one more)."""
    from .. import numpy as fnp

    n = a.shape[axis] + b.shape[axis]
    if b.shape[axis] < a.shape[axis]:
        b = fnp.concatenate([b, _slice_axis(a, 0, 1, 1, axis)], axis=axis)  # a placeholder, sliced off below
    pairs = fnp.stack([a, b], axis=axis + 1)
    shape = list(a.shape)
    shape[axis] = 2 * a.shape[axis]
    return _slice_axis(fnp.reshape(pairs, tuple(shape)), 0, n, 1, axis)


def associative_scan(fn: Callable, elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """All prefix combinations ``fn(...fn(fn(e0, e1), e2)..., ek)`` along ``axis``, computed in parallel
    (log-depth recursion) for an associative ``fn`` on pytrees of arrays; ``reverse`` scans from the end.

    Example: ``fl.lax.associative_scan(fnp.add, fnp.arange(5))`` is ``[0, 1, 3, 6, 10]``.
    """
    from .. import numpy as fnp

    leaves, tree = tree_util.tree_flatten(elems)
    leaves = [fnp.asarray(x) for x in leaves]
    if not leaves:
        return elems
    ndim = leaves[0].ndim
    if not -ndim <= axis < builtins.max(ndim, 1) or ndim == 0:
        raise ValueError(f"associative_scan: axis {axis} is out of bounds for arrays of rank {ndim}.")
    axis %= ndim
    sizes = {x.shape[axis] for x in leaves}
    if len(sizes) != 1:
        raise ValueError(
            f"Array inputs to associative_scan must have the same first dimension. (saw: {sorted(sizes)})"
        )
    if reverse:
        leaves = [rev_p.bind(x, dimensions=(axis,)) for x in leaves]

    def combine(a: list, b: list) -> list:
        out = fn(tree_util.tree_unflatten(tree, a), tree_util.tree_unflatten(tree, b))
        out_leaves, out_tree = tree_util.tree_flatten(out)
        if out_tree != tree:
            raise TypeError(
                f"associative_scan: fn must return the structure of elems ({tree}), got {out_tree}."
            )
        return out_leaves

    def prefix(xs: list) -> list:
        n = xs[0].shape[axis]
        if n < 2:
            return xs
        pairs = combine([_slice_axis(x, 0, -1 if n % 2 else None, 2, axis) for x in xs],
                        [_slice_axis(x, 1, None, 2, axis) for x in xs])  # fmt: skip
        odd = prefix(pairs)
        if n % 2 == 0:
            evens = combine(
                [_slice_axis(o, 0, -1, 1, axis) for o in odd], [_slice_axis(x, 2, None, 2, axis) for x in xs]
            )
        else:
            evens = combine(odd, [_slice_axis(x, 2, None, 2, axis) for x in xs])
        evens = [fnp.concatenate([_slice_axis(x, 0, 1, 1, axis), e], axis=axis) for x, e in zip(xs, evens)]
        return [_interleave(e, o, axis) for e, o in zip(evens, odd)]

    out = prefix(leaves)
    if reverse:
        out = [rev_p.bind(x, dimensions=(axis,)) for x in out]
    return tree_util.tree_unflatten(tree, out)
