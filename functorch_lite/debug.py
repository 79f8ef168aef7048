"""Debugging helpers that work inside jit, grad and vmap: ``fl.debug.print`` and ``fl.debug.callback``.

Example:
    >>> @fl.jit
    ... def f(x):
    ...     fl.debug.print("x = {x}", x=x)
    ...     return fnp.sin(x)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import tree_util
from .primitives.debugging import debug_callback_p


def callback(fn: Callable, *args: Any, **kwargs: Any) -> None:
    """Call ``fn(*args, **kwargs)`` with concrete values, also from inside transformed functions.

    Example: ``fl.debug.callback(lambda v: history.append(float(v)), loss)``.
    """
    leaves, tree = tree_util.tree_flatten((args, kwargs))
    from .numpy import asarray

    def flat_callback(*values: Any) -> None:
        a, k = tree_util.tree_unflatten(tree, list(values))
        fn(*a, **k)

    debug_callback_p.bind(*[asarray(x) for x in leaves], callback=flat_callback)


def print(fmt: str, *args: Any, **kwargs: Any) -> None:  # noqa: A001  (the JAX name)
    """Print ``fmt.format(*args, **kwargs)`` with the runtime values, inside jit/grad/vmap too.

    Example: ``fl.debug.print("loss = {}", loss)``.
    """
    import builtins

    callback(lambda *a, **k: builtins.print(fmt.format(*a, **k)), *args, **kwargs)
