"""Pytrees: nested containers (tuples, lists, dicts, ...) whose non-container contents are *leaves*.

The API follows ``jax.tree_util``: ``tree_flatten`` turns a pytree into a flat list of leaves plus a
``PyTreeDef`` describing its structure, and ``tree_unflatten`` rebuilds it, so transforms can work on
flat lists of arrays and hand back the user's own structure.

How it works:

* A registry maps a Python type to a ``_NodeType`` (how to flatten it one level, how to rebuild it, and
  how to name its children in key paths). Dispatch is on ``type(x)`` exactly, through a dict; a value of
  any unregistered type is a leaf (so a subclass of ``list`` or ``dict`` is a leaf, as in JAX), except
  tuple subclasses with ``_fields`` (namedtuples), which are nodes.
* Built-in nodes: ``tuple``, ``list``, ``dict`` (children in sorted key order), ``None`` (a node with no
  children), namedtuples, ``collections.OrderedDict`` (insertion order) and ``collections.defaultdict``
  (sorted keys; its ``default_factory`` kept in the structure).
* A structure is a nest of plain tuples ``(node_type, aux_data, children, num_leaves)``; every leaf is the
  one shared tuple ``_LEAF``. Tuples are cheap to build, and Python's own tuple ``==`` and ``hash`` then
  give structural equality at C speed (that is what a ``jit`` cache lookup needs). ``PyTreeDef`` wraps
  the root tuple.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import operator
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

__all__ = [
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "PyTreeDef",
    "SequenceKey",
    "all_leaves",
    "keystr",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_pytree_with_keys",
    "register_pytree_with_keys_class",
    "register_static",
    "tree_all",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_leaves_with_path",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_structure",
    "tree_transpose",
    "tree_unflatten",
    "treedef_children",
    "treedef_is_leaf",
    "treedef_tuple",
]

T = TypeVar("T")
Typ = TypeVar("Typ", bound=type)
Leaf = Any
KeyEntry = Hashable
KeyPath = tuple[Any, ...]
IsLeaf = Callable[[Any], bool] | None


# ---------------------------------------------------------------------------------------------------------
# Key path entries: how a child is reached from its parent (``[0]``, ``['a']``, ``.name``).
# ---------------------------------------------------------------------------------------------------------


class _KeyEntry:
    """Base of the key types: one immutable field, equality and hash by (type, field)."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def _field(self) -> Any:
        return getattr(self, self.__match_args__[0])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._field() == self._field()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._field()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__match_args__[0]}={self._field()!r})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._field(),))


class SequenceKey(_KeyEntry):
    """Index of a child of a tuple or list. ``str(SequenceKey(0)) == '[0]'``."""

    __slots__ = ("idx",)
    __match_args__ = ("idx",)
    idx: int

    def __init__(self, idx: int) -> None:
        object.__setattr__(self, "idx", idx)

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


class DictKey(_KeyEntry):
    """Key of a child of a dict. ``str(DictKey('a')) == "['a']"``."""

    __slots__ = ("key",)
    __match_args__ = ("key",)
    key: Hashable

    def __init__(self, key: Hashable) -> None:
        object.__setattr__(self, "key", key)

    def __str__(self) -> str:
        return f"[{self.key!r}]"


class GetAttrKey(_KeyEntry):
    """Attribute holding a child (namedtuple field, dataclass field). ``str(GetAttrKey('w')) == '.w'``."""

    __slots__ = ("name",)
    __match_args__ = ("name",)
    name: str

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __str__(self) -> str:
        return f".{self.name}"


class FlattenedIndexKey(_KeyEntry):
    """Position of a child of a custom node registered without keys: ``'[<flat index 0>]'``."""

    __slots__ = ("key",)
    __match_args__ = ("key",)
    key: int

    def __init__(self, key: int) -> None:
        object.__setattr__(self, "key", key)

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


def keystr(keys: Iterable[Any], *, simple: bool = False, separator: str = "") -> str:
    """Pretty-prints a key path.

    >>> keystr((DictKey('a'), SequenceKey(1), GetAttrKey('w')))
    "['a'][1].w"
    >>> keystr((DictKey('a'), SequenceKey(1), GetAttrKey('w')), simple=True, separator='/')
    'a/1/w'
    """
    if simple:
        return separator.join(str(k._field()) if isinstance(k, _KeyEntry) else str(k) for k in keys)
    return separator.join(map(str, keys))


# ---------------------------------------------------------------------------------------------------------
# The registry of node types.
# ---------------------------------------------------------------------------------------------------------


class _NodeType:
    """How one kind of pytree node is taken apart and rebuilt.

    ``flatten(x) -> (children, aux_data)``; ``unflatten(aux_data, children_tuple) -> x``;
    ``flatten_with_keys(x) -> ([(key, child), ...], aux_data)`` or None (children get FlattenedIndexKeys).
    ``kind`` is one of leaf, none, tuple, list, dict, namedtuple, custom, dataclass.
    """

    __slots__ = ("type", "kind", "flatten", "unflatten", "flatten_with_keys")

    def __init__(
        self,
        nodetype: type | None,
        kind: str,
        flatten: Callable[[Any], tuple[Iterable[Any], Any]] | None,
        unflatten: Callable[[Any, tuple[Any, ...]], Any] | None,
        flatten_with_keys: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Any]] | None = None,
    ) -> None:
        self.type = nodetype
        self.kind = kind
        self.flatten = flatten
        self.unflatten = unflatten
        self.flatten_with_keys = flatten_with_keys

    def __repr__(self) -> str:
        return f"<pytree node type {self.kind}: {self.type!r}>"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle (and deepcopy) by reference, so a copied PyTreeDef still compares equal.
        return (_node_type_by_name, (self.kind, self.type))


_registry: dict[type, _NodeType] = {}
# Cache of `_classify(t)` for every type met so far (None: a leaf type). Cleared when it grows too big,
# so types created on the fly (namedtuples made in a loop) cannot leak.
_dispatch: dict[type, _NodeType | None] = {}
_DISPATCH_CACHE_SIZE = 4096
_UNSEEN: Any = object()


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _classify(t: type) -> _NodeType | None:
    """The node type for values of type ``t`` (None for a leaf), remembered in ``_dispatch``."""
    entry = _registry.get(t)
    if entry is None and issubclass(t, tuple) and hasattr(t, "_fields"):
        entry = _NAMEDTUPLE
    if len(_dispatch) >= _DISPATCH_CACHE_SIZE:
        _dispatch.clear()
    _dispatch[t] = entry
    return entry


def _node_type_of(x: Any) -> _NodeType | None:
    entry = _dispatch.get(type(x), _UNSEEN)
    return _classify(type(x)) if entry is _UNSEEN else entry


def _node_type_by_name(kind: str, nodetype: type | None) -> _NodeType:
    if kind == "leaf":
        return _LEAF_TYPE
    if kind == "namedtuple":
        return _NAMEDTUPLE
    return _registry[nodetype]


def _register(entry: _NodeType) -> None:
    if entry.type in _registry:
        raise ValueError(f"Duplicate custom PyTreeDef type registration for {entry.type!r}.")
    _registry[entry.type] = entry
    _dispatch.pop(entry.type, None)


def _sorted_keys(d: dict) -> list[Any]:
    try:
        return sorted(d)
    except TypeError as e:
        raise ValueError(
            f"Comparator raised exception while sorting pytree dictionary keys {list(d)!r}: {e}. "
            "Pytree dict keys must be mutually comparable (e.g. all str); use a custom node otherwise."
        ) from e


def _flatten_dict(d: dict) -> tuple[list[Any], tuple[Any, ...]]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], tuple(keys)


def _flatten_dict_with_keys(d: dict) -> tuple[list[tuple[DictKey, Any]], tuple[Any, ...]]:
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], tuple(keys)


def _flatten_sequence_with_keys(xs: Sequence[Any]) -> tuple[list[tuple[SequenceKey, Any]], None]:
    return [(SequenceKey(i), x) for i, x in enumerate(xs)], None


def _flatten_ordered_dict(d: collections.OrderedDict) -> tuple[list[Any], tuple[Any, ...]]:
    return list(d.values()), tuple(d)


def _flatten_defaultdict(d: collections.defaultdict) -> tuple[list[Any], tuple[Any, ...]]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], (d.default_factory, tuple(keys))


def _flatten_defaultdict_with_keys(d: collections.defaultdict) -> tuple[list[tuple[DictKey, Any]], Any]:
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], (d.default_factory, tuple(keys))


_LEAF_TYPE = _NodeType(None, "leaf", None, None)
_NAMEDTUPLE = _NodeType(
    None,
    "namedtuple",
    lambda x: (x, type(x)),
    lambda cls, children: cls(*children),
    lambda x: ([(GetAttrKey(f), c) for f, c in zip(x._fields, x, strict=True)], type(x)),
)
for _entry in (
    _NodeType(type(None), "none", lambda x: ((), None), lambda aux, children: None, lambda x: ((), None)),
    _NodeType(tuple, "tuple", lambda x: (x, None), lambda aux, ch: ch, _flatten_sequence_with_keys),
    _NodeType(list, "list", lambda x: (x, None), lambda aux, ch: list(ch), _flatten_sequence_with_keys),
    _NodeType(
        dict,
        "dict",
        _flatten_dict,
        lambda keys, ch: dict(zip(keys, ch, strict=True)),
        _flatten_dict_with_keys,
    ),
    _NodeType(
        collections.OrderedDict,
        "custom",
        _flatten_ordered_dict,
        lambda keys, children: collections.OrderedDict(zip(keys, children, strict=True)),
        lambda d: ([(DictKey(k), v) for k, v in d.items()], tuple(d)),
    ),
    _NodeType(
        collections.defaultdict,
        "custom",
        _flatten_defaultdict,
        lambda aux, children: collections.defaultdict(aux[0], zip(aux[1], children, strict=True)),
        _flatten_defaultdict_with_keys,
    ),
):
    _register(_entry)
del _entry

# The structure of a single leaf; shared by every leaf position so `node is _LEAF` is the leaf test.
_LEAF: tuple[Any, ...] = (_LEAF_TYPE, None, (), 1)


# ---------------------------------------------------------------------------------------------------------
# Registration API.
# ---------------------------------------------------------------------------------------------------------


def register_pytree_node(
    nodetype: type[T],
    flatten_func: Callable[[T], tuple[Iterable[Any], Any]],
    unflatten_func: Callable[[Any, tuple[Any, ...]], T],
    flatten_with_keys_func: Callable[[T], tuple[Iterable[tuple[KeyEntry, Any]], Any]] | None = None,
) -> None:
    """Makes ``nodetype`` a pytree node.

    ``flatten_func(x)`` returns ``(children, aux_data)``: the children are flattened further, ``aux_data``
    (hashable, compared with ``==``) is kept in the treedef. ``unflatten_func(aux_data, children)``
    rebuilds the value (``children`` is a tuple). ``flatten_with_keys_func`` optionally returns
    ``([(key, child), ...], aux_data)`` for key paths; without it children get ``FlattenedIndexKey``s.

    >>> class Pair:
    ...     def __init__(self, a, b):
    ...         self.a, self.b = a, b
    >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda aux, ch: Pair(*ch))
    >>> tree_leaves([Pair(1, 2), 3])
    [1, 2, 3]
    """
    _register(_NodeType(nodetype, "custom", flatten_func, unflatten_func, flatten_with_keys_func))


def register_pytree_with_keys(
    nodetype: type[T],
    flatten_with_keys: Callable[[T], tuple[Iterable[tuple[KeyEntry, Any]], Any]],
    unflatten_func: Callable[[Any, tuple[Any, ...]], T],
    flatten_func: Callable[[T], tuple[Iterable[Any], Any]] | None = None,
) -> None:
    """Like ``register_pytree_node``, but the flatten function names each child with a key.

    >>> class Box:
    ...     def __init__(self, w):
    ...         self.w = w
    >>> register_pytree_with_keys(Box, lambda b: (((GetAttrKey('w'), b.w),), None), lambda _, ch: Box(*ch))
    >>> [keystr(path) for path, _ in tree_leaves_with_path({'box': Box(1.0)})]
    ["['box'].w"]
    """
    if flatten_func is None:

        def flatten_func(x: T) -> tuple[list[Any], Any]:
            keyed, aux = flatten_with_keys(x)
            return [child for _, child in keyed], aux

    register_pytree_node(nodetype, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_node_class(cls: Typ) -> Typ:
    """Class decorator: registers ``cls`` with its ``tree_flatten`` method and ``tree_unflatten`` classmethod.

    >>> @register_pytree_node_class
    ... class Scaled:
    ...     def __init__(self, x, scale):
    ...         self.x, self.scale = x, scale
    ...     def tree_flatten(self):
    ...         return (self.x,), self.scale
    ...     @classmethod
    ...     def tree_unflatten(cls, scale, children):
    ...         return cls(*children, scale)
    >>> tree_structure(Scaled(1.0, 2))
    PyTreeDef(CustomNode(Scaled[2], [*]))
    """
    register_pytree_node(cls, operator.methodcaller("tree_flatten"), cls.tree_unflatten)
    return cls


def register_pytree_with_keys_class(cls: Typ) -> Typ:
    """Class decorator: registers ``cls`` using ``tree_flatten_with_keys`` (and ``tree_flatten`` if defined)
    and the ``tree_unflatten`` classmethod.

    >>> @register_pytree_with_keys_class
    ... class Weights:
    ...     def __init__(self, w):
    ...         self.w = w
    ...     def tree_flatten_with_keys(self):
    ...         return ((GetAttrKey('w'), self.w),), None
    ...     @classmethod
    ...     def tree_unflatten(cls, aux, children):
    ...         return cls(*children)
    >>> keystr(tree_leaves_with_path(Weights(0.5))[0][0])
    '.w'
    """
    flatten = operator.methodcaller("tree_flatten") if hasattr(cls, "tree_flatten") else None
    flatten_with_keys = operator.methodcaller("tree_flatten_with_keys")
    register_pytree_with_keys(cls, flatten_with_keys, cls.tree_unflatten, flatten)
    return cls


def register_static(cls: Typ) -> Typ:
    """Class decorator: instances of ``cls`` become leafless nodes; the value itself is the aux data.

    >>> @register_static
    ... class Name(str):
    ...     pass
    >>> tree_leaves([Name('relu'), 1.0])
    [1.0]
    """
    register_pytree_with_keys(cls, lambda x: ((), x), lambda x, _: x)
    return cls


def register_dataclass(
    nodetype: Typ,
    data_fields: Sequence[str] | None = None,
    meta_fields: Sequence[str] | None = None,
    drop_fields: Sequence[str] = (),
) -> Typ:
    """Registers a dataclass-like type: ``data_fields`` are children, ``meta_fields`` static aux data.

    With both left as None, ``nodetype`` must be a dataclass: fields marked
    ``field(metadata=dict(static=True))`` are meta fields, the other ``init`` fields are data fields.
    ``drop_fields`` are ``init`` fields left out of both (they keep their defaults when rebuilt).
    Rebuilding calls ``nodetype(**fields)``. Returns ``nodetype``, so it works as a decorator.

    >>> @register_dataclass
    ... @dataclasses.dataclass
    ... class Layer:
    ...     w: float
    ...     b: float
    ...     act: str = dataclasses.field(default='relu', metadata=dict(static=True))
    >>> leaves, treedef = tree_flatten(Layer(1.0, 2.0))
    >>> leaves, treedef
    ([1.0, 2.0], PyTreeDef(CustomNode(Layer[('relu',)], [*, *])))
    """
    if data_fields is None or meta_fields is None:
        if (data_fields is None) != (meta_fields is None):
            raise TypeError(
                "register_dataclass: data_fields and meta_fields must both be specified when either is "
                f"specified. Got data_fields={data_fields!r} meta_fields={meta_fields!r}."
            )
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(
                "register_dataclass: data_fields and meta_fields are required when nodetype is not a "
                f"dataclass. Got nodetype={nodetype!r}."
            )
        fields = [f for f in dataclasses.fields(nodetype) if f.init and f.name not in drop_fields]
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    data_names, meta_names = tuple(data_fields), tuple(meta_fields)

    if dataclasses.is_dataclass(nodetype):
        init_fields = {f.name for f in dataclasses.fields(nodetype) if f.init} - set(drop_fields)
        given = {*data_names, *meta_names}
        if given != init_fields:
            msg = (
                "data_fields and meta_fields must include all dataclass fields with init=True and only them."
            )
            if missing := init_fields - given:
                msg += f" Missing fields: {sorted(missing)}. Add them to drop_fields to suppress this error."
            if unexpected := given - init_fields:
                msg += f" Unexpected fields: {sorted(unexpected)}."
            raise ValueError(msg)

    data_keys = tuple(GetAttrKey(name) for name in data_names)

    def flatten(x: Any) -> tuple[list[Any], tuple[Any, ...]]:
        return [getattr(x, name) for name in data_names], tuple(getattr(x, name) for name in meta_names)

    def flatten_with_keys(x: Any) -> tuple[list[tuple[GetAttrKey, Any]], tuple[Any, ...]]:
        children, meta = flatten(x)
        return list(zip(data_keys, children, strict=True)), meta

    def unflatten(meta: tuple[Any, ...], children: tuple[Any, ...]) -> Any:
        kwargs = dict(zip(meta_names, meta, strict=True))
        kwargs.update(zip(data_names, children, strict=True))
        return nodetype(**kwargs)

    _register(_NodeType(nodetype, "dataclass", flatten, unflatten, flatten_with_keys))
    return nodetype


# ---------------------------------------------------------------------------------------------------------
# Flattening and unflattening (recursive over the nest; leaves are handled inline, without a call).
# ---------------------------------------------------------------------------------------------------------


def _bad_flatten_output(entry: _NodeType, out: Any) -> TypeError:
    return TypeError(
        f"The flatten function registered for pytree node type {entry.type!r} should return a "
        f"(children, aux_data) tuple, got {out!r}."
    )


def _flatten_node(x: Any, entry: _NodeType, leaves: list[Any]) -> tuple[Any, ...]:
    """Appends the leaves under node ``x`` (whose node type is ``entry``) and returns its structure."""
    out = entry.flatten(x)
    try:
        children, aux = out
    except (TypeError, ValueError):
        raise _bad_flatten_output(entry, out) from None
    start = len(leaves)
    kids = []
    for child in children:
        child_entry = _dispatch.get(type(child), _UNSEEN)
        if child_entry is _UNSEEN:
            child_entry = _classify(type(child))
        if child_entry is None:
            leaves.append(child)
            kids.append(_LEAF)
        else:
            kids.append(_flatten_node(child, child_entry, leaves))
    return (entry, aux, tuple(kids), len(leaves) - start)


def _flatten_with_predicate(x: Any, is_leaf: Callable[[Any], bool], leaves: list[Any]) -> tuple[Any, ...]:
    """Like ``_flatten_node`` for any ``x``, treating values where ``is_leaf(x)`` is true as leaves."""
    entry = None if is_leaf(x) else _node_type_of(x)
    if entry is None:
        leaves.append(x)
        return _LEAF
    out = entry.flatten(x)
    try:
        children, aux = out
    except (TypeError, ValueError):
        raise _bad_flatten_output(entry, out) from None
    start = len(leaves)
    kids = tuple([_flatten_with_predicate(child, is_leaf, leaves) for child in children])
    return (entry, aux, kids, len(leaves) - start)


def _keyed_children(entry: _NodeType, x: Any) -> tuple[Iterable[tuple[Any, Any]], Any]:
    if entry.flatten_with_keys is None:
        out = entry.flatten(x)
        try:
            children, aux = out
        except (TypeError, ValueError):
            raise _bad_flatten_output(entry, out) from None
        return [(FlattenedIndexKey(i), child) for i, child in enumerate(children)], aux
    out = entry.flatten_with_keys(x)
    try:
        keyed, aux = out
    except (TypeError, ValueError):
        raise _bad_flatten_output(entry, out) from None
    return keyed, aux


def _flatten_with_path(
    x: Any, path: KeyPath, is_leaf: Callable[..., bool] | None, takes_path: bool, out: list[Any]
) -> tuple[Any, ...]:
    """Appends ``(key_path, leaf)`` pairs under ``x`` to ``out`` and returns the structure of ``x``."""
    if is_leaf is not None and (is_leaf(path, x) if takes_path else is_leaf(x)):
        entry = None
    else:
        entry = _node_type_of(x)
    if entry is None:
        out.append((path, x))
        return _LEAF
    keyed, aux = _keyed_children(entry, x)
    start = len(out)
    kids = tuple([_flatten_with_path(child, (*path, key), is_leaf, takes_path, out) for key, child in keyed])
    return (entry, aux, kids, len(out) - start)


def _unflatten_node(node: tuple[Any, ...], leaves: Iterator[Any]) -> Any:
    """Rebuilds the (non-leaf) node ``node``, taking its leaves from the iterator ``leaves``."""
    entry, aux, kids, _ = node
    children = []  # a plain loop: faster than a comprehension, which costs a frame before Python 3.12
    for kid in kids:
        children.append(next(leaves) if kid is _LEAF else _unflatten_node(kid, leaves))
    return entry.unflatten(aux, tuple(children))


def _children_matching(node: tuple[Any, ...], x: Any) -> Sequence[Any]:
    """The children of ``x`` if it is a node of the same type, aux data and arity as ``node``; else raises."""
    entry, aux, kids, _ = node
    kind, arity = entry.kind, len(kids)
    if kind == "none":
        if x is not None:
            raise ValueError(
                f"Expected None, got {x!r}.\n\nNone is a pytree node with no children, not a leaf, so it is "
                "not a tree prefix of other values. To map over trees with None in them, you can write:\n"
                "  tree_map(lambda x, y: None if x is None else f(x, y), a, b, is_leaf=lambda x: x is None)"
            )
        return ()
    if kind == "namedtuple":
        if not (isinstance(x, tuple) and hasattr(x, "_fields")):
            raise ValueError(f"Expected named tuple, got {x!r}.")
        if len(x) != arity:
            raise ValueError(f"Named tuple arity mismatch: {len(x)} != {arity}; tuple: {x!r}.")
        if type(x) is not aux:
            raise ValueError(f"Named tuple type mismatch: expected type: {aux!r}, tuple: {x!r}.")
        return x
    if type(x) is not entry.type:
        if kind in ("tuple", "list", "dict"):
            raise ValueError(f"Expected {kind}, got {x!r}.")
        what = "Custom dataclass node" if kind == "dataclass" else "Custom node"
        raise ValueError(f"{what} type mismatch: expected type: {entry.type!r}, value: {x!r}.")
    if kind in ("tuple", "list"):
        if len(x) != arity:
            raise ValueError(f"{kind.capitalize()} arity mismatch: {len(x)} != {arity}; {kind}: {x!r}.")
        return x
    children, x_aux = entry.flatten(x)
    if kind == "dict":
        if x_aux != aux:
            expected, present = list(aux), list(x_aux)
            raise ValueError(f"Dict key mismatch; expected keys: {expected!r}; present keys: {present!r}.")
        return children
    what = "custom dataclass node" if kind == "dataclass" else "custom node"
    if x_aux != aux:
        raise ValueError(f"Mismatch {what} data: {aux!r} != {x_aux!r}; value: {x!r}.")
    children = tuple(children)
    if len(children) != arity:
        raise ValueError(f"Custom type arity mismatch: {len(children)} != {arity}; value: {x!r}.")
    return children


def _flatten_up_to_reversed(node: tuple[Any, ...], x: Any, out: list[Any]) -> None:
    """Appends the subtrees of ``x`` at the leaves of ``node``, last first.

    Walking backwards makes the error, when there are several mismatches, the one JAX reports.
    """
    if node is _LEAF:
        out.append(x)
        return
    children = _children_matching(node, x)
    for kid, child in zip(reversed(node[2]), reversed(children), strict=True):
        if kid is _LEAF:
            out.append(child)
        else:
            _flatten_up_to_reversed(kid, child, out)


def _node_repr(node: tuple[Any, ...]) -> str:
    if node is _LEAF:
        return "*"
    entry, aux, kids, _ = node
    parts = [_node_repr(kid) for kid in kids]
    inner = ", ".join(parts)
    kind = entry.kind
    if kind == "none":
        return "None"
    if kind == "tuple":
        return f"({inner},)" if len(parts) == 1 else f"({inner})"
    if kind == "list":
        return f"[{inner}]"
    if kind == "dict":
        return "{" + ", ".join(f"{key!r}: {part}" for key, part in zip(aux, parts, strict=True)) + "}"
    if kind == "namedtuple":
        return f"CustomNode(namedtuple[{aux.__name__}], [{inner}])"
    return f"CustomNode({entry.type.__name__}[{aux}], [{inner}])"


def _count_nodes(node: tuple[Any, ...]) -> int:
    return 1 + sum(_count_nodes(kid) for kid in node[2])


def _compose(outer: tuple[Any, ...], inner: tuple[Any, ...]) -> tuple[Any, ...]:
    if outer is _LEAF:
        return inner
    entry, aux, kids, num_leaves = outer
    return (entry, aux, tuple([_compose(kid, inner) for kid in kids]), num_leaves * inner[3])


def _hashable_skeleton(node: tuple[Any, ...]) -> tuple[Any, ...]:
    """``node`` with unhashable aux data left out (hash fallback; equality still compares it)."""
    entry, aux, kids, num_leaves = node
    try:
        hash(aux)
    except TypeError:
        aux = type(aux)
    return (entry, aux, tuple([_hashable_skeleton(kid) for kid in kids]), num_leaves)


def _canonical(node: tuple[Any, ...]) -> tuple[Any, ...]:
    """Rebuilds an unpickled structure so that every leaf is the shared ``_LEAF`` again."""
    entry, aux, kids, num_leaves = node
    if entry is _LEAF_TYPE:
        return _LEAF
    return (entry, aux, tuple([_canonical(kid) for kid in kids]), num_leaves)


# ---------------------------------------------------------------------------------------------------------
# PyTreeDef.
# ---------------------------------------------------------------------------------------------------------


class PyTreeDef:
    """The structure of a pytree: node types, their aux data and their children; leaves are ``*``.

    Immutable, hashable, and equal to another PyTreeDef exactly when the structures are the same.

    >>> treedef = tree_structure((1, {'a': 2}))
    >>> treedef
    PyTreeDef((*, {'a': *}))
    >>> treedef.num_leaves, treedef.num_nodes, treedef == tree_structure((3, {'a': 4}))
    (2, 4, True)
    >>> treedef.unflatten(['x', 'y'])
    ('x', {'a': 'y'})
    """

    __slots__ = ("_node", "_hash")
    _node: tuple[Any, ...]
    _hash: int | None

    def __init__(self, node: tuple[Any, ...]) -> None:
        """Internal: wraps a structure tuple. Build treedefs with ``tree_structure`` or ``treedef_tuple``."""
        self._node = node
        self._hash = None

    @property
    def num_leaves(self) -> int:
        """Number of leaves. ``tree_structure([1, (2, 3)]).num_leaves == 3``."""
        return self._node[3]

    @property
    def num_nodes(self) -> int:
        """Number of nodes, leaves and ``None``s included. ``tree_structure([1, (2, 3)]).num_nodes == 5``."""
        return _count_nodes(self._node)

    def children(self) -> list[PyTreeDef]:
        """The treedefs of the root's children.

        >>> tree_structure([(1, 2), 3, {'a': 4}]).children()
        [PyTreeDef((*, *)), PyTreeDef(*), PyTreeDef({'a': *})]
        """
        return [PyTreeDef(kid) for kid in self._node[2]]

    def node_data(self) -> tuple[type, Any] | None:
        """``(node type, aux data)`` of the root, or None for a leaf.

        >>> tree_structure({'b': 1, 'a': 2}).node_data()
        (<class 'dict'>, ['a', 'b'])
        """
        entry, aux, _, _ = self._node
        if entry is _LEAF_TYPE:
            return None
        if entry is _NAMEDTUPLE:
            return (aux, None)
        if entry.kind == "dict":
            return (dict, list(aux))
        return (entry.type, aux)

    def unflatten(self, leaves: Iterable[Leaf]) -> Any:
        """Builds the pytree with this structure and the given leaves (in ``tree_leaves`` order).

        >>> tree_structure([1, (2, None)]).unflatten('ab')
        ['a', ('b', None)]
        """
        if type(leaves) is not list:
            leaves = list(leaves)
        num_leaves = self._node[3]
        if len(leaves) != num_leaves:
            few_or_many = "few" if len(leaves) < num_leaves else "many"
            raise ValueError(
                f"Too {few_or_many} leaves for PyTreeDef; expected {num_leaves}, got {len(leaves)}"
            )
        if self._node is _LEAF:
            return leaves[0]
        return _unflatten_node(self._node, iter(leaves))

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """The subtrees of ``tree`` found at this structure's leaves; ``tree`` must have it as a prefix.

        >>> tree_structure([1, 2]).flatten_up_to([(3, 4), {'a': 5}])
        [(3, 4), {'a': 5}]
        >>> tree_structure([1, 2]).flatten_up_to([3, 4, 5])
        Traceback (most recent call last):
        ValueError: List arity mismatch: 3 != 2; list: [3, 4, 5].
        """
        out: list[Any] = []
        _flatten_up_to_reversed(self._node, tree, out)
        out.reverse()
        return out

    def compose(self, inner: PyTreeDef) -> PyTreeDef:
        """The structure with ``inner`` at each leaf of this one.

        >>> tree_structure([1, 2]).compose(tree_structure((1, 2)))
        PyTreeDef([(*, *), (*, *)])
        """
        return PyTreeDef(_compose(self._node, inner._node))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        try:
            return self._node == other._node
        except Exception as e:
            raise ValueError(
                "Exception raised while checking equality of metadata fields of pytree. Make sure that "
                "metadata fields are hashable and have simple equality semantics. (Note: arrays cannot be "
                "passed as metadata fields!)"
            ) from e

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            try:
                h = hash(self._node)
            except TypeError:
                h = hash(_hashable_skeleton(self._node))
            self._hash = h
        return h

    def __repr__(self) -> str:
        return f"PyTreeDef({_node_repr(self._node)})"

    def __copy__(self) -> PyTreeDef:
        return self

    def __deepcopy__(self, copies: dict[int, Any]) -> PyTreeDef:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_treedef_from_pickle, (self._node,))


def _treedef_from_pickle(node: tuple[Any, ...]) -> PyTreeDef:
    return PyTreeDef(_canonical(node))


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
    """The structure of a tuple whose children have the given structures.

    >>> treedef_tuple([tree_structure(1), tree_structure([1, 2])])
    PyTreeDef((*, [*, *]))
    """
    kids = tuple([td._node for td in treedefs])
    return PyTreeDef((_registry[tuple], None, kids, sum(kid[3] for kid in kids)))


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """The treedefs of the root's children; same as ``treedef.children()``.

    >>> treedef_children(tree_structure({'a': 1, 'b': (2, 3)}))
    [PyTreeDef(*), PyTreeDef((*, *))]
    """
    return treedef.children()


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """True when the structure is a single node: a leaf, or a node without children such as ``None``.

    >>> treedef_is_leaf(tree_structure(1)), treedef_is_leaf(tree_structure([1, 2]))
    (True, False)
    """
    return not treedef._node[2]


def _structure_mismatch(
    node: tuple[Any, ...], prefix: Any, full: Any, name: str, path: KeyPath
) -> str | None:
    """Describes the first place (in flattening order) where ``full`` does not have structure ``node``.

    ``prefix`` is the value ``node`` was taken from; the text follows JAX's "pytree structure error".
    """
    if node is _LEAF:
        return None
    entry, aux, kids, _ = node
    kind = entry.kind
    where = (
        f"at key path\n    {name}{keystr(path)}\nAt that key path, the prefix pytree {name} has a subtree of"
    )
    prefix_type = aux if kind == "namedtuple" else entry.type
    if type(full) is not prefix_type:
        return (
            f"pytree structure error: different types {where} type\n    {prefix_type}\n"
            f"but at the same key path the full pytree has a subtree of different type\n    {type(full)}."
        )
    if kind in ("tuple", "list") and len(full) != len(kids):
        return (
            f"pytree structure error: different lengths of {kind} {where} type {kind} of length {len(kids)}, "
            f"but the full pytree has a subtree of the same type but of length {len(full)}."
        )
    prefix_keyed, _ = _keyed_children(entry, prefix)
    full_keyed, full_aux = _keyed_children(entry, full)
    prefix_keys = [key for key, _ in prefix_keyed]
    full_keys = [key for key, _ in full_keyed]
    if len(full_keys) != len(kids):
        difference = sorted(set(prefix_keys).symmetric_difference(full_keys), key=str)
        prefix_names, full_names, difference_names = (
            keystr(keys, simple=True, separator=" ") for keys in (prefix_keys, full_keys, difference)
        )
        return (
            f"pytree structure error: different numbers of pytree children {where} type\n    {prefix_type}\n"
            f"with {len(kids)} child keys\n    {prefix_names}\n"
            f"but at the same key path the full pytree has a subtree of the same type but with "
            f"{len(full_keys)} child keys\n    {full_names}\n"
            f"so the symmetric difference on key sets is\n    {difference_names}"
        )
    if full_aux != aux:
        return (
            f"pytree structure error: different pytree metadata {where} type\n    {prefix_type}\n"
            f"with metadata\n    {aux}\nbut at the same key path the full pytree has a subtree of the same "
            f"type but with metadata\n    {full_aux}"
        )
    for kid, (key, prefix_child), (_, full_child) in zip(kids, prefix_keyed, full_keyed, strict=True):
        found = _structure_mismatch(kid, prefix_child, full_child, name, (*path, key))
        if found is not None:
            return found
    return None


def _flatten_rest_up_to(
    treedef: PyTreeDef, tree: Any, rest: tuple[Any, ...], fn_name: str
) -> list[list[Any]]:
    """``treedef.flatten_up_to`` of each tree in ``rest``; a mismatch raises a ValueError with a key path."""
    others = []
    for other in rest:
        try:
            others.append(treedef.flatten_up_to(other))
        except ValueError as e:
            message = _structure_mismatch(treedef._node, tree, other, f"{fn_name} tree", ())
            if message is None:
                raise
            raise ValueError(message) from e
    return others


# ---------------------------------------------------------------------------------------------------------
# The tree functions.
# ---------------------------------------------------------------------------------------------------------


def tree_flatten(tree: Any, is_leaf: IsLeaf = None) -> tuple[list[Leaf], PyTreeDef]:
    """Flattens a pytree into its leaves (left to right, dicts in sorted key order) and its structure.

    ``is_leaf(x)``, if given, is called on every subtree; where it returns true the subtree is a leaf.

    >>> tree_flatten({'b': [1, 2], 'a': None})
    ([1, 2], PyTreeDef({'a': None, 'b': [*, *]}))
    >>> tree_flatten([[1, 2], [3]], is_leaf=lambda x: x == [3])[0]
    [1, 2, [3]]
    """
    leaves: list[Any] = []
    if is_leaf is not None:
        return leaves, PyTreeDef(_flatten_with_predicate(tree, is_leaf, leaves))
    entry = _node_type_of(tree)
    if entry is None:
        return [tree], PyTreeDef(_LEAF)
    return leaves, PyTreeDef(_flatten_node(tree, entry, leaves))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Leaf]) -> Any:
    """Rebuilds a pytree from its structure and leaves; the inverse of ``tree_flatten``.

    >>> leaves, treedef = tree_flatten([1, {'a': 2}])
    >>> tree_unflatten(treedef, [x * 10 for x in leaves])
    [10, {'a': 20}]
    """
    return treedef.unflatten(leaves)


def tree_leaves(tree: Any, is_leaf: IsLeaf = None) -> list[Leaf]:
    """The leaves of a pytree, in flattening order. ``None`` is an empty node, not a leaf.

    >>> tree_leaves([None, 1, {'b': 3, 'a': 2}])
    [1, 2, 3]
    """
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: IsLeaf = None) -> PyTreeDef:
    """The structure (``PyTreeDef``) of a pytree.

    >>> tree_structure((1, [2, None]))
    PyTreeDef((*, [*, None]))
    """
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:
    """Applies ``f`` to the leaves of ``tree`` (and the matching subtrees of ``rest``), keeping the structure.

    Each tree in ``rest`` must have the structure of ``tree``, or have it as a prefix (then ``f`` gets
    their subtrees); otherwise a ValueError names the mismatch.

    >>> tree_map(lambda x: x + 1, {'a': 1, 'b': (2, 3)})
    {'a': 2, 'b': (3, 4)}
    >>> tree_map(lambda x, y: x * y, [1, 2], [3, 4])
    [3, 8]
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    others = _flatten_rest_up_to(treedef, tree, rest, "tree_map")
    return treedef.unflatten([f(*xs) for xs in zip(leaves, *others, strict=True)])


def tree_reduce(
    function: Callable[[T, Any], T], tree: Any, initializer: Any = _MISSING, is_leaf: IsLeaf = None
) -> T:
    """Folds ``function`` over the leaves: ``functools.reduce(function, tree_leaves(tree)[, initializer])``.

    >>> tree_reduce(operator.add, [1, (2, 3)]), tree_reduce(operator.add, [], 0)
    (6, 0)
    """
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _MISSING:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: Any, *, is_leaf: IsLeaf = None) -> bool:
    """True when every leaf is truthy (and for a tree without leaves).

    >>> tree_all([True, {'a': 1}]), tree_all([True, 0]), tree_all([])
    (True, False, True)
    """
    return all(tree_leaves(tree, is_leaf))


def tree_transpose(
    outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, pytree_to_transpose: Any
) -> Any:
    """Turns a tree of structure ``outer(inner)`` into one of structure ``inner(outer)``.

    ``inner_treedef`` None means: the structure of the first outer subtree.

    >>> tree_transpose(tree_structure([0, 0]), tree_structure((0, 0)), [(1, 2), (3, 4)])
    ([1, 3], [2, 4])
    """
    flat, treedef = tree_flatten(pytree_to_transpose)
    if inner_treedef is None:
        inner_treedef = tree_structure(outer_treedef.flatten_up_to(pytree_to_transpose)[0])
    inner_size, outer_size = inner_treedef.num_leaves, outer_treedef.num_leaves
    if treedef.num_leaves != inner_size * outer_size:
        expected = outer_treedef.compose(inner_treedef)
        raise TypeError(f"Mismatch\n{treedef}\n != \n{expected}")
    # Leaves come outer-major: inner leaf j of outer leaf i is flat[i * inner_size + j].
    columns = [outer_treedef.unflatten(flat[j::inner_size]) for j in range(inner_size)]
    return inner_treedef.unflatten(columns)


def all_leaves(iterable: Iterable[Any], is_leaf: IsLeaf = None) -> bool:
    """True when every element is a leaf (is not a pytree node, or ``is_leaf`` says it is a leaf).

    >>> all_leaves([1, 'a', 2.0]), all_leaves([1, [2]]), all_leaves([None])
    (True, False, False)
    """
    if is_leaf is None:
        return all(_node_type_of(x) is None for x in iterable)
    return all(is_leaf(x) or _node_type_of(x) is None for x in iterable)


def tree_flatten_with_path(
    tree: Any, is_leaf: Callable[..., bool] | None = None, is_leaf_takes_path: bool = False
) -> tuple[list[tuple[KeyPath, Leaf]], PyTreeDef]:
    """Like ``tree_flatten``, but each leaf comes with its key path (a tuple of key entries).

    With ``is_leaf_takes_path=True``, ``is_leaf`` is called as ``is_leaf(path, x)``.

    >>> pairs, _ = tree_flatten_with_path({'a': [1, (2, 3)]})
    >>> [(keystr(path), leaf) for path, leaf in pairs]
    [("['a'][0]", 1), ("['a'][1][0]", 2), ("['a'][1][1]", 3)]
    """
    out: list[tuple[KeyPath, Any]] = []
    node = _flatten_with_path(tree, (), is_leaf, is_leaf_takes_path, out)
    return out, PyTreeDef(node)


def tree_leaves_with_path(
    tree: Any, is_leaf: Callable[..., bool] | None = None, is_leaf_takes_path: bool = False
) -> list[tuple[KeyPath, Leaf]]:
    """The ``(key_path, leaf)`` pairs of a pytree.

    >>> tree_leaves_with_path([1, {'x': 2}])
    [((SequenceKey(idx=0),), 1), ((SequenceKey(idx=1), DictKey(key='x')), 2)]
    """
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


def tree_map_with_path(
    f: Callable[..., Any],
    tree: Any,
    *rest: Any,
    is_leaf: Callable[..., bool] | None = None,
    is_leaf_takes_path: bool = False,
) -> Any:
    """Like ``tree_map``, but ``f`` gets each leaf's key path first: ``f(path, x, *xs)``.

    >>> tree_map_with_path(lambda path, x: f'{keystr(path)}={x}', {'a': 1, 'b': [2]})
    {'a': "['a']=1", 'b': ["['b'][0]=2"]}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    others = _flatten_rest_up_to(treedef, tree, rest, "tree_map_with_path")
    return treedef.unflatten([f(path, x, *xs) for (path, x), *xs in zip(pairs, *others, strict=True)])
