"""``convolve`` and ``correlate`` of ``functorch_lite.numpy``: 1-D, NumPy's modes, on a convolution.

As in jax.numpy the result is inexact (integer inputs give the default float dtype); the values are NumPy's.
Both are differentiable in both arguments (the convolution's JVP and transpose rules).

Example:
    >>> fnp.convolve(fnp.asarray([1.0, 2.0, 3.0]), fnp.asarray([0.0, 1.0, 0.5]))
    Array([0. , 1. , 2.5, 4. , 1.5], dtype=float32)
"""

from __future__ import annotations

from typing import Any

from ..primitives.conv import conv_general_dilated
from ..primitives.shape import rev_p
from ._convert import promote_args_inexact
from ._shape import reshape

_MODES = ("full", "same", "valid")


def _conv1d(a: Any, v: Any, mode: str, op: str, precision: Any, preferred_element_type: Any) -> Any:
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {_MODES}, got {mode!r}.")
    a, v = promote_args_inexact(a, v)
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"{op}() only supports 1-dimensional inputs, got shapes {a.shape} and {v.shape}.")
    if a.shape[0] == 0 or v.shape[0] == 0:
        raise ValueError(f"{op}: inputs cannot be empty, got shapes {a.shape} and {v.shape}.")
    reverse = False
    if op == "correlate":
        if v.dtype.kind == "c":
            raise TypeError(
                "fnp.correlate of complex arrays needs conj, which is not implemented yet; correlate the "
                "real and imaginary parts separately, or use fnp.convolve with a reversed, conjugated v."
            )
        if a.shape[0] < v.shape[0]:
            # correlate(a, v)[k] = correlate(v, a)[-k] for real inputs.
            a, v, reverse = v, a, True
    else:
        if a.shape[0] < v.shape[0]:
            a, v = v, a  # convolution commutes
        v = rev_p.bind(v, dimensions=(0,))
    size = v.shape[0]
    if mode == "valid":
        pads = (0, 0)
    elif mode == "same":
        pads = (size // 2, size - 1 - size // 2)
    else:
        pads = (size - 1, size - 1)
    out = conv_general_dilated(
        reshape(a, (1, 1, a.shape[0])),
        reshape(v, (1, 1, size)),
        (1,),
        (pads,),
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
    out = reshape(out, (out.shape[2],))
    return rev_p.bind(out, dimensions=(0,)) if reverse else out


def convolve(
    a: Any, v: Any, mode: str = "full", *, precision: Any = None, preferred_element_type: Any = None
) -> Any:
    """Discrete linear convolution of two 1-D arrays, ``c[k] = sum_j a[k - j] v[j]`` (``numpy.convolve``).

    ``mode``: ``'full'`` (length M + N - 1), ``'same'`` (length max(M, N)) or ``'valid'`` (max - min + 1).

    Example: ``fnp.convolve(fnp.asarray([1., 2., 3.]), fnp.asarray([1., 1.]), "valid")`` is ``[3., 5.]``.
    """
    return _conv1d(a, v, mode, "convolve", precision, preferred_element_type)


def correlate(
    a: Any, v: Any, mode: str = "valid", *, precision: Any = None, preferred_element_type: Any = None
) -> Any:
    """Cross-correlation of two 1-D arrays, ``c[k] = sum_n a[n + k] conj(v[n])`` (``numpy.correlate``).

    ``mode`` as for :func:`convolve`, but the default is ``'valid'``.

    Example: ``fnp.correlate(fnp.asarray([1., 2., 3.]), fnp.asarray([0., 1., 0.5]))`` is ``[3.5]``.
    """
    return _conv1d(a, v, mode, "correlate", precision, preferred_element_type)
