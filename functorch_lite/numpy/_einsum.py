"""Einstein summation for ``functorch_lite.numpy``: einsum, einsum_path, and kron, trace, diagonal.

``einsum`` follows NumPy/JAX semantics (implicit and explicit outputs, ``...`` broadcasting, repeated labels,
size-1 broadcasting, any number of operands) and lowers to existing primitives only, so it works under every
transformation:

1. each operand is cleaned up alone: size-1 dims that broadcast are squeezed, a label repeated within the
   operand becomes a diagonal (a reshape and a strided ``slice``: no gather), and labels that no other operand
   and not the output use are summed away (``reduce_sum``);
2. the operands are contracted pairwise with ``dot_general``, in a deterministic greedy order that contracts
   the pair with the smallest intermediate result first and avoids outer products while any pair shares a
   label; labels shared by both operands and still needed later are batch dims, the others are contracted;
3. a final ``transpose`` puts the dims in the output's order.

Example:
    >>> fnp.einsum("bij,bjk->bik", fnp.ones((2, 3, 4)), fnp.ones((2, 4, 5))).shape
    (2, 3, 5)
"""

from __future__ import annotations

import math
import string
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from ..core.errors import ShapeError
from ..primitives import shape as sh
from ..primitives.common import canonical_axis
from ..primitives.linalg import dot_general_p
from ._convert import asarray, convert, promote_dtypes
from ._math import multiply, not_equal
from ._reductions import sum as _sum
from ._shape import reshape, squeeze, transpose

Label = Hashable  # a letter, or ("...", k) for the k-th (right-aligned) broadcast dim
Path = list  # opt_einsum's format: each step lists the positions of the operands it replaces by their result

# ---------------------------------------------------------------------------------------------------
# diagonal, trace, kron
# ---------------------------------------------------------------------------------------------------


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal ``a[..., i, i + offset]`` of the ``axis1``/``axis2`` planes, as a new last axis (NumPy's).

    Gather-free, so it works under every transformation: the two axes move to the end and are flattened, and
    the diagonal is a strided ``slice`` (stride ``n + 1``) of the flat axis.

    Example: ``fnp.diagonal(fnp.arange(9).reshape(3, 3), offset=1)`` is ``[1, 5]``.
    """
    a = asarray(a)
    if a.ndim < 2:
        raise ValueError(f"diagonal requires an array of at least two dimensions, got shape {a.shape}.")
    ax1 = canonical_axis("diagonal", int(axis1), a.ndim)
    ax2 = canonical_axis("diagonal", int(axis2), a.ndim)
    if ax1 == ax2:
        raise ValueError(f"diagonal: axis1 and axis2 cannot be the same axis ({axis1}, {axis2}).")
    offset = int(offset)
    x = transpose(a, [d for d in range(a.ndim) if d not in (ax1, ax2)] + [ax1, ax2])
    m, n = a.shape[ax1], a.shape[ax2]
    lead = tuple(x.shape[:-2])
    length = max(0, min(m, n - offset)) if offset >= 0 else max(0, min(m + offset, n))
    flat = reshape(x, lead + (m * n,))
    if length == 0:
        start, limit = 0, 0
    else:
        start = offset if offset >= 0 else -offset * n
        limit = start + (length - 1) * (n + 1) + 1
    if (start, limit, n + 1) == (0, m * n, 1) or (m * n == 1 and length == 1):
        return flat
    return sh.slice_p.bind(
        flat,
        start_indices=(0,) * len(lead) + (start,),
        limit_indices=lead + (limit,),
        strides=(1,) * len(lead) + (n + 1,),
    )


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None) -> Any:
    """Sum along a diagonal (NumPy's ``trace``): ``sum(diagonal(a, offset, axis1, axis2), -1)``.

    Example: ``fnp.trace(fnp.eye(3))`` is ``3.``.
    """
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def kron(a: Any, b: Any) -> Any:
    """Kronecker product (NumPy's ``kron``): the block array with blocks ``a[i, j, ...] * b``.

    The operand of lower rank gets leading size-1 dims; the result has shape ``a.shape[k] * b.shape[k]``.

    Example: ``fnp.kron(fnp.eye(2), fnp.ones((2, 2))).shape`` is ``(4, 4)``.
    """
    a, b = promote_dtypes(a, b)
    nd = max(a.ndim, b.ndim)
    a_shape = (1,) * (nd - a.ndim) + tuple(a.shape)
    b_shape = (1,) * (nd - b.ndim) + tuple(b.shape)
    # a as (a0, 1, a1, 1, ...) and b as (1, b0, 1, b1, ...): the broadcast product interleaves their dims.
    a = reshape(a, tuple(d for s in a_shape for d in (s, 1)))
    b = reshape(b, tuple(d for s in b_shape for d in (1, s)))
    return reshape(multiply(a, b), tuple(p * q for p, q in zip(a_shape, b_shape)))


# ---------------------------------------------------------------------------------------------------
# Parsing the subscripts
# ---------------------------------------------------------------------------------------------------

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # NumPy's order for integer sublist labels


def _sublist_to_string(sublist: Sequence[Any]) -> str:
    out = []
    for s in sublist:
        if s is Ellipsis:
            out.append("...")
        elif isinstance(s, (int, np.integer)) and 0 <= int(s) < len(_LETTERS):
            out.append(_LETTERS[int(s)])
        else:
            raise ValueError(f"einsum: sublist labels must be integers in [0, 52) or Ellipsis, got {s!r}.")
    return "".join(out)


def _interleaved_to_string(args: Sequence[Any]) -> tuple[str, list]:
    """NumPy's alternative form ``einsum(op0, sublist0, op1, sublist1, ..., [sublist_out])``."""
    operands = list(args[0::2])
    subs = [_sublist_to_string(s) for s in args[1::2]]
    if len(args) % 2:
        out = _sublist_to_string(operands.pop())
        return ",".join(subs) + "->" + out, operands
    return ",".join(subs), operands


def _split_term(term: str, what: str) -> tuple[str, str | None]:
    """(letters before the ellipsis, letters after it or None if the term has no ellipsis)."""
    if "..." in term:
        before, _, after = term.partition("...")
        if "." in after:
            raise ValueError(f"einsum: {what} subscript {term!r} has more than one ellipsis.")
    else:
        before, after = term, None
    for c in before + (after or ""):
        if c not in _LETTERS:
            raise ValueError(f"einsum: invalid character {c!r} in {what} subscript {term!r}; use letters.")
    return before, after


def _parse(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list[list[Label]], list[Label]]:
    """Each operand's labels (one per dim, ellipsis dims expanded) and the output's labels."""
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1 or ("-" in spec.replace("->", "")) or (">" in spec.replace("->", "")):
        raise ValueError(f"einsum: subscripts {subscripts!r} must contain at most one '->'.")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s) but {len(shapes)} were given."
        )
    parsed = [_split_term(t, "input") for t in terms]
    n_ellipsis = []
    for (before, after), term, shape in zip(parsed, terms, shapes):
        named = len(before) + len(after or "")
        if after is None and named != len(shape):
            raise ShapeError(
                f"einsum: subscript {term!r} has {named} label(s) but its operand has shape {shape} "
                f"({len(shape)} dims)."
            )
        if after is not None and named > len(shape):
            raise ShapeError(
                f"einsum: subscript {term!r} names {named} dims but its operand has shape {shape}."
            )
        n_ellipsis.append(len(shape) - named)
    width = max(n_ellipsis, default=0)
    inputs: list[list[Label]] = []
    for (before, after), k in zip(parsed, n_ellipsis):
        dots = [("...", j) for j in range(width - k, width)]
        inputs.append(list(before) + dots + list(after or ""))
    dots = [("...", j) for j in range(width)]
    letters = [c for before, after in parsed for c in before + (after or "")]
    if arrow:
        before, after = _split_term(rhs, "output")
        output: list[Label] = list(before) + (dots if after is not None else []) + list(after or "")
        for c in before + (after or ""):
            if (before + (after or "")).count(c) > 1:
                raise ValueError(f"einsum: output subscript {rhs!r} repeats the label {c!r}.")
            if c not in letters:
                raise ValueError(f"einsum: output label {c!r} in {rhs!r} does not appear in any input.")
    else:
        output = dots + sorted(c for c in set(letters) if letters.count(c) == 1)
    return inputs, output


def _label_sizes(inputs: list[list[Label]], shapes: Sequence[tuple[int, ...]]) -> dict:
    """Each label's size; a dim of size 1 broadcasts against any other size, as in NumPy."""
    seen: dict = {}
    for labels, shape in zip(inputs, shapes):
        for label, d in zip(labels, shape):
            seen.setdefault(label, set()).add(int(d))
    sizes = {}
    for label, found in seen.items():
        big = found - {1}
        if len(big) > 1:
            name = "..." if isinstance(label, tuple) else repr(label)
            raise ShapeError(f"einsum: label {name} has incompatible sizes {sorted(found)} across operands.")
        sizes[label] = big.pop() if big else 1
    return sizes


# ---------------------------------------------------------------------------------------------------
# The contraction order
# ---------------------------------------------------------------------------------------------------


def _size(labels: Any, sizes: dict) -> int:
    return math.prod(sizes[label] for label in labels)


def _greedy_path(inputs: list[frozenset], output: frozenset, sizes: dict) -> Path:
    """Pairwise order: pairs sharing a label before outer products, then the smallest result, then the
    fewest multiply-adds, then the lowest positions (so the order is deterministic)."""
    ops = list(inputs)
    path: Path = []
    while len(ops) > 1:
        best = None
        for i in range(len(ops)):
            for j in range(i + 1, len(ops)):
                needed = set(output)
                for k, other in enumerate(ops):
                    if k != i and k != j:
                        needed |= other
                both = ops[i] | ops[j]
                result = frozenset(both & needed)
                result_size = _size(result, sizes)
                outer = not (ops[i] & ops[j]) and result_size > max(
                    _size(ops[i], sizes), _size(ops[j], sizes)
                )
                key = (outer, result_size, _size(both, sizes), i, j)
                if best is None or key < best[0]:
                    best = (key, i, j, result)
        _, i, j, result = best
        path.append((i, j))
        ops = [op for k, op in enumerate(ops) if k not in (i, j)] + [result]
    return path


def _check_path(path: Sequence[Any], n: int) -> Path:
    steps = list(path)
    if steps and steps[0] == "einsum_path":
        steps = steps[1:]
    out: Path = []
    for step in steps:
        step = tuple(int(k) for k in step)
        if not step or len(set(step)) != len(step) or any(not 0 <= k < n for k in step):
            raise ValueError(f"einsum: invalid contraction {step} in optimize path {list(path)}.")
        n -= len(step) - 1
        out.append(step)
    if n != 1:
        raise ValueError(f"einsum: optimize path {list(path)} does not contract all operands to one.")
    return out


def _choose_path(optimize: Any, inputs: list[frozenset], output: frozenset, sizes: dict) -> Path:
    n = len(inputs)
    if n == 1:
        return [(0,)]
    if optimize is False or optimize is None or optimize == "none":
        return [(0, 1)] * (n - 1)
    if optimize is True or optimize in ("greedy", "optimal", "auto", "dp", "branch-2", "branch-all"):
        return _greedy_path(inputs, output, sizes)
    if isinstance(optimize, (list, tuple)):
        return _check_path(optimize, n)
    raise ValueError(f"einsum: unknown optimize={optimize!r}; use True, False, 'greedy' or a path.")


# ---------------------------------------------------------------------------------------------------
# Building the computation
# ---------------------------------------------------------------------------------------------------


def _sum_labels(x: Any, labels: list[Label], drop: set) -> tuple[Any, list[Label]]:
    axes = tuple(k for k, label in enumerate(labels) if label in drop)
    if not axes:
        return x, labels
    return _sum(x, axis=axes, dtype=x.dtype), [label for label in labels if label not in drop]


def _prepare(x: Any, labels: list[Label], sizes: dict, elsewhere: set) -> tuple[Any, list[Label]]:
    """Squeeze broadcasting size-1 dims, take diagonals of repeated labels, and sum labels used only here."""
    squeezed = tuple(k for k, label in enumerate(labels) if x.shape[k] == 1 and sizes[label] != 1)
    if squeezed:
        x = squeeze(x, squeezed)
        labels = [label for k, label in enumerate(labels) if k not in squeezed]
    while len(set(labels)) != len(labels):
        label = next(label for label in labels if labels.count(label) > 1)
        p = labels.index(label)
        q = labels.index(label, p + 1)
        x = diagonal(x, 0, p, q)
        labels = [lab for k, lab in enumerate(labels) if k not in (p, q)] + [label]
    return _sum_labels(x, labels, {label for label in labels if label not in elsewhere})


def _contract_pair(
    x: Any, xl: list[Label], y: Any, yl: list[Label], needed: set, precision: Any, preferred: Any
) -> tuple[Any, list[Label]]:
    """One ``dot_general``: shared labels still needed are batch dims, the other shared ones contract."""
    x, xl = _sum_labels(x, xl, {label for label in xl if label not in yl and label not in needed})
    y, yl = _sum_labels(y, yl, {label for label in yl if label not in xl and label not in needed})
    batch = [label for label in xl if label in yl and label in needed]
    contract = [label for label in xl if label in yl and label not in needed]
    dimension_numbers = (
        (tuple(xl.index(c) for c in contract), tuple(yl.index(c) for c in contract)),
        (tuple(xl.index(b) for b in batch), tuple(yl.index(b) for b in batch)),
    )
    out = dot_general_p.bind(
        x, y, dimension_numbers=dimension_numbers, precision=precision, preferred_element_type=preferred
    )
    labels = batch + [label for label in xl if label not in yl] + [label for label in yl if label not in xl]
    return out, labels


def _contraction_plan(subscripts: Any, operands: Sequence[Any]) -> tuple:
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved_to_string((subscripts,) + tuple(operands))
    if not operands:
        raise ValueError("einsum: at least one operand is required.")
    operands = [asarray(op) for op in operands]
    shapes = [tuple(op.shape) for op in operands]
    inputs, output = _parse(subscripts, shapes)
    return operands, inputs, output, _label_sizes(inputs, shapes)


def einsum(
    subscripts: Any,
    *operands: Any,
    optimize: Any = True,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> Any:
    """Einstein summation over the operands as NumPy/JAX define it, as pairwise ``dot_general`` calls.

    ``subscripts`` is a string (``"ij,jk->ik"``, implicit ``"ij,jk"``, ``"...ij,...jk"``, ``"ii->i"``) or
    NumPy's interleaved form ``einsum(op0, [0, 1], op1, [1, 2], [0, 2])``. ``optimize`` is ``True`` /
    ``"greedy"`` (the default order: smallest intermediate first), ``False`` (left to right) or an explicit
    path in ``einsum_path``'s format. ``precision`` and ``preferred_element_type`` are passed to every
    ``dot_general``; the result has ``preferred_element_type`` when it is given.

    Example: ``fnp.einsum("ij,jk->ik", a, b)`` is ``a @ b``.
    """
    operands, inputs, output, sizes = _contraction_plan(subscripts, operands)
    ops = promote_dtypes(*operands)
    preferred = None if preferred_element_type is None else np.dtype(preferred_element_type)
    result_bool = ops[0].dtype == np.bool_ and preferred is None
    if result_bool:  # sums of bools are "any": count in int32, then compare with zero
        ops = [convert(op, np.dtype(np.int32)) for op in ops]

    # 1. Each operand alone.
    terms = []
    for k, (x, labels) in enumerate(zip(ops, inputs)):
        elsewhere = set(output).union(*[set(lab) for j, lab in enumerate(inputs) if j != k])
        if preferred is not None and x.dtype != preferred and any(lab not in elsewhere for lab in labels):
            x = convert(x, preferred)
        terms.append(_prepare(x, list(labels), sizes, elsewhere))

    # 2. Pairwise contractions in the chosen order.
    path = _choose_path(optimize, [frozenset(lab) for _, lab in terms], frozenset(output), sizes)
    for step in path:
        picked = [terms[k] for k in step]
        terms = [t for k, t in enumerate(terms) if k not in step]
        x, xl = picked[0]
        for m, (y, yl) in enumerate(picked[1:], start=1):
            needed = set(output).union(*[set(lab) for _, lab in terms + picked[m + 1 :]])
            x, xl = _contract_pair(x, xl, y, yl, needed, precision, preferred)
        terms.append((x, xl))

    # 3. Sum what is left over and order the output.
    ((x, labels),) = terms
    x, labels = _sum_labels(x, labels, {label for label in labels if label not in output})
    x = transpose(x, [labels.index(label) for label in output])
    if preferred is not None and x.dtype != preferred:
        x = convert(x, preferred)
    if result_bool:
        x = not_equal(x, 0)
    return x


def einsum_path(subscripts: Any, *operands: Any, optimize: Any = "greedy") -> tuple[Path, str]:
    """The contraction order ``einsum`` uses, as ``(["einsum_path", (i, j), ...], report)`` like NumPy's.

    Positions in each step refer to the operand list after the previous steps (results go to the end); the
    positions are those of the operands after each one was prepared alone (diagonals, lone sums).

    Example: ``fnp.einsum_path("ij,jk,kl->il", a, b, c)[0]`` is ``["einsum_path", (0, 1), (0, 1)]``.
    """
    operands, inputs, output, sizes = _contraction_plan(subscripts, operands)
    prepared = []
    for k, labels in enumerate(inputs):
        elsewhere = set(output).union(*[set(lab) for j, lab in enumerate(inputs) if j != k])
        kept = {lab for lab, d in zip(labels, operands[k].shape) if not (d == 1 and sizes[lab] != 1)}
        prepared.append(frozenset(kept & elsewhere))
    path = _choose_path(optimize, prepared, frozenset(output), sizes)
    lines = [f"  Complete contraction:  {subscripts if isinstance(subscripts, str) else '(sublists)'}"]
    ops = list(prepared)
    for step in path:
        picked = [ops[k] for k in step]
        ops = [op for k, op in enumerate(ops) if k not in step]
        needed = set(output).union(*ops)
        result = frozenset(frozenset().union(*picked) & needed)
        ops.append(result)
        names = ["".join(sorted(_label_name(lab) for lab in op)) for op in picked]
        lines.append(
            f"  {tuple(step)}: {','.join(names)}->{''.join(sorted(_label_name(lab) for lab in result))}"
            f"  (intermediate size {_size(result, sizes)})"
        )
    return ["einsum_path", *path], "\n".join(lines)


def _label_name(label: Label) -> str:
    return "." if isinstance(label, tuple) else str(label)
