"""Shared hypothesis strategies and small helpers for the primitive tests.

Shapes are small (rank 0-3, dims 0-4 by default) so that a test with 25 examples runs in well under a second.
Arrays are plain NumPy arrays; tests convert them with ``fnp.asarray`` inside the test body (after the x64
flag is set, so float64 stays float64).

Example:
    >>> @given(x=arrays_of("float32"))
    ... def test_something(x): ...
"""

from __future__ import annotations

import contextlib

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import functorch_lite as fl

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FLOAT_DTYPES = ["float32", "float64"]
INT_DTYPES = ["int32", "int8", "uint8"]
NUMBER_DTYPES = FLOAT_DTYPES + INT_DTYPES
ALL_DTYPES = NUMBER_DTYPES + ["bool"]


# ---------------------------------------------------------------------------------------------------
# The x64 flag
# ---------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def x64(enabled: bool = True):
    """Set ``enable_x64`` for the duration of the block, then restore the previous value."""
    previous = fl.config.enable_x64
    fl.config.update("enable_x64", enabled)
    try:
        yield
    finally:
        fl.config.update("enable_x64", previous)


def _is_64bit(value) -> bool:
    if isinstance(value, (tuple, list)):
        return any(_is_64bit(v) for v in value)
    try:
        dtype = np.dtype(value)
    except TypeError:
        return False
    return dtype.kind in "iuf" and dtype.itemsize == 8


def needs_x64(request) -> bool:
    """True when a pytest test is parametrized with a 64-bit dtype (by name, dtype, or inside a tuple)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None:
        return False
    return any(_is_64bit(v) for v in callspec.params.values() if isinstance(v, (str, np.dtype, tuple, list)))


# ---------------------------------------------------------------------------------------------------
# Shapes and axes
# ---------------------------------------------------------------------------------------------------


def shapes(min_rank=0, max_rank=3, min_side=0, max_side=4):
    """Array shapes: rank in [min_rank, max_rank], each dimension in [min_side, max_side]."""
    return hnp.array_shapes(min_dims=min_rank, max_dims=max_rank, min_side=min_side, max_side=max_side)


@st.composite
def lax_broadcastable_shapes(draw, min_rank=0, max_rank=3, max_side=4):
    """A pair of shapes that lax's elementwise rule accepts: equal rank with dims equal or 1, or a rank-0 one.

    Returns ``(shape_x, shape_y)``.
    """
    full = draw(shapes(min_rank, max_rank, 0, max_side))

    def variant():
        if full and draw(st.integers(0, 4)) == 0:
            return ()
        return tuple(1 if draw(st.booleans()) and draw(st.booleans()) else d for d in full)

    return variant(), variant()


@st.composite
def axes_subsets(draw, ndim):
    """A sorted tuple of distinct axes of an array of rank ``ndim`` (possibly empty)."""
    chosen = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
    return tuple(i for i, c in enumerate(chosen) if c)


def permutations(ndim):
    """A permutation of ``range(ndim)`` as a tuple."""
    return st.permutations(list(range(ndim))).map(tuple)


@st.composite
def slice_specs(draw, shape):
    """``(start_indices, limit_indices, strides)`` valid for ``shape``, strides in 1..3."""
    starts, limits, strides = [], [], []
    for d in shape:
        start = draw(st.integers(0, d))
        starts.append(start)
        limits.append(draw(st.integers(start, d)))
        strides.append(draw(st.integers(1, 3)))
    return tuple(starts), tuple(limits), tuple(strides)


@st.composite
def padding_configs(draw, shape, min_lo=-3, max_lo=3, max_interior=2):
    """A lax padding_config (lo, hi, interior) per dimension, negative lo/hi allowed, result size >= 0."""
    config = []
    for d in shape:
        interior = draw(st.integers(0, max_interior))
        dilated = d + max(d - 1, 0) * interior
        lo = draw(st.integers(min_lo, max_lo))
        hi = draw(st.integers(max(min_lo, -dilated - lo), max(max_lo, -dilated - lo)))
        config.append((lo, hi, interior))
    return tuple(config)


@st.composite
def reshape_targets(draw, shape):
    """A shape with as many elements as ``shape``: its dims permuted, adjacent ones merged, 1s inserted."""
    dims = list(draw(st.permutations(list(shape)))) if shape else []
    merged = []
    for d in dims:
        if merged and draw(st.booleans()):
            merged[-1] *= d
        else:
            merged.append(d)
    for _ in range(draw(st.integers(0, 1))):
        merged.insert(draw(st.integers(0, len(merged))), 1)
    return tuple(merged)


# ---------------------------------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------------------------------


def float_elements(dtype, min_value=-10.0, max_value=10.0, allow_nan=True, allow_infinity=True, special=()):
    """Floats of ``dtype``: finite values in a range, plus (optionally) nan, +-inf, +-0 and ``special``."""
    width = np.dtype(dtype).itemsize * 8
    min_value, max_value = (float(np.asarray(v, dtype)) for v in (min_value, max_value))  # representable
    finite = st.floats(min_value, max_value, width=width, allow_nan=False, allow_infinity=False)
    extras = [0.0, -0.0, *special]
    if allow_nan:
        extras.append(np.nan)
    if allow_infinity:
        extras += [np.inf, -np.inf]
    return st.one_of(finite, finite, finite, st.sampled_from(extras))


def int_elements(dtype, min_value=None, max_value=None):
    """Integers of ``dtype``, by default its whole range (with its extremes drawn often)."""
    info = np.iinfo(dtype)
    lo = info.min if min_value is None else max(min_value, int(info.min))
    hi = info.max if max_value is None else min(max_value, int(info.max))
    return st.one_of(st.integers(lo, hi), st.sampled_from(sorted({lo, hi, max(lo, min(hi, 0))})))


def elements_for(dtype, **kw):
    """A default element strategy for ``dtype``: floats (with nan/inf unless told), integers, bools."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return float_elements(dtype, **kw)
    if dtype.kind in "iu":
        return int_elements(dtype, **kw)
    if dtype.kind == "b":
        return st.booleans()
    raise ValueError(f"no element strategy for {dtype}")


def arrays_of(dtype, shape=None, elements=None, **kw):
    """NumPy arrays of ``dtype`` with a drawn (or given) shape; ``kw`` go to the element strategy."""
    dtype = np.dtype(dtype)
    return hnp.arrays(
        dtype,
        shapes() if shape is None else shape,
        elements=elements if elements is not None else elements_for(dtype, **kw),
    )


@st.composite
def broadcastable_arrays(draw, dtype, n=2, elements=None, **kw):
    """``n`` arrays of ``dtype`` whose shapes lax's elementwise rule accepts together."""
    x_shape, y_shape = draw(lax_broadcastable_shapes())
    shapes_ = [x_shape, y_shape]
    while len(shapes_) < n:
        shapes_.append(draw(st.sampled_from([x_shape, y_shape])))
    return tuple(draw(arrays_of(dtype, s, elements, **kw)) for s in shapes_[:n])


# ---------------------------------------------------------------------------------------------------
# Checks shared by the primitive tests
# ---------------------------------------------------------------------------------------------------


def assert_same(got, want, rtol=0.0, atol=0.0):
    """``got`` (an Array) equals the NumPy reference ``want``: same dtype and shape, NaNs at the same places,
    other values exactly equal (or within ``rtol``/``atol``)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"dtype {got.dtype}, expected {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
    if want.dtype.kind == "f":
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg="NaN positions differ")
        if rtol or atol:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
            return
    np.testing.assert_array_equal(got, want)


def run_all_ways(fn, *args, primitive=None):
    """Run ``fn(*args)`` eagerly, and staged with make_jaxpr then eval_jaxpr; check they agree.

    Also checks that the jaxpr type-checks (every equation's abstract_eval accepts its operands and gives
    its binder's type), that its output aval has the eager result's shape, dtype and weak type, and that
    ``primitive`` (a name) was recorded. Returns the eager result.
    """
    from functorch_lite.core.jaxpr import typecheck_jaxpr

    eager = fn(*args)
    closed = fl.make_jaxpr(fn)(*args)
    (aval,) = typecheck_jaxpr(closed.jaxpr)
    assert (aval.shape, aval.dtype) == (eager.shape, eager.dtype), (aval, eager.shape, eager.dtype)
    assert aval.weak_type == eager.weak_type, (aval, eager.weak_type)
    if primitive is not None:
        names = [e.primitive.name for e in closed.jaxpr.eqns]
        assert primitive in names, f"{primitive} not in the staged equations {names}"
    (staged,) = fl.eval_jaxpr(closed.jaxpr, closed.consts, *args)
    assert_same(staged, eager)
    assert staged.weak_type == eager.weak_type
    return eager


def tolerance(dtype, f32=1e-6, f64=1e-12):
    """``dict(rtol=..., atol=...)`` for comparing a transcendental function's result of ``dtype``."""
    tol = f64 if np.dtype(dtype) == np.float64 else f32
    return dict(rtol=tol, atol=tol)


def wrap_ints(values, dtype):
    """Python integers wrapped modulo 2**bits into ``dtype`` (two's complement), as a NumPy array."""
    dtype = np.dtype(dtype)
    mask = (1 << (8 * dtype.itemsize)) - 1
    flat = np.array([int(v) & mask for v in np.ravel(values)], dtype=f"u{dtype.itemsize}")
    return flat.view(dtype).reshape(np.shape(values))
