"""functorch_lite: a small JAX-style library of composable function transformations over numpy arrays.

Example:
    >>> import functorch_lite as fl, functorch_lite.numpy as fnp
    >>> print(fl.make_jaxpr(lambda w, x, b: fnp.tanh(w * x + b))(0.5, 2.0, 0.1))
    { lambda ; a:f32[] b:f32[] c:f32[]. let
        d:f32[] = mul a b
        e:f32[] = add d c
        f:f32[] = tanh e
      in (f,) }
    >>> fl.grad(lambda x: fnp.tanh(x) ** 2)(0.5)
"""

from . import debug, lax, numpy, tree, tree_util
from .core import errors
from .core.array import Array
from .core.config import config
from .core.jaxpr import ClosedJaxpr, Jaxpr, eval_jaxpr
from .core.staging import ShapeDtypeStruct, eval_shape, make_jaxpr
from .devices import device_put, devices
from .lax import stop_gradient
from .primitives.custom_derivatives import custom_jvp, custom_vjp
from .primitives.remat import checkpoint, remat
from .transforms.autodiff import grad, hessian, jacfwd, jacrev, jvp, linearize, value_and_grad, vjp
from .transforms.jit import disable_jit, jit
from .transforms.vmap import vmap

__version__ = "0.1.0"

__all__ = [
    "Array",
    "ClosedJaxpr",
    "Jaxpr",
    "ShapeDtypeStruct",
    "checkpoint",
    "config",
    "custom_jvp",
    "custom_vjp",
    "debug",
    "device_put",
    "devices",
    "disable_jit",
    "errors",
    "eval_jaxpr",
    "eval_shape",
    "grad",
    "hessian",
    "jacfwd",
    "jacrev",
    "jit",
    "jvp",
    "linearize",
    "value_and_grad",
    "vjp",
    "vmap",
    "lax",
    "make_jaxpr",
    "numpy",
    "random",
    "remat",
    "stop_gradient",
    "tree",
    "tree_util",
]


def __getattr__(name: str):
    # fl.random loads on first use (it is the largest optional module; import time matters).
    if name == "random":
        import importlib

        return importlib.import_module(".random", __name__)
    raise AttributeError(f"module 'functorch_lite' has no attribute {name!r}")
