"""User-defined derivatives: ``custom_jvp`` and ``custom_vjp`` (JAX's APIs), as higher-order primitives
that hold the function's jaxpr, with every rule in this file.

- ``custom_jvp_call``: evaluates its jaxpr; its JVP rule calls the user's JVP function.
- ``custom_vjp_call``: evaluates its jaxpr; under reverse mode its JVP rule runs the user's ``fwd`` on the
  primals and stages a ``custom_lin`` equation whose transpose calls the user's ``bwd``. Forward mode
  raises, as in JAX.

Example:
    >>> @fl.custom_jvp
    ... def safe_log(x):
    ...     return fnp.log(x)
    >>> @safe_log.defjvp
    ... def safe_log_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return safe_log(x), t / x
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from functools import update_wrapper
from typing import Any

from .. import tree_util
from ..core.jaxpr import ClosedJaxpr, eval_jaxpr
from ..core.staging import abstractify, as_operand, trace_to_jaxpr
from ..core.trace import Primitive, _context
from ..transforms.ad import (
    LinearTangentTrace,
    Zero,
    instantiate,
    is_undefined,
    tangent_aval,
    zeros_like_aval,
)


def _eval_call(*args: Any, call_jaxpr: ClosedJaxpr, num_consts: int = 0, **_: Any) -> list:
    return eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts, *args)


def _call_primitive(name: str) -> Primitive:
    prim = Primitive(
        name,
        impl=None,  # evaluated on Arrays by ``eager`` below (the body is a jaxpr, not a NumPy function)
        abstract_eval=lambda *avals, call_jaxpr, **params: call_jaxpr.out_avals,
        multiple_results=True,
    )
    prim.eager = _eval_call
    return prim


def _resolve_arguments(fun: Callable, args: tuple, kwargs: dict) -> tuple:
    if not kwargs:
        return args
    bound = inspect.signature(fun).bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.args) + tuple(bound.kwargs.values())


def _split_nondiff(args: tuple, nondiff_argnums: Sequence[int]) -> tuple[list, list]:
    nondiff = [args[i] for i in nondiff_argnums]
    diff = [a for i, a in enumerate(args) if i not in nondiff_argnums]
    return nondiff, diff


def _merge_nondiff(nondiff: list, diff: Sequence[Any], nondiff_argnums: Sequence[int]) -> list:
    out, diff_iter, nondiff_iter = [], iter(diff), iter(nondiff)
    for i in range(len(nondiff) + len(diff)):
        out.append(next(nondiff_iter) if i in nondiff_argnums else next(diff_iter))
    return out


def _trace_body(fun: Callable, flat_args: list, in_tree: Any) -> tuple[ClosedJaxpr, Any]:
    out_tree_box: list = []

    def flat_fun(*leaves: Any) -> list:
        out = fun(*tree_util.tree_unflatten(in_tree, leaves))
        flat_out, out_tree = tree_util.tree_flatten(out)
        out_tree_box.append(out_tree)
        return flat_out

    closed = trace_to_jaxpr(flat_fun, [abstractify(x) for x in flat_args], fun)
    return closed, out_tree_box[0]


def _closure_error(kind: str, fun: Callable) -> TypeError:
    name = getattr(fun, "__name__", repr(fun))
    return TypeError(
        f"The {kind} function {name} closes over a value that is being differentiated, so its custom rule "
        "cannot see that dependence and the derivative would be wrong. Fix: pass that value as an explicit "
        "argument of the function."
    )


# ---------------------------------------------------------------------------------------------------
# custom_jvp
# ---------------------------------------------------------------------------------------------------

custom_jvp_call_p = _call_primitive("custom_jvp_call")


class custom_jvp:
    """A function with a user-defined JVP rule (``defjvp``/``defjvps``), as ``jax.custom_jvp``.

    Example:
        >>> @fl.custom_jvp
        ... def f(x):
        ...     return fnp.sin(x)
        >>> f.defjvp(lambda primals, tangents: (f(*primals), 2.0 * tangents[0]))
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable | None = None
        self.symbolic_zeros = False

    def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
        """Set the rule ``jvp(primals, tangents) -> (primal_out, tangent_out)``; returns ``jvp``."""
        self.jvp = jvp
        self.symbolic_zeros = symbolic_zeros
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """Set one rule per argument, ``jvp_i(tangent_i, primal_out, *primals)``; None means zero."""

        def jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple:
            out = self(*primals)
            total = None
            for rule, t in zip(jvps, tangents):
                if rule is None:
                    continue
                term = rule(t, out, *primals)
                total = term if total is None else tree_util.tree_map(lambda a, b: a + b, total, term)
            if total is None:
                total = tree_util.tree_map(lambda o: o * 0, out)
            return out, total

        self.defjvp(jvp)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.jvp is None:
            raise AttributeError(
                f"No JVP defined for custom_jvp function {self.__name__}: call {self.__name__}.defjvp(...) "
                "before calling it."
            )
        args = _resolve_arguments(self.fun, args, kwargs)
        if _context.trace is None:
            return self.fun(*args)  # nothing can differentiate it here
        nondiff, diff = _split_nondiff(args, self.nondiff_argnums)
        flat, in_tree = tree_util.tree_flatten(tuple(diff))
        flat = [as_operand(x) for x in flat]

        def body(*diff_args: Any) -> Any:
            return self.fun(*_merge_nondiff(nondiff, diff_args, self.nondiff_argnums))

        closed, out_tree = _trace_body(body, flat, in_tree)
        rule = self._flat_rule(nondiff, in_tree, out_tree)
        consts = closed.consts
        call = ClosedJaxpr(_with_const_invars(closed), [])
        outs = custom_jvp_call_p.bind(
            *consts,
            *flat,
            call_jaxpr=call,
            jvp_jaxpr_fun=rule,
            num_consts=len(consts),
            symbolic_zeros=self.symbolic_zeros,
        )
        return tree_util.tree_unflatten(out_tree, outs)

    def _flat_rule(self, nondiff: list, in_tree: Any, out_tree: Any) -> Callable:
        def rule(primals: list, tangents: list) -> tuple[list, list]:
            # As in JAX: nondiff arguments first, then the primals and tangents of the differentiable ones.
            p_diff = tree_util.tree_unflatten(in_tree, primals)
            t_diff = tree_util.tree_unflatten(in_tree, tangents)
            out, t_out = self.jvp(*nondiff, tuple(p_diff), tuple(t_diff))
            flat_out, tree_o = tree_util.tree_flatten(out)
            flat_t, _ = tree_util.tree_flatten(t_out)
            if tree_o != out_tree:
                raise TypeError(
                    f"custom_jvp rule of {self.__name__} returned a primal output with structure {tree_o}, "
                    f"but the function returns {out_tree}."
                )
            return flat_out, flat_t

        return rule


def _with_const_invars(closed: ClosedJaxpr) -> Any:
    """Turn constvars into leading invars, so consts travel as explicit operands of the call."""
    from ..core.jaxpr import Jaxpr

    j = closed.jaxpr
    return Jaxpr([], list(j.constvars) + list(j.invars), j.eqns, j.outvars)


def _custom_jvp_call_jvp(primals: list, tangents: list, *, call_jaxpr: ClosedJaxpr, jvp_jaxpr_fun: Callable,
                         num_consts: int, symbolic_zeros: bool) -> tuple[list, list]:  # fmt: skip
    const_tangents, arg_tangents = tangents[:num_consts], tangents[num_consts:]
    if any(type(t) is not Zero for t in const_tangents):
        raise _closure_error("custom_jvp", jvp_jaxpr_fun)
    args = primals[num_consts:]
    if all(type(t) is Zero for t in arg_tangents):
        outs = custom_jvp_call_p.bind(*primals, call_jaxpr=call_jaxpr, jvp_jaxpr_fun=jvp_jaxpr_fun,
                                      num_consts=num_consts, symbolic_zeros=symbolic_zeros)  # fmt: skip
        return outs, [Zero(tangent_aval(a)) for a in call_jaxpr.out_avals]
    if not symbolic_zeros:
        arg_tangents = [instantiate(t) for t in arg_tangents]
    outs, tangents_out = jvp_jaxpr_fun(args, arg_tangents)
    return outs, [
        t if t is not None else Zero(tangent_aval(a)) for t, a in zip(tangents_out, call_jaxpr.out_avals)
    ]


custom_jvp_call_p.jvp = _custom_jvp_call_jvp


# ---------------------------------------------------------------------------------------------------
# custom_vjp
# ---------------------------------------------------------------------------------------------------

custom_vjp_call_p = _call_primitive("custom_vjp_call")


class custom_vjp:
    """A function with user-defined reverse-mode rules ``fwd``/``bwd`` (``defvjp``), as ``jax.custom_vjp``.

    ``fwd(*args) -> (out, residuals)``; ``bwd(residuals, out_cotangent) -> tuple of input cotangents``
    (None for a zero). Nondiff arguments come first in ``bwd``'s arguments.

    Example:
        >>> @fl.custom_vjp
        ... def clip_gradient(x):
        ...     return x
        >>> clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (fnp.clip(g, -1.0, 1.0),))
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False) -> None:
        """Set the forward (returning residuals) and backward rules."""
        self.fwd = fwd
        self.bwd = bwd

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fwd is None:
            raise AttributeError(
                f"No VJP defined for custom_vjp function {self.__name__}: call {self.__name__}.defvjp(fwd, bwd) "
                "before calling it."
            )
        args = _resolve_arguments(self.fun, args, kwargs)
        if _context.trace is None:
            return self.fun(*args)
        nondiff, diff = _split_nondiff(args, self.nondiff_argnums)
        flat, in_tree = tree_util.tree_flatten(tuple(diff))
        flat = [as_operand(x) for x in flat]

        def body(*diff_args: Any) -> Any:
            return self.fun(*_merge_nondiff(nondiff, diff_args, self.nondiff_argnums))

        closed, out_tree = _trace_body(body, flat, in_tree)
        consts = closed.consts
        outs = custom_vjp_call_p.bind(
            *consts,
            *flat,
            call_jaxpr=ClosedJaxpr(_with_const_invars(closed), []),
            fwd_jaxpr_thunk=self._flat_fwd(nondiff, in_tree, out_tree),
            bwd=self._flat_bwd(nondiff, in_tree, out_tree),
            num_consts=len(consts),
            out_trees=out_tree,
            symbolic_zeros=False,
        )
        return tree_util.tree_unflatten(out_tree, outs)

    def _flat_fwd(self, nondiff: list, in_tree: Any, out_tree: Any) -> Callable:
        def fwd(primals: list) -> tuple[list, list, Any]:
            args = _merge_nondiff(nondiff, tree_util.tree_unflatten(in_tree, primals), self.nondiff_argnums)
            result = self.fwd(*args)
            if not (isinstance(result, (tuple, list)) and len(result) == 2):
                raise TypeError(
                    f"custom_vjp fwd of {self.__name__} must return a pair (output, residuals), got "
                    f"{type(result).__name__}."
                )
            out, res = result
            flat_out, tree_o = tree_util.tree_flatten(out)
            if tree_o != out_tree:
                raise TypeError(
                    f"custom_vjp fwd of {self.__name__} returned an output with structure {tree_o}, but the "
                    f"function returns {out_tree}."
                )
            flat_res, res_tree = tree_util.tree_flatten(res)
            return flat_out, flat_res, res_tree

        return fwd

    def _flat_bwd(self, nondiff: list, in_tree: Any, out_tree: Any) -> Callable:
        def bwd(res_tree: Any, residuals: list, cts: list, in_avals: list) -> list:
            res = tree_util.tree_unflatten(res_tree, residuals)
            ct = tree_util.tree_unflatten(out_tree, cts)
            result = self.bwd(*nondiff, res, ct)
            if not isinstance(result, (tuple, list)):
                raise TypeError(
                    f"custom_vjp bwd of {self.__name__} must return a tuple with one cotangent per "
                    f"differentiable argument, got {type(result).__name__}."
                )
            expected = tree_util.tree_unflatten(in_tree, [None] * in_tree.num_leaves)
            if len(result) != len(expected):
                raise TypeError(
                    f"custom_vjp bwd of {self.__name__} returned {len(result)} cotangents for "
                    f"{len(expected)} differentiable arguments."
                )
            flat = []
            for part, arg_tree_leaves in zip(result, expected):
                n = tree_util.tree_structure(arg_tree_leaves).num_leaves if arg_tree_leaves is not None else 1
                if part is None:
                    flat.extend([None] * n)
                else:
                    flat.extend(tree_util.tree_leaves(part, is_leaf=lambda x: x is None))
            return [zeros_like_aval(a) if c is None else c for c, a in zip(flat, in_avals)]

        return bwd


def _custom_vjp_call_jvp(primals: list, tangents: list, *, call_jaxpr: ClosedJaxpr, fwd_jaxpr_thunk: Callable,
                         bwd: Callable, num_consts: int, out_trees: Any, symbolic_zeros: bool) -> tuple[list, list]:  # fmt: skip
    const_tangents, arg_tangents = tangents[:num_consts], tangents[num_consts:]
    if any(type(t) is not Zero for t in const_tangents):
        raise _closure_error("custom_vjp", bwd)
    args = primals[num_consts:]
    if all(type(t) is Zero for t in arg_tangents):
        outs = custom_vjp_call_p.bind(*primals, call_jaxpr=call_jaxpr, fwd_jaxpr_thunk=fwd_jaxpr_thunk, bwd=bwd,
                                      num_consts=num_consts, out_trees=out_trees, symbolic_zeros=symbolic_zeros)  # fmt: skip
        return outs, [Zero(tangent_aval(a)) for a in call_jaxpr.out_avals]
    if not isinstance(_context.trace, LinearTangentTrace):
        raise TypeError(
            "can't apply forward-mode autodiff (jvp) to a custom_vjp function. Use reverse mode (grad, vjp, "
            "jacrev), or define the function with custom_jvp instead."
        )
    outs, residuals, res_tree = fwd_jaxpr_thunk(args)
    in_avals = [tangent_aval(abstractify(a)) for a in args]
    out_avals = [tangent_aval(a) for a in call_jaxpr.out_avals]
    tangents_out = custom_lin_p.bind(
        *residuals,
        *[instantiate(t) for t in arg_tangents],
        num_res=len(residuals),
        bwd=bwd,
        res_tree=res_tree,
        in_avals=tuple(in_avals),
        out_avals=tuple(out_avals),
    )
    return outs, tangents_out


custom_vjp_call_p.jvp = _custom_vjp_call_jvp

# custom_lin: the linear stand-in for a custom_vjp function inside a linear jaxpr; transposing it calls bwd.
custom_lin_p = Primitive(
    "custom_lin",
    impl=None,
    abstract_eval=lambda *avals, out_avals, **params: list(out_avals),
    multiple_results=True,
)


def _custom_lin_eager(*args: Any, **params: Any) -> Any:
    raise TypeError(
        "custom_lin (the linearized form of a custom_vjp function) can only be transposed, not evaluated: "
        "forward-mode differentiation of a custom_vjp function is not supported."
    )


def _custom_lin_transpose(cts: list, *args: Any, num_res: int, bwd: Callable, res_tree: Any,
                          in_avals: tuple, out_avals: tuple) -> list:  # fmt: skip
    residuals = list(args[:num_res])
    if any(is_undefined(r) for r in residuals):
        raise TypeError("custom_lin residuals must be known values.")
    cts = [instantiate(c) for c in cts]
    cts_in = bwd(res_tree, residuals, cts, list(in_avals))
    return [None] * num_res + list(cts_in)


custom_lin_p.eager = _custom_lin_eager
custom_lin_p.transpose = _custom_lin_transpose


# ---------------------------------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------------------------------
#
# A batched call re-traces its body under vmap (``eval_jaxpr`` of the body inside ``vmap_flat``, staged with
# ``trace_to_jaxpr``) and rebinds the same primitive with the batched body, so the result keeps its custom
# rule under any transformation applied later. The user's rules are wrapped to be vmapped the same way
# when they run: the JVP rule over primals and tangents, fwd over the primals, bwd over residuals and
# cotangents. Every output of a batched call has its batch dim first.

import numpy as np  # noqa: E402

from ..core.trace import ShapedArray, aval_of  # noqa: E402
from ..transforms.ad import float0  # noqa: E402
from ..transforms.batching import bdim_at_front, move_axis  # noqa: E402


def _unbatched_aval(aval: ShapedArray) -> ShapedArray:
    return ShapedArray(aval.shape[1:], aval.dtype, aval.weak_type)


def _batched_aval(aval: ShapedArray, axis_size: int) -> ShapedArray:
    return ShapedArray((axis_size,) + tuple(aval.shape), aval.dtype, aval.weak_type)


def _all_at_front(outs: list) -> list:
    return [0] * len(outs)


def batch_closed_jaxpr(
    closed: ClosedJaxpr, axis_size: int, in_axes: list, operands: list
) -> tuple[ClosedJaxpr, list]:
    """The body ``closed`` vmapped over ``in_axes`` (0 or None per operand, matching ``operands``), every
    output batched at 0. Returns a const-free jaxpr taking ``(*new_consts, *operands)`` and ``new_consts``
    (constants the batching rules introduced)."""
    from ..transforms.vmap import vmap_flat

    def batched(*args: Any) -> list:
        def body(*xs: Any) -> list:
            return eval_jaxpr(closed.jaxpr, closed.consts, *xs)

        return vmap_flat(body, list(args), list(in_axes), _all_at_front, axis_size)

    traced = trace_to_jaxpr(batched, [abstractify(x) for x in operands], batched)
    return ClosedJaxpr(_with_const_invars(traced), []), list(traced.consts)


def _is_float0(x: Any) -> bool:
    return x is None or type(x) is Zero or aval_of(x).dtype == float0


def _batched_jvp_rule(rule: Callable, axis_size: int, arg_axes: list) -> Callable:
    """``rule`` (flat primals, flat tangents -> flat outs, flat tangent outs) vmapped over the args' batch
    dims (0 or None). Symbolic-zero and float0 tangents stay constants of one element's type."""
    from ..transforms.vmap import vmap_flat

    def batched(primals: list, tangents: list) -> tuple[list, list]:
        n = len(primals)
        fixed: list = []  # per tangent: None (passed through vmap) or the constant to use
        mapped, mapped_axes = [], []
        for t, ax in zip(tangents, arg_axes):
            if type(t) is Zero or aval_of(t).dtype == float0:
                aval = t.aval if type(t) is Zero else aval_of(t)
                aval = aval if ax is None else _unbatched_aval(aval)
                fixed.append(Zero(aval) if type(t) is Zero else np.zeros(aval.shape, float0))
            else:
                fixed.append(None)
                mapped.append(t)
                mapped_axes.append(ax)
        real_box: list = []

        def inner(*flat: Any) -> list:
            ts = iter(flat[n:])
            inner_tangents = [next(ts) if f is None else f for f in fixed]
            outs, t_outs = rule(list(flat[:n]), inner_tangents)
            real = [not _is_float0(t) for t in t_outs]
            real_box.append(real)
            return list(outs) + [t for t, r in zip(t_outs, real) if r]

        flat = vmap_flat(
            inner, list(primals) + mapped, list(arg_axes) + mapped_axes, _all_at_front, axis_size
        )
        real = real_box[0]
        outs, real_t = flat[: len(real)], iter(flat[len(real) :])
        return outs, [next(real_t) if r else None for r in real]

    return batched


def _custom_jvp_call_batch(axis_size: int, vals: list, dims: list, *, call_jaxpr: ClosedJaxpr,
                           jvp_jaxpr_fun: Callable, num_consts: int, symbolic_zeros: bool) -> tuple[list, list]:  # fmt: skip
    vals = [v if d is None else move_axis(v, d, 0) for v, d in zip(vals, dims)]
    in_axes = [None if d is None else 0 for d in dims]
    body, new_consts = batch_closed_jaxpr(call_jaxpr, axis_size, in_axes, vals)
    outs = custom_jvp_call_p.bind(
        *new_consts,
        *vals,
        call_jaxpr=body,
        jvp_jaxpr_fun=_batched_jvp_rule(jvp_jaxpr_fun, axis_size, in_axes[num_consts:]),
        num_consts=len(new_consts) + num_consts,
        symbolic_zeros=symbolic_zeros,
    )
    return outs, _all_at_front(outs)


custom_jvp_call_p.batch = _custom_jvp_call_batch


def _batched_fwd(fwd: Callable, axis_size: int) -> Callable:
    """A custom_vjp ``fwd`` vmapped over primals batched at 0; outputs and residuals are batched at 0."""
    from ..transforms.vmap import vmap_flat

    def batched(primals: list) -> tuple[list, list, Any]:
        box: list = []

        def inner(*args: Any) -> list:
            outs, residuals, res_tree = fwd(list(args))
            box.append((len(outs), res_tree))
            return list(outs) + list(residuals)

        flat = vmap_flat(inner, list(primals), [0] * len(primals), _all_at_front, axis_size)
        n, res_tree = box[0]
        return flat[:n], flat[n:], res_tree

    return batched


def _batched_bwd(bwd: Callable, axis_size: int, res_axes: list | None = None) -> Callable:
    """A custom_vjp ``bwd`` vmapped over residuals (batched at ``res_axes``, default all 0) and cotangents
    (batched at 0); it gets one element's input avals and returns cotangents batched at 0."""
    from ..transforms.vmap import vmap_flat

    def batched(res_tree: Any, residuals: list, cts: list, in_avals: list) -> list:
        axes = [0] * len(residuals) if res_axes is None else list(res_axes)
        inner_avals = [_unbatched_aval(a) for a in in_avals]
        keep = [a.dtype != float0 for a in in_avals]
        fixed = [np.zeros(aval_of(c).shape[1:], float0) if _is_float0(c) else None for c in cts]
        mapped = [c for c, f in zip(cts, fixed) if f is None]
        nr = len(residuals)

        def inner(*flat: Any) -> list:
            mapped_cts = iter(flat[nr:])
            inner_cts = [next(mapped_cts) if f is None else f for f in fixed]
            outs = bwd(res_tree, list(flat[:nr]), inner_cts, inner_avals)
            return [o for o, k in zip(outs, keep) if k]

        flat = iter(
            vmap_flat(inner, list(residuals) + mapped, axes + [0] * len(mapped), _all_at_front, axis_size)
        )
        return [next(flat) if k else zeros_like_aval(a) for a, k in zip(in_avals, keep)]

    return batched


def _custom_vjp_call_batch(axis_size: int, vals: list, dims: list, *, call_jaxpr: ClosedJaxpr,
                           fwd_jaxpr_thunk: Callable, bwd: Callable, num_consts: int, out_trees: Any,
                           symbolic_zeros: bool) -> tuple[list, list]:  # fmt: skip
    # Arguments all get the batch first (materialised where missing), so fwd and bwd map over every one of
    # them; an unbatched argument's cotangent is then summed over the batch by the broadcast's transpose.
    consts = [v if d is None else move_axis(v, d, 0) for v, d in zip(vals[:num_consts], dims[:num_consts])]
    args = [bdim_at_front(v, d, axis_size) for v, d in zip(vals[num_consts:], dims[num_consts:])]
    in_axes = [None if d is None else 0 for d in dims[:num_consts]] + [0] * len(args)
    body, new_consts = batch_closed_jaxpr(call_jaxpr, axis_size, in_axes, consts + args)
    outs = custom_vjp_call_p.bind(
        *new_consts,
        *consts,
        *args,
        call_jaxpr=body,
        fwd_jaxpr_thunk=_batched_fwd(fwd_jaxpr_thunk, axis_size),
        bwd=_batched_bwd(bwd, axis_size),
        num_consts=len(new_consts) + num_consts,
        out_trees=out_trees,
        symbolic_zeros=symbolic_zeros,
    )
    return outs, _all_at_front(outs)


custom_vjp_call_p.batch = _custom_vjp_call_batch


def _custom_lin_batch(axis_size: int, vals: list, dims: list, *, num_res: int, bwd: Callable, res_tree: Any,
                      in_avals: tuple, out_avals: tuple) -> tuple[list, list]:  # fmt: skip
    residuals = [v if d is None else move_axis(v, d, 0) for v, d in zip(vals[:num_res], dims[:num_res])]
    res_axes = [None if d is None else 0 for d in dims[:num_res]]
    tangents = []
    for t, d, aval in zip(vals[num_res:], dims[num_res:], in_avals):
        if aval.dtype == float0:
            tangents.append(np.zeros((axis_size,) + tuple(aval.shape), float0))
        else:
            tangents.append(bdim_at_front(t, d, axis_size))
    outs = custom_lin_p.bind(
        *residuals,
        *tangents,
        num_res=num_res,
        bwd=_batched_bwd(bwd, axis_size, res_axes),
        res_tree=res_tree,
        in_avals=tuple(_batched_aval(a, axis_size) for a in in_avals),
        out_avals=tuple(_batched_aval(a, axis_size) for a in out_avals),
    )
    return outs, _all_at_front(outs)


custom_lin_p.batch = _custom_lin_batch
