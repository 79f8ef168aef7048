"""The public autodiff API, with JAX's signatures: jvp, linearize, vjp, grad, value_and_grad, jacfwd,
jacrev, hessian. The machinery is in ``transforms/ad.py``.

Example:
    >>> fl.grad(lambda x: fnp.sum(fnp.tanh(x) ** 2))(fnp.ones(3))
    Array([0.41997433, 0.41997433, 0.41997433], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

import numpy as np

from .. import tree_util
from ..core import dtypes
from ..core.array import Array
from ..core.source_info import describe_function
from ..core.trace import Tracer, aval_of
from .ad import JVPTracer, float0, jvp_flat, linearize_flat, tangent_aval


def _check_tangent(primal: Any, tangent: Any, where: str) -> None:
    expected = tangent_aval(aval_of(primal))
    got = aval_of(tangent) if not (isinstance(tangent, np.ndarray) and tangent.dtype == float0) else None
    if got is None:
        if expected.dtype != float0:
            raise TypeError(f"{where}: a float0 tangent was given for a {expected.str_short()} primal.")
        return
    if tuple(got.shape) != tuple(expected.shape) or got.dtype != expected.dtype:
        error = ValueError if tuple(got.shape) != tuple(expected.shape) else TypeError  # as JAX
        raise error(
            f"{where}: primal and tangent arguments must have equal shapes and dtypes (tangent dtype "
            f"float0 for integer primals); got primal {aval_of(primal).str_short()} with tangent "
            f"{got.str_short()}."
        )


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> tuple:
    """Forward-mode derivative: ``(fun(*primals), J @ tangents)``.

    Example: ``fl.jvp(fnp.sin, (x,), (fnp.ones_like(x),))`` is ``(sin(x), cos(x))``.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists, e.g. jvp(f, (x,), (t,)).")
    flat_p, tree_p = tree_util.tree_flatten(tuple(primals))
    flat_t, tree_t = tree_util.tree_flatten(tuple(tangents))
    if tree_p != tree_t:
        raise TypeError(
            f"jvp: primal and tangent arguments must have the same tree structure; got {tree_p} and {tree_t}."
        )
    flat_p = [_as_array(p) for p in flat_p]
    flat_t = [t if isinstance(t, np.ndarray) and t.dtype == float0 else _as_array(t) for t in flat_t]
    for p, t in zip(flat_p, flat_t):
        _check_tangent(p, t, "jvp")
    out_tree_box: list = []

    def flat_fun(*leaves: Any) -> list:
        out = fun(*tree_util.tree_unflatten(tree_p, leaves))
        if has_aux:
            out, aux = _split_aux(out, "jvp")
            out_tree_box.append(aux)
        leaves_out, tree_out = tree_util.tree_flatten(out)
        out_tree_box.insert(0, tree_out)
        return leaves_out

    primals_out, tangents_out = jvp_flat(flat_fun, flat_p, flat_t)
    tree_out = out_tree_box[0]
    result = (
        tree_util.tree_unflatten(tree_out, primals_out),
        tree_util.tree_unflatten(tree_out, tangents_out),
    )
    if has_aux:
        return result + (_strip(out_tree_box[1]),)
    return result


def linearize(fun: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` evaluates the staged linear map.

    Example: ``y, f_jvp = fl.linearize(fnp.sin, x); f_jvp(t)`` is ``cos(x) * t``.
    """
    outs, linear, tree_in, tree_out, aux = _linearize(fun, primals, has_aux, "linearize")

    def f_jvp(*tangents: Any) -> Any:
        flat_t, tree_t = tree_util.tree_flatten(tuple(tangents))
        if tree_t != tree_in:
            raise TypeError(f"linearize: tangent tree {tree_t} does not match the primal tree {tree_in}.")
        return tree_util.tree_unflatten(tree_out, linear.jvp([_as_array(t) for t in flat_t]))

    result = (tree_util.tree_unflatten(tree_out, outs), f_jvp)
    return result + (aux,) if has_aux else result


def vjp(fun: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(fun(*primals), f_vjp)`` where ``f_vjp(cotangent)`` returns one cotangent per primal.

    Example: ``y, f_vjp = fl.vjp(fnp.sin, x); f_vjp(fnp.ones_like(y))`` is ``(cos(x),)``.
    """
    outs, linear, tree_in, tree_out, aux = _linearize(fun, primals, has_aux, "vjp")
    out_avals = [aval_of(o) for o in outs]

    def f_vjp(cotangent: Any) -> tuple:
        flat_ct, tree_ct = tree_util.tree_flatten(cotangent)
        if tree_ct != tree_out:
            raise ValueError(
                f"vjp: the cotangent's tree structure {tree_ct} must match the output's {tree_out}."
            )
        checked = []
        for ct, aval in zip(flat_ct, out_avals):
            ct = _as_array(ct)
            expected = tangent_aval(aval)
            if tuple(ct.shape) != tuple(expected.shape) or (
                expected.dtype != float0 and ct.dtype != expected.dtype
            ):
                raise ValueError(
                    f"vjp: cotangent of type {aval_of(ct).str_short()} does not match the output type "
                    f"{expected.str_short()}; pass a cotangent with the output's shape and dtype."
                )
            checked.append(ct)
        return tree_util.tree_unflatten(tree_in, linear.vjp(checked))

    result = (tree_util.tree_unflatten(tree_out, outs), f_vjp)
    return result + (aux,) if has_aux else result


def _linearize(fun: Callable, primals: tuple, has_aux: bool, name: str) -> tuple:
    flat_p, tree_in = tree_util.tree_flatten(tuple(primals))
    flat_p = [_as_array(p) for p in flat_p]
    boxes: list = []

    def flat_fun(*leaves: Any) -> list:
        out = fun(*tree_util.tree_unflatten(tree_in, leaves))
        if has_aux:
            out, aux = _split_aux(out, name)
            boxes.append(aux)
        leaves_out, tree_out = tree_util.tree_flatten(out)
        boxes.insert(0, tree_out)
        return leaves_out

    outs, linear = linearize_flat(flat_fun, flat_p, fun)
    aux = _strip(boxes[1]) if has_aux else None
    return outs, linear, tree_in, boxes[0], aux


def _split_aux(out: Any, name: str) -> tuple:
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(
            f"{name} with has_aux=True requires the function to return a pair (output, auxiliary data), "
            f"got {type(out).__name__}{'' if not isinstance(out, (tuple, list)) else f' of length {len(out)}'}."
        )
    return out[0], out[1]


def _strip(tree: Any) -> Any:
    """Auxiliary outputs are returned as values, not tracers of the finished differentiation."""

    def primal(x: Any) -> Any:
        while type(x) is JVPTracer:
            x = x.primal
        return x

    return tree_util.tree_map(primal, tree)


def _as_array(x: Any) -> Any:
    if isinstance(x, (Array, Tracer)):
        return x
    from ..numpy import asarray

    return asarray(x)


def _argnums_tuple(argnums: int | Sequence[int], nargs: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise TypeError(
                f"{name}: argnums={argnums} refers to argument {i}, but the function was called with "
                f"{nargs} positional argument(s)."
            )
    return tuple(i % nargs for i in nums)


def _check_inputs_differentiable(leaves: list, allow_int: bool, name: str, fun: Callable) -> None:
    for leaf in leaves:
        dtype = aval_of(leaf).dtype
        if not dtypes.is_inexact(dtype) and not allow_int:
            raise TypeError(
                f"{name} requires real- or complex-valued inputs (input dtype that is a sub-dtype of "
                f"np.inexact), but got {dtype.name} for an input of {describe_function(fun)}. If you want "
                "to use integer-valued inputs, use vjp or set allow_int to True (the gradient is then a "
                "float0 zero)."
            )


def value_and_grad(
    fun: Callable,
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    allow_int: bool = False,
) -> Callable:
    """A function returning ``(fun(*args), gradient)`` with respect to ``argnums`` (pytrees allowed).

    Example: ``loss, grads = fl.value_and_grad(loss_fn)(params, x, y)``.
    """

    @wraps(fun)
    def value_and_grad_fun(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "grad")
        diff_args = tuple(args[i] for i in nums)
        _check_inputs_differentiable(tree_util.tree_leaves(diff_args), allow_int, "grad", fun)

        def partial_fun(*dargs: Any) -> Any:
            full = list(args)
            for i, a in zip(nums, dargs):
                full[i] = a
            return fun(*full, **kwargs)

        if has_aux:
            out, f_vjp, aux = vjp(partial_fun, *diff_args, has_aux=True)
        else:
            out, f_vjp = vjp(partial_fun, *diff_args)
        _check_scalar_output(out, fun, holomorphic)
        from ..numpy import ones_like

        grads = f_vjp(ones_like(out))
        grads = grads[0] if isinstance(argnums, int) else grads
        return ((out, aux), grads) if has_aux else (out, grads)

    return value_and_grad_fun


def _check_scalar_output(out: Any, fun: Callable, holomorphic: bool) -> None:
    if not isinstance(out, (Array, Tracer)):
        kind = type(out).__name__
        raise TypeError(
            f"Gradient only defined for scalar-output functions. Output of {describe_function(fun)} was a "
            f"{kind}. If the function returns (value, auxiliary data), pass has_aux=True."
        )
    aval = aval_of(out)
    if aval.shape != ():
        raise TypeError(
            f"Gradient only defined for scalar-output functions. Output of {describe_function(fun)} had "
            f"shape {aval.shape}. Fix: reduce it (e.g. fnp.sum or fnp.mean), or use fl.jacrev / fl.vjp for "
            "non-scalar outputs."
        )
    if not dtypes.is_inexact(aval.dtype) or (aval.dtype.kind == "c" and not holomorphic):
        raise TypeError(
            f"grad requires real-valued outputs (output dtype that is a sub-dtype of np.floating), but "
            f"{describe_function(fun)} returned {aval.dtype.name}. Cast the output to a float dtype "
            "(integer outputs have no gradient), or use holomorphic=True for complex functions."
        )


def grad(
    fun: Callable,
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    holomorphic: bool = False,
    allow_int: bool = False,
) -> Callable:
    """The gradient of a scalar-valued ``fun`` with respect to ``argnums`` (same structure as the args).

    Example: ``fl.grad(lambda x: x ** 3)(2.0)`` is ``12.``; ``fl.grad(fl.grad(fnp.sin))(0.0)`` is ``-0.``.
    """
    value_and_grad_fun = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @wraps(fun)
    def grad_fun(*args: Any, **kwargs: Any) -> Any:
        if has_aux:
            (_, aux), g = value_and_grad_fun(*args, **kwargs)
            return g, aux
        return value_and_grad_fun(*args, **kwargs)[1]

    return grad_fun


def _std_basis(avals: list) -> list:
    """One batched one-hot tangent per flat input: leaf ``i`` gets shape ``(total, *shape_i)``, where row
    ``k`` is the ``k``-th unit vector of the concatenated inputs."""
    from ..numpy import asarray

    sizes = [int(np.prod(a.shape)) for a in avals]
    total = sum(sizes)
    out, start = [], 0
    for a, n in zip(avals, sizes):
        eye = np.zeros((total, n), dtype=a.dtype)
        eye[np.arange(start, start + n), np.arange(n)] = 1
        out.append(asarray(eye.reshape((total,) + tuple(a.shape))))
        start += n
    return out


def jacfwd(
    fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False, holomorphic: bool = False
) -> Callable:
    """The Jacobian by forward mode: for each output leaf, an array of shape ``out.shape + in.shape``
    (a tuple over ``argnums`` if it is a tuple). Example: ``fl.jacfwd(fnp.sin)(x)`` is ``diag(cos(x))``."""
    return _jacobian(fun, argnums, has_aux, mode="fwd")


def jacrev(
    fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False, holomorphic: bool = False
) -> Callable:
    """The Jacobian by reverse mode (one pullback per output element).
    Example: ``fl.jacrev(lambda x: x ** 2)(x)`` is ``diag(2 * x)``."""
    return _jacobian(fun, argnums, has_aux, mode="rev")


def _jacobian(fun: Callable, argnums: int | Sequence[int], has_aux: bool, mode: str) -> Callable:
    from ..numpy import moveaxis, reshape

    @wraps(fun)
    def jac_fun(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), f"jac{mode}")
        diff_args = tuple(args[i] for i in nums)
        _check_inputs_differentiable(tree_util.tree_leaves(diff_args), False, f"jac{mode}", fun)

        def partial_fun(*dargs: Any) -> Any:
            full = list(args)
            for i, a in zip(nums, dargs):
                full[i] = a
            return fun(*full, **kwargs)

        outs, linear, tree_in, tree_out, aux = _linearize(partial_fun, diff_args, has_aux, f"jac{mode}")
        in_avals = [aval_of(x) for x in tree_util.tree_leaves(diff_args)]
        out_avals = [aval_of(o) for o in outs]
        from .vmap import vmap_flat

        # One vmapped push-forward (fwd) or pull-back (rev) over the standard basis: no Python loop.
        if mode == "fwd":
            basis = _std_basis(in_avals)
            pushed = vmap_flat(
                lambda *ts: linear.jvp(list(ts)), basis, [0] * len(basis), _zeros_axes, len_or_zero(basis)
            )
            rows = [[None] * len(in_avals) for _ in out_avals]
            start = 0
            for i, a in enumerate(in_avals):
                n = int(np.prod(a.shape))
                for o, oa in enumerate(out_avals):
                    block = pushed[o][start : start + n]  # (n_i, *out_shape)
                    block = reshape(block, (n,) + tuple(oa.shape))
                    block = moveaxis(block, 0, -1) if oa.shape else block
                    rows[o][i] = reshape(block, tuple(oa.shape) + tuple(a.shape))
                start += n
        else:
            basis = _std_basis(out_avals)
            pulled = vmap_flat(
                lambda *cs: linear.vjp(list(cs)), basis, [0] * len(basis), _zeros_axes, len_or_zero(basis)
            )
            rows = [[None] * len(in_avals) for _ in out_avals]
            start = 0
            for o, oa in enumerate(out_avals):
                n = int(np.prod(oa.shape))
                for i, a in enumerate(in_avals):
                    block = pulled[i][start : start + n]  # (n_o, *in_shape)
                    rows[o][i] = reshape(block, tuple(oa.shape) + tuple(a.shape))
                start += n
        per_output = []
        for o in range(len(out_avals)):
            inner = tree_util.tree_unflatten(tree_in, rows[o])
            per_output.append(inner[0] if isinstance(argnums, int) else inner)
        jac = tree_util.tree_unflatten(tree_out, per_output)
        return (jac, aux) if has_aux else jac

    return jac_fun


def _zeros_axes(out: Any) -> list:
    return [0] * len(out)


def len_or_zero(basis: list) -> int:
    """The batch size of a standard basis (0 when there are no inputs)."""
    return int(basis[0].shape[0]) if basis else 0


def hessian(
    fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False, holomorphic: bool = False
) -> Callable:
    """The Hessian ``jacfwd(jacrev(fun))``. Example: ``fl.hessian(lambda x: fnp.sum(x ** 3))(x)`` is ``diag(6x)``."""
    return jacfwd(jacrev(fun, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)
