"""``functorch_lite.numpy`` (imported as ``fnp``): the jax.numpy surface over functorch_lite arrays.

Results and dtypes follow jax.numpy: float32/int32 by default, weakly typed Python scalars, JAX's
promotion lattice. Every function works eagerly and under every transformation.

Example:
    >>> import functorch_lite.numpy as fnp
    >>> fnp.tanh(fnp.asarray([0.0, 1.0]) * 2 + 1)
    Array([0.7615942, 0.9950548], dtype=float32)
"""

import numpy as _np

from ..core.array import Array as ndarray
from ..core.dtypes import (
    bool_,
    can_cast,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    result_type,
    uint8,
    uint16,
    uint32,
    uint64,
)
from . import _array_methods, linalg
from ._convert import array, asarray, from_dlpack
from ._convolve import convolve, correlate
from ._creation import (
    arange,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    identity,
    linspace,
    ones,
    ones_like,
    zeros,
    zeros_like,
)
from ._einsum import diagonal, einsum, einsum_path, kron, trace
from ._indexing import getitem as _getitem  # noqa: F401  (installed as Array.__getitem__)
from ._linalg import dot, inner, matmul, outer, tensordot, vdot
from ._math import (
    abs,
    absolute,
    add,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    astype,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    cbrt,
    ceil,
    clip,
    cos,
    cosh,
    divide,
    equal,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    fmod,
    greater,
    greater_equal,
    hypot,
    invert,
    isfinite,
    isinf,
    isnan,
    left_shift,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    nextafter,
    not_equal,
    positive,
    power,
    reciprocal,
    remainder,
    right_shift,
    rint,
    round,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    true_divide,
    trunc,
    where,
)
from ._reductions import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    average,
    count_nonzero,
    cumprod,
    cumsum,
    max,
    mean,
    median,
    min,
    nanargmax,
    nanargmin,
    nancumprod,
    nancumsum,
    nanmax,
    nanmean,
    nanmedian,
    nanmin,
    nanpercentile,
    nanprod,
    nanquantile,
    nanstd,
    nansum,
    nanvar,
    percentile,
    prod,
    ptp,
    quantile,
    std,
    sum,
    var,
)
from ._shape import (
    atleast_1d,
    broadcast_arrays,
    broadcast_shapes,
    broadcast_to,
    concatenate,
    expand_dims,
    moveaxis,
    ndim,
    ravel,
    reshape,
    shape,
    size,
    squeeze,
    stack,
    swapaxes,
    transpose,
)
from ._sorting import (
    argpartition,
    argsort,
    argwhere,
    bincount,
    digitize,
    flatnonzero,
    lexsort,
    nonzero,
    partition,
    searchsorted,
    sort,
    unique,
)

bool = bool_
pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None
dtype = _np.dtype
finfo = _np.finfo
iinfo = _np.iinfo

_array_methods.install()
