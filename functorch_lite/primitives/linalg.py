"""Linear algebra: the ``dot_general`` primitive; every rule of it lives in this file.

``dimension_numbers = ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))`` as in jax.lax. The output
dims are ordered (batch..., lhs free..., rhs free...), JAX's order. The impl transposes and reshapes both
operands to ``(batch, m, k) @ (batch, k, n)`` so the product runs as one BLAS ``matmul``; integer dtypes keep
their dtype (and wrap on overflow, as in XLA).

Example (a batched matmul ``bij,bjk->bik``):
    >>> dot_general_p.bind(a, b, dimension_numbers=(((2,), (1,)), ((0,), (0,))),
    ...                    precision=None, preferred_element_type=None)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.errors import ShapeDtypeError, ShapeError
from ..core.jaxpr import param_printers
from ..core.trace import Primitive, ShapedArray
from .common import same_dtype

DotDimensionNumbers = tuple[tuple[Sequence[int], Sequence[int]], tuple[Sequence[int], Sequence[int]]]


def _free_dims(ndim: int, contract: Sequence[int], batch: Sequence[int]) -> list[int]:
    used = {*contract, *batch}
    return [d for d in range(ndim) if d not in used]


def _check_side(side: str, aval: ShapedArray, contract: Sequence[int], batch: Sequence[int]) -> None:
    used = {*contract, *batch}
    if len(used) == len(contract) + len(batch) and (not used or (min(used) >= 0 and max(used) < aval.ndim)):
        return  # the common case, checked cheaply: distinct dims in range
    for what, dims in (("contracting", contract), ("batch", batch)):
        if any(not 0 <= d < aval.ndim for d in dims) or len(set(dims)) != len(dims):
            raise ShapeError(
                f"dot_general: {side} {what} dimensions {tuple(dims)} must be distinct and within [0, "
                f"{aval.ndim}) for the {side} operand {aval.str_short()}."
            )
    if set(contract) & set(batch):
        raise ShapeError(
            f"dot_general: {side} contracting dimensions {tuple(contract)} and batch dimensions "
            f"{tuple(batch)} must be disjoint (operand {aval.str_short()})."
        )


def _check_sizes(lhs: ShapedArray, rhs: ShapedArray, dimension_numbers: DotDimensionNumbers) -> None:
    (lc, rc), (lb, rb) = dimension_numbers
    for what, ld, rd in (("contracting", lc, rc), ("batch", lb, rb)):
        if len(ld) != len(rd):
            raise ShapeError(
                f"dot_general: lhs and rhs must have the same number of {what} dimensions, got "
                f"{tuple(ld)} for {lhs.str_short()} and {tuple(rd)} for {rhs.str_short()}."
            )
        lsizes = tuple(lhs.shape[d] for d in ld)
        rsizes = tuple(rhs.shape[d] for d in rd)
        if lsizes != rsizes:
            raise ShapeError(
                f"dot_general: {what} dimensions must have equal sizes, but lhs {lhs.str_short()} dims "
                f"{tuple(ld)} have sizes {lsizes} and rhs {rhs.str_short()} dims {tuple(rd)} have sizes "
                f"{rsizes}. Transpose an operand or fix dimension_numbers."
            )


_KIND_CLASSES = {"b": "integer", "i": "integer", "u": "integer", "f": "floating", "c": "complex"}


def _dot_general_abstract_eval(
    lhs: ShapedArray,
    rhs: ShapedArray,
    *,
    dimension_numbers: DotDimensionNumbers,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> ShapedArray:
    (lc, rc), (lb, rb) = dimension_numbers
    _check_side("lhs", lhs, lc, lb)
    _check_side("rhs", rhs, rc, rb)
    lshape, rshape = lhs.shape, rhs.shape
    if len(lc) != len(rc) or [lshape[d] for d in (*lc, *lb)] != [rshape[d] for d in (*rc, *rb)]:
        _check_sizes(lhs, rhs, dimension_numbers)  # raises the precise error
    if preferred_element_type is None:
        dtype = same_dtype("dot_general", lhs, rhs)
        weak = lhs.weak_type and rhs.weak_type
    else:
        dtype = np.dtype(preferred_element_type)
        kind = _KIND_CLASSES[dtype.kind]
        for aval in (lhs, rhs):
            if _KIND_CLASSES[aval.dtype.kind] != kind and not (aval.dtype.kind == "f" and dtype.kind == "c"):
                raise ShapeDtypeError(
                    f"dot_general: preferred_element_type={dtype.name} and the operand dtype "
                    f"({aval.str_short()}) must both be integral or both be floating point. Convert the "
                    "operands first or choose a matching preferred_element_type."
                )
        weak = False
    shape = (
        [lshape[d] for d in lb]
        + [lshape[d] for d in _free_dims(lhs.ndim, lc, lb)]
        + [rshape[d] for d in _free_dims(rhs.ndim, rc, rb)]
    )
    return ShapedArray(tuple(shape), dtype, weak)


def _dot_general_impl(
    lhs: np.ndarray,
    rhs: np.ndarray,
    *,
    dimension_numbers: DotDimensionNumbers,
    precision: Any = None,
    preferred_element_type: Any = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``out``: a C-contiguous buffer of the result's shape and dtype to write a matrix product into (jit's
    plans pass one from their buffer pool); the result is returned all the same."""
    (lc, rc), (lb, rb) = dimension_numbers
    if preferred_element_type is not None:
        lhs = lhs.astype(preferred_element_type, copy=False)
        rhs = rhs.astype(preferred_element_type, copy=False)
    elif lhs.dtype != rhs.dtype:  # the abstract rule forbids this; keep the eager path exact anyway
        raise ShapeDtypeError(
            f"dot_general requires operands of the same dtype, got {lhs.dtype.name} and {rhs.dtype.name}."
        )
    # Broadcast views (stride 0, e.g. a cotangent of ones) would send np.matmul down its slow non-BLAS loop.
    if 0 in lhs.strides:
        lhs = np.ascontiguousarray(lhs)
    if 0 in rhs.strides:
        rhs = np.ascontiguousarray(rhs)
    if not lb and lhs.ndim == 2 and rhs.ndim == 2 and len(lc) == 1:  # plain matrix products
        a = lhs if lc[0] == 1 else lhs.T
        c = rhs if rc[0] == 0 else rhs.T
        # A contraction of size 1 is an outer product: one broadcast multiply beats a GEMM with k = 1.
        return np.multiply(a, c, out=out) if a.shape[1] == 1 else np.matmul(a, c, out=out)
    lfree = _free_dims(lhs.ndim, lc, lb)
    rfree = _free_dims(rhs.ndim, rc, rb)
    batch_shape = tuple(lhs.shape[d] for d in lb)
    lfree_shape = tuple(lhs.shape[d] for d in lfree)
    rfree_shape = tuple(rhs.shape[d] for d in rfree)
    b = math.prod(batch_shape)
    m = math.prod(lfree_shape)
    n = math.prod(rfree_shape)
    k = math.prod(lhs.shape[d] for d in lc)
    a = lhs.transpose(list(lb) + lfree + list(lc)).reshape(b, m, k)
    c = rhs.transpose(list(rb) + list(rc) + rfree).reshape(b, k, n)
    target = None if out is None else out.reshape((b, m, n))  # a view: the buffer is contiguous
    if k == 1:  # outer products (e.g. per-example weight gradients): a broadcast multiply beats b tiny GEMMs
        result = np.multiply(a, c, out=target)
    elif b == 1:
        result = np.matmul(a[0], c[0], out=None if target is None else target[0])
    else:
        result = np.matmul(a, c, out=target)
    return result.reshape(batch_shape + lfree_shape + rfree_shape)


dot_general_p = Primitive(
    "dot_general",
    _dot_general_impl,
    _dot_general_abstract_eval,
    weak=lambda lhs_weak, rhs_weak, preferred_element_type=None, **params: (
        lhs_weak and rhs_weak and preferred_element_type is None
    ),
)


def _dot_general_printed_params(params: dict) -> dict:
    # As JAX prints it: dimension numbers as lists, and no precision when it is the default.
    (lc, rc), (lb, rb) = params["dimension_numbers"]
    shown = {"dimension_numbers": ((list(lc), list(rc)), (list(lb), list(rb)))}
    if params.get("precision") is not None:
        shown["precision"] = params["precision"]
    if params.get("preferred_element_type") is not None:
        shown["preferred_element_type"] = params["preferred_element_type"]
    return shown


param_printers["dot_general"] = _dot_general_printed_params


# ---------------------------------------------------------------------------------------------------
# Differentiation rules
# ---------------------------------------------------------------------------------------------------
#
# dot_general is bilinear: its JVP is dot(tx, y) + dot(x, ty), and its transpose with respect to either
# operand is another dot_general of the cotangent with the other operand, followed by a transpose that puts
# the result's dims back in the operand's order.

from ..core.trace import aval_of  # noqa: E402
from ..transforms.ad import Zero, add_tangents, is_undefined, tangent_aval  # noqa: E402
from .elementwise import convert_element_type_p  # noqa: E402
from .shape import transpose_p  # noqa: E402


def _dot_general_jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
    (x, y), (tx, ty) = primals, tangents
    out = dot_general_p.bind(x, y, **params)
    if type(tx) is Zero and type(ty) is Zero:
        return out, Zero(tangent_aval(aval_of(out)))  # (the output's type is built only when needed)
    parts = []
    if type(tx) is not Zero:
        parts.append(dot_general_p.bind(tx, y, **params))
    if type(ty) is not Zero:
        parts.append(dot_general_p.bind(x, ty, **params))
    return out, parts[0] if len(parts) == 1 else add_tangents(*parts)


def _argsort(values: Sequence[int]) -> list[int]:
    # Python's sort: these are a handful of distinct dims, where np.argsort's call overhead dominates.
    return sorted(range(len(values)), key=values.__getitem__)


def _restore_operand(result: Any, dims_held: Sequence[int], aval: ShapedArray) -> Any:
    """``result``'s axis ``k`` holds the operand's dim ``dims_held[k]``: permute it into the operand's order
    and cast it to the operand's dtype (they differ when ``preferred_element_type`` widened the product)."""
    permutation = tuple(_argsort(dims_held))
    if permutation != tuple(range(len(permutation))):
        result = transpose_p.bind(result, permutation=permutation)
    if result.dtype != aval.dtype:
        result = convert_element_type_p.bind(
            result, new_dtype=aval.dtype, weak_type=aval.weak_type, sharding=None
        )
    return result


def _dot_general_transpose(
    ct: Any,
    x: Any,
    y: Any,
    *,
    dimension_numbers: DotDimensionNumbers,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> list:
    if is_undefined(x) and is_undefined(y):
        raise TypeError("dot_general of two linear values is not linear; this is a bug in a JVP rule.")
    if type(ct) is Zero:
        return [None, None]
    (xc, yc), (xb, yb) = dimension_numbers
    x_aval = x.aval if is_undefined(x) else aval_of(x)
    y_aval = y.aval if is_undefined(y) else aval_of(y)
    x_kept = _free_dims(x_aval.ndim, xc, xb)
    y_kept = _free_dims(y_aval.ndim, yc, yb)
    # ct's dims: batch, x's kept dims, y's kept dims.
    nb = len(xb)
    ct_batch = tuple(range(nb))
    ct_x_kept = tuple(range(nb, nb + len(x_kept)))
    ct_y_kept = tuple(range(nb + len(x_kept), nb + len(x_kept) + len(y_kept)))
    params = dict(precision=precision, preferred_element_type=preferred_element_type)
    if is_undefined(x):
        # dot(ct, y) over y's kept dims: dims (batch, x kept, y's contracting dims in y's order).
        product = dot_general_p.bind(
            ct, y, dimension_numbers=((ct_y_kept, tuple(y_kept)), (ct_batch, tuple(yb))), **params
        )
        by_y = [xc[j] for j in _argsort(yc)]
        return [_restore_operand(product, list(xb) + x_kept + by_y, x_aval), None]
    # dot(x, ct) over x's kept dims: dims (batch, x's contracting dims in x's order, y kept).
    product = dot_general_p.bind(
        x, ct, dimension_numbers=((tuple(x_kept), ct_x_kept), (tuple(xb), ct_batch)), **params
    )
    by_x = [yc[j] for j in _argsort(xc)]
    return [None, _restore_operand(product, list(yb) + by_x + y_kept, y_aval)]


dot_general_p.jvp = _dot_general_jvp
dot_general_p.transpose = _dot_general_transpose


# ---------------------------------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------------------------------
#
# The vmapped dimension never needs moving: when both operands carry it, it becomes one more (leading) batch
# dimension of the contraction; when only one does, it is one more free dimension of that operand, and the
# output's batch dim is wherever that free dimension lands in (batch..., lhs free..., rhs free...).


def _shift_past(dims: Sequence[int], bdim: int) -> tuple[int, ...]:
    """Dimension indices of an unbatched operand renumbered for the batched one (``bdim`` inserted)."""
    return tuple([int(d) + (d >= bdim) for d in dims])


def _dot_general_batch(
    axis_size: int,
    vals: list,
    dims: list,
    *,
    dimension_numbers: DotDimensionNumbers,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> tuple[Any, int]:
    lhs, rhs = vals
    lhs_bdim, rhs_bdim = dims
    (lc, rc), (lb, rb) = dimension_numbers
    if lhs_bdim is not None:
        lc, lb = _shift_past(lc, lhs_bdim), _shift_past(lb, lhs_bdim)
    if rhs_bdim is not None:
        rc, rb = _shift_past(rc, rhs_bdim), _shift_past(rb, rhs_bdim)
    if lhs_bdim is not None and rhs_bdim is not None:
        lb, rb = (lhs_bdim,) + tuple(lb), (rhs_bdim,) + tuple(rb)
        out_dim = 0
    elif lhs_bdim is not None:
        lhs_free = _free_dims(lhs.ndim, lc, lb)
        out_dim = len(lb) + lhs_free.index(lhs_bdim)
    else:
        lhs_free = _free_dims(lhs.ndim, lc, lb)
        rhs_free = _free_dims(rhs.ndim, rc, rb)
        out_dim = len(lb) + len(lhs_free) + rhs_free.index(rhs_bdim)
    out = dot_general_p.bind(
        lhs,
        rhs,
        dimension_numbers=((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb))),
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
    return out, out_dim


dot_general_p.batch = _dot_general_batch
