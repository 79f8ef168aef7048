"""Sorting: the multi-operand ``sort`` primitive; every rule of it lives in this file.

``sort`` takes one or more arrays of one shape and returns them all reordered along ``dimension`` by the
first ``num_keys`` operands, compared lexicographically (key 0 first). As in JAX, NaNs sort to the end and
``-0.0`` equals ``0.0`` (their order is kept when ``is_stable``). Impls use NumPy's NaN-aware stable sorts
(``argsort(kind="stable")``, ``lexsort``) and ``take_along_axis``.

Example (sort values and carry their positions along, i.e. an argsort):
    >>> keys, perm = sort_p.bind(x, iota, dimension=0, is_stable=True, num_keys=1)
"""

from __future__ import annotations

import numpy as np

from ..core.errors import ShapeDtypeError, ShapeError
from ..core.trace import Primitive, ShapedArray


def _sort_abstract_eval(
    *operands: ShapedArray, dimension: int, is_stable: bool, num_keys: int
) -> list[ShapedArray]:
    if not operands:
        raise ShapeError("sort needs at least one operand.")
    shape = operands[0].shape
    if any(op.shape != shape for op in operands[1:]):
        shapes = ", ".join(op.str_short() for op in operands)
        raise ShapeDtypeError(
            f"sort operands must all have the same shape, got {shapes}. Broadcast or reshape them first."
        )
    if len(shape) == 0:
        raise ShapeError(f"sort needs operands of rank >= 1, got {operands[0].str_short()}. Reshape to (1,).")
    if not 0 <= dimension < len(shape):
        raise ShapeError(
            f"sort: dimension={dimension} is out of range for operands of rank {len(shape)} "
            f"({operands[0].str_short()}); it must be in [0, {len(shape)})."
        )
    if not 1 <= num_keys <= len(operands):
        raise ShapeError(
            f"sort: num_keys={num_keys} must be between 1 and the number of operands ({len(operands)})."
        )
    return [ShapedArray(op.shape, op.dtype, op.weak_type) for op in operands]


def _sort_impl(*operands: np.ndarray, dimension: int, is_stable: bool, num_keys: int) -> list[np.ndarray]:
    if len(operands) == 1:
        kind = "stable" if is_stable else None
        return [np.sort(operands[0], axis=dimension, kind=kind)]
    if num_keys == 1:
        perm = np.argsort(operands[0], axis=dimension, kind="stable")
    else:
        # lexsort's primary key is its last one; it is always stable.
        perm = np.lexsort(operands[num_keys - 1 :: -1], axis=dimension)
    return [np.take_along_axis(op, perm, axis=dimension) for op in operands]


sort_p = Primitive(
    "sort",
    _sort_impl,
    _sort_abstract_eval,
    multiple_results=True,
    weak=lambda *weak_flags, **params: list(weak_flags),
)


# ---------------------------------------------------------------------------------------------------
# Differentiation rules
# ---------------------------------------------------------------------------------------------------

from typing import Any  # noqa: E402

from ..core.trace import aval_of  # noqa: E402
from ..transforms.ad import Zero, tangent_aval  # noqa: E402
from .indexing import GatherDimensionNumbers, GatherScatterMode, gather_p  # noqa: E402
from .shape import iota_p, reshape_p  # noqa: E402


def _take_along(x: Any, perm: Any, dimension: int) -> Any:
    """``x`` reordered along ``dimension`` by the integer array ``perm`` (``take_along_axis``), as a gather
    whose other dims are batching dims (so its transpose is a scatter-add with the same pairing)."""
    others = tuple(d for d in range(x.ndim) if d != dimension)
    indices = reshape_p.bind(perm, new_sizes=tuple(perm.shape) + (1,), dimensions=None, sharding=None)
    return gather_p.bind(
        x,
        indices,
        dimension_numbers=GatherDimensionNumbers(
            offset_dims=(),
            collapsed_slice_dims=(dimension,),
            start_index_map=(dimension,),
            operand_batching_dims=others,
            start_indices_batching_dims=others,
        ),
        slice_sizes=(1,) * x.ndim,
        indices_are_sorted=False,
        unique_indices=True,
        mode=GatherScatterMode.PROMISE_IN_BOUNDS,
        fill_value=None,
    )


def _sort_jvp(primals: list, tangents: list, *, dimension: int, is_stable: bool, num_keys: int) -> tuple:
    # Sort an iota along with the operands to learn the permutation, then apply it to every tangent.
    params = dict(dimension=dimension, is_stable=is_stable, num_keys=num_keys)
    if all(type(t) is Zero for t in tangents):
        outs = sort_p.bind(*primals, **params)
        return outs, [Zero(tangent_aval(aval_of(o))) for o in outs]
    shape = tuple(primals[0].shape)
    index_dtype = np.dtype(np.int32 if shape[dimension] < np.iinfo(np.int32).max else np.int64)
    iota = iota_p.bind(dtype=index_dtype, shape=shape, dimension=dimension, sharding=None)
    *outs, perm = sort_p.bind(*primals, iota, **params)
    tangents_out = [
        Zero(tangent_aval(aval_of(o))) if type(t) is Zero else _take_along(t, perm, dimension)
        for o, t in zip(outs, tangents)
    ]
    return outs, tangents_out


sort_p.jvp = _sort_jvp


# ---------------------------------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------------------------------

from ..transforms.batching import bdim_at_front  # noqa: E402


def _sort_batch(
    axis_size: int, vals: list, dims: list, *, dimension: int, is_stable: bool, num_keys: int
) -> tuple[list, list]:
    # Operands share one shape, so they need one batch position. Keep it when every operand has it at the
    # same place; otherwise put it first (materialising it for unbatched operands).
    batched = {d for d in dims if d is not None}
    if len(batched) == 1 and None not in dims:
        bdim = batched.pop()
        operands = list(vals)
    else:
        bdim = 0
        operands = [bdim_at_front(v, d, axis_size) for v, d in zip(vals, dims)]
    sort_dim = dimension + (dimension >= bdim)
    outs = sort_p.bind(*operands, dimension=sort_dim, is_stable=is_stable, num_keys=num_keys)
    return outs, [bdim] * len(outs)


sort_p.batch = _sort_batch
