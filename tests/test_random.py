"""Tests for functorch_lite.random: JAX's bits, the distributions' statistics, and behaviour under transforms.

The known-answer constants below were produced once with JAX 0.10.2 (threefry2x32, its default
``jax_threefry_partitionable=True``) and pasted here; JAX is not imported. Bit-identical functions are
compared exactly (long outputs by the first 16 hex digits of the SHA-256 of their bytes); float
transforms (normal, gamma, ...) to float32 rounding. Statistical tests use fixed keys, so they are
deterministic: each checks moments, and a Kolmogorov-Smirnov or chi-square statistic at the 0.1% level.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from strategies import x64

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import random
from functorch_lite.primitives import random_bits as rb

K = random.PRNGKey

# ---------------------------------------------------------------------------------------------------
# JAX 0.10.2 known answers
# ---------------------------------------------------------------------------------------------------

PRNGKEY = {
    0: [0, 0],
    1: [0, 1],
    42: [0, 42],
    -1: [0, 4294967295],
    2147483647: [0, 2147483647],
    1099511627781: [0, 5],
}
SPLIT_0 = [[1797259609, 2579123966], [928981903, 3453687069]]
SPLIT_42_3 = [[1832780943, 270669613], [64467757, 2916123636], [2465931498, 255383827]]
SPLIT_0_2x3 = [
    [[1797259609, 2579123966], [928981903, 3453687069], [4146024105, 2718843009]],
    [[2467461003, 3840466878], [2285895361, 433833334], [1524306142, 1887795613]],
]
FOLD_IN = {
    (0, 0): [1797259609, 2579123966],
    (0, 1): [928981903, 3453687069],
    (0, 5): [1524306142, 1887795613],
    (0, 4294967295): [743310391, 3789761811],
    (42, 7): [2547012911, 1371500959],
}
BITS_0_4 = [4070199207, 4202968722, 1427181096, 2012915765]
BITS_42_2x3_U8 = [[162, 217, 249], [215, 21, 216]]
BITS_42_2x3_U16 = [[5026, 12505, 63993], [49623, 29461, 20184]]
BITS_SHA = {
    (0, "uint8"): "5c7a5bc32b18b1e0",
    (0, "uint16"): "951bd65f17953b1e",
    (0, "uint32"): "93070a12a1970232",
    (42, "uint8"): "24de4e051e4a946a",
    (42, "uint16"): "bf9e5e825929166a",
    (42, "uint32"): "0da39d9ad74bfca6",
}
UNIFORM_3 = [0.07405257, 0.9381443, 0.648957, 0.975621, 0.27837777, 0.5829381, 0.10650551, 0.38156605]
UNIFORM_3_RANGE = [-2.8556845, 2.328866, 0.59374213, 2.553726, -1.6297333, 0.1976285, -2.6609669, -1.0106037]
UNIFORM_3_F16 = [0.11426, 0.2295, 0.0498, 0.2969, 0.7715, 0.4307, 0.9453, 0.3164]
UNIFORM_SHA = {"default": "e6427b1e987125f1", "range": "5b4839d1a29c8473", "arrays": "b19af9bda854cab0"}
RANDINT_CASES = {
    "0_10": ((1000,), 0, 10, "int32", "44b9d5e0bfea377c"),
    "m5_5": ((1000,), -5, 5, "int32", "3a19e357322b8c91"),
    "u8_0_256": ((1000,), 0, 256, "uint8", "ea3eea7879213b3b"),
    "i8_full": ((1000,), -128, 128, "int8", "4675d7ff2580fa78"),
    "i32_big": ((1000,), -2147483648, 2147483647, "int32", "88780b22840e5e87"),
    "empty": ((10,), 5, 5, "int32", "14c3647e6bb009f0"),
    "rev": ((10,), 7, 3, "int32", "f6c1250739365e85"),
    "i16": ((1000,), -300, 1000, "int16", "0c4f55d2b029ce24"),
    "u16": ((1000,), 0, 65535, "uint16", "2fbd53c8aa3ff1a7"),
    "span3": ((1000,), 0, 3, "int32", "47fdd31acfeee0e4"),
    "u8_small": ((1000,), 10, 20, "uint8", "a8833ac147d39904"),
    "i8_clip": ((1000,), -5, 300, "int8", "ebd9655446011e00"),
}
RANDINT_5_0_10 = [1, 8, 3, 6, 4, 1, 9, 3, 9, 9, 8, 7]
RANDINT_U32_SHA = "ce1227de6c8bbc48"
BERNOULLI_SHA = "b9b671a511f0d533"
BERNOULLI_ARR_SHA = "0d53a9bb40587283"
PERM_10 = [2, 8, 9, 7, 0, 1, 5, 6, 3, 4]
PERM_SHA = {100: "e5b369d8b5df3253", 70000: "0d01c78e5415cb2f"}
PERM_2D_AXIS0 = [[12, 13, 14, 15, 16, 17], [0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [18, 19, 20, 21, 22, 23]]
PERM_2D_AXIS1 = [[2, 0, 1, 5, 3, 4], [8, 6, 7, 11, 9, 10], [14, 12, 13, 17, 15, 16], [20, 18, 19, 23, 21, 22]]
PERM_2D_INDEP = [[2, 0, 1, 5, 3, 4], [10, 11, 8, 9, 7, 6], [16, 15, 17, 14, 13, 12], [19, 23, 22, 21, 20, 18]]
CHOICE_INT = [8, 7, 0, 2, 9, 6, 4, 8, 6, 1, 0, 3, 8, 1, 8, 5, 5, 0, 5, 1]
CHOICE_NOREPLACE = [1, 5, 6, 3, 7, 9]
CHOICE_2D_AXIS1 = [[4, 1, 2], [10, 7, 8], [16, 13, 14], [22, 19, 20]]
CHOICE_2D_NOREPLACE = [[6, 7, 8, 9, 10, 11], [18, 19, 20, 21, 22, 23], [0, 1, 2, 3, 4, 5]]
CHOICE_P_SHA = "38dc3fa0039585e2"
CHOICE_P_NOREPLACE = [2, 3, 0]
CHOICE_P2_NOREPLACE_10 = [[1, 0], [3, 1], [3, 1], [3, 1], [0, 1], [1, 2], [0, 1], [1, 0], [2, 3], [1, 3]]
CATEGORICAL_1D_SHA = "adadf89583b30af6"
CATEGORICAL_2D = [2, 1, 2]
CATEGORICAL_2D_AXIS0 = [1, 1, 0]
CATEGORICAL_PREFIX = [[2, 1, 2], [2, 0, 0], [2, 1, 1], [2, 0, 1], [0, 1, 0]]
CATEGORICAL_NOREPLACE = [0, 3, 1]
CATEGORICAL_NOREPLACE_2D = [[2, 1, 2], [0, 0, 0]]
NORMAL_0 = [1.6226422, 2.0252647, -0.43359444, -0.07861735, 0.1760909, -0.97208923, -0.49529874, 0.4943786]
NORMAL_11_2D_HEAD = [
    -0.80717516, -2.0803597, 0.6050853, -0.39861456, 0.27889383, -0.49347746, -2.043362, 0.9530603, -0.024591753,
]  # fmt: skip
NORMAL_0_F16 = [-0.4937, -0.7954, -1.599, 0.4028, -0.73, -0.224, 1.374, 0.842]
NORMAL_0_C64_RE = [0.70994526, -0.6408772, -0.52903765, -0.82828146]
NORMAL_0_C64_IM = [-1.727077, -1.4394435, 0.14534172, -0.24999774]
TRUNCNORM = [0.93927383, 1.0599871, 0.94803053, 0.93899125, 1.8400729, 1.0946444, 2.4948757, 1.6459374]
GUMBEL = [0.9304105, 3.6608431, -0.17776018, 0.20822525, 1.1599655, 0.77531, 0.22097798, 0.11879245]
EXPONENTIAL = [0.34339717, 0.08935826, 5.8309894, 1.250436, 0.16955549, 0.13698557, 0.23102212, 2.5078423]
GAMMA = {
    0.3: [
        8.3643296e-05,
        0.059686784,
        0.00043954878,
        0.0021851494,
        0.0007740191,
        0.076289214,
        0.00014206533,
        1.1711742,
    ],
    1.0: [0.6317709, 1.5218135, 0.10096914, 2.4998705, 1.1707491, 0.24750295, 0.010670091, 1.1083325],
    2.5: [2.1032557, 3.5208502, 0.88146853, 4.838323, 0.5063395, 1.3024937, 0.43397146, 2.9029162],
    10.0: [9.53203, 12.284673, 6.5286837, 14.525302, 5.294507, 7.678817, 5.0158615, 11.142144],
}
LOGGAMMA = {
    0.3: [-9.388949, -2.8186445, -7.729762, -6.1260715, -7.163914, -2.5732236, -8.859224, 0.15800683],
    1.0: [-0.45922846, 0.4199027, -2.2929404, 0.916239, 0.15764382, -1.3963327, -4.5403104, 0.102856606],
    2.5: [0.7434865, 1.2587025, -0.12616599, 1.5765681, -0.68054783, 0.26428068, -0.8347765, 1.0657158],
    10.0: [2.2546577, 2.5083525, 1.8762054, 2.675892, 1.66667, 2.0384655, 1.6126053, 2.410735],
}
BETA = [0.27198753, 0.06814919, 0.099212565, 0.3855039, 0.08128228, 0.22671838, 0.22735858, 0.32314134]
DIRICHLET = [
    [0.11764071, 0.058094308, 0.82426494],
    [0.06524803, 0.2518414, 0.68291056],
    [0.00040606296, 0.03254572, 0.9670483],
]
MVN = [
    [2.98906, -0.8350189, 1.3761559],
    [3.1818185, -0.43395042, 1.1489024],
    [1.26817, -1.5543346, 0.8663572],
]
MVN_MEAN = [1.0, -1.0, 0.5]
MVN_COV = [[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.5]]
# With enable_x64.
PRNGKEY_X64 = {-1: [4294967295, 4294967295], 1099511627781: [256, 5]}
BITS64_HEAD = [15963681350020464357, 8360145782228061838, 4400243552688456428]
BITS64_SHA = "84b986aeddae8af8"
UNIFORM64_SHA = "7e4814651244cb57"
UNIFORM64_RANGE_SHA = "e4f47a828b01fb51"
RANDINT64_SHA = "4f04031ba01394de"
NORMAL64_HEAD = [1.1048739767803086, -0.11756943795234803, -0.7110143201629989, -0.8265806018037718]


def sha(x) -> str:
    return hashlib.sha256(np.ascontiguousarray(np.asarray(x)).tobytes()).hexdigest()[:16]


def exact(got, want, dtype) -> None:
    got = np.asarray(got)
    want = np.asarray(want, dtype=dtype)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    np.testing.assert_array_equal(got, want)


def close(got, want, dtype=np.float32, rtol=1e-5) -> None:
    """Equal to float rounding: a few ulps relative, and a few ulps of the largest value absolute."""
    got = np.asarray(got)
    want = np.asarray(want, dtype=dtype)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    scale = float(np.max(np.abs(want))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


# ---------------------------------------------------------------------------------------------------
# threefry2x32 itself
# ---------------------------------------------------------------------------------------------------

# Random123's known-answer vectors for threefry2x32 with 20 rounds: (key, counter) -> output.
RANDOM123_KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize("key, counter, expected", RANDOM123_KAT)
def test_threefry_random123_vectors(key, counter, expected):
    u = np.uint32
    k0, k1 = (fnp.asarray(u(v)) for v in key)
    x0, x1 = (fnp.asarray(np.full(20, v, np.uint32)) for v in counter)  # 20 > the Python-integer cut-off
    y0, y1 = rb.threefry_2x32((k0, k1), (x0, x1))
    assert np.all(np.asarray(y0) == expected[0]) and np.all(np.asarray(y1) == expected[1])
    z0, z1 = rb.threefry_2x32((k0, k1), (fnp.asarray(u(counter[0])), fnp.asarray(u(counter[1]))))
    assert (int(z0), int(z1)) == expected


def test_threefry_kernel_equals_lax_composition_and_generic_path():
    rng = np.random.default_rng(0)
    k0, k1, x0, x1 = (rng.integers(0, 2**32, size=(3, 5000), dtype=np.uint32) for _ in range(4))
    want = rb.threefry2x32_reference(*(fnp.asarray(a) for a in (k0, k1, x0, x1)))
    got = rb.threefry2x32_p.bind(*(fnp.asarray(a) for a in (k0, k1, x0, x1)))
    generic = rb._threefry_generic(k0, k1, x0, x1)  # the whole-array path other backends take
    for g, w, h in zip(got, want, generic):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
        np.testing.assert_array_equal(np.asarray(g), h)
    # broadcasting: one key, a (1, n) counter row
    a, b = rb.threefry2x32_p.bind(*(fnp.asarray(v) for v in (k0[0, 0], k1[0, 0], x0[:1, :7], x1[:1, :7])))
    ref = [
        rb._threefry_int(int(k0[0, 0]), int(k1[0, 0]), int(c0), int(c1))
        for c0, c1 in zip(x0[0, :7], x1[0, :7])
    ]
    assert np.asarray(a).tolist() == [[r[0] for r in ref]] and np.asarray(b).tolist() == [[r[1] for r in ref]]


@pytest.mark.parametrize("kind, dtype", [("bits", "uint8"), ("bits", "uint32"), ("uniform", "float32"),
                                         ("uniform", "float16"), ("normal", "float32")])  # fmt: skip
def test_fused_draw_kernels_equal_generic_and_lax_paths(kind, dtype):
    prim = {"bits": rb.random_bits_p, "uniform": rb.random_uniform_p, "normal": rb.random_normal_p}[kind]
    compose = {"bits": rb.compose_bits, "uniform": rb.compose_uniform, "normal": rb.compose_normal}[kind]
    k0 = np.array([3, 77], np.uint32)
    k1 = np.array([9, 4000000000], np.uint32)
    for shape in [(), (5,), (3, 7000)]:
        got = prim.impl(k0, k1, shape=shape, dtype=np.dtype(dtype))
        y0, y1 = rb._draw_generic(k0, k1, shape)
        np.testing.assert_array_equal(got, rb._finish_generic(kind, y0, y1, np.dtype(dtype)))
        if dtype != "float16":
            np.testing.assert_array_equal(
                got, np.asarray(compose(fnp.asarray(k0), fnp.asarray(k1), shape, dtype))
            )


def test_erf_inv_fast_matches_giles_and_edges():
    x = np.concatenate([np.linspace(-1, 1, 2001), [0.9999999, -0.9999999, 1.5, -2.0, np.nan]]).astype(
        np.float32
    )
    got = rb._erf_inv_fast_impl(x)
    lax_version = np.asarray(rb.giles_erf_inv(fnp.asarray(x)))
    np.testing.assert_array_equal(got, lax_version)
    assert got[0] == -np.inf and got[2000] == np.inf and np.isnan(got[-3:]).all()
    inner = slice(1, 2000)
    truth = np.array([_erf_inv_reference(float(v)) for v in x[inner]])
    np.testing.assert_allclose(got[inner], truth, rtol=4e-6, atol=1e-7)  # Giles: a few float32 ulps


def _erf_inv_reference(y: float) -> float:
    if y == 0:
        return 0.0
    x = math.copysign(0.5, y)
    for _ in range(100):  # Newton on erf(x) = y in float64
        step = (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
        x -= step
        if abs(step) < 1e-15 * max(1.0, abs(x)):
            break
    return x


# ---------------------------------------------------------------------------------------------------
# Keys, split, fold_in, bits: bit-identical to JAX
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", list(PRNGKEY))
def test_prngkey_matches_jax(seed):
    exact(K(seed), PRNGKEY[seed], np.uint32)
    exact(random.key_data(random.key(seed)), PRNGKEY[seed], np.uint32)


def test_prngkey_seed_types_and_x64():
    exact(K(np.uint32(4000000000)), [0, 4000000000], np.uint32)
    exact(K(fnp.asarray(-3)), [0, 4294967293], np.uint32)
    exact(K(True), [0, 1], np.uint32)
    exact(fl.jit(K)(7), [0, 7], np.uint32)
    exact(fl.vmap(K)(fnp.arange(3)), [[0, 0], [0, 1], [0, 2]], np.uint32)
    with x64():
        for seed, want in PRNGKEY_X64.items():
            exact(K(seed), want, np.uint32)
        exact(K(fnp.asarray(np.int64(-1))), [4294967295, 4294967295], np.uint32)


def test_split_and_fold_in_match_jax():
    exact(random.split(K(0)), SPLIT_0, np.uint32)
    exact(random.split(K(42), 3), SPLIT_42_3, np.uint32)
    exact(random.split(K(0), (2, 3)), SPLIT_0_2x3, np.uint32)
    assert random.split(K(0), 0).shape == (0, 2)
    for (seed, data), want in FOLD_IN.items():
        exact(random.fold_in(K(seed), data), want, np.uint32)
    exact(random.fold_in(K(42), fnp.asarray(7)), FOLD_IN[(42, 7)], np.uint32)


def test_bits_match_jax():
    exact(random.bits(K(0), (4,)), BITS_0_4, np.uint32)
    exact(random.bits(K(42), (2, 3), np.uint8), BITS_42_2x3_U8, np.uint8)
    exact(random.bits(K(42), (2, 3), np.uint16), BITS_42_2x3_U16, np.uint16)
    for (seed, dtype), digest in BITS_SHA.items():
        out = random.bits(K(seed), (1000,), dtype)
        assert out.dtype == np.dtype(dtype) and sha(out) == digest
    assert random.bits(K(0)).shape == () and int(random.bits(K(0))) == BITS_0_4[0]


def test_typed_keys():
    k = random.key(0)
    assert repr(k) == "Array((), dtype=key<fry>) overlaying:\n[0 0]"
    assert str(k.dtype) == "key<fry>" and k.shape == () and k.ndim == 0
    keys = random.split(k, 3)
    assert isinstance(keys, random.PRNGKeyArray) and keys.shape == (3,) and len(keys) == 3
    exact(random.key_data(keys), SPLIT_0 + [[4146024105, 2718843009]], np.uint32)
    exact(random.key_data(keys[1]), SPLIT_0[1], np.uint32)
    assert [kk.shape for kk in keys] == [(), (), ()]
    assert bool(random.wrap_key_data(K(0)) == k) and not bool(keys[0] == keys[1])
    exact(random.key_data(random.fold_in(k, 5)), FOLD_IN[(0, 5)], np.uint32)
    # the same draws as the raw key, through jit and vmap too
    exact(random.normal(k, (4,)), np.asarray(random.normal(K(0), (4,))), np.float32)
    exact(fl.jit(lambda kk: random.split(kk))(k)._base, SPLIT_0, np.uint32)
    out = fl.vmap(lambda kk: random.bits(kk, (2,)))(keys)
    exact(out, np.stack([np.asarray(random.bits(kk, (2,))) for kk in keys]), np.uint32)
    assert isinstance(fl.vmap(random.split)(keys), random.PRNGKeyArray)


# ---------------------------------------------------------------------------------------------------
# Distributions: known answers
# ---------------------------------------------------------------------------------------------------


def test_uniform_matches_jax():
    exact(random.uniform(K(3), (8,)), UNIFORM_3, np.float32)
    exact(random.uniform(K(3), (8,), minval=-3.3, maxval=2.7), UNIFORM_3_RANGE, np.float32)
    exact(random.uniform(K(3), (8,), np.float16), UNIFORM_3_F16, np.float16)
    assert sha(random.uniform(K(3), (1000,))) == UNIFORM_SHA["default"]
    assert sha(random.uniform(K(3), (1000,), minval=-3.3, maxval=2.7)) == UNIFORM_SHA["range"]
    lo = np.linspace(-2, 0, 250).astype(np.float32)
    hi = fnp.arange(1, 5.0)[:, None]
    assert sha(random.uniform(K(3), (4, 250), minval=lo, maxval=hi)) == UNIFORM_SHA["arrays"]
    assert np.float32(random.uniform(K(3))) == np.float32(UNIFORM_3[0])


@pytest.mark.parametrize("name", list(RANDINT_CASES))
def test_randint_matches_jax(name):
    shape, lo, hi, dtype, digest = RANDINT_CASES[name]
    out = random.randint(K(5), shape, lo, hi, dtype)
    assert out.dtype == np.dtype(dtype) and out.shape == shape and sha(out) == digest


def test_randint_more():
    exact(random.randint(K(5), (12,), 0, 10), RANDINT_5_0_10, np.int32)
    assert sha(random.randint(K(5), (1000,), 0, np.uint32(4000000000), np.uint32)) == RANDINT_U32_SHA
    bounds = random.randint(K(5), (100, 3), fnp.asarray([0, -10, 5]), fnp.full((100, 1), 23))
    low = np.array([0, -10, 5])
    assert np.all((np.asarray(bounds) >= low) & (np.asarray(bounds) < 23))


def test_bernoulli_matches_jax():
    out = random.bernoulli(K(2), 0.3, (2000,))
    assert out.dtype == np.bool_ and sha(out) == BERNOULLI_SHA
    assert sha(random.bernoulli(K(2), fnp.asarray([0.1, 0.5, 0.9]), (300, 3))) == BERNOULLI_ARR_SHA
    assert random.bernoulli(K(2)).shape == ()


def test_permutation_matches_jax():
    exact(random.permutation(K(14), 10), PERM_10, np.int32)
    for n, digest in PERM_SHA.items():  # 70000 elements take two sorting rounds
        assert sha(random.permutation(K(14), n)) == digest
    x = fnp.arange(24.0).reshape(4, 6)
    exact(random.permutation(K(14), x), PERM_2D_AXIS0, np.float32)
    exact(random.permutation(K(14), x, axis=1), PERM_2D_AXIS1, np.float32)
    exact(random.permutation(K(14), x, axis=1, independent=True), PERM_2D_INDEP, np.float32)


def test_choice_matches_jax():
    x = fnp.arange(24.0).reshape(4, 6)
    exact(random.choice(K(16), 10, (20,)), CHOICE_INT, np.int32)
    exact(random.choice(K(16), 10, (6,), replace=False), CHOICE_NOREPLACE, np.int32)
    exact(random.choice(K(16), x, (3,), axis=1), CHOICE_2D_AXIS1, np.float32)
    exact(random.choice(K(16), x, (3,), replace=False), CHOICE_2D_NOREPLACE, np.float32)
    p = fnp.asarray([0.1, 0.0, 0.3, 0.6])
    assert sha(random.choice(K(17), 4, (2000,), p=p)) == CHOICE_P_SHA
    exact(random.choice(K(17), 4, (3,), replace=False, p=p), CHOICE_P_NOREPLACE, np.int32)
    p2 = fnp.asarray([0.2, 0.25, 0.15, 0.4])
    draws = [np.asarray(random.choice(K(s), 4, (2,), replace=False, p=p2)) for s in range(10)]
    exact(np.stack(draws), CHOICE_P2_NOREPLACE_10, np.int32)
    assert random.choice(K(0), 5, (2, 0)).shape == (2, 0)


def test_categorical_matches_jax():
    logits = fnp.log(fnp.asarray([0.1, 0.2, 0.3, 0.4]))
    assert sha(random.categorical(K(6), logits, shape=(2000,))) == CATEGORICAL_1D_SHA
    table = fnp.asarray([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    exact(random.categorical(K(6), table), CATEGORICAL_2D, np.int32)
    exact(random.categorical(K(6), table, axis=0), CATEGORICAL_2D_AXIS0, np.int32)
    exact(random.categorical(K(6), table, shape=(5, 3)), CATEGORICAL_PREFIX, np.int32)
    exact(random.categorical(K(6), logits, shape=(3,), replace=False), CATEGORICAL_NOREPLACE, np.int32)
    exact(random.categorical(K(6), table, shape=(2, 3), replace=False), CATEGORICAL_NOREPLACE_2D, np.int32)


def test_float_distributions_match_jax_to_rounding():
    close(random.normal(K(0), (8,)), NORMAL_0)
    close(random.normal(K(11), (7, 9))[0], NORMAL_11_2D_HEAD)
    close(random.normal(K(0), (8,), np.float16), NORMAL_0_F16, np.float16, rtol=1e-3)
    c = np.asarray(random.normal(K(0), (4,), np.complex64))
    assert c.dtype == np.complex64
    close(c.real, NORMAL_0_C64_RE)
    close(c.imag, NORMAL_0_C64_IM)
    close(random.truncated_normal(K(1), 0.5, 3.0, (8,)), TRUNCNORM)
    close(random.gumbel(K(7), (8,)), GUMBEL)
    close(random.exponential(K(8), (8,)), EXPONENTIAL)
    for a in GAMMA:
        close(random.gamma(K(9), a, (8,)), GAMMA[a])
        close(random.loggamma(K(9), a, (8,)), LOGGAMMA[a])
    close(random.beta(K(10), 2.0, 5.0, (8,)), BETA)
    close(random.dirichlet(K(12), fnp.asarray([0.5, 1.0, 3.0]), (3,)), DIRICHLET)
    close(random.multivariate_normal(K(13), fnp.asarray(MVN_MEAN), fnp.asarray(MVN_COV), (3,)), MVN)


def test_x64_draws_match_jax():
    with x64():
        out = random.bits(K(3), (1000,), np.uint64)
        assert out.dtype == np.uint64 and sha(out) == BITS64_SHA
        exact(random.bits(K(3), (3,), np.uint64), BITS64_HEAD, np.uint64)
        assert sha(random.uniform(K(3), (1000,), np.float64)) == UNIFORM64_SHA
        assert sha(random.uniform(K(3), (1000,), np.float64, -2.0, 3.0)) == UNIFORM64_RANGE_SHA
        assert sha(random.randint(K(3), (1000,), -(10**12), 10**12, np.int64)) == RANDINT64_SHA
        close(random.normal(K(3), (4,), np.float64), NORMAL64_HEAD, np.float64, rtol=1e-13)


# ---------------------------------------------------------------------------------------------------
# Statistics (fixed keys, so deterministic; thresholds at the 0.1% level)
# ---------------------------------------------------------------------------------------------------

N = 100_000


def ks_statistic(sample: np.ndarray, cdf) -> float:
    x = np.sort(np.asarray(sample, dtype=np.float64))
    f = cdf(x)
    n = x.size
    return float(max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n)))


KS_CRIT = 1.95 / math.sqrt(N)  # Kolmogorov-Smirnov, alpha = 0.001
_erf = np.frompyfunc(math.erf, 1, 1)


def normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + _erf(x / math.sqrt(2)).astype(np.float64))


def chi_square(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(np.sum((counts - expected) ** 2 / expected))


CHI2_CRIT = {1: 10.83, 3: 16.27, 9: 27.88}  # alpha = 0.001


def test_uniform_statistics():
    u = np.asarray(random.uniform(K(1), (N,)))
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert ks_statistic(u, lambda x: x) < KS_CRIT
    v = np.asarray(random.uniform(K(2), (N,), minval=-2.0, maxval=6.0))
    assert v.min() >= -2 and v.max() < 6 and ks_statistic(v, lambda x: (x + 2) / 8) < KS_CRIT


def test_normal_statistics():
    z = np.asarray(random.normal(K(1), (N,)), dtype=np.float64)
    assert abs(z.mean()) < 0.02 and abs(z.var() - 1) < 0.02 and abs(np.mean(z**3)) < 0.05
    assert abs(np.mean(z**4) - 3) < 0.1
    assert ks_statistic(z, normal_cdf) < KS_CRIT


def test_exponential_and_gumbel_statistics():
    e = np.asarray(random.exponential(K(1), (N,)), dtype=np.float64)
    assert e.min() >= 0 and abs(e.mean() - 1) < 0.02 and abs(e.var() - 1) < 0.05
    assert ks_statistic(e, lambda x: 1 - np.exp(-x)) < KS_CRIT
    g = np.asarray(random.gumbel(K(1), (N,)), dtype=np.float64)
    assert abs(g.mean() - 0.5772157) < 0.02 and abs(g.var() - math.pi**2 / 6) < 0.06
    assert ks_statistic(g, lambda x: np.exp(-np.exp(-x))) < KS_CRIT


def test_truncated_normal_statistics():
    t = np.asarray(random.truncated_normal(K(1), -1.0, 2.0, (N,)), dtype=np.float64)
    assert t.min() > -1 and t.max() < 2
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    mass = 0.5 * (math.erf(2 / math.sqrt(2)) - math.erf(-1 / math.sqrt(2)))
    assert abs(t.mean() - (phi(-1) - phi(2)) / mass) < 0.01
    cdf = lambda x: (normal_cdf(x) - normal_cdf(np.array([-1.0]))[0]) / mass  # noqa: E731
    assert ks_statistic(t, cdf) < KS_CRIT


def test_randint_bernoulli_categorical_chi_square():
    r = np.asarray(random.randint(K(1), (N,), 0, 10))
    assert r.min() == 0 and r.max() == 9
    assert chi_square(np.bincount(r, minlength=10), np.full(10, 0.1)) < CHI2_CRIT[9]
    b = np.asarray(random.bernoulli(K(1), 0.3, (N,)))
    assert chi_square(np.array([np.sum(~b), np.sum(b)]), np.array([0.7, 0.3])) < CHI2_CRIT[1]
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    c = np.asarray(random.categorical(K(1), fnp.log(fnp.asarray(probs)), shape=(N,)))
    assert chi_square(np.bincount(c, minlength=4), probs) < CHI2_CRIT[3]
    w = np.asarray(random.choice(K(1), 4, (N,), p=fnp.asarray(probs)))
    assert chi_square(np.bincount(w, minlength=4), probs) < CHI2_CRIT[3]


@pytest.mark.parametrize("a", [0.3, 1.0, 4.5])
def test_gamma_statistics(a):
    n = 20_000
    g = np.asarray(random.gamma(K(1), a, (n,)), dtype=np.float64)
    assert g.min() >= 0
    # five standard errors: Var(mean) = a / n, Var(sample variance) ~ (mu4 - a^2) / n = (2a^2 + 6a) / n
    assert abs(g.mean() - a) < 5 * math.sqrt(a / n) and abs(g.var() - a) < 5 * math.sqrt(
        (2 * a * a + 6 * a) / n
    )
    lg = np.asarray(random.loggamma(K(1), a, (n,)), dtype=np.float64)
    np.testing.assert_allclose(np.exp(lg), g, rtol=1e-4, atol=1e-30)  # the same draws in log space


def test_beta_dirichlet_mvn_statistics():
    n = 20_000
    b = np.asarray(random.beta(K(1), 2.0, 5.0, (n,)), dtype=np.float64)
    assert b.min() > 0 and b.max() < 1
    assert abs(b.mean() - 2 / 7) < 0.005 and abs(b.var() - 10 / (49 * 8)) < 0.002
    alpha = np.array([0.5, 1.0, 3.0])
    d = np.asarray(random.dirichlet(K(1), fnp.asarray(alpha), (n,)), dtype=np.float64)
    np.testing.assert_allclose(d.sum(-1), 1, atol=1e-5)
    np.testing.assert_allclose(d.mean(0), alpha / alpha.sum(), atol=0.01)
    for method in ("cholesky", "eigh", "svd"):
        m = random.multivariate_normal(K(1), fnp.asarray(MVN_MEAN), fnp.asarray(MVN_COV), (n,), method=method)
        m = np.asarray(m, dtype=np.float64)
        np.testing.assert_allclose(m.mean(0), MVN_MEAN, atol=0.05)
        np.testing.assert_allclose(np.cov(m.T), MVN_COV, atol=0.06)


def test_permutation_and_choice_properties():
    p = np.asarray(random.permutation(K(1), 1000))
    assert sorted(p.tolist()) == list(range(1000)) and not np.array_equal(p, np.arange(1000))
    c = np.asarray(random.choice(K(1), 50, (50,), replace=False))
    assert sorted(c.tolist()) == list(range(50))
    firsts = np.array([int(random.permutation(K(s), 4)[0]) for s in range(400)])
    assert chi_square(np.bincount(firsts, minlength=4), np.full(4, 0.25)) < CHI2_CRIT[3]


# ---------------------------------------------------------------------------------------------------
# Transformations
# ---------------------------------------------------------------------------------------------------


def test_vmap_over_keys_equals_loop():
    keys = random.split(K(0), 5)
    loop = np.stack([np.asarray(random.split(k)) for k in keys])
    exact(fl.vmap(random.split)(keys), loop, np.uint32)
    exact(
        fl.vmap(lambda k: random.split(k, 3))(keys),
        np.stack([np.asarray(random.split(k, 3)) for k in keys]),
        np.uint32,
    )
    for draw in (
        lambda k: random.normal(k, (3,)),
        lambda k: random.uniform(k, (2, 2), minval=-1.0, maxval=1.0),
        lambda k: random.randint(k, (4,), 0, 7),
        lambda k: random.bits(k, (3,), np.uint8),
        lambda k: random.permutation(k, 6),
        lambda k: random.gamma(k, 2.0, (3,)),
    ):
        want = np.stack([np.asarray(draw(k)) for k in keys])
        np.testing.assert_array_equal(np.asarray(fl.vmap(draw)(keys)), want)
    data = fnp.arange(4)
    exact(
        fl.vmap(lambda d: random.fold_in(K(0), d))(data),
        [np.asarray(random.fold_in(K(0), i)) for i in range(4)],
        np.uint32,
    )


def test_jit_equals_eager():
    k = K(7)
    cases = [
        lambda k: random.split(k, 4),
        lambda k: random.fold_in(k, 3),
        lambda k: random.bits(k, (3000,)),
        lambda k: random.uniform(k, (5000,)),
        lambda k: random.uniform(k, (3000,), minval=-2.0, maxval=0.5),
        lambda k: random.normal(k, (5000,)),
        lambda k: random.normal(k, (3,)),
        lambda k: random.randint(k, (2000,), -3, 11),
        lambda k: random.bernoulli(k, 0.25, (2000,)),
        lambda k: random.permutation(k, 500),
        lambda k: random.choice(k, 9, (4,), replace=False),
        lambda k: random.categorical(k, fnp.zeros(5), shape=(100,)),
        lambda k: random.gamma(k, 1.5, (200,)),
    ]
    for f in cases:
        np.testing.assert_array_equal(np.asarray(fl.jit(f)(k)), np.asarray(f(k)))
    f = fl.jit(lambda k: random.truncated_normal(k, -1.0, 1.5, (2000,)))
    np.testing.assert_allclose(
        np.asarray(f(k)), np.asarray(random.truncated_normal(k, -1.0, 1.5, (2000,))), rtol=1e-6
    )


def test_jit_and_vmap_compose():
    keys = random.split(K(3), 4)
    want = np.stack([np.asarray(random.normal(k, (2000,))) for k in keys])
    np.testing.assert_array_equal(
        np.asarray(fl.jit(fl.vmap(lambda k: random.normal(k, (2000,))))(keys)), want
    )
    np.testing.assert_array_equal(
        np.asarray(fl.vmap(fl.jit(lambda k: random.normal(k, (2000,))))(keys)), want
    )


def test_grad_through_reparameterised_normal():
    k = K(0)
    z = np.asarray(random.normal(k, (1000,)), dtype=np.float64)

    def loss(mu, sigma):
        return fnp.mean((mu + sigma * random.normal(k, (1000,))) ** 2)

    for g in (fl.grad(loss, argnums=(0, 1)), fl.jit(fl.grad(loss, argnums=(0, 1)))):
        d_mu, d_sigma = g(0.5, 2.0)
        np.testing.assert_allclose(float(d_mu), np.mean(2 * (0.5 + 2 * z)), rtol=1e-5)
        np.testing.assert_allclose(float(d_sigma), np.mean(2 * (0.5 + 2 * z) * z), rtol=1e-5)
    # uniform's bounds are differentiable too: d/dlo = 1 - u, d/dhi = u
    u = np.asarray(random.uniform(k, (10,)), dtype=np.float64)
    d_lo = fl.grad(lambda lo: fnp.sum(random.uniform(k, (10,), minval=lo, maxval=3.0)))(1.0)
    np.testing.assert_allclose(float(d_lo), np.sum(1 - u), rtol=1e-5)
    _, tangent = fl.jvp(lambda s: s * random.normal(k, (3,)), (2.0,), (1.0,))
    np.testing.assert_array_equal(np.asarray(tangent), np.asarray(random.normal(k, (3,))))


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------


def test_errors():
    k = K(0)
    with pytest.raises(TypeError, match="uint32"):
        random.normal(fnp.ones(2), (2,))
    with pytest.raises(TypeError, match="uint32"):
        random.split(fnp.zeros(2, fnp.int32))
    with pytest.raises(TypeError, match=r"end with \(2,\)"):
        random.uniform(fnp.zeros(3, fnp.uint32))
    with pytest.raises(TypeError, match="PRNG key"):
        random.normal(0, (2,))
    with pytest.raises(ValueError, match="single key"):
        random.split(random.split(k, 3))
    with pytest.raises(ValueError, match="single key"):
        random.normal(random.split(random.key(0), 3), (2,))
    with pytest.raises(ValueError, match="negative"):
        random.normal(k, (-1,))
    with pytest.raises(TypeError, match="integer type"):
        random.normal(k, (2.5,))
    with pytest.raises(ValueError, match="float dtype"):
        random.uniform(k, (2,), fnp.int32)
    with pytest.raises(ValueError, match="float or complex"):
        random.normal(k, (2,), fnp.int32)
    with pytest.raises(TypeError, match="integer dtypes"):
        random.randint(k, (2,), 0, 3, fnp.float32)
    with pytest.raises(ValueError, match="unsigned"):
        random.bits(k, (2,), fnp.int32)
    with pytest.raises(ValueError, match="broadcast"):
        random.uniform(k, (3,), minval=fnp.zeros(2))
    with pytest.raises(ValueError, match="broadcast"):
        random.bernoulli(k, fnp.full((3,), 0.5), (2,))
    with pytest.raises(TypeError, match="integer"):
        random.PRNGKey(1.0)
    with pytest.raises(TypeError, match="scalar seed"):
        random.PRNGKey(fnp.arange(2))
    with pytest.raises(OverflowError):
        random.fold_in(k, -1)
    with pytest.raises(TypeError, match="integer"):
        random.fold_in(k, fnp.asarray(1.5))
    with pytest.raises(ValueError, match="larger sample"):
        random.choice(k, 3, (5,), replace=False)
    with pytest.raises(ValueError, match="p must be"):
        random.choice(k, 3, (2,), p=fnp.ones(4))
    with pytest.raises(TypeError, match="1-dimensional"):
        random.permutation(k, 2.0)
    with pytest.raises(ValueError, match="cov.shape"):
        random.multivariate_normal(k, fnp.zeros(2), fnp.eye(3))
    with pytest.raises(TypeError, match="static"):
        fl.jit(lambda n: random.split(k, n))(3)
