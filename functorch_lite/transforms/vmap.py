"""``vmap``: vectorise a function over a batch axis, with JAX's ``in_axes``/``out_axes`` semantics and
torch.func's ``chunk_size``.

Example:
    >>> fl.vmap(lambda x, w: x @ w, in_axes=(0, None))(xs, w)       # one matmul per row of xs
    >>> per_example_grads = fl.vmap(fl.grad(loss), in_axes=(None, 0, 0))(params, xs, ys)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from .. import tree_util
from ..core.source_info import describe_function
from ..core.staging import as_operand
from ..core.trace import Tracer, _context, aval_of
from .batching import BatchTrace, BatchTracer, broadcast_batch, move_axis


def _broadcast_prefix(prefix: Any, tree: Any, what: str) -> list:
    """One axis spec per leaf of ``tree``: each leaf of ``prefix`` (an int or None) covers a subtree."""
    is_leaf = lambda x: x is None  # None means "not mapped" here, not an empty subtree
    prefix_leaves, prefix_tree = tree_util.tree_flatten(prefix, is_leaf=is_leaf)
    try:
        subtrees = prefix_tree.flatten_up_to(tree)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"vmap {what} specification must be a tree prefix of the corresponding value, got specification "
            f"{prefix!r} for value tree {tree_util.tree_structure(tree)}: {e}"
        ) from None
    out: list = []
    for axis, subtree in zip(prefix_leaves, subtrees):
        if axis is not None and not isinstance(axis, int):
            raise TypeError(f"vmap {what} must be ints or None, got {axis!r}.")
        out.extend([axis] * tree_util.tree_structure(subtree).num_leaves)
    return out


def _mapped_size(leaves: list, axes: list, fun: Callable, axis_size: int | None) -> int:
    sizes = {}
    for i, (x, axis) in enumerate(zip(leaves, axes)):
        if axis is None:
            continue
        shape = aval_of(x).shape
        ndim = len(shape)
        if not -ndim <= axis < ndim:
            raise ValueError(
                f"vmap was requested to map its argument along axis {axis}, which implies that its rank "
                f"should be at least {max(axis + 1, -axis)}, but it is only {ndim} (its shape is "
                f"{shape}). Check in_axes for {describe_function(fun)}."
            )
        sizes[i] = shape[axis % ndim]
    distinct = set(sizes.values())
    if len(distinct) > 1:
        detail = ", ".join(f"argument leaf {i} has size {s}" for i, s in sizes.items())
        raise ValueError(
            f"vmap got inconsistent sizes for the array axes to be mapped: {detail}. All mapped axes must "
            "have the same size."
        )
    if distinct:
        size = distinct.pop()
        if axis_size is not None and axis_size != size:
            raise ValueError(f"vmap got axis_size={axis_size} but the mapped axes have size {size}.")
        return size
    if axis_size is None:
        raise ValueError(
            "vmap must have at least one non-None value in in_axes, or be given axis_size= when nothing is "
            f"mapped (calling {describe_function(fun)})."
        )
    return axis_size


def vmap_flat(fun: Callable, leaves: list, in_axes: list, out_axes_fn: Callable, axis_size: int) -> Any:
    """Run ``fun`` on batch tracers and move each output's batch dim to its out axis.

    ``out_axes_fn(out_tree_value)`` gives the flat out axes once the output structure is known.
    """
    leaves = [as_operand(x) for x in leaves]  # NumPy arrays and Python scalars become Arrays
    parent = _context.trace
    trace = BatchTrace(parent, axis_size, fun)
    tracers = [
        x if axis is None else BatchTracer(trace, x, axis % aval_of(x).ndim)
        for x, axis in zip(leaves, in_axes)
    ]
    _context.trace = trace
    try:
        out = fun(*tracers)
    finally:
        _context.trace = parent
        trace.alive = False
    out_leaves, out_tree = tree_util.tree_flatten(out)
    out_axes = out_axes_fn(out)
    results = []
    for o, axis in zip(out_leaves, out_axes):
        batched = type(o) is BatchTracer and o._trace is trace
        if axis is None:
            if batched:
                raise ValueError(
                    "vmap has mapped output but out_axes is None for it: the value depends on the mapped "
                    "inputs, so it differs along the batch. Give it an out axis (e.g. 0)."
                )
            results.append(o)
            continue
        if not batched:
            if not isinstance(o, Tracer):
                from ..numpy import asarray

                o = asarray(o)
            ndim = o.ndim + 1
            results.append(broadcast_batch(o, axis_size, axis % ndim))
            continue
        ndim = o.val.ndim
        if not -ndim <= axis < ndim:
            raise ValueError(f"vmap out_axes={axis} is out of range for an output of rank {ndim - 1}.")
        results.append(move_axis(o.val, o.bdim, axis % ndim))
    return tree_util.tree_unflatten(out_tree, results)


def vmap(
    fun: Callable,
    in_axes: int | None | Sequence[Any] = 0,
    out_axes: Any = 0,
    axis_name: Any = None,
    axis_size: int | None = None,
    chunk_size: int | None = None,
) -> Callable:
    """Vectorise ``fun`` over axis ``in_axes`` of its arguments (a pytree prefix; None = not mapped).

    Keyword arguments are mapped over axis 0. ``out_axes`` places the batch axis in the outputs (None for
    outputs that do not depend on the batch). ``chunk_size`` runs the batch in chunks to bound memory.

    Example: ``fl.vmap(fnp.dot, in_axes=(0, None))(xs, w)`` is ``xs @ w``.
    """
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if axis_name is not None:
        raise NotImplementedError("vmap axis_name (collectives) is not supported.")

    flat_axes_by_tree: dict = {}  # the flat in axes depend only on the arguments' tree structure

    @wraps(fun)
    def vmapped(*args: Any, **kwargs: Any) -> Any:
        axes_spec = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(
                f"vmap in_axes must be an int, None, or a tuple of entries corresponding to the positional "
                f"arguments passed to the function, but got len(in_axes)={len(in_axes)}, len(args)={len(args)}."
            )
        leaves, in_tree = tree_util.tree_flatten((args, kwargs))
        flat_axes = flat_axes_by_tree.get(in_tree)
        if flat_axes is None:
            prefix = (tuple(axes_spec), 0 if kwargs else {})
            flat_axes = _broadcast_prefix(prefix, (args, kwargs), "in_axes")
            if len(flat_axes_by_tree) < 64:  # a bound, for callers with ever-new structures
                flat_axes_by_tree[in_tree] = flat_axes
        size = _mapped_size(leaves, flat_axes, fun, axis_size)

        def flat_fun(*flat: Any) -> Any:
            a, k = tree_util.tree_unflatten(in_tree, flat)
            return fun(*a, **k)

        def out_axes_fn(out: Any) -> list:
            return _broadcast_prefix(out_axes, out, "out_axes")

        if chunk_size is None or chunk_size >= size:
            return vmap_flat(flat_fun, leaves, flat_axes, out_axes_fn, size)
        return _chunked(flat_fun, leaves, flat_axes, out_axes_fn, size, chunk_size)

    return vmapped


def _chunked(
    flat_fun: Callable, leaves: list, axes: list, out_axes_fn: Callable, size: int, chunk: int
) -> Any:
    from ..numpy import concatenate
    from ..primitives.shape import slice_p

    outs = []
    for start in range(0, size, chunk):
        stop = min(start + chunk, size)
        part = []
        for x, axis in zip(leaves, axes):
            if axis is None:
                part.append(x)
                continue
            ndim = aval_of(x).ndim
            a = axis % ndim
            starts = [0] * ndim
            limits = list(aval_of(x).shape)
            starts[a], limits[a] = start, stop
            part.append(
                slice_p.bind(x, start_indices=tuple(starts), limit_indices=tuple(limits), strides=None)
            )
        outs.append(vmap_flat(flat_fun, part, axes, out_axes_fn, stop - start))
    first = outs[0]
    flat_axes = out_axes_fn(first)
    columns = [tree_util.tree_leaves(o) for o in outs]
    joined = []
    for k, axis in enumerate(flat_axes):
        pieces = [c[k] for c in columns]
        joined.append(pieces[0] if axis is None else concatenate(pieces, axis=axis))
    return tree_util.tree_unflatten(tree_util.tree_structure(first), joined)
