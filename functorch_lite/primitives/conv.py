"""Convolution: the ``conv_general_dilated`` primitive (JAX's name and parameters); every rule of it is here.

Parameters, as in ``jax.lax.conv_general_dilated`` once its arguments are canonicalised:

- ``window_strides``, ``lhs_dilation``, ``rhs_dilation``: one positive int per spatial dim;
- ``padding``: one ``(lo, hi)`` pair per spatial dim, applied to the *dilated* lhs (negative values crop);
- ``dimension_numbers``: a :class:`ConvDimensionNumbers` ``(lhs_spec, rhs_spec, out_spec)`` of dimension
  permutations: ``lhs_spec = (batch dim, feature dim, spatial dims...)``, ``rhs_spec = (out feature dim,
  in feature dim, spatial dims...)``, ``out_spec = (batch dim, feature dim, spatial dims...)``;
- ``feature_group_count`` G: lhs features split into G groups, output features too (grouped/depthwise conv);
- ``batch_group_count`` B: the lhs batch is split into B groups (group index major), each one convolved with
  its own block of output features; the result's batch is N / B (the rhs-gradient of a grouped conv uses it);
- ``precision`` (kept, not used on CPU) and ``preferred_element_type`` (the result dtype, None = the input's).

Output spatial size per dim, as XLA: ``max(0, (dilate(L, ld) + lo + hi - dilate(K, rd)) // stride + 1)`` with
``dilate(d, k) = 0 if d == 0 else (d - 1) * k + 1``.

The impl moves lhs to channels-last ``(N, spatial..., C)`` and rhs to ``(spatial..., I, O)``, dilates and pads
lhs with one strided copy into a zero buffer, takes every window at once with
``np.lib.stride_tricks.sliding_window_view`` (strides and rhs dilation by slicing that view), and contracts
the resulting im2col matrix with the kernel in one ``np.matmul`` (groups are the matmul's batch dimension). No
Python loop runs over pixels, batch or groups.

Example (a 3x3 SAME convolution of an NCHW batch with an OIHW kernel):
    >>> conv_general_dilated(x, w, (1, 1), "SAME").shape      # x: f32[8,3,32,32], w: f32[16,3,3,3]
    (8, 16, 32, 32)
"""

from __future__ import annotations

import builtins
import math
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..core import dtypes
from ..core.array import Array
from ..core.errors import ShapeDtypeError, ShapeError
from ..core.trace import Primitive, ShapedArray, Tracer, current_trace

NAME = "conv_general_dilated"


class ConvDimensionNumbers(NamedTuple):
    """Dimension permutations of a convolution, as JAX's.

    ``lhs_spec = (batch, feature, spatial...)``, ``rhs_spec = (out feature, in feature, spatial...)``,
    ``out_spec = (batch, feature, spatial...)``: each entry is a dimension index of that operand, and the
    spatial dims correspond across the three by position.

    Example: NHWC/HWIO/NHWC is ``ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))``.
    """

    lhs_spec: tuple[int, ...]
    rhs_spec: tuple[int, ...]
    out_spec: tuple[int, ...]


# ---------------------------------------------------------------------------------------------------
# Canonicalising arguments
# ---------------------------------------------------------------------------------------------------


def _parse_string_specs(specs: Sequence[str], ndim: int) -> ConvDimensionNumbers:
    """``("NHWC", "HWIO", "NHWC")``-style specs to permutations; spatial dims follow the rhs spec's order."""
    names = ("lhs", "rhs", "out")
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for name, spec, (a, b) in zip(names, specs, pairs):
        if spec.count(a) != 1 or spec.count(b) != 1:
            raise ShapeError(
                f"{NAME}: the {name} dimension spec {spec!r} must contain '{a}' and '{b}' exactly once."
            )
        if len(set(spec)) != len(spec):
            raise ShapeError(f"{NAME}: the {name} dimension spec {spec!r} repeats a character.")
        if len(spec) != ndim:
            raise ShapeError(
                f"{NAME}: the {name} dimension spec {spec!r} has {len(spec)} characters, but the operands "
                f"have rank {ndim}."
            )
    lhs_s, rhs_s, out_s = specs
    spatial = [ch for ch in rhs_s if ch not in "OI"]
    lhs_spatial = {ch for ch in lhs_s if ch not in "NC"}
    out_spatial = {ch for ch in out_s if ch not in "NC"}
    if not lhs_spatial == set(spatial) == out_spatial:
        raise ShapeError(
            f"{NAME}: the spatial characters of the specs {tuple(specs)} differ; lhs, rhs and out must name "
            "the same spatial dimensions."
        )

    def permutation(spec: str, batch: str, feature: str) -> tuple[int, ...]:
        return (spec.index(batch), spec.index(feature)) + tuple(spec.index(ch) for ch in spatial)

    return ConvDimensionNumbers(
        permutation(lhs_s, "N", "C"), permutation(rhs_s, "O", "I"), permutation(out_s, "N", "C")
    )


def conv_dimension_numbers(
    lhs_shape: Sequence[int], rhs_shape: Sequence[int], dimension_numbers: Any
) -> ConvDimensionNumbers:
    """Canonicalise ``dimension_numbers`` to a :class:`ConvDimensionNumbers` for operands of these shapes.

    Accepts None (NCHW / OIHW / NCHW for any number of spatial dims), a ConvDimensionNumbers or triple of
    permutations, or a triple of strings such as ``("NHWC", "HWIO", "NHWC")``.

    Example: ``conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NHWC", "HWIO", "NHWC"))``.
    """
    ndim = len(lhs_shape)
    if len(rhs_shape) != ndim:
        raise ShapeError(
            f"{NAME}: lhs and rhs must have the same rank, got lhs shape {tuple(lhs_shape)} and rhs shape "
            f"{tuple(rhs_shape)}."
        )
    if ndim < 2:
        raise ShapeError(f"{NAME}: operands need a batch and a feature dimension, got rank {ndim}.")
    if dimension_numbers is None:
        iota = tuple(range(ndim))
        return ConvDimensionNumbers(iota, iota, iota)
    if isinstance(dimension_numbers, (tuple, list)) and len(dimension_numbers) == 3:
        if all(isinstance(s, str) for s in dimension_numbers):
            return _parse_string_specs(dimension_numbers, ndim)
        try:
            specs = [tuple(int(d) for d in s) for s in dimension_numbers]
        except TypeError:
            specs = None
        if specs is not None:
            for name, spec in zip(("lhs_spec", "rhs_spec", "out_spec"), specs):
                if sorted(spec) != list(range(ndim)):
                    raise ShapeError(
                        f"{NAME}: dimension_numbers.{name}={spec} must be a permutation of range({ndim}) "
                        f"for operands of rank {ndim}."
                    )
            return ConvDimensionNumbers(*specs)
    raise TypeError(
        f"{NAME}: dimension_numbers must be None, a ConvDimensionNumbers, or a tuple of three strings like "
        f"('NCHW', 'OIHW', 'NCHW'); got {dimension_numbers!r}."
    )


def _dilate_dim(size: int, dilation: int) -> int:
    return 0 if size == 0 else (size - 1) * dilation + 1


def padtype_to_pads(
    in_shape: Sequence[int], window_shape: Sequence[int], strides: Sequence[int], padding: str
) -> list[tuple[int, int]]:
    """Explicit ``(lo, hi)`` pads for ``'SAME'``, ``'SAME_LOWER'`` or ``'VALID'`` (any case).

    SAME pads so the output has ``ceil(in / stride)`` elements, the odd element at the end (SAME_LOWER: at the
    start). ``window_shape`` is the (dilated) window extent.

    Example: ``padtype_to_pads((5,), (3,), (2,), "SAME")`` is ``[(1, 1)]``.
    """
    kind = padding.upper() if isinstance(padding, str) else padding
    if kind == "VALID":
        return [(0, 0)] * len(in_shape)
    if kind not in ("SAME", "SAME_LOWER"):
        raise ValueError(
            f"Unknown padding {padding!r}: expected 'SAME', 'SAME_LOWER', 'VALID' or (lo, hi) pairs."
        )
    pads = []
    for size, window, stride in zip(in_shape, window_shape, strides):
        out = -(-size // stride)
        total = builtins.max((out - 1) * stride + window - size, 0)
        small, large = total // 2, total - total // 2
        pads.append((small, large) if kind == "SAME" else (large, small))
    return pads


def _spatial(shape: Sequence[int], spec: Sequence[int]) -> tuple[int, ...]:
    return tuple(shape[d] for d in spec[2:])


def _int_tuple(name: str, values: Any, n: int, positive: bool = True) -> tuple[int, ...]:
    if values is None:
        return (1,) * n
    out = tuple(int(v) for v in values)
    if len(out) != n:
        raise ShapeError(f"{NAME}: {name} must have one entry per spatial dimension ({n}), got {out}.")
    if positive and any(v < 1 for v in out):
        raise ShapeError(f"{NAME}: all elements of {name} must be positive, got {out}.")
    return out


def _explicit_padding(padding: Any, n: int) -> tuple[tuple[int, int], ...]:
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise TypeError(
            f"{NAME}: padding must be 'SAME', 'SAME_LOWER', 'VALID' or a sequence of (lo, hi) integer pairs, "
            f"got {padding!r}."
        ) from None
    if len(pads) != n:
        raise ShapeError(f"{NAME}: padding needs one (lo, hi) pair per spatial dimension ({n}), got {pads}.")
    return pads


# ---------------------------------------------------------------------------------------------------
# Abstract evaluation
# ---------------------------------------------------------------------------------------------------


def _output_spatial(
    in_sizes: Sequence[int],
    kernel_sizes: Sequence[int],
    window_strides: Sequence[int],
    padding: Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int],
    rhs_dilation: Sequence[int],
) -> tuple[int, ...]:
    out = []
    for size, k, s, (lo, hi), ld, rd in zip(
        in_sizes, kernel_sizes, window_strides, padding, lhs_dilation, rhs_dilation
    ):
        padded = _dilate_dim(size, ld) + lo + hi
        if padded < 0:
            raise ShapeError(
                f"{NAME}: negative padding {(lo, hi)} is larger than the (dilated) input dimension of size "
                f"{_dilate_dim(size, ld)}."
            )
        out.append(builtins.max(0, (padded - _dilate_dim(k, rd)) // s + 1))
    return tuple(out)


def _kind_class(dtype: np.dtype) -> str:
    return {"b": "integer", "i": "integer", "u": "integer", "f": "floating", "c": "complex"}[dtype.kind]


def _conv_general_dilated_abstract_eval(
    lhs: ShapedArray,
    rhs: ShapedArray,
    *,
    window_strides: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
    lhs_dilation: tuple[int, ...],
    rhs_dilation: tuple[int, ...],
    dimension_numbers: ConvDimensionNumbers,
    feature_group_count: int,
    batch_group_count: int,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> ShapedArray:
    operands = f"lhs {lhs.str_short()} and rhs {rhs.str_short()}"
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise ShapeError(f"{NAME}: lhs and rhs must have equal rank >= 2, got {operands}.")
    if not isinstance(dimension_numbers, ConvDimensionNumbers):
        raise TypeError(
            f"{NAME}: dimension_numbers must be a ConvDimensionNumbers, got {dimension_numbers!r}."
        )
    for name, spec in zip(("lhs_spec", "rhs_spec", "out_spec"), dimension_numbers):
        if sorted(spec) != list(range(lhs.ndim)):
            raise ShapeError(
                f"{NAME}: dimension_numbers.{name}={tuple(spec)} must be a permutation of range({lhs.ndim}) "
                f"for {operands}."
            )
    n = lhs.ndim - 2
    for name, values in (
        ("window_strides", window_strides),
        ("lhs_dilation", lhs_dilation),
        ("rhs_dilation", rhs_dilation),
        ("padding", padding),
    ):
        if len(values) != n:
            raise ShapeError(
                f"{NAME}: {name}={tuple(values)} must have one entry per spatial dimension ({n}) for "
                f"{operands}."
            )
    for name, values in (
        ("window_strides", window_strides),
        ("lhs_dilation", lhs_dilation),
        ("rhs_dilation", rhs_dilation),
    ):
        if any(v < 1 for v in values):
            raise ShapeError(f"{NAME}: all elements of {name} must be positive, got {tuple(values)}.")
    groups, batch_groups = feature_group_count, batch_group_count
    if groups < 1 or batch_groups < 1:
        raise ShapeError(
            f"{NAME}: feature_group_count ({groups}) and batch_group_count ({batch_groups}) must be >= 1."
        )
    if groups > 1 and batch_groups > 1:
        raise ShapeError(
            f"{NAME}: at most one of feature_group_count ({groups}) and batch_group_count ({batch_groups}) "
            "may exceed 1."
        )
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    batch, features = lhs.shape[lhs_spec[0]], lhs.shape[lhs_spec[1]]
    out_features, in_features = rhs.shape[rhs_spec[0]], rhs.shape[rhs_spec[1]]
    where = (
        f"(lhs {lhs.str_short()} has batch dim {lhs_spec[0]} and feature dim {lhs_spec[1]}; rhs "
        f"{rhs.str_short()} has output feature dim {rhs_spec[0]} and input feature dim {rhs_spec[1]})"
    )
    if features % groups:
        raise ShapeError(
            f"{NAME}: the lhs feature dimension size {features} must be divisible by feature_group_count="
            f"{groups} {where}."
        )
    if features // groups != in_features:
        raise ShapeError(
            f"{NAME}: the lhs feature dimension size divided by feature_group_count must equal the rhs input "
            f"feature dimension size, but {features} // {groups} != {in_features} {where}."
        )
    if out_features % groups:
        raise ShapeError(
            f"{NAME}: the rhs output feature dimension size {out_features} must be divisible by "
            f"feature_group_count={groups} {where}."
        )
    if batch % batch_groups:
        raise ShapeError(
            f"{NAME}: the lhs batch dimension size {batch} must be divisible by batch_group_count="
            f"{batch_groups} {where}."
        )
    if out_features % batch_groups:
        raise ShapeError(
            f"{NAME}: the rhs output feature dimension size {out_features} must be divisible by "
            f"batch_group_count={batch_groups} {where}."
        )
    if preferred_element_type is None:
        if lhs.dtype != rhs.dtype:
            raise ShapeDtypeError(
                f"{NAME} requires lhs and rhs to have the same dtype, got {operands}. Convert one of them "
                "with x.astype(...)."
            )
        dtype = lhs.dtype
        weak = lhs.weak_type and rhs.weak_type
    else:
        dtype = np.dtype(preferred_element_type)
        for aval in (lhs, rhs):
            if _kind_class(aval.dtype) != _kind_class(dtype) and not (
                aval.dtype.kind == "f" and dtype.kind == "c"
            ):
                raise ShapeDtypeError(
                    f"{NAME}: preferred_element_type={dtype.name} and the operand dtype ({aval.str_short()}) "
                    "must both be integral or both be floating point."
                )
        weak = False
    spatial = _output_spatial(
        _spatial(lhs.shape, lhs_spec),
        _spatial(rhs.shape, rhs_spec),
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
    )
    internal = (batch // batch_groups, out_features) + spatial  # (batch, feature, spatial...) order
    shape = [0] * lhs.ndim
    for dim, size in zip(out_spec, internal):
        shape[dim] = size
    return ShapedArray(tuple(shape), dtype, weak)


# ---------------------------------------------------------------------------------------------------
# Eager implementation
# ---------------------------------------------------------------------------------------------------


class _Scratch(threading.local):
    """Per-thread reusable buffers for the impl's two large intermediates (padded input, im2col matrix).

    A fresh large array costs a page fault per page on every call (about 20% of a 3x3 conv2d here); these
    buffers never escape the impl (the matmul writes a fresh output), so reusing them is invisible.
    """

    padded_key: Any = None
    padded: np.ndarray | None = None
    cols: np.ndarray | None = None


_scratch = _Scratch()
_SCRATCH_MIN_BYTES = 1 << 20  # smaller arrays come from malloc's free lists, without page faults
_SCRATCH_MAX_BYTES = 256 << 20  # never keep more than this alive per thread and buffer


def _cols_buffer(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised array of ``shape`` for the im2col copy, reusing this thread's buffer when it fits."""
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if not _SCRATCH_MIN_BYTES <= nbytes <= _SCRATCH_MAX_BYTES:
        return np.empty(shape, dtype)
    buf = _scratch.cols
    if buf is None or buf.dtype != dtype or buf.size < count:
        buf = _scratch.cols = np.empty(count, dtype)
    return buf[:count].reshape(shape)


def _dilate_and_pad(x: np.ndarray, dilation: Sequence[int], padding: Sequence[tuple[int, int]]) -> np.ndarray:
    """Interior-pad (dilate) and edge-pad the spatial axes ``1..n`` of channels-last ``x`` in one copy.

    Element ``j`` of an axis lands at ``lo + j * dilation`` of the result; negative pads crop. The result may
    be this thread's scratch buffer: a call with the same shapes writes exactly the same positions, so the
    zeros around and between them are still in place.
    """
    if all(d == 1 for d in dilation) and all(lo == 0 and hi == 0 for lo, hi in padding):
        return x
    out_shape = [x.shape[0]]
    src, dst = [slice(None)], [slice(None)]
    empty = False
    for size, d, (lo, hi) in zip(x.shape[1:-1], dilation, padding):
        total = _dilate_dim(size, d) + lo + hi
        out_shape.append(total)
        first = -(lo // d) if lo < 0 else 0  # the first element landing at a position >= 0
        stop = builtins.min(size, (total - 1 - lo) // d + 1)  # one past the last landing before `total`
        empty = empty or stop <= first
        src.append(slice(first, stop))
        dst.append(slice(lo + first * d, lo + (stop - 1) * d + 1, d))
    out_shape.append(x.shape[-1])
    key = (x.shape, x.dtype, tuple(dilation), tuple(padding))
    if _scratch.padded_key == key:
        out = _scratch.padded
    else:
        out = np.zeros(out_shape, x.dtype)
        if _SCRATCH_MIN_BYTES <= out.nbytes <= _SCRATCH_MAX_BYTES:
            _scratch.padded_key, _scratch.padded = key, out
    if not empty:
        out[tuple(dst)] = x[tuple(src)]
    return out


def _conv_general_dilated_impl(
    lhs: np.ndarray,
    rhs: np.ndarray,
    *,
    window_strides: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
    lhs_dilation: tuple[int, ...],
    rhs_dilation: tuple[int, ...],
    dimension_numbers: ConvDimensionNumbers,
    feature_group_count: int,
    batch_group_count: int,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> np.ndarray:
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    n = len(lhs_spec) - 2
    if preferred_element_type is not None:
        lhs = lhs.astype(preferred_element_type, copy=False)
        rhs = rhs.astype(preferred_element_type, copy=False)
    elif lhs.dtype != rhs.dtype:
        raise ShapeDtypeError(
            f"{NAME} requires lhs and rhs to have the same dtype, got {lhs.dtype.name} and {rhs.dtype.name}."
        )
    # Internal layouts: x (N, spatial..., C), w (spatial..., I, O).
    x = lhs.transpose((lhs_spec[0], *lhs_spec[2:], lhs_spec[1]))
    w = rhs.transpose((*rhs_spec[2:], rhs_spec[1], rhs_spec[0]))
    kernel = w.shape[:n]
    in_features, out_features = w.shape[-2], w.shape[-1]
    batch_groups = batch_group_count
    groups = builtins.max(feature_group_count, batch_group_count)  # one of the two is 1
    batch = x.shape[0] // batch_groups
    spatial = _output_spatial(x.shape[1:-1], kernel, window_strides, padding, lhs_dilation, rhs_dilation)
    out_internal = (batch, *spatial, out_features)
    if 0 in out_internal or in_features == 0 or 0 in kernel:
        out = np.zeros(out_internal, lhs.dtype)
    else:
        xp = _dilate_and_pad(x, lhs_dilation, padding)
        extent = tuple(_dilate_dim(k, r) for k, r in zip(kernel, rhs_dilation))
        windows = sliding_window_view(xp, extent, axis=tuple(range(1, n + 1)))  # (N, P..., C, extent...)
        windows = windows[
            (slice(None),)
            + tuple(slice(None, None, s) for s in window_strides)
            + (slice(None),)
            + tuple(slice(None, None, r) for r in rhs_dilation)
        ]  # (N, out spatial..., C, kernel...), a view
        # Split batch into (batch groups, batch) and features into (feature groups, I): views, no copy.
        windows = windows.reshape((batch_groups, batch, *spatial, feature_group_count, in_features, *kernel))
        g_axis = 2 + n
        order = (0, g_axis, 1, *range(2, 2 + n), *range(g_axis + 2, g_axis + 2 + n), g_axis + 1)
        rows = batch * math.prod(spatial)
        depth = math.prod(kernel) * in_features
        patches = windows.transpose(order)
        cols = _cols_buffer(patches.shape, patches.dtype)
        np.copyto(cols, patches)  # the im2col copy
        cols = cols.reshape(groups, rows, depth)
        per_group = out_features // groups
        wm = w.reshape(*kernel, in_features, groups, per_group)
        wm = wm.transpose(n + 1, *range(n), n, n + 2).reshape(groups, depth, per_group)
        if groups == 1:
            out = np.matmul(cols[0], wm[0]).reshape(out_internal)
        else:
            out = np.matmul(cols, wm).reshape(groups, batch, *spatial, per_group)
            out = np.moveaxis(out, 0, -2).reshape(out_internal)
    # Internal axis k is output dim (batch, spatial..., feature)[k]: transpose into out_spec's order.
    placed = (out_spec[0], *out_spec[2:], out_spec[1])
    return out.transpose(np.argsort(placed))


conv_general_dilated_p = Primitive(
    NAME,
    _conv_general_dilated_impl,
    _conv_general_dilated_abstract_eval,
    weak=lambda lhs_weak, rhs_weak, preferred_element_type=None, **params: (
        lhs_weak and rhs_weak and preferred_element_type is None
    ),
)


# ---------------------------------------------------------------------------------------------------
# Public functions (jax.lax's signatures); the lead re-exports them from functorch_lite.lax
# ---------------------------------------------------------------------------------------------------


def _operand(x: Any) -> Any:
    if isinstance(x, (Array, Tracer)):
        return x
    dtype, weak = dtypes.dtype_and_weak(x)
    return Array(np.array(x, dtype=dtype), weak)


def conv_general_dilated(
    lhs: Any,
    rhs: Any,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> Any:
    """General n-dimensional convolution with strides, padding, dilations and groups (``jax.lax``'s API).

    ``padding`` is ``'SAME'``, ``'SAME_LOWER'``, ``'VALID'`` or one ``(lo, hi)`` pair per spatial dim;
    ``dimension_numbers`` is None (NCHW/OIHW/NCHW), a :class:`ConvDimensionNumbers` or string specs such as
    ``("NHWC", "HWIO", "NHWC")``.

    Example: ``conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))``.
    """
    lhs, rhs = _operand(lhs), _operand(rhs)
    dnums = conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    n = lhs.ndim - 2
    strides = _int_tuple("window_strides", window_strides, n)
    lhs_dil = _int_tuple("lhs_dilation", lhs_dilation, n)
    rhs_dil = _int_tuple("rhs_dilation", rhs_dilation, n)
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dil):
            raise ValueError(
                f"{NAME}: string padding is not implemented for transposed convolution (lhs_dilation="
                f"{lhs_dil}). Give explicit (lo, hi) padding, or use conv_transpose."
            )
        extent = [_dilate_dim(k, r) for k, r in zip(_spatial(rhs.shape, dnums.rhs_spec), rhs_dil)]
        pads = tuple(padtype_to_pads(_spatial(lhs.shape, dnums.lhs_spec), extent, strides, padding))
    else:
        pads = _explicit_padding(padding, n)
    params = dict(
        window_strides=strides,
        padding=pads,
        lhs_dilation=lhs_dil,
        rhs_dilation=rhs_dil,
        dimension_numbers=dnums,
        feature_group_count=int(feature_group_count),
        batch_group_count=int(batch_group_count),
        precision=precision,
        preferred_element_type=(
            None if preferred_element_type is None else dtypes.canonicalize_dtype(preferred_element_type)
        ),
    )
    if current_trace() is None:
        # Eager: check exactly as staging would, so errors do not depend on the transformation.
        _conv_general_dilated_abstract_eval(lhs.aval, rhs.aval, **params)
    return conv_general_dilated_p.bind(lhs, rhs, **params)


def conv(
    lhs: Any,
    rhs: Any,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    precision: Any = None,
    preferred_element_type: Any = None,
) -> Any:
    """Convolution of an NCHW-style lhs with an OIHW-style rhs, no dilation (``jax.lax.conv``).

    Example: ``conv(x, w, (1, 1), "VALID")``.
    """
    return conv_general_dilated(
        lhs, rhs, window_strides, padding, precision=precision, preferred_element_type=preferred_element_type
    )


_TRANSPOSE_DEFAULT_SPECS = {
    3: ("NHC", "HIO", "NHC"),
    4: ("NHWC", "HWIO", "NHWC"),
    5: ("NHWDC", "HWDIO", "NHWDC"),
}


def _conv_transpose_pads(kernel: int, stride: int, padding: str) -> tuple[int, int]:
    kind = padding.upper()
    if kind == "SAME":
        total = kernel + stride - 2
        before = kernel - 1 if stride > kernel - 1 else -(-total // 2)
    elif kind == "VALID":
        total = kernel + stride - 2 + builtins.max(kernel - stride, 0)
        before = kernel - 1
    else:
        raise ValueError(
            f"conv_transpose: padding must be 'SAME', 'VALID' or (lo, hi) pairs, got {padding!r}."
        )
    return before, total - before


def conv_transpose(
    lhs: Any,
    rhs: Any,
    strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    transpose_kernel: bool = False,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> Any:
    """Transposed ("deconvolution") convolution, as ``jax.lax.conv_transpose``: the input is dilated by
    ``strides``. Default layouts are channels-last (``NHWC``/``HWIO``/``NHWC`` and their 1-D/3-D analogues).
    ``transpose_kernel=True`` flips the kernel's spatial dims and swaps its I/O dims, which makes this the
    gradient of ``conv_general_dilated`` with respect to its input.

    Example: ``conv_transpose(x, w, (2, 2), "SAME")`` doubles the spatial size of an NHWC ``x``.
    """
    from .shape import rev_p, transpose_p

    lhs, rhs = _operand(lhs), _operand(rhs)
    if dimension_numbers is None:
        if lhs.ndim not in _TRANSPOSE_DEFAULT_SPECS:
            raise ShapeError(
                f"conv_transpose: give dimension_numbers for rank-{lhs.ndim} operands (defaults exist for "
                "1-3 spatial dims)."
            )
        dimension_numbers = _TRANSPOSE_DEFAULT_SPECS[lhs.ndim]
    dnums = conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    n = lhs.ndim - 2
    rhs_dil = _int_tuple("rhs_dilation", rhs_dilation, n)
    stride_t = _int_tuple("strides", strides, n)
    if isinstance(padding, str):
        extent = [_dilate_dim(k, r) for k, r in zip(_spatial(rhs.shape, dnums.rhs_spec), rhs_dil)]
        pads: Any = [_conv_transpose_pads(k, s, padding) for k, s in zip(extent, stride_t)]
    else:
        pads = padding
    if transpose_kernel:
        rhs = rev_p.bind(rhs, dimensions=tuple(dnums.rhs_spec[2:]))
        perm = list(range(rhs.ndim))
        perm[dnums.rhs_spec[0]], perm[dnums.rhs_spec[1]] = dnums.rhs_spec[1], dnums.rhs_spec[0]
        rhs = transpose_p.bind(rhs, permutation=tuple(perm))
    return conv_general_dilated(
        lhs,
        rhs,
        (1,) * n,
        pads,
        lhs_dilation=stride_t,
        rhs_dilation=rhs_dil,
        dimension_numbers=dnums,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


# ---------------------------------------------------------------------------------------------------
# Differentiation rules
# ---------------------------------------------------------------------------------------------------
#
# The convolution is bilinear: its JVP is conv(t_lhs, rhs) + conv(lhs, t_rhs). Each transpose is another
# convolution. For lhs: the cotangent, dilated by the forward strides, is convolved with the spatially flipped
# kernel (I and O roles swapped), strided by the forward lhs dilation. For rhs: lhs (batch and feature roles
# swapped) is convolved with the cotangent used as the kernel, dilated by the forward strides. Feature groups
# of the forward pass become batch groups of the rhs transpose and vice versa.

from ..core.trace import aval_of  # noqa: E402
from ..transforms.ad import Zero, add_tangents, is_undefined, tangent_aval  # noqa: E402
from .elementwise import convert_element_type_p  # noqa: E402
from .shape import reshape_p, rev_p, transpose_p  # noqa: E402


def _conv_general_dilated_jvp(primals: list, tangents: list, **params: Any) -> tuple[Any, Any]:
    (lhs, rhs), (t_lhs, t_rhs) = primals, tangents
    out = conv_general_dilated_p.bind(lhs, rhs, **params)
    total: Any = Zero(tangent_aval(aval_of(out)))
    if type(t_lhs) is not Zero:
        total = conv_general_dilated_p.bind(t_lhs, rhs, **params)
    if type(t_rhs) is not Zero:
        total = add_tangents(total, conv_general_dilated_p.bind(lhs, t_rhs, **params))
    return out, total


def _swap_first_two(spec: Sequence[int]) -> tuple[int, ...]:
    return (spec[1], spec[0], *spec[2:])


def _fold_axis_into(x: Any, src: int, dst: int, count: int) -> Any:
    """Split axis ``src`` into ``(count, rest)`` and merge the ``count`` part into axis ``dst`` as its major
    part: ``src`` shrinks by ``count``, ``dst`` grows by it."""
    shape = tuple(x.shape)
    split = shape[:src] + (count, shape[src] // count) + shape[src + 1 :]
    y = reshape_p.bind(x, new_sizes=split, dimensions=None, sharding=None)
    dst_in_y = dst if dst < src else dst + 1
    order = [a for a in range(len(split)) if a != src]
    order.insert(order.index(dst_in_y), src)
    if order != list(range(len(split))):
        y = transpose_p.bind(y, permutation=tuple(order))
    merged = list(shape)
    merged[src] = shape[src] // count
    merged[dst] = shape[dst] * count
    return reshape_p.bind(y, new_sizes=tuple(merged), dimensions=None, sharding=None)


def _cast(x: Any, dtype: np.dtype) -> Any:
    if x.dtype == dtype:
        return x
    return convert_element_type_p.bind(x, new_dtype=np.dtype(dtype), weak_type=False, sharding=None)


def _transpose_lhs(ct: Any, lhs_aval: ShapedArray, rhs: Any, params: dict) -> Any:
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    groups = builtins.max(params["feature_group_count"], params["batch_group_count"])
    in_sizes = _spatial(lhs_aval.shape, lhs_spec)
    kernel = _spatial(aval_of(rhs).shape, rhs_spec)
    out_sizes = _spatial(ct.shape, out_spec)
    pads = []
    for size, k, o, (lo, _), s, ld, rd in zip(
        in_sizes,
        kernel,
        out_sizes,
        params["padding"],
        params["window_strides"],
        params["lhs_dilation"],
        params["rhs_dilation"],
    ):
        extent = _dilate_dim(k, rd)
        pads.append((extent - 1 - lo, _dilate_dim(size, ld) + lo - _dilate_dim(o, s)))
    w = rhs
    if groups > 1:
        # Output-feature groups become input-feature blocks of the transposed kernel.
        w = _fold_axis_into(w, rhs_spec[0], rhs_spec[1], groups)
    w = rev_p.bind(w, dimensions=tuple(rhs_spec[2:]))
    out = conv_general_dilated_p.bind(
        ct,
        w,
        window_strides=params["lhs_dilation"],
        padding=tuple(pads),
        lhs_dilation=params["window_strides"],
        rhs_dilation=params["rhs_dilation"],
        dimension_numbers=ConvDimensionNumbers(out_spec, _swap_first_two(rhs_spec), lhs_spec),
        feature_group_count=groups,
        batch_group_count=1,
        precision=params["precision"],
        preferred_element_type=None,
    )
    if params["batch_group_count"] > 1:
        # The result's features are (batch group, C): move the group into the batch dim.
        out = _fold_axis_into(out, lhs_spec[1], lhs_spec[0], params["batch_group_count"])
    return out


def _transpose_rhs(ct: Any, lhs: Any, rhs_aval: ShapedArray, params: dict) -> Any:
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    in_sizes = _spatial(aval_of(lhs).shape, lhs_spec)
    kernel = _spatial(rhs_aval.shape, rhs_spec)
    out_sizes = _spatial(ct.shape, out_spec)
    pads = []
    for size, k, o, (lo, _), s, ld, rd in zip(
        in_sizes,
        kernel,
        out_sizes,
        params["padding"],
        params["window_strides"],
        params["lhs_dilation"],
        params["rhs_dilation"],
    ):
        pads.append((lo, _dilate_dim(o, s) + _dilate_dim(k, rd) - 1 - lo - _dilate_dim(size, ld)))
    groups, batch_groups = params["feature_group_count"], params["batch_group_count"]
    return conv_general_dilated_p.bind(
        lhs,
        ct,
        window_strides=params["rhs_dilation"],
        padding=tuple(pads),
        lhs_dilation=params["lhs_dilation"],
        rhs_dilation=params["window_strides"],
        dimension_numbers=ConvDimensionNumbers(
            _swap_first_two(lhs_spec), _swap_first_two(out_spec), _swap_first_two(rhs_spec)
        ),
        feature_group_count=batch_groups,
        batch_group_count=groups,
        precision=params["precision"],
        preferred_element_type=None,
    )


def _conv_general_dilated_transpose(ct: Any, lhs: Any, rhs: Any, **params: Any) -> list:
    if is_undefined(lhs) and is_undefined(rhs):
        raise TypeError(f"{NAME} of two linear values is not linear; this is a bug in a JVP rule.")
    if type(ct) is Zero:
        return [None, None]
    if is_undefined(lhs):
        # With preferred_element_type the cotangent may be wider than the operands: compute in its dtype.
        ct_lhs = _transpose_lhs(ct, lhs.aval, _cast(rhs, ct.dtype), params)
        return [_cast(ct_lhs, lhs.aval.dtype), None]
    ct_rhs = _transpose_rhs(ct, _cast(lhs, ct.dtype), rhs.aval, params)
    return [None, _cast(ct_rhs, rhs.aval.dtype)]


conv_general_dilated_p.jvp = _conv_general_dilated_jvp
conv_general_dilated_p.transpose = _conv_general_dilated_transpose


# ---------------------------------------------------------------------------------------------------
# Batching rules
# ---------------------------------------------------------------------------------------------------
#
# The vmapped dim is folded into a dimension the convolution already maps over, so one convolution does the
# whole batch (as JAX's rule): a batched lhs folds it into the batch dim N; a batched rhs folds it into the
# output features O (one kernel per batch element); both batched fold it into lhs features and output
# features and multiply feature_group_count by the batch size (each element is a group of its own). Where
# groups already split N or O (group index major), the vmapped dim goes right after the group index.

from ..transforms.batching import move_axis  # noqa: E402


def _merge_axis(x: Any, src: int, dst: int) -> Any:
    """Axis ``src`` merged into axis ``dst`` as its major part; the result has no axis ``src`` (so the merged
    axis is at ``dst - (src < dst)``)."""
    order = [a for a in range(x.ndim) if a != src]
    at = order.index(dst)
    order.insert(at, src)
    if order != list(range(x.ndim)):
        x = transpose_p.bind(x, permutation=tuple(order))
    shape = list(x.shape)
    shape[at : at + 2] = [shape[at] * shape[at + 1]]
    return reshape_p.bind(x, new_sizes=tuple(shape), dimensions=None, sharding=None)


def _split_axis(x: Any, axis: int, major: int) -> Any:
    """Axis ``axis`` of size ``major * rest`` split into axes ``(major, rest)`` at ``axis`` and ``axis + 1``."""
    shape = tuple(x.shape)
    rest = shape[axis] // major if major else 0
    split = shape[:axis] + (major, rest) + shape[axis + 1 :]
    return reshape_p.bind(x, new_sizes=split, dimensions=None, sharding=None)


def _merge_after_groups(x: Any, src: int, dst: int, groups: int) -> Any:
    """Axis ``src`` merged into axis ``dst`` whose size is ``(groups, rest)`` group-major, as
    ``(groups, x.shape[src], rest)``; the result has no axis ``src``."""
    if groups == 1:
        return _merge_axis(x, src, dst)
    x = _split_axis(x, dst, groups)
    src = src + (src > dst)
    x = _merge_axis(x, src, dst + 1)  # (groups, batch * rest) at dst', dst' + 1
    group_axis = dst - (src < dst)
    return _merge_axis(x, group_axis, group_axis + 1)


def _conv_general_dilated_batch(axis_size: int, vals: list, dims: list, **params: Any) -> tuple[Any, int]:
    lhs, rhs = vals
    lhs_bdim, rhs_bdim = dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    groups, batch_groups = params["feature_group_count"], params["batch_group_count"]

    def at(spec_dim: int, bdim: int) -> int:  # an unbatched operand's dim in the batched value
        return spec_dim + (spec_dim >= bdim)

    if lhs_bdim is not None and rhs_bdim is not None:
        # Each batch element is a group of its own (a batch group when the convolution has batch groups).
        if batch_groups > 1:
            lhs = _merge_axis(lhs, lhs_bdim, at(lhs_spec[0], lhs_bdim))
            params = dict(params, batch_group_count=batch_groups * axis_size)
        else:
            lhs = _merge_axis(lhs, lhs_bdim, at(lhs_spec[1], lhs_bdim))
            params = dict(params, feature_group_count=groups * axis_size)
        rhs = _merge_axis(rhs, rhs_bdim, at(rhs_spec[0], rhs_bdim))
        out = conv_general_dilated_p.bind(lhs, rhs, **params)
        return _split_axis(out, out_spec[1], axis_size), out_spec[1]
    if lhs_bdim is not None:
        # More images: the batch joins N (after the batch-group index, which is N's major part).
        lhs = _merge_after_groups(lhs, lhs_bdim, at(lhs_spec[0], lhs_bdim), batch_groups)
        out = conv_general_dilated_p.bind(lhs, rhs, **params)
        return _split_axis(out, out_spec[0], axis_size), out_spec[0]
    # More kernels: the batch joins O (after the group index, which is O's major part).
    count = builtins.max(groups, batch_groups)
    rhs = _merge_after_groups(rhs, rhs_bdim, at(rhs_spec[0], rhs_bdim), count)
    out = conv_general_dilated_p.bind(lhs, rhs, **params)
    f = out_spec[1]
    if count == 1:
        return _split_axis(out, f, axis_size), f
    out = _split_axis(_split_axis(out, f, count), f + 1, axis_size)  # (groups, batch, per group)
    out = move_axis(out, f + 1, f)  # (batch, groups, per group)
    return _merge_axis(out, f + 1, f + 2), f


conv_general_dilated_p.batch = _conv_general_dilated_batch
