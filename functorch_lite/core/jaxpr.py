"""The IR: typed, first-order jaxprs in A-normal form, their evaluation, type checking and printing.

``Jaxpr(constvars, invars, eqns, outvars)``; each ``Eqn`` is ``outvars = primitive[params] invars`` with
the user's ``file:line``. Printing follows JAX's format exactly, so users can compare the two:

    { lambda ; a:f32[3]. let
        b:f32[3] = sin a
        c:f32[3] = mul b 2.0:f32[]
      in (c,) }

Example:
    >>> closed = fl.make_jaxpr(lambda x: fnp.sin(x) * 2.0)(fnp.ones(3))
    >>> eval_jaxpr(closed.jaxpr, closed.consts, fnp.ones(3))
    [Array([1.682942, 1.682942, 1.682942], dtype=float32)]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import pretty as pp
from .array import Array
from .trace import Primitive, ShapedArray

# Primitives with side effects (e.g. debug printing) are never removed by DCE or merged by CSE.
effectful_primitives: set[str] = set()

# Per-primitive choice of which params to print (JAX hides some, e.g. broadcast_in_dim's shape).
param_printers: dict[str, Any] = {}


class Var:
    """A jaxpr variable: an identity-hashed name for a value of type ``aval``."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Var({self.aval.str_short()})"


class Literal:
    """A scalar constant written inline, printed as ``2.0:f32[]``."""

    __slots__ = ("val", "aval")

    def __init__(self, val: Any, aval: ShapedArray):
        self.val = val  # a numpy scalar (np.generic)
        self.aval = aval

    def as_array(self) -> Array:
        return Array(self.val, self.aval.weak_type)

    def __repr__(self) -> str:
        return f"{self.val}:{self.aval.str_short()}"


class Eqn:
    """One equation ``outvars = primitive[params] invars``, with the user's source line."""

    __slots__ = ("primitive", "invars", "outvars", "params", "source_info")

    def __init__(
        self,
        primitive: Primitive,
        invars: list,
        outvars: list[Var],
        params: dict,
        source_info: str | None = None,
    ):
        self.primitive = primitive
        self.invars = invars
        self.outvars = outvars
        self.params = params
        self.source_info = source_info

    def replace(self, **changes: Any) -> Eqn:
        fields = {name: getattr(self, name) for name in Eqn.__slots__}
        fields.update(changes)
        return Eqn(**fields)

    def __repr__(self) -> str:
        return pp_eqn(self, _NameContext()).format()


class Jaxpr:
    """A typed program: ``{ lambda constvars ; invars . let eqns in outvars }``."""

    __slots__ = ("constvars", "invars", "eqns", "outvars", "__weakref__")

    def __init__(self, constvars: list[Var], invars: list[Var], eqns: list[Eqn], outvars: list):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.eqns = list(eqns)
        self.outvars = list(outvars)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def pretty_print(self, width: int = 80) -> str:
        return pp_jaxpr(self, _NameContext()).format(width)

    def __str__(self) -> str:
        return self.pretty_print()

    __repr__ = __str__


class ClosedJaxpr:
    """A jaxpr together with the values of its constvars.

    Example: ``fl.make_jaxpr(f)(x)`` returns one; ``closed(x)`` evaluates it.
    """

    __slots__ = ("jaxpr", "consts", "__weakref__")

    def __init__(self, jaxpr: Jaxpr, consts: list):
        self.jaxpr = jaxpr
        self.consts = list(consts)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return self.jaxpr.in_avals

    @property
    def out_avals(self) -> list[ShapedArray]:
        return self.jaxpr.out_avals

    @property
    def eqns(self) -> list[Eqn]:
        return self.jaxpr.eqns

    def __call__(self, *args: Any) -> list:
        return eval_jaxpr(self.jaxpr, self.consts, *args)

    def pretty_print(self, width: int = 80) -> str:
        return self.jaxpr.pretty_print(width)

    def __str__(self) -> str:
        return str(self.jaxpr)

    __repr__ = __str__


# ---------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------


def eval_jaxpr(jaxpr: Jaxpr, consts: list, *args: Any) -> list:
    """Run ``jaxpr`` by binding each equation's primitive, so it works under every transformation.

    Example: ``eval_jaxpr(closed.jaxpr, closed.consts, x)`` returns the list of outputs.
    """
    env: dict[Var, Any] = {}

    def read(v: Any) -> Any:
        return v.as_array() if type(v) is Literal else env[v]

    if len(args) != len(jaxpr.invars):
        raise TypeError(f"jaxpr takes {len(jaxpr.invars)} arguments, got {len(args)}")
    for v, x in zip(jaxpr.constvars, consts):
        env[v] = x
    for v, x in zip(jaxpr.invars, args):
        if not isinstance(x, Array):  # Python scalars and NumPy arrays take the variable's type
            x = x if hasattr(x, "_trace") else Array(np.asarray(x, dtype=v.aval.dtype), v.aval.weak_type)
        env[v] = x
    for eqn in jaxpr.eqns:
        outs = eqn.primitive.bind(*[read(v) for v in eqn.invars], **eqn.params)
        if eqn.primitive.multiple_results:
            for v, o in zip(eqn.outvars, outs):
                env[v] = o
        else:
            env[eqn.outvars[0]] = outs
    return [read(v) for v in jaxpr.outvars]


# ---------------------------------------------------------------------------------------------------
# Type checking
# ---------------------------------------------------------------------------------------------------


class JaxprTypeError(TypeError):
    """A jaxpr is ill-formed: an unbound or twice-bound variable, or a type that does not check."""


def typecheck_jaxpr(jaxpr: Jaxpr) -> list[ShapedArray]:
    """Check single assignment, no unbound variables, and every eqn's types; return the output avals.

    Example: ``typecheck_jaxpr(fl.make_jaxpr(f)(x).jaxpr)``.
    """
    bound: set[Var] = set()

    def bind_var(v: Var) -> None:
        if v in bound:
            raise JaxprTypeError(f"variable {v} is bound twice")
        bound.add(v)

    def check_atom(v: Any, where: str) -> None:
        if type(v) is Literal:
            if np.shape(v.val) != () or np.dtype(v.val.dtype) != v.aval.dtype:
                raise JaxprTypeError(f"literal {v} in {where} does not match its type")
        elif v not in bound:
            raise JaxprTypeError(f"variable {v} is used in {where} before it is bound")

    for v in jaxpr.constvars + jaxpr.invars:
        bind_var(v)
    for i, eqn in enumerate(jaxpr.eqns):
        where = f"equation {i} ({eqn.primitive.name})"
        for v in eqn.invars:
            check_atom(v, where)
        try:
            out = eqn.primitive.abstract_eval(*[v.aval for v in eqn.invars], **eqn.params)
        except (TypeError, ValueError) as e:
            raise JaxprTypeError(f"{where} does not type check: {e}") from e
        outs = out if eqn.primitive.multiple_results else [out]
        if len(outs) != len(eqn.outvars):
            raise JaxprTypeError(f"{where} produces {len(outs)} values, binds {len(eqn.outvars)}")
        for v, aval in zip(eqn.outvars, outs):
            if (v.aval.shape, v.aval.dtype) != (aval.shape, aval.dtype):
                raise JaxprTypeError(
                    f"{where}: binder has type {v.aval.str_short()} but the rule gives {aval.str_short()}"
                )
            bind_var(v)
    for v in jaxpr.outvars:
        check_atom(v, "the outputs")
    return [v.aval for v in jaxpr.outvars]


# ---------------------------------------------------------------------------------------------------
# Printing (JAX's format)
# ---------------------------------------------------------------------------------------------------


def _encode_name(n: int) -> str:
    # a, b, ..., z, ba, bb, ...: base 26 with 'a' as the zero digit, as JAX does.
    digits = []
    while True:
        n, r = divmod(n, 26)
        digits.append(chr(ord("a") + r))
        if n == 0:
            return "".join(reversed(digits))


class _NameContext:
    def __init__(self) -> None:
        self.names: dict[Var, str] = {}

    def name(self, v: Any) -> str:
        if type(v) is Literal:
            return repr(v)
        if v not in self.names:
            self.names[v] = _encode_name(len(self.names))
        return self.names[v]


def _pp_vars(vs: list, ctx: _NameContext, separator: str = "", print_shapes: bool = False) -> pp.Doc:
    docs = [pp.text(ctx.name(v) + (":" + v.aval.str_short() if print_shapes else "")) for v in vs]
    return pp.nest(2, pp.group(pp.join(pp.text(separator) + pp.group(pp.brk()), docs)))


def _pp_param(key: str, value: Any, ctx: _NameContext) -> pp.Doc:
    if isinstance(value, tuple) and value and all(isinstance(j, (Jaxpr, ClosedJaxpr)) for j in value):
        inner = [pp_jaxpr(j.jaxpr if isinstance(j, ClosedJaxpr) else j, ctx) for j in value]
        body = pp.group(
            pp.nest(2, pp.concat([pp.text("("), pp.brk(""), pp.join(pp.brk(), inner)]))
            + pp.brk("")
            + pp.text(")")
        )
    elif isinstance(value, (Jaxpr, ClosedJaxpr)):
        body = pp_jaxpr(value.jaxpr if isinstance(value, ClosedJaxpr) else value, ctx)
    else:
        body = pp.text(str(value))
    return pp.text(f"{key}=") + body


def _pp_params(params: dict, ctx: _NameContext) -> pp.Doc:
    if not params:
        return pp.nil()
    pairs = [_pp_param(k, v, ctx) for k, v in sorted(params.items())]
    return pp.group(
        pp.nest(2, pp.concat([pp.text("["), pp.brk(""), pp.join(pp.brk(), pairs)]))
        + pp.brk("")
        + pp.text("]")
    )


def pp_eqn(eqn: Eqn, ctx: _NameContext) -> pp.Doc:
    lhs = _pp_vars(eqn.outvars, ctx, print_shapes=True)
    return pp.concat(
        [
            lhs,
            pp.text(" = "),
            pp.text(eqn.primitive.name),
            _pp_params(param_printers.get(eqn.primitive.name, dict)(eqn.params), ctx),
            pp.text(" ") + _pp_vars(eqn.invars, ctx),
        ]
    )


def pp_jaxpr(jaxpr: Jaxpr, ctx: _NameContext) -> pp.Doc:
    constvars = _pp_vars(jaxpr.constvars, ctx, print_shapes=True)
    invars = _pp_vars(jaxpr.invars, ctx, print_shapes=True)
    eqns = pp.join(pp.brk("; "), [pp_eqn(e, ctx) for e in jaxpr.eqns])
    outvars = pp.concat(
        [
            pp.text("("),
            _pp_vars(jaxpr.outvars, ctx, separator=","),
            pp.text(")" if len(jaxpr.outvars) != 1 else ",)"),
        ]
    )
    return pp.group(
        pp.nest(
            2,
            pp.concat(
                [
                    pp.text("{ lambda "),
                    constvars,
                    pp.text("; "),
                    invars,
                    pp.text(". let"),
                    pp.nest(2, pp.brk() + eqns),
                    pp.brk(),
                    pp.text("in "),
                    outvars,
                ]
            ),
        )
        + pp.text(" }")
    )
