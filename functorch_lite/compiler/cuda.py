"""The GPU side of fused kernels: the same kernel IR run through CuPy.

A kernel without reductions becomes a ``cupy.ElementwiseKernel`` (its inputs passed as strided views of
the iteration space, so broadcasts and transposes cost nothing); a kernel with one reduction whose outputs
depend only on the reduced value becomes a ``cupy.ReductionKernel``; anything else (row kernels) runs as
a ``cupy.RawKernel`` rendered by ``render.render_cuda`` (one thread per outer point, grid-stride).
CuPy caches the compiled modules itself (``CUPY_CACHE_DIR``); we keep the kernel objects per step.

This runs only where ``cupy`` imports and a GPU exists; without them ``dispatcher`` returns the numpy
plan unchanged. ``nvcc_compile`` and the ``mock_*`` functions let tests compile every rendered CUDA
kernel (and the CuPy bodies, wrapped the way CuPy wraps them) on machines with ``nvcc`` but no GPU.

Example:
    >>> ok, log = nvcc_compile(render.render_cuda([kernel]))
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np

from . import render
from .kernel_ir import Kernel

_cupy: Any = None
_cupy_checked = False

C_SPELLING = {
    "i8": "signed char", "i16": "short", "i32": "int", "i64": "long long", "u8": "unsigned char",
    "u16": "unsigned short", "u32": "unsigned int", "u64": "unsigned long long", "f32": "float", "f64": "double",
}  # fmt: skip


def cupy_module() -> Any:
    """``cupy`` if it is installed and sees a GPU, else None (checked once)."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        if cupy_installed():
            try:
                import cupy

                if cupy.cuda.runtime.getDeviceCount() > 0:
                    _cupy = cupy
            except Exception:  # noqa: BLE001 - no driver, no device: the CPU path only
                _cupy = None
    return _cupy


def cupy_installed() -> bool:
    if "installed" not in _found:
        _found["installed"] = importlib.util.find_spec("cupy") is not None
    return _found["installed"]


_found: dict[str, bool] = {}


def dispatcher(step: Any, inputs: list, numpy_run: Any) -> Any:
    """A callable running a fused step: on CuPy arrays with CuPy kernels, otherwise ``numpy_run``."""
    if not cupy_installed():
        return numpy_run
    runner: list = []

    def run(*values: Any) -> Any:
        cp = cupy_module()
        if cp is not None and any(isinstance(v, cp.ndarray) for v in values):
            if not runner:
                runner.append(CupyStep(step, inputs, cp))
            return runner[0](values)
        return numpy_run(*values)

    return run


class CupyStep:
    """One fused step as CuPy kernels (built on first use)."""

    def __init__(self, step: Any, inputs: list, cp: Any):
        self.cp = cp
        self.kernel: Kernel = step.kernel
        self.dims = tuple(step.dims)
        self.position = {x: i for i, x in enumerate(inputs)}
        self.inputs = [self.position[x] for x in step.inputs]
        self.out_avals = [v.aval for v in step.outputs]
        k = self.kernel
        if not k.inner:
            spec = render.cupy_elementwise(k)
            self.mode = "elementwise"
            self.fn = cp.ElementwiseKernel(
                spec.in_params, spec.out_params, spec.operation, spec.name, preamble=spec.preamble
            )
            return
        red = render.cupy_reduction(k)
        if red is not None:
            self.mode = "reduction"
            self.fn = cp.ReductionKernel(
                red.in_params,
                red.out_params,
                red.map_expr,
                red.reduce_expr,
                red.post_map_expr,
                red.identity,
                red.name,
                reduce_type=C_SPELLING[red.reduce_type],
                preamble=red.preamble,
            )
            return
        self.mode = "raw"
        module = cp.RawModule(code=render.render_cuda([k]), options=("--std=c++14",))
        self.fn = module.get_function(k.name)

    def _view(self, x: Any, emb: tuple) -> Any:
        cp = self.cp
        strides = tuple(x.strides[a] if a >= 0 else 0 for a in emb)
        return cp.lib.stride_tricks.as_strided(x, shape=self.dims, strides=strides)

    def __call__(self, values: tuple) -> tuple:
        cp = self.cp
        k = self.kernel
        arrays = [cp.asarray(values[i]) for i in self.inputs]
        outs = [cp.empty(a.shape, dtype=a.dtype) for a in self.out_avals]
        n_in = len(arrays)
        if self.mode == "elementwise":
            views = [self._view(x, k.params[i].emb) for i, x in enumerate(arrays)]
            views += [self._view(o, k.params[n_in + j].emb) for j, o in enumerate(outs)]
            self.fn(*views)
            return tuple(outs)
        if self.mode == "reduction":
            views = [self._view(x, k.params[i].emb) for i, x in enumerate(arrays)]
            result = self.fn(*views, axis=tuple(k.inner))
            result = result if isinstance(result, tuple) else (result,)
            return tuple(r.reshape(a.shape) for r, a in zip(result, self.out_avals))
        args: list[Any] = []
        every = arrays + outs
        for kind, name in render.cuda_signature(k):
            if kind == "array":
                args.append(every[int(name[1:])])
            elif kind == "extent":
                args.append(np.int64(self.dims[int(name[1:])]))
            else:
                p, d = (int(s) for s in name[1:].split("_"))
                x = every[p]
                args.append(np.int64(x.strides[k.params[p].emb[d]] // x.itemsize))
        total = 1
        for d in k.outer:
            total *= self.dims[d]
        block = 256
        grid = max(1, min((total + block - 1) // block, 65535))
        self.fn((grid,), (block,), tuple(args))
        return tuple(outs)


# ---------------------------------------------------------------------------------------------------
# Compile checks without a GPU
# ---------------------------------------------------------------------------------------------------


def find_nvcc() -> str | None:
    from .cpu import which

    return which(os.environ.get("FUNCTORCH_LITE_NVCC", "nvcc"))


def nvcc_compile(source: str, arch: str = "sm_80", timeout: float = 300) -> tuple[bool, str]:
    """Compile CUDA ``source`` with ``nvcc -c`` (no GPU needed); returns (success, compiler output)."""
    import subprocess  # here: importing them costs milliseconds on every jit's first call, and only tests compile
    import tempfile

    nvcc = find_nvcc()
    if nvcc is None:
        return False, "nvcc not found"
    with tempfile.TemporaryDirectory(prefix="functorch_lite-nvcc-") as tmp:
        cu = os.path.join(tmp, "kernels.cu")
        with open(cu, "w", encoding="utf-8") as f:
            f.write(source)
        cmd = [nvcc, "-c", f"-arch={arch}", "--std=c++14", "-o", os.path.join(tmp, "kernels.o"), cu]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return proc.returncode == 0, proc.stdout + proc.stderr


def _cpp_type(cupy_name: str) -> str:
    return "bool" if cupy_name == "bool" else C_SPELLING[render.CTYPE[cupy_name]]


def _split_params(decl: str) -> list[tuple[str, str]]:
    return [tuple(p.split()) for p in decl.split(",") if p.strip()]  # type: ignore[misc]


def mock_elementwise_source(spec: render.CupyElementwise) -> str:
    """``spec`` wrapped the way ``cupy.ElementwiseKernel`` wraps its operation (for ``nvcc`` checks)."""
    ins, outs = _split_params(spec.in_params), _split_params(spec.out_params)
    args = [f"const {_cpp_type(t)}* _raw_{n}" for t, n in ins] + [
        f"{_cpp_type(t)}* _raw_{n}" for t, n in outs
    ]
    body = [f"    const {_cpp_type(t)} {n} = _raw_{n}[i];" for t, n in ins]
    body += [f"    {_cpp_type(t)}& {n} = _raw_{n}[i];" for t, n in outs]
    return (
        spec.preamble
        + f'extern "C" __global__ void {spec.name}({", ".join(args)}, long long _n) {{\n'
        + "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < _n;"
        + " i += (long long)blockDim.x * gridDim.x) {\n"
        + "\n".join(body)
        + "\n"
        + "\n".join("    " + line for line in spec.operation.splitlines())
        + "\n  }\n}\n"
    )


def mock_reduction_source(spec: render.CupyReduction) -> str:
    """``spec`` wrapped the way ``cupy.ReductionKernel`` uses its expressions (for ``nvcc`` checks)."""
    ins, outs = _split_params(spec.in_params), _split_params(spec.out_params)
    args = [f"const {_cpp_type(t)}* _raw_{n}" for t, n in ins] + [
        f"{_cpp_type(t)}* _raw_{n}" for t, n in outs
    ]
    loads = [f"      const {_cpp_type(t)} {n} = _raw_{n}[o * _m + r];" for t, n in ins]
    refs = [f"    {_cpp_type(t)}& {n} = _raw_{n}[o];" for t, n in outs]
    rt = C_SPELLING[spec.reduce_type]
    return (
        spec.preamble
        + f"typedef {rt} _type_reduce;\n"
        + f'extern "C" __global__ void {spec.name}({", ".join(args)}, long long _n, long long _m) {{\n'
        + "  for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < _n;"
        + " o += (long long)blockDim.x * gridDim.x) {\n"
        + f"    _type_reduce a = {spec.identity};\n"
        + "    for (long long r = 0; r < _m; r++) {\n"
        + "\n".join(loads)
        + f"\n      const _type_reduce b = {spec.map_expr};\n"
        + f"      a = {spec.reduce_expr};\n"
        + "    }\n"
        + "\n".join(refs)
        + f"\n    {spec.post_map_expr}\n"
        + "  }\n}\n"
    )
