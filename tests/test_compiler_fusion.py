"""The partition into fused kernels and library calls, and the plan around the kernels: what is fused,
the generated C in ``lower().as_text()``, in-place reuse of donated inputs, the buffer pool, the size
threshold, and jit results staying correct under fusion for functions mixing matmuls and reductions."""

from __future__ import annotations

import gc
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_corpus import gelu, layernorm, needs_cc, softmax

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite.compiler import cpu, fusion, pool
from functorch_lite.core.passes import optimize


def steps_of(f, *args, min_elements: int = 0):
    closed = fl.make_jaxpr(f)(*args)
    jaxpr, consts = optimize(closed.jaxpr, closed.consts)
    steps = fusion.partition(jaxpr, dict(zip(jaxpr.constvars, consts)), min_elements)
    return [(s.kind, s.kernel if s.kind == "kernel" else s.eqn.primitive.name) for s in steps]


X = fnp.ones((16, 32))
G = fnp.ones(32)


def test_elementwise_chain_is_one_kernel():
    (kind, k), *rest = steps_of(gelu, X)
    assert kind == "kernel" and not rest
    assert not k.inner
    assert [op.op for op in k.ops if op.op not in ("load", "const")] == [
        "mul", "integer_pow", "mul", "add", "mul", "tanh", "add", "mul",
    ]  # fmt: skip


def test_softmax_and_layernorm_are_row_kernels():
    for f, args, n_red in [
        (softmax, (X,), 2),
        (layernorm, (X, G, G), 2),
        (lambda x: layernorm(softmax(x), G, G), (X,), 4),
    ]:
        ((kind, k),) = steps_of(f, *args)
        assert kind == "kernel" and k.inner == (1,)
        assert len(k.reductions()) == n_red


def test_broadcasts_are_index_maps():
    ((_, k),) = steps_of(lambda x, g: x * g[None, :] + x.T.T, X, G)
    (g_param,) = [p for p in k.params if p.ndim == 1]
    assert g_param.emb == (-1, 0)  # stride 0 along rows, no copy


def test_reduction_with_consumers_after_it():
    ((kind, k),) = steps_of(lambda x: fnp.sqrt(fnp.sum(x * x, axis=1)) * 2.0, X)
    assert kind == "kernel" and k.inner == (1,)
    assert [op.op for op in k.ops if op.op not in ("load", "const")] == ["mul", "reduce_sum", "sqrt", "mul"]


def test_column_reduction_is_a_library_call():
    names = [k if kind == "eqn" else "kernel" for kind, k in steps_of(lambda x: fnp.sum(x * x, axis=0), X)]
    assert names == ["mul", "reduce_sum"] or names == ["kernel", "reduce_sum"]


def test_broadcast_constants_become_literals():
    def f(x):  # the JVP of max leaves broadcast constants behind after constant folding
        return fl.grad(lambda x: fnp.sum(fnp.maximum(x, 0.0) * x))(x)

    ((kind, k),) = [s for s in steps_of(f, X) if s[0] == "kernel"]
    assert all(p.ndim == 2 for p in k.params)  # x and the output: no broadcast constant arrays
    assert len(k.params) == 2


def test_broadcast_back_over_a_leading_axis_ends_the_kernel():
    steps = steps_of(lambda x: x / fnp.sum(x, axis=0, keepdims=True), X)
    assert [kind for kind, _ in steps][-1] == "kernel" and ("eqn", "reduce_sum") in steps


def test_matmul_stays_a_library_call():
    def f(x, w):
        return fnp.tanh(x @ w) * 2.0 + 1.0

    names = [k if kind == "eqn" else "kernel" for kind, k in steps_of(f, X, fnp.ones((32, 8)))]
    assert names == ["dot_general", "kernel"]


def test_one_reduction_per_kernel_group_of_a_reduction_of_a_reduction():
    kinds = [kind for kind, _ in steps_of(lambda x: fnp.sum(fnp.sum(x * 2.0, axis=1)), X)]
    assert kinds.count("kernel") == 2


def test_size_threshold_keeps_small_arrays_on_numpy():
    assert all(kind == "eqn" for kind, _ in steps_of(lambda x: x * 2.0 + 1.0, fnp.ones(8), min_elements=256))
    assert [kind for kind, _ in steps_of(lambda x: x * 2.0 + 1.0, fnp.ones(4096), min_elements=256)] == [
        "kernel"
    ]
    # a single op is not worth a kernel unless the array is large
    assert all(kind == "eqn" for kind, _ in steps_of(lambda x: x * 2.0, fnp.ones(4096), min_elements=256))


@needs_cc
def test_lower_as_text_shows_the_c_source():
    text = fl.jit(gelu).lower(fnp.ones(100_000)).as_text()
    assert "def run(" in text and "fused kernels" in text
    assert "FL_EXPORT int k0(const fl_arr* dims" in text and "fl_tanhf" in text
    assert "-ffp-contract=off" in text and "-ffast-math" not in text
    # an elementwise loop runs in fixed-width blocks: no remainder loop, a partial block on local buffers
    assert "for (int j = 0; j < 16; j++)" in text and "bf0[j] = x0[j]" in text


@needs_cc
def test_source_is_deterministic():
    a = fl.jit(lambda x: softmax(x) * 3.0).lower(fnp.ones((64, 64))).as_text()
    b = fl.jit(lambda x: softmax(x) * 3.0).lower(fnp.ones((64, 64))).as_text()
    c_part = lambda t: t[t.index("/* functorch_lite fused") :]  # noqa: E731
    assert c_part(a) == c_part(b)


@needs_cc
def test_strided_version_is_built_when_first_needed():
    def builds():  # libraries built, found on disk or found in memory: one per cpu.build call
        return sum(cpu.stats[k] for k in ("compiles", "disk_hits", "memory_hits"))

    def check(x):
        want = np.asarray(gelu(fnp.asarray(np.ascontiguousarray(x)))) * 3  # eager, on a contiguous copy
        np.testing.assert_allclose(np.asarray(f(x)), want, rtol=2e-6, atol=1e-6)

    f = fl.jit(lambda x: gelu(x) * 3.0)
    base = np.linspace(-3, 3, 64 * 96, dtype=np.float32).reshape(64, 96)
    cpu.runtime()  # loaded once per process: not counted below
    before, fallbacks = builds(), cpu.stats["fallbacks"]
    check(np.ascontiguousarray(base[:, :64]))
    assert builds() == before + 1  # the unit-stride kernels only
    check(base[:, ::-1][:, :64].T)  # a transposed, reversed argument: the same plan, its strided kernels
    check(base[:, 1:65])
    assert builds() == before + 2 and cpu.stats["fallbacks"] == fallbacks


@needs_cc
def test_broadcast_argument_keeps_the_donated_buffer():
    # fnp.ones is a read-only broadcast (stride 0): the strided kernel runs, writing into the donated buffer
    update = fl.jit(lambda p, g: p - 0.1 * g, donate_argnums=0)
    p = fnp.asarray(np.full((64, 80), 1.0, np.float32))
    buffer, fallbacks = np.asarray(p), cpu.stats["fallbacks"]
    out = update(p, fnp.ones((64, 80)))
    assert np.shares_memory(np.asarray(out), buffer) and cpu.stats["fallbacks"] == fallbacks
    np.testing.assert_array_equal(np.asarray(out), np.full((64, 80), np.float32(1.0) - np.float32(0.1)))


@needs_cc
def test_identical_kernels_are_compiled_once():
    # sin stays a numpy call on the CPU, so each gelu below is its own kernel: three kernel steps of the same
    # structure (the later two write their input in place, so the one compiled kernel is the in-place kind)
    def f(x):
        return gelu(fnp.sin(gelu(fnp.sin(gelu(x)))))

    x = fnp.asarray(np.linspace(-3, 3, 4096, dtype=np.float32).reshape(64, 64))
    text = fl.jit(f).lower(x).as_text()
    plan, c_source = text.split("# ---- fused kernels")
    assert plan.count("_kern") == 3
    assert c_source.count("FL_EXPORT int k") == 1
    expected = f(x)
    np.testing.assert_allclose(np.asarray(fl.jit(f)(x)), np.asarray(expected), rtol=2e-6, atol=1e-6)


@needs_cc
def test_donated_input_is_written_in_place():
    f = fl.jit(gelu, donate_argnums=0)
    x = fnp.asarray(np.linspace(-3, 3, 100_000, dtype=np.float32))
    expected = np.asarray(fl.jit(gelu)(x))
    buffer = np.asarray(x)
    out = f(x)
    assert np.asarray(out) is buffer or np.shares_memory(np.asarray(out), buffer)
    np.testing.assert_array_equal(np.asarray(out), expected)
    with pytest.raises(RuntimeError):
        x + 1  # the donated Array is deleted


@needs_cc
def test_pool_reuses_dropped_outputs_only():
    f = fl.jit(gelu)
    x = fnp.ones(200_000)
    first = f(x)
    first_buf = np.asarray(first)
    held = f(x)  # `first` is still referenced: must not be overwritten
    assert not np.shares_memory(np.asarray(held), first_buf)
    np.testing.assert_array_equal(first_buf, np.asarray(held))
    address = first_buf.__array_interface__["data"][0]
    del first, first_buf, held
    gc.collect()
    again = f(x)
    again2 = f(fnp.zeros(200_000))
    addresses = {np.asarray(a).__array_interface__["data"][0] for a in (again, again2)}
    assert address in addresses  # a dropped buffer came back
    np.testing.assert_array_equal(np.asarray(again2), np.zeros(200_000, np.float32))


def test_pool_slot_semantics():
    slot = pool.Slot((1 << 15,), np.float32)
    a = slot.take()
    b = slot.take()
    assert a is not b
    view = a[::2]
    del a
    c = slot.take()
    assert not np.shares_memory(c, view)  # a view keeps its base alive
    del view, b, c
    d = slot.take()
    assert d.shape == (1 << 15,)


@needs_cc
def test_mixed_plan_matches_eager():
    rng = np.random.default_rng(0)
    x, w1, w2 = (
        fnp.asarray(rng.standard_normal(s).astype(np.float32)) for s in [(64, 128), (128, 128), (128, 64)]
    )

    def mlp(x, w1, w2):
        h = fnp.tanh(x @ w1) * 0.5 + 0.1
        h = softmax(h @ w2)
        return fnp.sum(h * h, axis=1), h, fnp.max(h)

    got = fl.jit(mlp)(x, w1, w2)
    with fl.disable_jit():
        want = mlp(x, w1, w2)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)


@needs_cc
def test_grad_of_jit_with_kernels():
    def loss(w, x):
        return fnp.sum(layernorm(x * w, G[:8], G[:8]) ** 2)

    x = fnp.asarray(np.random.default_rng(1).standard_normal((512, 8)).astype(np.float32))
    w = fnp.full((8,), 1.5)
    g_jit = fl.jit(fl.grad(loss))(w, x)
    with fl.disable_jit():
        g_eager = fl.grad(loss)(w, x)
    np.testing.assert_allclose(np.asarray(g_jit), np.asarray(g_eager), rtol=1e-4, atol=1e-5)


@needs_cc
def test_value_read_through_a_duplicated_index_map_is_stored():
    """``s`` reaches two kernels through the same reshape: the kernel computing it must store it."""

    def f(x):
        e = fnp.exp(x - fnp.max(x, axis=-1, keepdims=True))
        s = fnp.sum(e, axis=-1, keepdims=True)
        return e / s * 3.0, fnp.sum(fnp.log(s) * x[:, :1])

    x = fnp.asarray(np.random.default_rng(2).standard_normal((64, 32)).astype(np.float32))
    kernels = [k for kind, k in steps_of(f, x) if kind == "kernel"]
    n_stored = sum(p.is_output for k in kernels for p in k.params)
    assert len(kernels) == 2 and n_stored == 3  # both results and s
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the unfused fallback warns
        got = fl.jit(f)(x)
    with fl.disable_jit():
        want = f(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5)


_UNARY = [fnp.exp, fnp.tanh, fnp.negative, lambda h: h * 0.5]
_BINARY = [fnp.add, fnp.multiply, fnp.subtract, fnp.maximum]
_REDUCE = [
    lambda h: fnp.sum(h, axis=-1, keepdims=True),
    lambda h: fnp.max(h, axis=-1, keepdims=True),
    lambda h: fnp.sum(h, axis=0, keepdims=True),
    lambda h: fnp.sum(h, axis=-1)[:, None] * 0.25,
]


@st.composite
def _programs(draw):
    """A random straight-line program over (8, 16), (8, 1) and (1, 16) values; returns 1-3 of them."""
    steps = []
    for _ in range(draw(st.integers(3, 14))):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce", "matmul"]))
        table = {"unary": _UNARY, "binary": _BINARY, "reduce": _REDUCE, "matmul": [None]}[kind]
        steps.append(
            (kind, draw(st.integers(0, len(table) - 1)), draw(st.integers(0, 99)), draw(st.integers(0, 99)))
        )
    outputs = draw(st.lists(st.integers(0, 99), min_size=1, max_size=3))

    def f(x, w):
        pool = [x, fnp.tanh(x)]
        for kind, op, a, b in steps:
            u, v = pool[a % len(pool)], pool[b % len(pool)]
            if kind == "unary":
                pool.append(_UNARY[op](u))
            elif kind == "binary":
                pool.append(_BINARY[op](u, v))
            elif kind == "reduce":
                pool.append(_REDUCE[op](u))
            else:
                pool.append(fnp.broadcast_to(u, (8, 16)) @ w)
        return tuple(pool[-1 - i % len(pool)] for i in outputs)

    return f


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_programs())
def test_partition_of_random_programs_is_a_valid_plan(f):
    """Every step reads only values computed before it: no kernel input is left inside another kernel."""
    from functorch_lite.compiler.executor import _steps_are_ordered

    closed = fl.make_jaxpr(f)(fnp.ones((8, 16)), fnp.ones((16, 16)))
    jaxpr, consts = optimize(closed.jaxpr, closed.consts)
    steps = fusion.partition(jaxpr, dict(zip(jaxpr.constvars, consts)), 0)
    assert _steps_are_ordered(jaxpr, steps)


@needs_cc
@settings(max_examples=6, deadline=None, derandomize=True)
@given(_programs())
def test_random_programs_jit_equals_eager(f):
    rng = np.random.default_rng(3)
    x = fnp.asarray(rng.standard_normal((8, 16)).astype(np.float32))
    w = fnp.asarray((rng.standard_normal((16, 16)) / 4).astype(np.float32))
    previous = cpu.settings.min_elements
    cpu.settings.min_elements = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # an unfused fallback warns
            warnings.filterwarnings("ignore", "overflow", RuntimeWarning)
            got = fl.jit(f)(x, w)
    finally:
        cpu.settings.min_elements = previous
    with fl.disable_jit(), np.errstate(all="ignore"):
        want = f(x, w)
    for g, v in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(v), rtol=2e-5, atol=1e-5)


@needs_cc
def test_plan_steps_share_pooled_buffers_and_drop_dead_values():
    rng = np.random.default_rng(3)
    w = fnp.asarray((rng.standard_normal((128, 128)) / 11).astype(np.float32))

    def f(x):
        h = fnp.tanh(x @ w) + 1.0
        return fnp.tanh(h @ w) * 2.0

    jf = fl.jit(f)
    x1, x2 = (fnp.asarray(rng.standard_normal((128, 128)).astype(np.float32)) for _ in range(2))
    text = jf.lower(x1).as_text()
    # every (128, 128) float32 buffer, the matrix products' included, comes from one slot; an intermediate
    # is dropped after its last use, so a later step can take its buffer in the same call
    assert text.count("out=_slot") == 2 and len(set(re.findall(r"_slot\d+", text))) == 1, text[:2000]
    assert "    del " in text
    r1 = jf(x1)
    kept = np.array(r1)
    r2 = jf(x2)
    np.testing.assert_array_equal(np.asarray(r1), kept)  # a result the caller holds is never reused
    with fl.disable_jit():
        for got, x in ((r1, x1), (r2, x2)):
            np.testing.assert_allclose(np.asarray(got), np.asarray(f(x)), rtol=1e-5, atol=1e-6)
