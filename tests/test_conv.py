"""Tests for the convolution primitive (primitives/conv.py) and fnp.convolve / fnp.correlate.

The primitive is checked against a naive reference written here (shift-and-add: one loop over groups and
kernel offsets, each offset a strided slice of the dilated, padded input), on hypothesis-generated
1-D/2-D/3-D cases with strides, SAME/VALID/explicit (also negative) padding, lhs/rhs dilation, layouts
(default, NHWC/HWIO, mixed, random permutations), feature groups (incl. depthwise) and batch groups.
Derivatives are checked in float64: the JVP against central differences and the VJP with the dot-product
test, plus ``check_grads`` to second order. ``convolve``/``correlate`` are compared with NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import x64

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.core.errors import ShapeDtypeError, ShapeError
from functorch_lite.numpy._convolve import convolve, correlate
from functorch_lite.primitives.conv import (
    ConvDimensionNumbers,
    conv,
    conv_dimension_numbers,
    conv_general_dilated,
    conv_general_dilated_p,
    conv_transpose,
    padtype_to_pads,
)
from functorch_lite.test_util import check_grads

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SPATIAL_CHARS = {1: "W", 2: "HW", 3: "DHW"}

# ---------------------------------------------------------------------------------------------------
# The reference
# ---------------------------------------------------------------------------------------------------


def reference_pads(in_sizes, extents, strides, padding) -> list[tuple[int, int]]:
    """SAME: output ceil(in / stride), the odd padding element at the end (SAME_LOWER: at the start)."""
    if not isinstance(padding, str):
        return [tuple(p) for p in padding]
    if padding == "VALID":
        return [(0, 0)] * len(in_sizes)
    pads = []
    for size, extent, stride in zip(in_sizes, extents, strides):
        total = max((-(-size // stride) - 1) * stride + extent - size, 0)
        lo = total // 2 if padding == "SAME" else total - total // 2
        pads.append((lo, total - lo))
    return pads


def reference_conv(
    lhs: np.ndarray,
    rhs: np.ndarray,
    strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dn: ConvDimensionNumbers,
    feature_groups: int = 1,
    batch_groups: int = 1,
) -> np.ndarray:
    """Naive convolution: to (N, C, spatial) / (O, I, spatial), dilate and pad by hand, then for each group
    and each kernel offset add (strided slice of the input) x (kernel tap) into the output."""
    acc_dtype = np.float64 if lhs.dtype.kind == "f" else np.int64
    x = lhs.transpose(dn.lhs_spec).astype(acc_dtype)
    w = rhs.transpose(dn.rhs_spec).astype(acc_dtype)
    n_sp = x.ndim - 2
    batch, features = x.shape[:2]
    out_features, in_features = w.shape[:2]
    kernel = w.shape[2:]
    dilated = np.zeros((batch, features) + tuple((s - 1) * d + 1 for s, d in zip(x.shape[2:], lhs_dilation)))
    dilated = dilated.astype(acc_dtype)
    dilated[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in lhs_dilation)] = x
    extents = [(k - 1) * r + 1 for k, r in zip(kernel, rhs_dilation)]
    pads = reference_pads(dilated.shape[2:], extents, strides, padding)
    padded = np.pad(dilated, [(0, 0), (0, 0)] + [(max(lo, 0), max(hi, 0)) for lo, hi in pads])
    crop = tuple(slice(max(-lo, 0), padded.shape[2 + i] - max(-hi, 0)) for i, (lo, hi) in enumerate(pads))
    padded = padded[(slice(None), slice(None)) + crop]
    out_sp = [max(0, (p - e) // s + 1) for p, e, s in zip(padded.shape[2:], extents, strides)]
    nb = batch // batch_groups
    out = np.zeros((nb, out_features, *out_sp), acc_dtype)
    groups = max(feature_groups, batch_groups)
    per_group = out_features // groups
    if 0 not in out_sp:
        for g in range(groups):
            if feature_groups > 1:
                xs = padded[:, g * in_features : (g + 1) * in_features]
            else:
                xs = padded[g * nb : (g + 1) * nb]
            ws = w[g * per_group : (g + 1) * per_group]
            for offset in np.ndindex(*kernel):
                window = tuple(
                    slice(k * r, k * r + (o - 1) * s + 1, s)
                    for k, r, o, s in zip(offset, rhs_dilation, out_sp, strides)
                )
                patch = xs[(slice(None), slice(None)) + window]  # (nb, I, out spatial...)
                tap = ws[(slice(None), slice(None)) + offset]  # (per_group, I)
                out[:, g * per_group : (g + 1) * per_group] += np.tensordot(tap, patch, ([1], [1])).swapaxes(
                    0, 1
                )
    assert len(out_sp) == n_sp
    return out.transpose(np.argsort(dn.out_spec)).astype(lhs.dtype)


# ---------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------


def _to_layout(canonical: np.ndarray, spec) -> np.ndarray:
    """The array whose ``transpose(spec)`` is ``canonical``."""
    return canonical.transpose(np.argsort(spec))


@st.composite
def conv_cases(draw: Any, max_spatial: int = 3, values: str = "ints") -> dict:
    n = draw(st.integers(1, max_spatial))
    max_side, max_k = {1: (7, 3), 2: (5, 3), 3: (3, 2)}[n]
    group_kind = draw(st.sampled_from(["none", "feature", "depthwise", "batch"]))
    count = 1 if group_kind == "none" else draw(st.integers(2, 3))
    feature_groups = count if group_kind in ("feature", "depthwise") else 1
    batch_groups = count if group_kind == "batch" else 1
    in_features = 1 if group_kind == "depthwise" else draw(st.integers(1, 3))
    out_features = count * draw(st.integers(1, 2)) if count > 1 else draw(st.integers(1, 4))
    batch = batch_groups * draw(st.integers(1, 2))
    in_sp = [draw(st.integers(1, max_side)) for _ in range(n)]
    kernel = [draw(st.integers(1, max_k)) for _ in range(n)]
    strides = tuple(draw(st.integers(1, 3)) for _ in range(n))
    rhs_dil = tuple(draw(st.integers(1, 2)) for _ in range(n))
    padding: Any = draw(st.sampled_from(["SAME", "VALID", "SAME_LOWER", "explicit"]))
    lhs_dil = (1,) * n
    if padding == "explicit":
        lhs_dil = tuple(draw(st.integers(1, 2)) for _ in range(n))
        padding = []
        for size, d in zip(in_sp, lhs_dil):
            lo, hi = draw(st.integers(-2, 2)), draw(st.integers(-2, 2))
            hi = max(hi, -((size - 1) * d + 1) - lo)  # keep the padded size >= 0
            padding.append((lo, hi))
    layout = draw(st.sampled_from(["default", "channels_last", "mixed", "permuted"]))
    chars = SPATIAL_CHARS[n]
    rank = n + 2
    if layout == "default":
        dimension_numbers: Any = None
    elif layout == "channels_last":
        dimension_numbers = (f"N{chars}C", f"{chars}IO", f"N{chars}C")
    elif layout == "mixed":
        dimension_numbers = (f"N{chars}C", f"OI{chars}", f"NC{chars}")
    else:
        perms = [tuple(draw(st.permutations(range(rank)))) for _ in range(3)]
        dimension_numbers = ConvDimensionNumbers(*perms)
    dn = conv_dimension_numbers((0,) * rank, (0,) * rank, dimension_numbers)
    lhs_shape = (batch, in_features * feature_groups, *in_sp)
    rhs_shape = (out_features, in_features, *kernel)
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    if values == "ints":
        lhs_c = rng.integers(-3, 4, lhs_shape).astype(np.float32)
        rhs_c = rng.integers(-3, 4, rhs_shape).astype(np.float32)
    else:
        lhs_c = rng.standard_normal(lhs_shape)
        rhs_c = rng.standard_normal(rhs_shape)
    return dict(
        lhs=_to_layout(lhs_c, dn.lhs_spec),
        rhs=_to_layout(rhs_c, dn.rhs_spec),
        kwargs=dict(
            window_strides=strides,
            padding=padding,
            lhs_dilation=lhs_dil,
            rhs_dilation=rhs_dil,
            dimension_numbers=dimension_numbers,
            feature_group_count=feature_groups,
            batch_group_count=batch_groups,
        ),
        dn=dn,
        seed=seed,
    )


def _reference_of(case: dict, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    k = case["kwargs"]
    return reference_conv(
        lhs,
        rhs,
        k["window_strides"],
        k["padding"],
        k["lhs_dilation"],
        k["rhs_dilation"],
        case["dn"],
        k["feature_group_count"],
        k["batch_group_count"],
    )


# ---------------------------------------------------------------------------------------------------
# Forward values
# ---------------------------------------------------------------------------------------------------


@SETTINGS
@given(conv_cases())
def test_matches_reference(case: dict) -> None:
    want = _reference_of(case, case["lhs"], case["rhs"])
    got = conv_general_dilated(fnp.asarray(case["lhs"]), fnp.asarray(case["rhs"]), **case["kwargs"])
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(got), want)  # small integers: exact in float32
    # The staged shape rule agrees with the eager result.
    shape = fl.eval_shape(lambda a, b: conv_general_dilated(a, b, **case["kwargs"]), case["lhs"], case["rhs"])
    assert tuple(shape.shape) == want.shape


@settings(max_examples=20, deadline=None)
@given(conv_cases(max_spatial=2))
def test_int32_exact(case: dict) -> None:
    lhs, rhs = case["lhs"].astype(np.int32), case["rhs"].astype(np.int32)
    got = conv_general_dilated(fnp.asarray(lhs), fnp.asarray(rhs), **case["kwargs"])
    assert got.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(got), _reference_of(case, lhs, rhs))


def test_float64_and_preferred_element_type() -> None:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    want = reference_conv(
        x, w, (1, 2), [(1, 0), (0, 1)], (1, 1), (2, 1), conv_dimension_numbers(x.shape, w.shape, None)
    )
    with x64():
        got = conv_general_dilated(
            fnp.asarray(x), fnp.asarray(w), (1, 2), [(1, 0), (0, 1)], rhs_dilation=(2, 1)
        )
        assert got.dtype == np.float64
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)
        wide = conv(
            fnp.asarray(x.astype(np.float32)),
            fnp.asarray(w.astype(np.float32)),
            (1, 1),
            "SAME",
            preferred_element_type=np.float64,
        )
        assert wide.dtype == np.float64
    small = conv(
        fnp.asarray(np.full((1, 2, 4), 100, np.int8)),
        fnp.asarray(np.full((1, 2, 3), 100, np.int8)),
        (1,),
        "VALID",
        preferred_element_type=np.int32,
    )
    assert small.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(small), np.full((1, 1, 2), 60000, np.int32))


def test_string_layouts_and_permutations() -> None:
    dn = conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NHWC", "HWIO", "NHWC"))
    assert dn == ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    # Spatial dims are matched by character, in the rhs spec's order.
    dn = conv_dimension_numbers((1,) * 4, (1,) * 4, ("NHWC", "OIWH", "NWHC"))
    assert dn == ConvDimensionNumbers((0, 3, 2, 1), (0, 1, 2, 3), (0, 3, 1, 2))
    assert conv_dimension_numbers((1,) * 5, (1,) * 5, None) == ConvDimensionNumbers(*[(0, 1, 2, 3, 4)] * 3)
    for bad in [
        ("NHWC", "HWIO", "NHW"),
        ("NHWC", "HWIX", "NHWC"),
        ("NHHC", "HWIO", "NHWC"),
        ("NHWC", "HWIO"),
    ]:
        with pytest.raises((ShapeError, TypeError)):
            conv_dimension_numbers((1,) * 4, (1,) * 4, bad)


def test_padtype_to_pads() -> None:
    assert padtype_to_pads((5,), (3,), (2,), "SAME") == [(1, 1)]
    assert padtype_to_pads((6, 6), (4, 1), (1, 1), "SAME") == [(1, 2), (0, 0)]
    assert padtype_to_pads((6,), (4,), (1,), "SAME_LOWER") == [(2, 1)]
    assert padtype_to_pads((6,), (4,), (1,), "valid") == [(0, 0)]
    with pytest.raises(ValueError):
        padtype_to_pads((6,), (4,), (1,), "FULL")
    x = fnp.ones((2, 1, 7, 9))
    out = conv_general_dilated(x, fnp.ones((1, 1, 3, 4)), (2, 3), "SAME", rhs_dilation=(2, 1))
    assert out.shape == (2, 1, 4, 3)  # ceil(in / stride)


def test_repeated_large_calls_reuse_scratch_correctly() -> None:
    # Inputs over 1 MiB use the impl's per-thread scratch buffers: later calls (new data, or the same shapes
    # with other padding) must not see earlier values.
    rng = np.random.default_rng(5)
    w = rng.integers(-2, 3, (8, 64, 3, 3)).astype(np.float32)
    dn = conv_dimension_numbers((4, 64, 34, 34), w.shape, None)
    for padding in ("SAME", "SAME", [(2, 0), (1, 1)], "SAME"):
        x = rng.integers(-2, 3, (4, 64, 34, 34)).astype(np.float32)
        got = conv_general_dilated(fnp.asarray(x), fnp.asarray(w), (1, 1), padding)
        want = reference_conv(x, w, (1, 1), padding, (1, 1), (1, 1), dn)
        np.testing.assert_array_equal(np.asarray(got), want)


def test_zero_sized_and_no_spatial_dims() -> None:
    out = conv(fnp.ones((0, 2, 5)), fnp.ones((3, 2, 2)), (1,), "VALID")
    assert out.shape == (0, 3, 4)
    out = conv(fnp.ones((1, 2, 2)), fnp.ones((3, 2, 4)), (1,), "VALID")  # window larger than the input
    assert out.shape == (1, 3, 0)
    x, w = np.arange(6.0, dtype=np.float32).reshape(2, 3), np.ones((4, 3), np.float32)
    np.testing.assert_array_equal(np.asarray(conv(fnp.asarray(x), fnp.asarray(w), (), ())), x @ w.T)


def test_errors_name_the_primitive_and_shapes() -> None:
    x, w = fnp.ones((2, 4, 5, 5)), fnp.ones((6, 3, 3, 3))
    with pytest.raises(ShapeError, match=r"conv_general_dilated.*4 // 1 != 3.*f32\[2,4,5,5\]"):
        conv(x, w, (1, 1), "SAME")
    with pytest.raises(ShapeError, match="divisible by feature_group_count=3"):
        conv_general_dilated(
            fnp.ones((2, 4, 5, 5)), fnp.ones((6, 1, 3, 3)), (1, 1), "SAME", feature_group_count=3
        )
    with pytest.raises(ShapeError, match="batch_group_count=2"):
        conv_general_dilated(fnp.ones((3, 2, 5)), fnp.ones((4, 2, 3)), (1,), "SAME", batch_group_count=2)
    with pytest.raises(ShapeError, match="same rank"):
        conv(fnp.ones((2, 3, 5, 5)), fnp.ones((3, 3, 3)), (1, 1), "SAME")
    with pytest.raises(ShapeError, match="window_strides"):
        conv(x, fnp.ones((6, 4, 3, 3)), (1,), "SAME")
    with pytest.raises(ShapeError, match="positive"):
        conv(x, fnp.ones((6, 4, 3, 3)), (0, 1), "SAME")
    with pytest.raises(ShapeError, match="negative padding"):
        conv(x, fnp.ones((6, 4, 1, 1)), (1, 1), [(-3, -3), (0, 0)])
    with pytest.raises(ValueError, match="string padding"):
        conv_general_dilated(x, fnp.ones((6, 4, 3, 3)), (1, 1), "SAME", lhs_dilation=(2, 1))
    with pytest.raises(ShapeDtypeError, match="same dtype"):
        conv(x, fnp.ones((6, 4, 3, 3), dtype=fnp.int32), (1, 1), "SAME")
    # The same checks run under tracing.
    with pytest.raises(ShapeError, match="conv_general_dilated"):
        fl.make_jaxpr(lambda a, b: conv(a, b, (1, 1), "SAME"))(x, w)


def test_make_jaxpr_prints_jax_params() -> None:
    text = str(
        fl.make_jaxpr(
            lambda a, b: conv_general_dilated(
                a, b, (2, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
        )(fnp.ones((1, 5, 5, 3)), fnp.ones((3, 3, 3, 8)))
    )
    assert "f32[1,3,5,8] = conv_general_dilated[" in text
    for piece in (
        "batch_group_count=1",
        "dimension_numbers=ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), "
        "out_spec=(0, 3, 1, 2))",
        "feature_group_count=1",
        "lhs_dilation=(1, 1)",
        "padding=((1, 1), (1, 1))",
        "precision=None",
        "preferred_element_type=None",
        "rhs_dilation=(1, 1)",
        "window_strides=(2, 1)",
    ):
        assert piece in text, (piece, text)
    # Reverse mode: both transposes are convolutions (the lhs one with a flipped kernel).
    grad_text = str(
        fl.make_jaxpr(fl.grad(lambda a, b: fnp.sum(conv(a, b, (1, 1), "SAME")), argnums=(0, 1)))(
            fnp.ones((1, 3, 5, 5)), fnp.ones((8, 3, 3, 3))
        )
    )
    assert grad_text.count("conv_general_dilated[") == 2 and "rev[" in grad_text  # forward output unused: DCE


# ---------------------------------------------------------------------------------------------------
# Derivatives (float64)
# ---------------------------------------------------------------------------------------------------


def _inner(a: Any, b: Any) -> float:
    return float(np.sum(np.asarray(a) * np.asarray(b)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_cases(values="normal"))
def test_jvp_and_vjp(case: dict) -> None:
    rng = np.random.default_rng(case["seed"])
    with x64():
        lhs, rhs = fnp.asarray(case["lhs"]), fnp.asarray(case["rhs"])

        def f(a: Any, b: Any) -> Any:
            return conv_general_dilated(a, b, **case["kwargs"])

        t_lhs = fnp.asarray(rng.standard_normal(lhs.shape))
        t_rhs = fnp.asarray(rng.standard_normal(rhs.shape))
        out, tangent = fl.jvp(f, (lhs, rhs), (t_lhs, t_rhs))
        assert tangent.dtype == np.float64 and tangent.shape == out.shape
        # Central differences are exact for a bilinear map, up to rounding.
        eps = 1e-3
        numeric = (
            np.asarray(f(lhs + eps * t_lhs, rhs + eps * t_rhs))
            - np.asarray(f(lhs - eps * t_lhs, rhs - eps * t_rhs))
        ) / (2 * eps)
        np.testing.assert_allclose(np.asarray(tangent), numeric, rtol=1e-7, atol=1e-7)
        # Dot-product test, each operand on its own: <vjp(ct), t> == <ct, jvp(t)>.
        ct = fnp.asarray(rng.standard_normal(out.shape))
        _, f_vjp = fl.vjp(f, lhs, rhs)
        ct_lhs, ct_rhs = f_vjp(ct)
        assert ct_lhs.shape == lhs.shape and ct_rhs.shape == rhs.shape
        assert ct_lhs.dtype == ct_rhs.dtype == np.float64
        _, j_lhs = fl.jvp(f, (lhs, rhs), (t_lhs, fnp.zeros_like(rhs)))
        _, j_rhs = fl.jvp(f, (lhs, rhs), (fnp.zeros_like(lhs), t_rhs))
        np.testing.assert_allclose(_inner(ct_lhs, t_lhs), _inner(ct, j_lhs), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(_inner(ct_rhs, t_rhs), _inner(ct, j_rhs), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(window_strides=(2, 1), padding=[(1, 2), (-1, 1)], lhs_dilation=(1, 2), rhs_dilation=(2, 1)),
        dict(window_strides=(1, 2), padding="SAME", feature_group_count=2),
        dict(window_strides=(1, 1), padding="VALID", batch_group_count=2),
        dict(window_strides=(2, 2), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")),
    ],
)
def test_check_grads_second_order(kwargs: dict) -> None:
    rng = np.random.default_rng(1)
    channels_last = kwargs.get("dimension_numbers") is not None
    x_shape = (2, 5, 4, 4) if channels_last else (2, 4, 5, 4)
    w_shape = (3, 2, 4, 2) if channels_last else (2, 4 // kwargs.get("feature_group_count", 1), 3, 2)
    with x64():
        x, w = fnp.asarray(rng.standard_normal(x_shape)), fnp.asarray(rng.standard_normal(w_shape))
        check_grads(lambda a, b: conv_general_dilated(a, b, **kwargs), (x, w), order=2)


def test_grad_of_scalar_loss_and_mixed_precision() -> None:
    rng = np.random.default_rng(2)
    x, w = (
        rng.standard_normal((2, 3, 6)).astype(np.float32),
        rng.standard_normal((4, 3, 3)).astype(np.float32),
    )
    c = rng.standard_normal((2, 4, 3)).astype(np.float32)

    def loss(a: Any, b: Any) -> Any:
        return fnp.sum(conv(a, b, (2,), "SAME") * fnp.asarray(c))

    g_x, g_w = fl.grad(loss, argnums=(0, 1))(fnp.asarray(x), fnp.asarray(w))
    _, f_vjp = fl.vjp(lambda a, b: conv(a, b, (2,), "SAME"), fnp.asarray(x), fnp.asarray(w))
    v_x, v_w = f_vjp(fnp.asarray(c))
    np.testing.assert_allclose(np.asarray(g_x), np.asarray(v_x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(g_w), np.asarray(v_w), rtol=1e-5, atol=1e-5)
    with x64():
        # float32 operands accumulating in float64: cotangents come back in the operands' dtype.
        g = fl.grad(
            lambda a, b: fnp.sum(conv(a, b, (1,), "VALID", preferred_element_type=np.float64)), argnums=(0, 1)
        )(fnp.asarray(x), fnp.asarray(w))
        assert g[0].dtype == g[1].dtype == np.float32
        want = fl.grad(lambda a, b: fnp.sum(conv(a, b, (1,), "VALID")), argnums=(0, 1))(
            fnp.asarray(x), fnp.asarray(w)
        )
        np.testing.assert_allclose(np.asarray(g[0]), np.asarray(want[0]), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(g[1]), np.asarray(want[1]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stride,kernel", [(1, 3), (2, 3), (3, 3), (2, 2)])
def test_conv_transpose_is_the_input_gradient(stride: int, kernel: int) -> None:
    # For kernel >= stride and an input that the strided VALID conv covers exactly, conv_transpose with a
    # transposed kernel (VALID) is the VJP of the convolution with respect to its input.
    rng = np.random.default_rng(3)
    out_size = 4
    in_size = (out_size - 1) * stride + kernel
    x = fnp.asarray(rng.standard_normal((2, in_size, in_size, 3)).astype(np.float32))
    w = fnp.asarray(rng.standard_normal((kernel, kernel, 3, 5)).astype(np.float32))
    dn = ("NHWC", "HWIO", "NHWC")
    _, f_vjp = fl.vjp(
        lambda a: conv_general_dilated(a, w, (stride, stride), "VALID", dimension_numbers=dn), x
    )
    ct = fnp.asarray(rng.standard_normal((2, out_size, out_size, 5)).astype(np.float32))
    (want,) = f_vjp(ct)
    got = conv_transpose(ct, w, (stride, stride), "VALID", transpose_kernel=True)
    assert got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)
    same = conv_transpose(ct, fnp.ones((kernel, kernel, 5, 3)), (stride, stride), "SAME")
    assert same.shape == (2, out_size * stride, out_size * stride, 3)


# ---------------------------------------------------------------------------------------------------
# fnp.convolve / fnp.correlate
# ---------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 9),
    st.integers(1, 9),
    st.sampled_from(["full", "same", "valid"]),
    st.integers(0, 2**31 - 1),
)
def test_convolve_correlate_match_numpy(la: int, lv: int, mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, 5, la).astype(np.float32)
    v = rng.integers(-4, 5, lv).astype(np.float32)
    for ours, theirs in ((convolve, np.convolve), (correlate, np.correlate)):
        got = ours(fnp.asarray(a), fnp.asarray(v), mode)
        want = theirs(a, v, mode)
        assert got.shape == want.shape, (ours.__name__, la, lv, mode)
        np.testing.assert_array_equal(np.asarray(got), want)


def test_convolve_correlate_defaults_dtypes_and_errors() -> None:
    a, v = [1, 2, 3, 2, 1], [4, 5, 6]
    got = correlate(fnp.asarray(a), fnp.asarray(v))  # 'valid' by default; integers give the default float
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(got), np.correlate(a, v))
    np.testing.assert_array_equal(np.asarray(convolve(a, v)), np.convolve(a, v))  # 'full' by default
    with pytest.raises(ValueError, match="1-dimensional"):
        convolve(fnp.ones((2, 2)), fnp.ones(2))
    with pytest.raises(ValueError, match="empty"):
        correlate(fnp.ones(0), fnp.ones(2))
    with pytest.raises(ValueError, match="mode"):
        convolve(fnp.ones(3), fnp.ones(2), "circular")


def test_convolve_gradients() -> None:
    rng = np.random.default_rng(4)
    with x64():
        a, v = fnp.asarray(rng.standard_normal(7)), fnp.asarray(rng.standard_normal(3))
        for mode in ("full", "same", "valid"):
            check_grads(lambda x, y, mode=mode: convolve(x, y, mode), (a, v), order=1)
            check_grads(lambda x, y, mode=mode: correlate(y, x, mode), (a, v), order=1)


def test_primitive_name() -> None:
    assert conv_general_dilated_p.name == "conv_general_dilated"
