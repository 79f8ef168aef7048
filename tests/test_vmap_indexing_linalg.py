"""vmap of indexing, sorting, contraction, convolution and decomposition primitives.

Every case is checked the same way: ``fl.vmap(f, in_axes, out_axes)`` must equal a reference that slices
the batch out with NumPy, calls ``f`` once per element in a Python loop and stacks the results at
``out_axes``. Hypothesis draws the in_axes (positive, negative, or None so that batched indices meet an
unbatched operand and vice versa) and the out_axes. Nested vmap uses the same reference twice, and
vmap-of-grad (per-example gradients of a small MLP, and of functions built on gather/sort/conv) is compared
with a loop of ``fl.grad``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax, tree_util
from functorch_lite.primitives.indexing import (
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
)

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
B, B2 = 3, 2  # batch sizes (outer vmap, inner vmap)
CLIP = GatherScatterMode.CLIP
FILL = GatherScatterMode.FILL_OR_DROP
PROMISE = GatherScatterMode.PROMISE_IN_BOUNDS

# ---------------------------------------------------------------------------------------------------
# The loop reference and the checker
# ---------------------------------------------------------------------------------------------------


class Spec:
    """One operand of a case: its shape for a single batch element and what its values are: floats, or
    integers in ``[lo, hi)`` (indices)."""

    def __init__(self, shape: Sequence[int], lo: int | None = None, hi: int | None = None, dtype: str = ""):
        self.shape = tuple(shape)
        self.lo, self.hi = lo, hi
        self.dtype = dtype or ("int32" if lo is not None else "float32")

    def make(self, rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
        if self.lo is not None:
            return rng.integers(self.lo, self.hi, size=shape).astype(self.dtype)
        return rng.standard_normal(shape).astype(self.dtype)


def F(*shape: int) -> Spec:
    return Spec(shape)


def I(shape: Sequence[int], lo: int, hi: int) -> Spec:  # noqa: E743
    return Spec(shape, lo, hi)


def reference_vmap(f: Callable, in_axes: Sequence[int | None], out_axes: int) -> Callable:
    """vmap by hand: slice each mapped argument, call ``f`` per element, stack every output leaf."""

    def looped(*args: Any) -> Any:
        args = [np.asarray(a) for a in args]
        size = next(a.shape[ax] for a, ax in zip(args, in_axes) if ax is not None)
        outs = []
        for b in range(size):
            sliced = [a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, in_axes)]
            outs.append(f(*[fnp.asarray(s) for s in sliced]))
        leaves = [tree_util.tree_leaves(o) for o in outs]
        stacked = [np.stack([np.asarray(c[k]) for c in leaves], axis=out_axes) for k in range(len(leaves[0]))]
        return tree_util.tree_unflatten(tree_util.tree_structure(outs[0]), stacked)

    return looped


def assert_trees_close(got: Any, want: Any, rtol: float, atol: float) -> None:
    got_leaves, want_leaves = tree_util.tree_leaves(got), tree_util.tree_leaves(want)
    assert tree_util.tree_structure(got) == tree_util.tree_structure(want)
    for g, w in zip(got_leaves, want_leaves):
        g = np.asarray(g)
        assert g.shape == w.shape, (g.shape, w.shape)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        if g.dtype.kind in "iub":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def draw_in_axes(data: st.DataObject, ranks: Sequence[int]) -> list[int | None]:
    """One in_axis per operand (None, or a possibly negative axis of the batched rank); at least one int."""
    axes = [data.draw(st.sampled_from([None, *range(-r - 1, r + 1)])) for r in ranks]
    if all(a is None for a in axes):
        k = data.draw(st.integers(0, len(ranks) - 1))
        axes[k] = data.draw(st.integers(-ranks[k] - 1, ranks[k]))
    return axes


def batched_shape(shape: tuple[int, ...], axis: int | None, size: int) -> tuple[int, ...]:
    if axis is None:
        return shape
    axis %= len(shape) + 1
    return shape[:axis] + (size,) + shape[axis:]


def out_rank(f: Callable, elements: list) -> int:
    return min(np.ndim(o) for o in tree_util.tree_leaves(f(*[fnp.asarray(e) for e in elements])))


def check_vmap(
    data: st.DataObject, f: Callable, specs: Sequence[Spec], rtol: float = 1e-4, atol: float = 1e-5
) -> None:
    """``fl.vmap(f)`` equals the loop reference for drawn in_axes/out_axes (and the same data)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    axes = draw_in_axes(data, [len(s.shape) for s in specs])
    args = [s.make(rng, batched_shape(s.shape, a, B)) for s, a in zip(specs, axes)]
    rank = out_rank(f, [s.make(rng, s.shape) for s in specs])
    out_axis = data.draw(st.integers(-rank - 1, rank), label="out_axes")
    got = fl.vmap(f, in_axes=tuple(axes), out_axes=out_axis)(*[fnp.asarray(a) for a in args])
    want = reference_vmap(f, axes, out_axis)(*args)
    assert_trees_close(got, want, rtol, atol)


def check_nested_vmap(
    data: st.DataObject, f: Callable, specs: Sequence[Spec], rtol: float = 1e-4, atol: float = 1e-5
) -> None:
    """``vmap(vmap(f, inner axes), outer axes)`` equals the loop reference applied twice."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    ranks = [len(s.shape) for s in specs]
    inner = draw_in_axes(data, ranks)
    inner_shapes = [batched_shape(s.shape, a, B2) for s, a in zip(specs, inner)]
    outer = draw_in_axes(data, [len(s) for s in inner_shapes])
    args = [s.make(rng, batched_shape(shape, a, B)) for s, shape, a in zip(specs, inner_shapes, outer)]
    rank = out_rank(f, [s.make(rng, s.shape) for s in specs])
    inner_out = data.draw(st.integers(0, rank), label="inner out_axes")
    outer_out = data.draw(st.integers(0, rank + 1), label="outer out_axes")
    vmapped = fl.vmap(fl.vmap(f, in_axes=tuple(inner), out_axes=inner_out), tuple(outer), outer_out)
    got = vmapped(*[fnp.asarray(a) for a in args])
    want = reference_vmap(reference_vmap(f, inner, inner_out), outer, outer_out)(*args)
    assert_trees_close(got, want, rtol, atol)


# ---------------------------------------------------------------------------------------------------
# Cases: (function, operand specs)
# ---------------------------------------------------------------------------------------------------

FANCY_INDEXING = {
    "rows": (lambda x, i: x[i], [F(5, 4), I((3,), -5, 5)]),
    "columns_2d_index": (lambda x, i: x[:, i], [F(4, 5), I((2, 3), 0, 5)]),
    "two_arrays": (lambda x, i, j: x[i, j], [F(4, 5, 2), I((3,), 0, 4), I((3,), -5, 5)]),
    "array_and_slice": (lambda x, i: x[i, 1:3], [F(5, 4), I((2,), 0, 5)]),
    "separated_arrays": (lambda x, i, j: x[i, :, j], [F(4, 3, 5), I((2,), 0, 4), I((2,), 0, 5)]),
    "scalar_index": (lambda x, i: x[i], [F(6, 2), I((), 0, 6)]),
}


def _gather(dn: GatherDimensionNumbers, sizes: tuple[int, ...], mode: Any) -> Callable:
    return lambda x, i: lax.gather(x, i, dn, sizes, mode=mode)


GN = GatherDimensionNumbers
GATHERS = {
    "rows": (GN((1,), (0,), (0,)), (1, 4), [F(5, 4), I((3, 1), 0, 5)], (PROMISE, CLIP, FILL)),
    "rows_oob": (GN((1,), (0,), (0,)), (1, 4), [F(5, 4), I((3, 1), -2, 7)], (CLIP, FILL)),
    "windows": (GN((1, 2), (), (0, 1)), (2, 3), [F(6, 5), I((2, 2), -1, 6)], (CLIP, FILL)),
    "window_first": (GN((0,), (1,), (1,)), (3, 1), [F(3, 6), I((4, 1), 0, 6)], (PROMISE, FILL)),
    "index_vector_only": (GN((0,), (0,), (0,)), (1, 4), [F(5, 4), I((1,), 0, 5)], (PROMISE, CLIP)),
    "batching_dims": (
        GN((), (1,), (1,), operand_batching_dims=(0,), start_indices_batching_dims=(0,)),
        (1, 1),
        [F(3, 5), I((3, 2, 1), 0, 5)],
        (PROMISE, CLIP),
    ),
    "batching_dims_later": (
        GN((2,), (0,), (0,), operand_batching_dims=(1,), start_indices_batching_dims=(1,)),
        (1, 1, 2),
        [F(4, 3, 2), I((2, 3, 1), 0, 4)],
        (PROMISE, FILL),
    ),
}

SN = ScatterDimensionNumbers
SCATTERS = {
    "rows": (SN((1,), (0,), (0,)), [F(5, 4), I((3, 1), 0, 5), F(3, 4)]),
    "scalars": (SN((), (0,), (0,)), [F(6), I((4, 1), 0, 6), F(4)]),
    "windows_oob": (SN((1, 2), (), (0, 1)), [F(6, 5), I((2, 2), -1, 6), F(2, 2, 3)]),
    "window_first": (SN((0,), (0,), (0,)), [F(5, 4), I((3, 1), 0, 5), F(4, 3)]),
    "index_vector_only": (SN((0,), (0,), (0,)), [F(5, 4), I((1,), 0, 5), F(4)]),
    "batching_dims": (
        SN((), (1,), (1,), operand_batching_dims=(0,), scatter_indices_batching_dims=(0,)),
        [F(3, 5), I((3, 2, 1), 0, 5), F(3, 2)],
    ),
}
SCATTER_FNS = {
    "scatter": lax.scatter,
    "scatter_add": lax.scatter_add,
    "scatter_mul": lax.scatter_mul,
    "scatter_min": lax.scatter_min,
    "scatter_max": lax.scatter_max,
}


def _dot_general(dn: Any) -> Callable:
    return lambda x, y: lax.dot_general(x, y, dn)


CONTRACTIONS = {
    "matmul": (fnp.matmul, [F(3, 4), F(4, 2)]),
    "matmul_vector_matrix": (fnp.matmul, [F(4), F(4, 2)]),
    "matmul_matrix_vector": (fnp.matmul, [F(3, 4), F(4)]),
    "matmul_batched": (fnp.matmul, [F(2, 3, 4), F(2, 4, 5)]),
    "matmul_broadcast": (fnp.matmul, [F(2, 3, 4), F(4, 2)]),
    "dot_vectors": (fnp.dot, [F(5), F(5)]),
    "dot_matrix_vector": (fnp.dot, [F(3, 4), F(4)]),
    "einsum_matmul": (lambda x, y: fnp.einsum("ij,jk->ik", x, y), [F(3, 4), F(4, 2)]),
    "einsum_batched": (lambda x, y: fnp.einsum("bij,bjk->bik", x, y), [F(2, 3, 4), F(2, 4, 2)]),
    "einsum_rowwise": (lambda x, y: fnp.einsum("ij,ij->i", x, y), [F(3, 4), F(3, 4)]),
    "einsum_outer": (lambda x, y: fnp.einsum("i,j->ij", x, y), [F(3), F(4)]),
    "einsum_three": (lambda x, y, z: fnp.einsum("ij,jk,k->i", x, y, z), [F(3, 4), F(4, 2), F(2)]),
    "dot_general_batch_dims": (_dot_general((((2,), (1,)), ((0,), (0,)))), [F(2, 3, 4), F(2, 4, 5)]),
    "dot_general_odd_dims": (_dot_general((((0,), (2,)), ((2,), (0,)))), [F(4, 3, 2), F(2, 5, 4)]),
    "dot_general_int": (
        _dot_general((((1,), (0,)), ((), ()))),
        [Spec((3, 4), -5, 5), Spec((4, 2), -5, 5)],
    ),
}

SORTS = {
    "last_dim": (lambda x: lax.sort(x), [F(4, 5)]),
    "first_dim": (lambda x: lax.sort(x, dimension=0), [F(4, 5)]),
    "vector_int_ties": (lambda x: lax.sort(x), [I((7,), 0, 3)]),
    "key_val": (lambda k, v: lax.sort_key_val(k, v), [I((6,), 0, 3), F(6)]),
    "two_keys": (
        lambda k1, k2, v: lax.sort((k1, k2, v), num_keys=2),
        [I((3, 6), 0, 2), I((3, 6), 0, 3), F(3, 6)],
    ),
    "unstable_floats": (lambda x: lax.sort(x, dimension=1, is_stable=False), [F(2, 5, 3)]),
}


def _conv(**kw: Any) -> Callable:
    strides = kw.pop("window_strides")
    padding = kw.pop("padding")
    return lambda x, w: lax.conv_general_dilated(x, w, strides, padding, **kw)


CONVS = {
    "nchw_same_strided": (_conv(window_strides=(1, 2), padding="SAME"), [F(2, 4, 5, 5), F(3, 4, 3, 3)]),
    "feature_groups": (
        _conv(window_strides=(1, 1), padding="VALID", feature_group_count=2),
        [F(2, 4, 5, 4), F(6, 2, 3, 2)],
    ),
    "depthwise": (
        _conv(window_strides=(1, 1), padding="SAME", feature_group_count=3),
        [F(1, 3, 4, 4), F(3, 1, 2, 2)],
    ),
    "batch_groups": (
        _conv(window_strides=(1, 1), padding="VALID", batch_group_count=2),
        [F(4, 3, 5, 5), F(4, 3, 3, 3)],
    ),
    "nhwc_dilated": (
        _conv(
            window_strides=(1, 1),
            padding=((1, 0), (2, 1)),
            lhs_dilation=(1, 2),
            rhs_dilation=(2, 1),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        ),
        [F(2, 5, 4, 3), F(2, 3, 3, 4)],
    ),
    "nhwc_groups": (
        _conv(
            window_strides=(2, 1),
            padding="SAME",
            feature_group_count=2,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        ),
        [F(2, 5, 5, 4), F(3, 3, 2, 4)],
    ),
    "conv1d": (_conv(window_strides=(2,), padding="VALID"), [F(2, 3, 7), F(4, 3, 3)]),
    "odd_layout_batch_groups": (
        _conv(
            window_strides=(1,),
            padding="SAME",
            batch_group_count=3,
            dimension_numbers=("CWN", "WOI", "WNC"),
        ),
        [F(2, 6, 3), F(3, 6, 2)],
    ),
}


def _spd(a: Any) -> Any:
    return fnp.matmul(a, fnp.swapaxes(a, -1, -2)) + 3.0 * fnp.eye(a.shape[-1], dtype=a.dtype)


def _triangular_solve(**kw: Any) -> Callable:
    return lambda a, b: lax.linalg.triangular_solve(_spd(a), b, **kw)


DECOMPOSITIONS = {
    "cholesky": (lambda a: fnp.linalg.cholesky(_spd(a)), [F(3, 3)]),
    "cholesky_stack": (lambda a: fnp.linalg.cholesky(_spd(a)), [F(2, 3, 3)]),
    "qr_reduced": (lambda a: fnp.linalg.qr(a), [F(4, 3)]),
    "qr_complete": (lambda a: tuple(fnp.linalg.qr(a, mode="complete")), [F(2, 3, 2)]),
    "svd": (lambda a: tuple(fnp.linalg.svd(a, full_matrices=False)), [F(4, 3)]),
    "svd_values": (lambda a: fnp.linalg.svd(a, compute_uv=False), [F(2, 3, 4)]),
    "eigh": (lambda a: tuple(fnp.linalg.eigh(_spd(a))), [F(3, 3)]),
    "eigvalsh_stack": (lambda a: fnp.linalg.eigvalsh(_spd(a)), [F(2, 3, 3)]),
    "lu": (lambda a: tuple(lax.linalg.lu(a)), [F(4, 3)]),
    "inv": (lambda a: fnp.linalg.inv(_spd(a)), [F(3, 3)]),
    "det": (lambda a: fnp.linalg.det(_spd(a)), [F(2, 3, 3)]),
    "solve": (lambda a, b: fnp.linalg.solve(_spd(a), b), [F(3, 3), F(3, 2)]),
    "trsm_left_lower": (_triangular_solve(left_side=True, lower=True), [F(3, 3), F(3, 2)]),
    "trsm_right_upper_t": (_triangular_solve(lower=False, transpose_a=True), [F(3, 3), F(2, 3)]),
    "trsm_stack_unit": (
        _triangular_solve(left_side=True, lower=False, unit_diagonal=True),
        [F(2, 3, 3), F(2, 3, 4)],
    ),
    "trsm_vector": (_triangular_solve(left_side=True, lower=True), [F(3, 3), F(3)]),
}

# ---------------------------------------------------------------------------------------------------
# vmap == loop, one test per family
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(FANCY_INDEXING))
@given(data=st.data())
@SETTINGS
def test_vmap_fancy_indexing(case: str, data: st.DataObject) -> None:
    f, specs = FANCY_INDEXING[case]
    check_vmap(data, f, specs)


@pytest.mark.parametrize("case", sorted(GATHERS))
@given(data=st.data())
@SETTINGS
def test_vmap_gather(case: str, data: st.DataObject) -> None:
    dn, sizes, specs, modes = GATHERS[case]
    mode = data.draw(st.sampled_from(modes), label="mode")
    check_vmap(data, _gather(dn, sizes, mode), specs)


@pytest.mark.parametrize("prim", sorted(SCATTER_FNS))
@pytest.mark.parametrize("case", sorted(SCATTERS))
@given(data=st.data())
@settings(SETTINGS, max_examples=6)
def test_vmap_scatter(prim: str, case: str, data: st.DataObject) -> None:
    dn, specs = SCATTERS[case]
    mode = data.draw(st.sampled_from([CLIP, FILL]), label="mode")
    scatter = SCATTER_FNS[prim]
    check_vmap(data, lambda x, i, u: scatter(x, i, u, dn, mode=mode), specs)


@pytest.mark.parametrize("case", sorted(CONTRACTIONS))
@given(data=st.data())
@SETTINGS
def test_vmap_contractions(case: str, data: st.DataObject) -> None:
    f, specs = CONTRACTIONS[case]
    check_vmap(data, f, specs)


@pytest.mark.parametrize("case", sorted(SORTS))
@given(data=st.data())
@SETTINGS
def test_vmap_sort(case: str, data: st.DataObject) -> None:
    f, specs = SORTS[case]
    check_vmap(data, f, specs)


@pytest.mark.parametrize("case", sorted(CONVS))
@given(data=st.data())
@SETTINGS
def test_vmap_conv(case: str, data: st.DataObject) -> None:
    f, specs = CONVS[case]
    check_vmap(data, f, specs)


@pytest.mark.parametrize("case", sorted(DECOMPOSITIONS))
@given(data=st.data())
@settings(SETTINGS, max_examples=8)
def test_vmap_linalg(case: str, data: st.DataObject) -> None:
    f, specs = DECOMPOSITIONS[case]
    check_vmap(data, f, specs, rtol=1e-4, atol=1e-4)


def test_vmap_keeps_batch_dims_in_place() -> None:
    """Rules express the batch in the primitive itself: one primitive per op in the batched jaxpr, and no
    transpose where the batch dim can stay where it is."""
    xs, w = fnp.ones((3, 4, 5)), fnp.ones((5, 2))
    jaxpr = fl.make_jaxpr(fl.vmap(fnp.matmul, in_axes=(1, None), out_axes=1))(xs, w)
    names = [e.primitive.name for e in jaxpr.jaxpr.eqns]
    assert names.count("dot_general") == 1 and "transpose" not in names, names
    idx = fnp.zeros((3, 2, 1), dtype=fnp.int32)
    dn = GN((1,), (0,), (0,))
    jaxpr = fl.make_jaxpr(fl.vmap(lambda x, i: lax.gather(x, i, dn, (1, 5))))(xs, idx)
    names = [e.primitive.name for e in jaxpr.jaxpr.eqns]
    assert names == ["gather"], names


# ---------------------------------------------------------------------------------------------------
# Nested vmap
# ---------------------------------------------------------------------------------------------------

NESTED = {
    "matmul": CONTRACTIONS["matmul"],
    "einsum_batched": CONTRACTIONS["einsum_batched"],
    "fancy_rows": FANCY_INDEXING["rows"],
    "gather_batching_dims": (
        _gather(GATHERS["batching_dims"][0], (1, 1), CLIP),
        GATHERS["batching_dims"][2],
    ),
    "scatter_add_rows": (
        lambda x, i, u: lax.scatter_add(x, i, u, SCATTERS["rows"][0], mode=FILL),
        SCATTERS["rows"][1],
    ),
    "sort_key_val": SORTS["key_val"],
    "conv_groups": CONVS["feature_groups"],
    "conv_batch_groups": CONVS["batch_groups"],
    "trsm": DECOMPOSITIONS["trsm_left_lower"],
    "svd": DECOMPOSITIONS["svd"],
}


@pytest.mark.parametrize("case", sorted(NESTED))
@given(data=st.data())
@settings(SETTINGS, max_examples=8)
def test_nested_vmap(case: str, data: st.DataObject) -> None:
    f, specs = NESTED[case]
    check_nested_vmap(data, f, specs, atol=1e-4)


# ---------------------------------------------------------------------------------------------------
# vmap of grad, grad of vmap
# ---------------------------------------------------------------------------------------------------


def mlp_loss(params: dict, x: Any, y: Any) -> Any:
    h = fnp.tanh(fnp.matmul(x, params["w1"]) + params["b1"])
    pred = fnp.matmul(h, params["w2"]) + params["b2"]
    return fnp.mean((pred - y) ** 2)


def mlp_params(rng: np.random.Generator, batch: Sequence[int] = ()) -> dict:
    shapes = {"w1": (4, 8), "b1": (8,), "w2": (8, 2), "b2": (2,)}
    return {
        k: fnp.asarray(rng.standard_normal(tuple(batch) + s).astype("float32")) for k, s in shapes.items()
    }


def _stack_trees(trees: list, axis: int = 0) -> Any:
    return tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs], axis=axis), *trees)


@pytest.mark.parametrize("x_axis", [0, 1, -1])
def test_per_example_gradients_of_mlp(x_axis: int) -> None:
    rng = np.random.default_rng(0)
    params = mlp_params(rng)
    xs = rng.standard_normal((5, 4)).astype("float32")
    ys = rng.standard_normal((5, 2)).astype("float32")
    x_in = np.moveaxis(xs, 0, x_axis)
    grads = fl.vmap(fl.grad(mlp_loss), in_axes=(None, x_axis, 0))(params, fnp.asarray(x_in), fnp.asarray(ys))
    want = _stack_trees([fl.grad(mlp_loss)(params, fnp.asarray(x), fnp.asarray(y)) for x, y in zip(xs, ys)])
    assert_trees_close(grads, want, rtol=1e-4, atol=1e-5)


def test_ensemble_gradients_of_mlp() -> None:
    """Batched parameters (an ensemble) and shared data; losses stacked on axis 0, gradients on axis 1."""
    rng = np.random.default_rng(1)
    params = mlp_params(rng, batch=(3,))
    x = fnp.asarray(rng.standard_normal((6, 4)).astype("float32"))
    y = fnp.asarray(rng.standard_normal((6, 2)).astype("float32"))
    value_and_grad = fl.value_and_grad(mlp_loss)
    got = fl.vmap(value_and_grad, in_axes=(0, None, None), out_axes=(0, 1))(params, x, y)
    members = [tree_util.tree_map(lambda p, k=k: p[k], params) for k in range(3)]
    values, grads = zip(*[value_and_grad(p, x, y) for p in members])
    want = (_stack_trees(list(values)), _stack_trees(list(grads), axis=1))
    assert_trees_close(got, want, rtol=1e-4, atol=1e-5)


def _picky_loss(x: Any, idx: Any, w: Any) -> Any:
    """A loss through fancy indexing, a gather, a sort, a conv and a decomposition."""
    picked = x[idx]  # (3, 4)
    rows = lax.gather(x, idx[:, None], GN((1,), (0,), (0,)), (1, 4), mode=CLIP)
    ordered = lax.sort(picked * rows, dimension=1)
    conv = lax.conv_general_dilated(ordered[None, None], w, (1, 1), "SAME")
    chol = fnp.linalg.cholesky(_spd(ordered[:, :3]))
    return fnp.sum(conv**2) + fnp.sum(fnp.tanh(chol))


@given(data=st.data())
@settings(SETTINGS, max_examples=6)
def test_vmap_of_grad_through_indexing_sort_conv_linalg(data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    specs = [F(5, 4), I((3,), -5, 5), F(2, 1, 3, 3)]
    axes = draw_in_axes(data, [len(s.shape) for s in specs])
    args = [s.make(rng, batched_shape(s.shape, a, B)) for s, a in zip(specs, axes)]
    grad = fl.grad(_picky_loss, argnums=(0, 2))
    got = fl.vmap(grad, in_axes=tuple(axes))(*[fnp.asarray(a) for a in args])
    want = reference_vmap(grad, axes, 0)(*args)
    assert_trees_close(got, want, rtol=1e-3, atol=1e-4)


def test_grad_of_vmap_matches_summed_loop_gradients() -> None:
    rng = np.random.default_rng(2)
    params = mlp_params(rng)
    xs = fnp.asarray(rng.standard_normal((4, 4)).astype("float32"))
    ys = fnp.asarray(rng.standard_normal((4, 2)).astype("float32"))
    total = lambda p: fnp.sum(fl.vmap(mlp_loss, in_axes=(None, 0, 0))(p, xs, ys))
    got = fl.grad(total)(params)
    per_example = [fl.grad(mlp_loss)(params, xs[k], ys[k]) for k in range(4)]
    want = tree_util.tree_map(lambda *g: np.sum(np.stack([np.asarray(x) for x in g]), axis=0), *per_example)
    assert_trees_close(got, want, rtol=1e-4, atol=1e-5)


def test_vmap_of_jacrev_of_scatter_and_sort() -> None:
    """Reverse mode inside vmap transposes batched gathers/scatters (scatter-add, gather) and sorts."""
    rng = np.random.default_rng(3)
    dn = SN((), (0,), (0,))
    idx = fnp.asarray(np.array([[1], [3], [1]], dtype=np.int32))

    def f(x: Any, u: Any) -> Any:
        return lax.sort(lax.scatter_add(x, idx, u, dn) * x)

    xs = rng.standard_normal((3, 5)).astype("float32")
    us = rng.standard_normal((3, 3)).astype("float32")
    jac = fl.jacrev(f, argnums=(0, 1))
    got = fl.vmap(jac)(fnp.asarray(xs), fnp.asarray(us))
    want = _stack_trees([jac(fnp.asarray(x), fnp.asarray(u)) for x, u in zip(xs, us)])
    assert_trees_close(got, want, rtol=1e-4, atol=1e-5)


JITTED = {
    "gather_batching_dims": NESTED["gather_batching_dims"],
    "scatter_add_rows": NESTED["scatter_add_rows"],
    "matmul_batched": CONTRACTIONS["matmul_batched"],
    "two_keys": SORTS["two_keys"],
    "conv_groups": CONVS["nhwc_groups"],
    "qr": DECOMPOSITIONS["qr_reduced"],
}


@pytest.mark.parametrize("where", ["jit_of_vmap", "vmap_of_jit"])
@pytest.mark.parametrize("case", sorted(JITTED))
@given(data=st.data())
@settings(SETTINGS, max_examples=4)
def test_vmap_with_jit(where: str, case: str, data: st.DataObject) -> None:
    """The rules also run while jit stages the batched function (and jit's own batch rule calls them)."""
    f, specs = JITTED[case]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    axes = draw_in_axes(data, [len(s.shape) for s in specs])
    args = [s.make(rng, batched_shape(s.shape, a, B)) for s, a in zip(specs, axes)]
    if where == "jit_of_vmap":
        vmapped = fl.jit(fl.vmap(f, in_axes=tuple(axes)))
    else:
        vmapped = fl.vmap(fl.jit(f), in_axes=tuple(axes))
    got = vmapped(*[fnp.asarray(a) for a in args])
    assert_trees_close(got, reference_vmap(f, axes, 0)(*args), rtol=1e-4, atol=1e-4)
