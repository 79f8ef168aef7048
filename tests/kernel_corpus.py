"""What the compiler tests share: whether kernels can be built on this machine, and the functions most of
them compile (W1's gelu, W2's softmax and layernorm)."""

from __future__ import annotations

import pytest

import functorch_lite.numpy as fnp
from functorch_lite.compiler import cpu


def compiler_available() -> bool:
    try:
        cpu.find_compiler()
        return cpu.layout_ok()
    except cpu.CompilerUnavailable:
        return False


needs_cc = pytest.mark.skipif(not compiler_available(), reason="no C compiler on this machine")


def gelu(x):
    return 0.5 * x * (1 + fnp.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def softmax(x):
    e = fnp.exp(x - fnp.max(x, axis=-1, keepdims=True))
    return e / fnp.sum(e, axis=-1, keepdims=True)


def layernorm(x, g, b):
    mu = fnp.mean(x, axis=-1, keepdims=True)
    d = x - mu
    return d / fnp.sqrt(fnp.mean(d * d, axis=-1, keepdims=True) + 1e-5) * g + b
