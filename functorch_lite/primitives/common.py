"""Shape and dtype helpers shared by the primitive families' abstract-evaluation rules.

Example:
    >>> broadcast_shapes("add", (3, 1), (3, 4))
    (3, 4)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.errors import ShapeDtypeError, ShapeError
from ..core.trace import ShapedArray


def broadcast_shapes(name: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """lax's elementwise shape rule: rank-0 operands broadcast; others need equal rank, dims equal or 1."""
    ranked = [s for s in shapes if s]
    if not ranked:
        return ()
    rank = len(ranked[0])
    if any(len(s) != rank for s in ranked):
        raise ShapeDtypeError(
            f"{name} got arrays of different rank: {', '.join(map(str, shapes))}. "
            "Use the functorch_lite.numpy function, which broadcasts like NumPy, or reshape first."
        )
    out = []
    for dims in zip(*ranked):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ShapeDtypeError(
                f"{name} got incompatible shapes for broadcasting: {', '.join(map(str, shapes))}."
            )
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def same_dtype(name: str, *avals: ShapedArray) -> np.dtype:
    """The common dtype of ``avals``; a ShapeDtypeError naming ``name`` if they differ."""
    first = avals[0].dtype
    if any(a.dtype != first for a in avals[1:]):
        types = ", ".join(a.str_short() for a in avals)
        raise ShapeDtypeError(
            f"{name} requires arguments to have the same dtypes, got {types}. Convert with "
            "x.astype(...), or use the functorch_lite.numpy function, which promotes dtypes like jax.numpy."
        )
    return first


_KIND_NAMES = {"f": "floating", "c": "complex", "i": "signed integer", "u": "unsigned integer", "b": "bool"}


def check_kinds(name: str, aval: ShapedArray, kinds: str) -> None:
    """Raise unless ``aval.dtype.kind`` is one of ``kinds`` (e.g. ``"fc"`` for floating/complex)."""
    if aval.dtype.kind not in kinds:
        accepted = ", ".join(_KIND_NAMES[k] for k in kinds)
        raise ShapeDtypeError(
            f"{name} does not accept dtype {aval.dtype.name} (operand {aval.str_short()}). "
            f"Accepted dtype kinds: {accepted}. Convert with x.astype(...)."
        )


def canonical_axis(name: str, axis: int, ndim: int) -> int:
    """Normalise a possibly negative axis, raising a ShapeError naming ``name`` when out of range."""
    if not -ndim <= axis < max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise ShapeError(f"{name}: axis {axis} is out of bounds for an array of rank {ndim}.")
    return axis % ndim if ndim else 0


def check_axes(name: str, axes: Sequence[int], ndim: int) -> tuple[int, ...]:
    """Validate a tuple of distinct, in-range, non-negative axes."""
    axes = tuple(int(a) for a in axes)
    if any(not 0 <= a < ndim for a in axes) or len(set(axes)) != len(axes):
        raise ShapeError(f"{name}: axes {axes} must be distinct and within [0, {ndim}) for rank {ndim}.")
    return axes
