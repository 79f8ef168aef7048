"""Optimisation passes on jaxprs: dead-code elimination and common-subexpression elimination.

Example:
    >>> closed = fl.make_jaxpr(f)(x)
    >>> dce_jaxpr(cse_jaxpr(closed.jaxpr))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .jaxpr import Eqn, Jaxpr, Literal, Var, effectful_primitives


def dce_jaxpr(jaxpr: Jaxpr, used_outputs: list[bool] | None = None) -> Jaxpr:
    """Remove equations whose outputs are never used (keeping effectful ones).

    ``used_outputs`` (one flag per output) drops outputs too. Inputs are kept, so the signature does not
    change; constvars that become unused are removed.
    """
    outvars = jaxpr.outvars
    if used_outputs is not None:
        outvars = [v for v, used in zip(outvars, used_outputs) if used]
    live: set[Var] = {v for v in outvars if type(v) is Var}
    kept: list[Eqn] = []
    for eqn in reversed(jaxpr.eqns):
        if eqn.primitive.name in effectful_primitives or any(v in live for v in eqn.outvars):
            kept.append(eqn)
            live.update(v for v in eqn.invars if type(v) is Var)
    kept.reverse()
    constvars = [v for v in jaxpr.constvars if v in live]
    return Jaxpr(constvars, jaxpr.invars, kept, outvars)


def dce_closed(jaxpr: Jaxpr, consts: list) -> tuple[Jaxpr, list]:
    """DCE for a jaxpr with const values: returns the new jaxpr and the consts it still uses."""
    new = dce_jaxpr(jaxpr)
    keep = set(new.constvars)
    return new, [c for v, c in zip(jaxpr.constvars, consts) if v in keep]


def _hashable(value: Any) -> Any:
    try:
        hash(value)
        return value
    except TypeError:
        if isinstance(value, (tuple, list)):
            return tuple(_hashable(v) for v in value)
        if isinstance(value, dict):
            return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
        return ("<id>", id(value))


def cse_jaxpr(jaxpr: Jaxpr) -> Jaxpr:
    """Merge equations that apply the same primitive with the same params to the same inputs."""
    rename: dict[Var, Any] = {}
    seen: dict[Any, list[Var]] = {}
    eqns: list[Eqn] = []

    def sub(v: Any) -> Any:
        return rename.get(v, v) if type(v) is Var else v

    def atom_key(v: Any) -> Any:
        if type(v) is Literal:
            return ("lit", v.val.item(), v.aval.dtype, v.aval.weak_type)
        return v

    for eqn in jaxpr.eqns:
        invars = [sub(v) for v in eqn.invars]
        if eqn.primitive.name not in effectful_primitives:
            key = (eqn.primitive, tuple(atom_key(v) for v in invars), _hashable(eqn.params))
            previous = seen.get(key)
            if previous is not None:
                rename.update(zip(eqn.outvars, previous))
                continue
            seen[key] = eqn.outvars
        eqns.append(eqn.replace(invars=invars) if invars != eqn.invars else eqn)
    return Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, [sub(v) for v in jaxpr.outvars])


def fold_constants(jaxpr: Jaxpr, consts: list, max_size: int = 1 << 16) -> tuple[Jaxpr, list]:
    """Evaluate, at compile time, equations whose inputs are all literals or constants.

    Results become new constants (0-d ones inline literals). Effectful equations and results with more
    than ``max_size`` elements are left alone (folding would only trade compute for memory).
    """
    from .array import Array
    from .trace import bind_with_trace

    known: dict[Var, Any] = {v: c for v, c in zip(jaxpr.constvars, consts) if type(c) is Array}
    rename: dict[Var, Any] = {}
    new_constvars, new_consts = list(jaxpr.constvars), list(consts)
    eqns: list[Eqn] = []

    def sub(v: Any) -> Any:
        return rename.get(v, v) if type(v) is Var else v

    for eqn in jaxpr.eqns:
        invars = [sub(v) for v in eqn.invars]
        foldable = (
            eqn.primitive.name not in effectful_primitives
            and all(type(v) is Literal or v in known for v in invars)
            and all(v.aval.size <= max_size for v in eqn.outvars)
            and eqn.primitive.impl is not None
        )
        if not foldable:
            eqns.append(eqn.replace(invars=invars) if invars != eqn.invars else eqn)
            continue
        args = [v.as_array() if type(v) is Literal else known[v] for v in invars]
        outs = bind_with_trace(None, eqn.primitive, args, eqn.params)
        outs = outs if eqn.primitive.multiple_results else [outs]
        for v, value in zip(eqn.outvars, outs):
            if v.aval.shape == ():
                rename[v] = Literal(np.asarray(value._value, dtype=v.aval.dtype)[()], v.aval)
            else:
                new_constvars.append(v)
                new_consts.append(value)
                known[v] = value
    outvars = [sub(v) for v in jaxpr.outvars]
    folded = Jaxpr(new_constvars, jaxpr.invars, eqns, outvars)
    return dce_closed(folded, new_consts)


def _literal_equals(v: Any, value: float) -> bool:
    return type(v) is Literal and v.val == value and not np.isnan(v.val)


def simplify(jaxpr: Jaxpr) -> Jaxpr:
    """Local algebraic identities that are exact in floating point: ``x * 1``, ``x - 0``, integer
    ``x + 0``, ``neg(neg(x))``, same-type conversions, identity reshapes/transposes, transpose pairs."""
    rename: dict[Var, Any] = {}
    producer: dict[Var, Eqn] = {}
    eqns: list[Eqn] = []

    def sub(v: Any) -> Any:
        return rename.get(v, v) if type(v) is Var else v

    for eqn in jaxpr.eqns:
        invars = [sub(v) for v in eqn.invars]
        eqn = eqn.replace(invars=invars) if invars != eqn.invars else eqn
        eqn = _fuse_with_producer(eqn, producer)
        replacement = _identity_of(eqn, producer)
        if type(replacement) in (Var, Literal):
            out = eqn.outvars[0]
            if (replacement.aval.shape, replacement.aval.dtype) == (out.aval.shape, out.aval.dtype):
                rename[out] = replacement
                continue
        eqns.append(eqn)
        for v in eqn.outvars:
            producer[v] = eqn
    return dce_jaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, eqns, [sub(v) for v in jaxpr.outvars]))


def _fuse_with_producer(eqn: Eqn, producer: dict) -> Eqn:
    """Compose chains of the same layout op: transpose(transpose(x)) and reshape(reshape(x)) become one."""
    name, x = eqn.primitive.name, eqn.invars[0] if eqn.invars else None
    if type(x) is not Var or x not in producer or producer[x].primitive.name != name:
        return eqn
    inner = producer[x]
    if name == "transpose":
        first, second = inner.params["permutation"], eqn.params["permutation"]
        return eqn.replace(invars=[inner.invars[0]], params={"permutation": tuple(first[p] for p in second)})
    if name == "reshape" and inner.params.get("dimensions") is None and eqn.params.get("dimensions") is None:
        return eqn.replace(invars=[inner.invars[0]])
    return eqn


def _identity_of(eqn: Eqn, producer: dict) -> Any:
    name, ins, params = eqn.primitive.name, eqn.invars, eqn.params
    if name == "mul":
        if _literal_equals(ins[1], 1):
            return ins[0]
        if _literal_equals(ins[0], 1):
            return ins[1]
    elif name == "sub" and _literal_equals(ins[1], 0):
        return ins[0]
    elif name == "add" and eqn.outvars[0].aval.dtype.kind in "iu":
        if _literal_equals(ins[1], 0):
            return ins[0]
        if _literal_equals(ins[0], 0):
            return ins[1]
    elif name == "integer_pow" and params["y"] == 1:
        return ins[0]
    elif name == "neg" and type(ins[0]) is Var and ins[0] in producer:
        inner = producer[ins[0]]
        if inner.primitive.name == "neg":
            return inner.invars[0]
    elif name == "convert_element_type":
        x = ins[0]
        if x.aval.dtype == params["new_dtype"] and x.aval.weak_type == params.get("weak_type", False):
            return x
    elif (
        name == "reshape"
        and params.get("dimensions") is None
        and tuple(ins[0].aval.shape) == tuple(params["new_sizes"])
    ):
        return ins[0]
    elif name == "transpose":
        perm = tuple(params["permutation"])
        if perm == tuple(range(len(perm))):
            return ins[0]
        if type(ins[0]) is Var and ins[0] in producer:
            inner = producer[ins[0]]
            if inner.primitive.name == "transpose":
                composed = tuple(inner.params["permutation"][p] for p in perm)
                if composed == tuple(range(len(composed))):
                    return inner.invars[0]
    return None


def optimize(jaxpr: Jaxpr, consts: list) -> tuple[Jaxpr, list]:
    """The jit pipeline's passes: simplification, constant folding, CSE, DCE."""
    jaxpr = simplify(jaxpr)
    jaxpr, consts = fold_constants(jaxpr, consts)
    jaxpr = cse_jaxpr(jaxpr)
    return dce_closed(jaxpr, consts)
