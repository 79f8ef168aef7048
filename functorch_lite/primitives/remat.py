"""``checkpoint`` (``remat``): save only a function's inputs for the backward pass and recompute its
forward pass there, trading compute for memory. A higher-order primitive holding the function's jaxpr.

Under reverse mode the JVP rule stages one ``checkpoint`` equation (``differentiated=True``) whose body is
the function's JVP jaxpr: its transpose runs ``backward_pass`` with the saved primal inputs as non-linear
arguments, so the forward computation is re-evaluated during the backward pass.

Example:
    >>> layer = fl.checkpoint(lambda w, x: fnp.tanh(x @ w))
    >>> fl.grad(lambda w: layer(w, x).sum())(w)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from .. import tree_util
from ..core.jaxpr import ClosedJaxpr, Jaxpr, eval_jaxpr
from ..core.staging import abstractify, as_operand, trace_to_jaxpr
from ..core.trace import Primitive, _context
from ..transforms.ad import (
    LinearTangentTrace,
    Zero,
    backward_pass,
    instantiate,
    is_undefined,
    jvp_flat,
    tangent_aval,
)

checkpoint_p = Primitive(
    "checkpoint",
    impl=None,
    abstract_eval=lambda *avals, jaxpr, **params: jaxpr.out_avals,
    multiple_results=True,
)


def _eval(*args: Any, jaxpr: ClosedJaxpr, **params: Any) -> list:
    return eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *args)


checkpoint_p.eager = _eval


def checkpoint(
    fun: Callable, *, prevent_cse: bool = True, policy: Any = None, static_argnums: int | Sequence[int] = ()
) -> Callable:
    """Make ``fun`` recompute its forward pass during the backward pass instead of saving residuals.

    Example: ``fl.grad(lambda w: fl.checkpoint(block)(w, x).sum())(w)``.
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    if policy is not None:
        raise NotImplementedError("checkpoint policies are not supported; every intermediate is recomputed.")

    @wraps(fun)
    def checkpointed(*args: Any) -> Any:
        if _context.trace is None:
            return fun(*args)
        static_vals = {i: args[i] for i in static}
        dynamic = [a for i, a in enumerate(args) if i not in static]
        flat, in_tree = tree_util.tree_flatten(tuple(dynamic))
        flat = [as_operand(x) for x in flat]
        out_tree_box: list = []

        def flat_fun(*leaves: Any) -> list:
            dyn = iter(tree_util.tree_unflatten(in_tree, leaves))
            full = [static_vals[i] if i in static_vals else next(dyn) for i in range(len(args))]
            out, out_tree = tree_util.tree_flatten(fun(*full))
            out_tree_box.append(out_tree)
            return out

        closed = trace_to_jaxpr(flat_fun, [abstractify(x) for x in flat], fun)
        body = Jaxpr(
            [], closed.jaxpr.constvars + closed.jaxpr.invars, closed.jaxpr.eqns, closed.jaxpr.outvars
        )
        outs = checkpoint_p.bind(
            *closed.consts,
            *flat,
            jaxpr=ClosedJaxpr(body, []),
            prevent_cse=prevent_cse,
            differentiated=False,
            policy=None,
        )
        return tree_util.tree_unflatten(out_tree_box[0], outs)

    return checkpointed


remat = checkpoint


def _checkpoint_jvp(primals: list, tangents: list, *, jaxpr: ClosedJaxpr, prevent_cse: bool,
                    differentiated: bool, policy: Any) -> tuple[list, list]:  # fmt: skip
    def body(*args: Any) -> list:
        return eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *args)

    if not isinstance(_context.trace, LinearTangentTrace):
        return jvp_flat(body, primals, tangents)  # forward mode: nothing to save
    outs = checkpoint_p.bind(*primals, jaxpr=jaxpr, prevent_cse=prevent_cse, differentiated=differentiated,
                             policy=policy)  # fmt: skip
    if all(type(t) is Zero for t in tangents):
        return outs, [Zero(tangent_aval(a)) for a in jaxpr.out_avals]
    # Stage the whole JVP of the body (primal recomputation included) as one linear equation.
    n = len(primals)
    mask = [type(t) is not Zero for t in tangents]
    tangent_avals = [tangent_aval(abstractify(p)) for p, m in zip(primals, mask) if m]

    def jvp_body(*args: Any) -> list:
        ps, ts = list(args[:n]), iter(args[n:])
        full_t = [next(ts) if m else Zero(tangent_aval(abstractify(p))) for p, m in zip(ps, mask)]
        return jvp_flat(body, ps, full_t)[1]

    traced = trace_to_jaxpr(jvp_body, [abstractify(p) for p in primals] + tangent_avals, body)
    lin = Jaxpr([], traced.jaxpr.constvars + traced.jaxpr.invars, traced.jaxpr.eqns, traced.jaxpr.outvars)
    tangents_out = checkpoint_p.bind(
        *traced.consts, *primals, *[t for t in tangents if type(t) is not Zero],
        jaxpr=ClosedJaxpr(lin, []), prevent_cse=prevent_cse, differentiated=True, policy=policy,
    )  # fmt: skip
    return outs, tangents_out


def _checkpoint_transpose(cts: list, *args: Any, jaxpr: ClosedJaxpr, prevent_cse: bool, differentiated: bool,
                          policy: Any) -> list:  # fmt: skip
    if not differentiated:
        raise TypeError("a checkpoint body is only transposable after differentiation.")
    cts_in = backward_pass(jaxpr.jaxpr, [], [instantiate(c) for c in cts], list(args))
    return [None if not is_undefined(a) else c for a, c in zip(args, cts_in)]


checkpoint_p.jvp = _checkpoint_jvp
checkpoint_p.transpose = _checkpoint_transpose


# ---------------------------------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------------------------------
#
# The body is re-traced under vmap and the checkpoint rebound with it (so it is still recomputed in the
# backward pass of any differentiation applied later); every output has its batch dim first.

from ..transforms.batching import move_axis  # noqa: E402
from .custom_derivatives import batch_closed_jaxpr  # noqa: E402


def _checkpoint_batch(axis_size: int, vals: list, dims: list, *, jaxpr: ClosedJaxpr, prevent_cse: bool,
                      differentiated: bool, policy: Any) -> tuple[list, list]:  # fmt: skip
    vals = [v if d is None else move_axis(v, d, 0) for v, d in zip(vals, dims)]
    in_axes = [None if d is None else 0 for d in dims]
    body, new_consts = batch_closed_jaxpr(jaxpr, axis_size, in_axes, vals)
    outs = checkpoint_p.bind(*new_consts, *vals, jaxpr=body, prevent_cse=prevent_cse,
                             differentiated=differentiated, policy=policy)  # fmt: skip
    return outs, [0] * len(outs)


checkpoint_p.batch = _checkpoint_batch
