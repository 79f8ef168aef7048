"""Optimisation passes on jaxprs: dead-code elimination and common-subexpression elimination.

Example:
    >>> closed = fl.make_jaxpr(f)(x)
    >>> dce_jaxpr(cse_jaxpr(closed.jaxpr))
"""

from __future__ import annotations

from typing import Any

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
