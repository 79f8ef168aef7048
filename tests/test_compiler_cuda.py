"""CUDA renderings of the kernel corpus: every kernel rendered for this module's functions is compiled
with ``nvcc -c`` (one translation unit, one nvcc call), together with the CuPy ElementwiseKernel /
ReductionKernel bodies wrapped the way CuPy wraps them. Skipped only when ``nvcc`` is absent. The CuPy
runtime path runs only where ``cupy`` imports and sees a GPU."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_corpus import gelu, layernorm, softmax

import functorch_lite as fl
import functorch_lite.numpy as fnp
from functorch_lite import lax
from functorch_lite.compiler import cuda, fusion, render
from functorch_lite.compiler.kernel_ir import Kernel
from functorch_lite.core.passes import optimize


def renamed(k: Kernel, name: str) -> Kernel:
    return Kernel(name, k.rank, k.inner, k.params, k.ops, k.stores, k.aliased)


def maths(x):
    return (
        fnp.sin(x) * fnp.cos(x) + fnp.log1p(fnp.abs(x)) - lax.logistic(x) + fnp.arctan2(x, 2.0) + lax.round(x)
    )


def ints(a, b):
    return lax.div(a, b) + lax.rem(a, b) * lax.shift_left(a, b) - lax.shift_right_arithmetic(a, b), a.astype(
        np.float32
    )


def bools(p, q):
    return (p & ~q) | (p ^ q), lax.select(p, q, ~q)


F32 = fnp.ones((16, 32))
CORPUS = [
    (gelu, (F32,)),
    (softmax, (F32,)),
    (layernorm, (F32, fnp.ones(32), fnp.ones(32))),
    (lambda x, g, b: layernorm(softmax(x), g, b), (F32, fnp.ones(32), fnp.ones(32))),
    (lambda x: fnp.sum(x * x, axis=0) / 3.0, (F32,)),
    (lambda x: (fnp.max(x, axis=1), fnp.min(x * 2.0, axis=1)), (F32,)),
    (lambda x: fnp.prod(x + 1.0), (F32,)),
    (maths, (F32,)),
    (lambda x: (x.astype(np.int8), x.astype(np.uint32), x.astype(bool)), (F32,)),
    (ints, (fnp.ones((8, 8), dtype=np.int32), fnp.ones((8, 8), dtype=np.int32))),
    (bools, (fnp.ones((8, 8), dtype=bool), fnp.ones((8, 8), dtype=bool))),
    (lambda x, r: x * r[:, None] + x.T.T, (F32, fnp.ones(16))),
]


def corpus_kernels():
    kernels = []
    for i, (f, args) in enumerate(CORPUS):
        closed = fl.make_jaxpr(f)(*args)
        jaxpr, consts = optimize(closed.jaxpr, closed.consts)
        for s in fusion.partition(jaxpr, dict(zip(jaxpr.constvars, consts)), 0, cpu=False):
            if s.kind == "kernel":
                kernels.append(renamed(s.kernel, f"f{i}_{s.kernel.name}"))
    return kernels


def test_corpus_covers_each_kernel_kind():
    kernels = corpus_kernels()
    assert any(not k.inner for k in kernels)
    assert any(len(k.reductions()) == 1 for k in kernels)
    assert any(len(k.reductions()) >= 2 for k in kernels)
    assert any(k.name.startswith("f7_") for k in kernels)  # sin/cos/... fuse for CUDA


@pytest.mark.skipif(cuda.find_nvcc() is None, reason="nvcc is not installed")
def test_every_cuda_kernel_compiles_with_nvcc():
    kernels = corpus_kernels()
    parts = [render.render_cuda(kernels)]
    n_elementwise = n_reduction = 0
    for k in kernels:
        if not k.inner:
            spec = render.cupy_elementwise(renamed(k, f"ew_{k.name}"))
            parts.append(cuda.mock_elementwise_source(spec))
            n_elementwise += 1
        else:
            spec = render.cupy_reduction(renamed(k, f"red_{k.name}"))
            if spec is not None:
                parts.append(cuda.mock_reduction_source(spec))
                n_reduction += 1
    assert n_elementwise >= 5 and n_reduction >= 2
    # The preambles repeat the typedefs and helpers: one namespace per part keeps the TU valid.
    source = "\n".join(f"namespace part{i} {{\n{p}\n}}\n" for i, p in enumerate(parts))
    source = source.replace('extern "C" ', "")
    ok, log = cuda.nvcc_compile(source)
    assert ok, log[-4000:]


def test_cuda_source_is_deterministic():
    assert render.render_cuda(corpus_kernels()) == render.render_cuda(corpus_kernels())


def _gpu():
    cp = cuda.cupy_module()
    if cp is None:
        pytest.skip("cupy with a GPU is not available here: the CuPy path is only compile-checked")
    return cp


def test_cupy_path_matches_numpy():
    cp = _gpu()
    from functorch_lite.compiler import cpu

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 128)).astype(np.float32)
    g = rng.standard_normal(128).astype(np.float32)
    old = cpu.settings.min_elements
    cpu.settings.min_elements = 0
    try:
        for f, args in [
            (gelu, (x,)),
            (softmax, (x,)),
            (layernorm, (x, g, g)),
            (lambda v: fnp.sum(v * v, axis=0), (x,)),
        ]:
            want = np.asarray(fl.jit(f)(*[fnp.asarray(a) for a in args]))
            from functorch_lite.core.array import Array

            got = fl.jit(f)(*[Array(cp.asarray(a), False) for a in args])
            np.testing.assert_allclose(cp.asnumpy(got._value), want, rtol=1e-5, atol=1e-5)
    finally:
        cpu.settings.min_elements = old
