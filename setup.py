"""Builds the kernel runtime (``functorch_lite/compiler/runtime.c``) when the package is installed, as a C
extension is built, so that a machine's first jit needs one compiler process (its kernels), not two.

The library is named after the source's digest (BLAKE2b-256, as ``cpu.digest`` computes it): ``compiler/cpu.py``
loads it only if it was built from the ``runtime.c`` beside it, and otherwise builds the runtime into the
kernel cache. Optional: without a C
compiler (or OpenMP) the package installs all the same. Everything else is in ``pyproject.toml``.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "functorch_lite/compiler/runtime.c"
DIGEST = hashlib.blake2b((Path(__file__).parent / SOURCE).read_bytes(), digest_size=32).hexdigest()[:16]

setup(
    ext_modules=[
        Extension(
            f"functorch_lite.compiler._runtime_{DIGEST}",
            [SOURCE],
            extra_compile_args=["-fopenmp"],
            extra_link_args=["-fopenmp"],
            optional=True,
        )
    ]
)
