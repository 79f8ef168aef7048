"""Products of ``functorch_lite.numpy``: matmul, dot, vdot, inner, outer, tensordot — all ``dot_general``.

Example:
    >>> fnp.matmul(fnp.ones((2, 3)), fnp.ones((3, 4))).shape
    (2, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.errors import ShapeError
from ..primitives.linalg import dot_general_p
from ._convert import promote_dtypes
from ._shape import broadcast_shapes, broadcast_to, ravel, reshape


def _dot_general(x: Any, y: Any, contract: tuple, batch: tuple = ((), ())) -> Any:
    return dot_general_p.bind(
        x,
        y,
        dimension_numbers=(tuple(map(tuple, contract)), tuple(map(tuple, batch))),
        precision=None,
        preferred_element_type=x.dtype,
    )


def matmul(a: Any, b: Any, /) -> Any:
    """Matrix product with NumPy's rules (1-D operands promoted, batch dims broadcast).

    Example: ``fnp.matmul(fnp.ones((5, 2, 3)), fnp.ones((3, 4))).shape`` is ``(5, 2, 4)``.
    """
    a, b = promote_dtypes(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError("matmul: operands must be at least 1-D; use * for scalars.")
    a_contract = a.ndim - 1
    b_contract = 0 if b.ndim == 1 else b.ndim - 2
    if a.shape[a_contract] != b.shape[b_contract]:
        raise ShapeError(
            f"matmul: contracting dimensions differ: {a.shape} @ {b.shape} "
            f"({a.shape[a_contract]} != {b.shape[b_contract]})."
        )
    if a.ndim == 1 or b.ndim <= 2:
        # One contraction gives matmul's output order here (a's free dims, then b's). A vector is contracted
        # directly, as in JAX: reshaping it to a matrix and back costs two more ops under every transform.
        return _dot_general(a, b, ((a_contract,), (b_contract,)))
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = broadcast_to(a, batch + tuple(a.shape[-2:]))
    b = broadcast_to(b, batch + tuple(b.shape[-2:]))
    dims = tuple(range(len(batch)))
    return _dot_general(a, b, ((a.ndim - 1,), (b.ndim - 2,)), (dims, dims))


def dot(a: Any, b: Any) -> Any:
    """NumPy's dot: matmul for 1-D/2-D, the last axis of ``a`` with the second-to-last of ``b`` otherwise.

    Example: ``fnp.dot(fnp.ones(3), fnp.ones(3))`` is ``3.``.
    """
    a, b = promote_dtypes(a, b)
    if a.ndim == 0 or b.ndim == 0:
        from ._math import multiply

        return multiply(a, b)
    contract_b = 0 if b.ndim == 1 else b.ndim - 2
    if a.shape[-1] != b.shape[contract_b]:
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} are not aligned.")
    return _dot_general(a, b, ((a.ndim - 1,), (contract_b,)))


def vdot(a: Any, b: Any) -> Any:
    """Dot product of the flattened arrays. Example: ``fnp.vdot(fnp.ones((2, 2)), fnp.ones(4))`` is ``4.``."""
    a, b = promote_dtypes(a, b)
    if a.dtype.kind == "c":
        raise TypeError("fnp.vdot of complex arrays needs conj, which is not implemented yet; use fnp.dot.")
    return dot(ravel(a), ravel(b))


def inner(a: Any, b: Any) -> Any:
    """Sum product over the last axes. Example: ``fnp.inner(fnp.ones((2, 3)), fnp.ones(3))``."""
    a, b = promote_dtypes(a, b)
    if a.ndim == 0 or b.ndim == 0:
        from ._math import multiply

        return multiply(a, b)
    return _dot_general(a, b, ((a.ndim - 1,), (b.ndim - 1,)))


def outer(a: Any, b: Any) -> Any:
    """Outer product of the flattened arrays. Example: ``fnp.outer(fnp.ones(2), fnp.ones(3)).shape`` is (2, 3)."""
    a, b = promote_dtypes(ravel(a), ravel(b))
    return _dot_general(reshape(a, (-1, 1)), reshape(b, (1, -1)), ((1,), (0,)))


def tensordot(a: Any, b: Any, axes: int | Sequence = 2) -> Any:
    """Contract ``axes`` of ``a`` with those of ``b`` (an int means the last/first ``axes``).

    Example: ``fnp.tensordot(fnp.ones((2, 3)), fnp.ones((3, 4)), axes=1).shape`` is (2, 4).
    """
    a, b = promote_dtypes(a, b)
    if isinstance(axes, int):
        axes_a = tuple(range(a.ndim - axes, a.ndim))
        axes_b = tuple(range(axes))
    else:
        axes_a, axes_b = axes
        axes_a = (axes_a,) if isinstance(axes_a, int) else tuple(axes_a)
        axes_b = (axes_b,) if isinstance(axes_b, int) else tuple(axes_b)
    axes_a = tuple(x % a.ndim for x in axes_a)
    axes_b = tuple(x % b.ndim for x in axes_b)
    return _dot_general(a, b, (axes_a, axes_b))
