"""Tests for functorch_lite.tree_util (pytrees) and its jax.tree-style aliases in functorch_lite.tree.

Expected strings (reprs, key paths, error messages) are the ones JAX produces for the same calls.
"""

import collections
import copy
import dataclasses
import doctest
import functools
import operator
import pickle
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functorch_lite import tree, tree_util
from functorch_lite.tree_util import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    PyTreeDef,
    SequenceKey,
    all_leaves,
    keystr,
    register_dataclass,
    register_pytree_node,
    register_pytree_node_class,
    register_pytree_with_keys,
    register_pytree_with_keys_class,
    register_static,
    tree_all,
    tree_flatten,
    tree_flatten_with_path,
    tree_leaves,
    tree_leaves_with_path,
    tree_map,
    tree_map_with_path,
    tree_reduce,
    tree_structure,
    tree_transpose,
    tree_unflatten,
    treedef_children,
    treedef_is_leaf,
    treedef_tuple,
)

# ---------------------------------------------------------------------------------------------------------
# Node types used by the tests.
# ---------------------------------------------------------------------------------------------------------

Point = collections.namedtuple("Point", ["x", "y"])


@register_pytree_node_class
class Pair:
    """A custom node registered without keys (its children get FlattenedIndexKeys)."""

    def __init__(self, a: Any, b: Any) -> None:
        self.a, self.b = a, b

    def tree_flatten(self) -> tuple[tuple[Any, Any], str]:
        return (self.a, self.b), "pair"

    @classmethod
    def tree_unflatten(cls, aux: str, children: tuple[Any, ...]) -> "Pair":
        assert aux == "pair" and isinstance(children, tuple)
        return cls(*children)

    def __eq__(self, other: object) -> bool:
        return type(other) is Pair and (self.a, self.b) == (other.a, other.b)

    def __repr__(self) -> str:
        return f"Pair({self.a!r}, {self.b!r})"


@register_pytree_with_keys_class
class Box:
    """A custom node registered with keys."""

    def __init__(self, w: Any) -> None:
        self.w = w

    def tree_flatten_with_keys(self) -> tuple[tuple[tuple[GetAttrKey, Any]], None]:
        return ((GetAttrKey("w"), self.w),), None

    @classmethod
    def tree_unflatten(cls, aux: None, children: tuple[Any, ...]) -> "Box":
        return cls(*children)

    def __eq__(self, other: object) -> bool:
        return type(other) is Box and self.w == other.w

    def __repr__(self) -> str:
        return f"Box({self.w!r})"


@register_dataclass
@dataclasses.dataclass
class Layer:
    w: Any
    b: Any
    act: str = dataclasses.field(default="relu", metadata=dict(static=True))


# ---------------------------------------------------------------------------------------------------------
# Hypothesis strategies: nested trees of every built-in and registered node type.
# ---------------------------------------------------------------------------------------------------------

_keys = st.text(alphabet="abcde", min_size=1, max_size=2)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    small_lists = st.lists(children, max_size=3)
    small_dicts = st.dictionaries(_keys, children, max_size=3)
    return st.one_of(
        small_lists,
        small_lists.map(tuple),
        small_dicts,
        st.builds(Point, children, children),
        small_dicts.map(collections.OrderedDict),
        small_dicts.map(lambda d: collections.defaultdict(list, d)),
        st.builds(Pair, children, children),
        st.builds(Box, children),
        st.builds(Layer, children, children, st.sampled_from(["relu", "tanh"])),
    )


trees = st.recursive(st.one_of(st.integers(-50, 50), st.none()), _containers, max_leaves=12)
_settings = settings(max_examples=60, deadline=None, database=None)


class Tagged(tuple):
    """An unregistered tuple subclass (no ``_fields``), hence a leaf: marks tree_map outputs."""


def _follow(t: Any, path: tuple[Any, ...]) -> Any:
    """The subtree of ``t`` at key path ``path``, found by indexing (not by flattening)."""
    for key in path:
        match key:
            case SequenceKey(idx):
                t = t[idx]
            case DictKey(k):
                t = t[k]
            case GetAttrKey(name):
                t = getattr(t, name)
            case FlattenedIndexKey(i):
                t = list(t.tree_flatten()[0])[i]
    return t


# ---------------------------------------------------------------------------------------------------------
# Properties.
# ---------------------------------------------------------------------------------------------------------


@_settings
@given(trees)
def test_flatten_unflatten_round_trip(t: Any) -> None:
    leaves, treedef = tree_flatten(t)
    rebuilt = tree_unflatten(treedef, leaves)
    assert rebuilt == t
    assert tree_structure(rebuilt) == treedef  # same node types (OrderedDict is not dict, ...)
    assert tree_leaves(rebuilt) == leaves
    assert treedef.num_leaves == len(leaves)
    assert treedef.num_nodes == 1 + sum(child.num_nodes for child in treedef.children())
    assert all_leaves(leaves)


@_settings
@given(trees)
def test_structure_eq_and_hash_ignore_leaf_values(t: Any) -> None:
    treedef = tree_structure(t)
    relabelled = tree_unflatten(treedef, [f"leaf{i}" for i in range(treedef.num_leaves)])
    other = tree_structure(relabelled)
    assert other == treedef and not (other != treedef)
    assert hash(other) == hash(treedef)
    assert {treedef: 1}[other] == 1
    assert tree_structure(tree_map(str, t)) == treedef
    assert treedef_tuple(treedef.children()).children() == treedef.children()


@_settings
@given(trees)
def test_tree_map_with_several_trees(t: Any) -> None:
    negated = tree_map(lambda x: -x, t)
    triples = tree_map(lambda x, y, z: Tagged((x, y, z)), t, negated, t)
    assert tree_leaves(triples) == [(x, -x, x) for x in tree_leaves(t)]
    assert tree_map(operator.add, t, negated) == tree_map(lambda x: 0, t)
    assert tree_structure(t).flatten_up_to(negated) == tree_leaves(negated)


@_settings
@given(trees)
def test_key_paths_lead_to_their_leaves(t: Any) -> None:
    pairs, treedef = tree_flatten_with_path(t)
    assert treedef == tree_structure(t)
    assert [leaf for _, leaf in pairs] == tree_leaves(t)
    numbered = tree_unflatten(treedef, range(treedef.num_leaves))
    for i, (path, _) in enumerate(tree_leaves_with_path(numbered)):
        assert _follow(numbered, path) == i
        if not any(isinstance(key, FlattenedIndexKey) for key in path):
            assert eval("numbered" + keystr(path), {"numbered": numbered}) == i
    mapped = tree_map_with_path(lambda path, x, y: Tagged((path, x, y)), t, t)
    assert tree_leaves(mapped) == [(path, x, x) for path, x in pairs]


@_settings
@given(trees)
def test_is_leaf_stops_flattening(t: Any) -> None:
    def is_list(x: Any) -> bool:
        return type(x) is list

    leaves, treedef = tree_flatten(t, is_leaf=is_list)
    assert tree_unflatten(treedef, leaves) == t
    assert not any(type(x) is list for x in tree_leaves(treedef.unflatten(range(treedef.num_leaves))))
    paths = tree_leaves_with_path(t, is_leaf=is_list)
    assert [leaf for _, leaf in paths] == leaves
    assert tree_leaves(t, is_leaf=lambda x: True) == [t]


@_settings
@given(trees)
def test_transpose_round_trip(t: Any) -> None:
    outer = tree_structure(t)
    inner = tree_structure((0, [0]))
    nested = tree_map(lambda x: (x, [x + 1]), t)
    transposed = tree_transpose(outer, inner, nested)
    assert transposed == (t, [tree_map(lambda x: x + 1, t)])
    assert tree_transpose(inner, outer, transposed) == nested
    if outer.num_leaves:
        assert tree_transpose(outer, None, nested) == transposed


# ---------------------------------------------------------------------------------------------------------
# None, dicts, namedtuples, OrderedDict, defaultdict.
# ---------------------------------------------------------------------------------------------------------


def test_none_is_a_node_without_children() -> None:
    assert tree_leaves([None, 1]) == [1]
    treedef = tree_structure(None)
    assert treedef.num_leaves == 0 and treedef.num_nodes == 1
    assert repr(treedef) == "PyTreeDef(None)"
    assert tree_unflatten(treedef, []) is None
    assert tree_map(lambda x: x + 1, {"a": None, "b": 1}) == {"a": None, "b": 2}
    assert tree_leaves([None], is_leaf=lambda x: x is None) == [None]
    assert tree_structure([None, 1]) != tree_structure([2, 1])


def test_dict_keys_are_sorted() -> None:
    assert tree_leaves({"b": 1, "a": 2, "c": {"z": 3, "y": 4}}) == [2, 1, 4, 3]
    assert tree_leaves({2: "two", 10: "ten", 1: "one"}) == ["one", "two", "ten"]
    rebuilt = tree_map(lambda x: x, {"b": 1, "a": 2})
    assert list(rebuilt) == ["a", "b"]
    assert tree_structure({"b": 1, "a": 2}) == tree_structure({"a": 0, "b": 0})
    assert tree_structure({"a": 1}) != tree_structure({"b": 1})


def test_unsortable_dict_keys_raise() -> None:
    with pytest.raises(ValueError, match="Comparator raised exception while sorting pytree dictionary keys"):
        tree_flatten({1: "x", "a": "y"})


def test_builtin_subclasses_are_leaves() -> None:
    class MyList(list):
        pass

    class MyDict(dict):
        pass

    assert tree_leaves([MyList([1, 2]), MyDict(a=1)]) == [MyList([1, 2]), MyDict(a=1)]


def test_namedtuple() -> None:
    p = Point(1, (2, 3))
    leaves, treedef = tree_flatten(p)
    assert leaves == [1, 2, 3]
    assert repr(treedef) == "PyTreeDef(CustomNode(namedtuple[Point], [*, (*, *)]))"
    assert type(tree_unflatten(treedef, leaves)) is Point
    assert treedef != tree_structure((1, (2, 3)))
    assert treedef.node_data() == (Point, None)
    assert [keystr(path) for path, _ in tree_leaves_with_path(p)] == [".x", ".y[0]", ".y[1]"]
    Dynamic = collections.namedtuple("Dynamic", "a b")
    assert tree_map(lambda x: x * 2, Dynamic(1, 2)) == Dynamic(2, 4)


def test_ordered_dict_keeps_insertion_order() -> None:
    od = collections.OrderedDict([("b", 1), ("a", 2)])
    leaves, treedef = tree_flatten(od)
    assert leaves == [1, 2]
    assert repr(treedef) == "PyTreeDef(CustomNode(OrderedDict[('b', 'a')], [*, *]))"
    rebuilt = tree_unflatten(treedef, [10, 20])
    assert type(rebuilt) is collections.OrderedDict and list(rebuilt.items()) == [("b", 10), ("a", 20)]
    assert treedef != tree_structure({"b": 1, "a": 2})
    assert treedef != tree_structure(collections.OrderedDict([("a", 1), ("b", 2)]))
    assert [keystr(p) for p, _ in tree_leaves_with_path(od)] == ["['b']", "['a']"]


def test_defaultdict_keeps_default_factory() -> None:
    dd = collections.defaultdict(list, {"b": 1, "a": 2})
    leaves, treedef = tree_flatten(dd)
    assert leaves == [2, 1]
    assert repr(treedef) == "PyTreeDef(CustomNode(defaultdict[(<class 'list'>, ('a', 'b'))], [*, *]))"
    rebuilt = tree_unflatten(treedef, [3, 4])
    assert type(rebuilt) is collections.defaultdict and rebuilt.default_factory is list
    assert dict(rebuilt) == {"a": 3, "b": 4} and rebuilt["new"] == []
    assert treedef != tree_structure(collections.defaultdict(dict, {"b": 1, "a": 2}))
    assert [keystr(p) for p, _ in tree_leaves_with_path(dd)] == ["['a']", "['b']"]


# ---------------------------------------------------------------------------------------------------------
# PyTreeDef.
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (1, "PyTreeDef(*)"),
        ((), "PyTreeDef(())"),
        ((1,), "PyTreeDef((*,))"),
        ([], "PyTreeDef([])"),
        ({}, "PyTreeDef({})"),
        ((1, {"a": 2}), "PyTreeDef((*, {'a': *}))"),
        ([1, None, [2, (3,)]], "PyTreeDef([*, None, [*, (*,)]])"),
        ({1: 2, 0: None}, "PyTreeDef({0: None, 1: *})"),
        (Pair(1, [2]), "PyTreeDef(CustomNode(Pair[pair], [*, [*]]))"),
        (Box(1), "PyTreeDef(CustomNode(Box[None], [*]))"),
        (Layer(1, 2), "PyTreeDef(CustomNode(Layer[('relu',)], [*, *]))"),
    ],
)
def test_treedef_repr_matches_jax(value: Any, expected: str) -> None:
    treedef = tree_structure(value)
    assert repr(treedef) == expected == str(treedef)


def test_treedef_accessors() -> None:
    treedef = tree_structure([(1, 2), 3, {"a": 4}])
    assert treedef.num_leaves == 4 and treedef.num_nodes == 7
    assert treedef.children() == treedef_children(treedef)
    assert repr(treedef.children()) == "[PyTreeDef((*, *)), PyTreeDef(*), PyTreeDef({'a': *})]"
    assert treedef.children() == [tree_structure(x) for x in [(1, 2), 3, {"a": 4}]]
    assert treedef.node_data() == (list, None)
    assert tree_structure(1).node_data() is None
    assert tree_structure(None).node_data() == (type(None), None)
    assert tree_structure({"b": 1, "a": 2}).node_data() == (dict, ["a", "b"])
    assert tree_structure(Layer(1, 2, "tanh")).node_data() == (Layer, ("tanh",))
    assert treedef_is_leaf(tree_structure(1)) and treedef_is_leaf(tree_structure(None))
    assert not treedef_is_leaf(tree_structure([1]))
    assert treedef_tuple([tree_structure(1), tree_structure([1, 2])]) == tree_structure((0, [0, 0]))
    assert tree_structure([1, 2]).compose(tree_structure((1, None))) == tree_structure([(1, None), (2, None)])


def test_treedef_equality_hash_copy_pickle() -> None:
    treedef = tree_structure({"a": [1, (2, Point(3, None))], "b": collections.OrderedDict(x=1)})
    assert treedef == tree_structure({"b": collections.OrderedDict(x=5), "a": [0, (0, Point(0, None))]})
    assert treedef != tree_structure({"a": [1, [2, Point(3, None)]], "b": collections.OrderedDict(x=1)})
    assert treedef != "PyTreeDef" and treedef != None  # noqa: E711
    assert copy.copy(treedef) is treedef and copy.deepcopy(treedef) is treedef
    unpickled = pickle.loads(pickle.dumps(treedef))
    assert unpickled == treedef and hash(unpickled) == hash(treedef)
    assert unpickled.unflatten(range(4)) == {"a": [0, (1, Point(2, None))], "b": collections.OrderedDict(x=3)}


def test_treedef_with_unhashable_or_uncomparable_aux_data() -> None:
    class Uncomparable:
        def __eq__(self, other: object) -> bool:
            raise TypeError("ambiguous truth value")

        __hash__ = None

    class Holder:
        def __init__(self, x: Any, meta: Any) -> None:
            self.x, self.meta = x, meta

    register_pytree_node(Holder, lambda h: ((h.x,), h.meta), lambda meta, ch: Holder(ch[0], meta))
    listed = tree_structure(Holder(1, [1, 2]))
    assert hash(listed) == hash(tree_structure(Holder(5, [1, 2])))  # a list as aux data: no crash
    assert listed == tree_structure(Holder(5, [1, 2])) and listed != tree_structure(Holder(5, [1]))
    with pytest.raises(ValueError, match="metadata fields"):
        _ = tree_structure(Holder(1, Uncomparable())) == tree_structure(Holder(1, Uncomparable()))


def test_unflatten_leaf_count_errors() -> None:
    treedef = tree_structure([1, 2])
    with pytest.raises(ValueError, match=re.escape("Too few leaves for PyTreeDef; expected 2, got 1")):
        treedef.unflatten([1])
    with pytest.raises(ValueError, match=re.escape("Too many leaves for PyTreeDef; expected 2, got 3")):
        tree_unflatten(treedef, iter([1, 2, 3]))
    assert tree_unflatten(tree_structure(7), (x for x in ["leaf"])) == "leaf"


# ---------------------------------------------------------------------------------------------------------
# Structure mismatches: JAX's messages.
# ---------------------------------------------------------------------------------------------------------


Q = collections.namedtuple("Q", "x y")


@pytest.mark.parametrize(
    "first, second, message",
    [
        ([1, 2], [1, 2, 3], "List arity mismatch: 3 != 2; list: [1, 2, 3]."),
        ((1, 2), (1,), "Tuple arity mismatch: 1 != 2; tuple: (1,)."),
        ((1, 2), [1, 2], "Expected tuple, got [1, 2]."),
        ([1, 2], (1, 2), "Expected list, got (1, 2)."),
        ({"a": 1}, [1], "Expected dict, got [1]."),
        (
            {"a": 1, "b": 2},
            {"a": 1, "c": 2},
            "Dict key mismatch; expected keys: ['a', 'b']; present keys: ['a', 'c'].",
        ),
        ([None], [1], "Expected None, got 1."),
        (Point(1, 2), (1, 2), "Expected named tuple, got (1, 2)."),
        (
            Point(1, 2),
            Q(1, 2),
            f"Named tuple type mismatch: expected type: {Point!r}, tuple: Q(",
        ),
        (
            Pair(1, 2),
            Box(1),
            f"Custom node type mismatch: expected type: {Pair!r}, value: Box(1).",
        ),
        (
            Layer(1, 2),
            Layer(1, 2, "tanh"),
            "Mismatch custom dataclass node data: ('relu',) != ('tanh',); value:",
        ),
        (
            collections.OrderedDict(a=1, b=2),
            collections.OrderedDict(b=1, a=2),
            "Mismatch custom node data: ('a', 'b') != ('b', 'a'); value: OrderedDict(",
        ),
        ([[1], (2,)], [[1, 1], [2]], "Expected tuple, got [2]."),  # the last mismatch, as in JAX
    ],
)
def test_flatten_up_to_mismatch_messages(first: Any, second: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        tree_structure(first).flatten_up_to(second)


@pytest.mark.parametrize(
    "first, second, headline, where",
    [
        ([1, 2], [1, 2, 3], "different lengths of list", "tree_map tree"),
        ({"x": (1, 2)}, {"x": (1,)}, "different lengths of tuple", "tree_map tree['x']"),
        ({"k": [None]}, {"k": [1]}, "different types", "tree_map tree['k'][0]"),
        ([Point(1, 2)], [Q(1, 2)], "different types", "tree_map tree[0]"),
        ({"a": 1, "b": 2}, {"a": 1, "c": 2}, "different pytree metadata", "tree_map tree"),
        ({"a": 1}, {"a": 1, "b": 2}, "different numbers of pytree children", "tree_map tree"),
        (Box(Layer(1, 2)), Box(Layer(1, 2, "tanh")), "different pytree metadata", "tree_map tree.w"),
        (Pair(1, [2]), Pair(1, [2, 3]), "different lengths of list", "tree_map tree[<flat index 1>]"),
    ],
)
def test_tree_map_mismatch_names_the_key_path(first: Any, second: Any, headline: str, where: str) -> None:
    with pytest.raises(ValueError) as info:
        tree_map(lambda x, y: x, first, second)
    lines = str(info.value).splitlines()
    assert lines[:2] == [f"pytree structure error: {headline} at key path", f"    {where}"]
    with pytest.raises(ValueError, match=re.escape("    tree_map_with_path tree")):
        tree_map_with_path(lambda p, x, y: x, first, second)


def test_tree_map_mismatch_full_message() -> None:
    with pytest.raises(ValueError) as info:
        tree_map(lambda x, y: x, {"a": [1, (2, 3)]}, {"a": [1, [2, 3]]})
    assert str(info.value) == (
        "pytree structure error: different types at key path\n"
        "    tree_map tree['a'][1]\n"
        "At that key path, the prefix pytree tree_map tree has a subtree of type\n"
        "    <class 'tuple'>\n"
        "but at the same key path the full pytree has a subtree of different type\n"
        "    <class 'list'>."
    )
    with pytest.raises(ValueError) as info:
        tree_map(lambda x, y: x, {"a": 1}, {"a": 1, "b": 2})
    assert str(info.value).endswith(
        "with 2 child keys\n    a b\nso the symmetric difference on key sets is\n    b"
    )


def test_tree_map_accepts_rest_with_first_tree_as_prefix() -> None:
    out = tree_map(lambda x, y: (x, y), [1, 2], [(3, 4), {"a": 5}])
    assert out == [(1, (3, 4)), (2, {"a": 5})]
    assert tree_map(lambda x, y: x + y, 1, 2) == 3


def test_tree_transpose_checks_leaf_counts() -> None:
    assert tree_transpose(tree_structure([0, 0]), tree_structure((0, 0)), [(1, 2), (3, 4)]) == (
        [1, 3],
        [2, 4],
    )
    assert tree_transpose(tree_structure({"a": 0, "b": 0}), None, {"a": [1, 2], "b": [3, 4]}) == [
        {"a": 1, "b": 3},
        {"a": 2, "b": 4},
    ]
    with pytest.raises(TypeError, match=re.escape("Mismatch\nPyTreeDef([(*, *), (*,)])\n != \n")):
        tree_transpose(tree_structure([0, 0]), tree_structure((0, 0)), [(1, 2), (3,)])


# ---------------------------------------------------------------------------------------------------------
# Key paths.
# ---------------------------------------------------------------------------------------------------------


def test_keystr_matches_jax() -> None:
    pairs = tree_leaves_with_path({"a": [1, (2, 3)]})
    path, leaf = pairs[-1]
    assert leaf == 3 and path == (DictKey("a"), SequenceKey(1), SequenceKey(1))
    assert keystr(path) == "['a'][1][1]"
    assert keystr(path, simple=True, separator="/") == "a/1/1"
    params = {"foo": {"bar": {"baz": 1, "bat": [2, 3]}}}
    assert [keystr(p) for p, _ in tree_leaves_with_path(params)] == [
        "['foo']['bar']['bat'][0]",
        "['foo']['bar']['bat'][1]",
        "['foo']['bar']['baz']",
    ]
    assert keystr((0, 1, "a", "b")) == "01ab"


def test_key_entries() -> None:
    assert (str(SequenceKey(0)), repr(SequenceKey(0))) == ("[0]", "SequenceKey(idx=0)")
    assert (str(DictKey("a")), repr(DictKey("a"))) == ("['a']", "DictKey(key='a')")
    assert (str(DictKey(1)), str(GetAttrKey("w"))) == ("[1]", ".w")
    assert repr(GetAttrKey("w")) == "GetAttrKey(name='w')"
    assert (str(FlattenedIndexKey(2)), repr(FlattenedIndexKey(2))) == (
        "[<flat index 2>]",
        "FlattenedIndexKey(key=2)",
    )
    assert SequenceKey(1) == SequenceKey(1) and hash(SequenceKey(1)) == hash(SequenceKey(1))
    assert SequenceKey(1) != FlattenedIndexKey(1) and DictKey("a") != GetAttrKey("a")
    assert SequenceKey(1) != (1,)
    assert pickle.loads(pickle.dumps(DictKey("a"))) == DictKey("a")
    with pytest.raises(AttributeError):
        SequenceKey(1).idx = 2


def test_custom_node_key_paths() -> None:
    paths = [keystr(p) for p, _ in tree_leaves_with_path([Pair(1, 2), Box(3), Layer(4, [5])])]
    assert paths == ["[0][<flat index 0>]", "[0][<flat index 1>]", "[1].w", "[2].w", "[2].b[0]"]


def test_is_leaf_takes_path() -> None:
    tree_in = {"a": [1, 2], "b": [3]}
    pairs = tree_leaves_with_path(
        tree_in, is_leaf=lambda path, x: path == (DictKey("a"),), is_leaf_takes_path=True
    )
    assert pairs == [((DictKey("a"),), [1, 2]), ((DictKey("b"), SequenceKey(0)), 3)]


# ---------------------------------------------------------------------------------------------------------
# Registration.
# ---------------------------------------------------------------------------------------------------------


def test_register_dataclass_infers_static_fields() -> None:
    layer = Layer(w=1.0, b=[2.0, 3.0], act="tanh")
    leaves, treedef = tree_flatten(layer)
    assert leaves == [1.0, 2.0, 3.0]
    assert tree_unflatten(treedef, [4.0, 5.0, 6.0]) == Layer(4.0, [5.0, 6.0], "tanh")
    assert treedef != tree_structure(Layer(w=1.0, b=[2.0, 3.0], act="relu"))
    assert tree_map(lambda x: -x, layer) == Layer(-1.0, [-2.0, -3.0], "tanh")


def test_register_dataclass_explicit_fields_and_drop_fields() -> None:
    @functools.partial(register_dataclass, data_fields=["x"], meta_fields=["op"], drop_fields=["cache"])
    @dataclasses.dataclass
    class Op:
        x: Any
        op: str
        cache: Any = None

    leaves, treedef = tree_flatten(Op(1, "add", cache="dropped"))
    assert leaves == [1] and repr(treedef) == "PyTreeDef(CustomNode(Op[('add',)], [*]))"
    assert tree_unflatten(treedef, [2]) == Op(2, "add", None)

    class NotADataclass:
        def __init__(self, x: Any, k: int) -> None:
            self.x, self.k = x, k

    register_dataclass(NotADataclass, data_fields=["x"], meta_fields=["k"])
    rebuilt = tree_map(lambda v: v + 1, NotADataclass(1, 7))
    assert (rebuilt.x, rebuilt.k) == (2, 7)


def test_register_dataclass_errors() -> None:
    @dataclasses.dataclass
    class Two:
        x: Any
        y: Any

    with pytest.raises(ValueError, match=r"Missing fields: \['y'\]"):
        register_dataclass(Two, data_fields=["x"], meta_fields=[])
    with pytest.raises(ValueError, match=r"Unexpected fields: \['z'\]"):
        register_dataclass(Two, data_fields=["x", "y", "z"], meta_fields=[])
    with pytest.raises(TypeError, match="must both be specified"):
        register_dataclass(Two, data_fields=["x", "y"])
    with pytest.raises(TypeError, match="required when nodetype is not a dataclass"):
        register_dataclass(type("Plain", (), {}))


def test_register_errors_and_late_registration() -> None:
    class Late:
        def __init__(self, v: Any) -> None:
            self.v = v

    late = Late(1)
    assert tree_leaves([late]) == [late]  # a leaf until registered (the dispatch cache must forget it)
    register_pytree_node(Late, lambda x: ([x.v], None), lambda _, ch: Late(ch[0]))
    assert tree_leaves([late]) == [1]
    with pytest.raises(ValueError, match="Duplicate custom PyTreeDef type registration"):
        register_pytree_node(Late, lambda x: ([x.v], None), lambda _, ch: Late(ch[0]))
    with pytest.raises(ValueError, match="Duplicate custom PyTreeDef type registration"):
        register_pytree_node(list, lambda x: (x, None), lambda _, ch: list(ch))

    class Broken:
        pass

    register_pytree_node(Broken, lambda x: [1, 2, 3], lambda _, ch: Broken())
    with pytest.raises(TypeError, match=r"should return a \(children, aux_data\) tuple"):
        tree_flatten(Broken())


def test_register_pytree_with_keys_and_static() -> None:
    class Named:
        def __init__(self, **kw: Any) -> None:
            self.kw = kw

    register_pytree_with_keys(
        Named,
        lambda n: ([(DictKey(k), v) for k, v in sorted(n.kw.items())], tuple(sorted(n.kw))),
        lambda keys, ch: Named(**dict(zip(keys, ch, strict=True))),
    )
    leaves, treedef = tree_flatten(Named(b=1, a=2))
    assert leaves == [2, 1] and tree_unflatten(treedef, [3, 4]).kw == {"a": 3, "b": 4}
    assert [keystr(p) for p, _ in tree_leaves_with_path(Named(z=0))] == ["['z']"]

    @register_static
    class Activation(str):
        pass

    treedef = tree_structure([Activation("relu"), 1.0])
    assert treedef.num_leaves == 1 and treedef.unflatten([2.0]) == [Activation("relu"), 2.0]
    assert treedef != tree_structure([Activation("gelu"), 1.0])


def test_dispatch_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tree_util, "_DISPATCH_CACHE_SIZE", 3)
    for _ in range(3):
        values = [1, 1.0, "s", b"b", 1j, Point(1, 2), (1,), [2], {"a": 3}, None]
        assert tree_leaves(values) == [1, 1.0, "s", b"b", 1j, 1, 2, 1, 2, 3]
    assert len(tree_util._dispatch) <= 3


# ---------------------------------------------------------------------------------------------------------
# JAX as an oracle, where it is installed.
# ---------------------------------------------------------------------------------------------------------


def _builtin_containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    small_dicts = st.dictionaries(_keys, children, max_size=3)
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        small_dicts,
        st.dictionaries(st.integers(0, 9), children, max_size=2),
        st.builds(Point, children, children),
        small_dicts.map(collections.OrderedDict),
        small_dicts.map(lambda d: collections.defaultdict(list, d)),
    )


builtin_trees = st.recursive(st.one_of(st.integers(-50, 50), st.none()), _builtin_containers, max_leaves=10)


def _first_error_line(thunk: Any) -> str:
    try:
        return repr(thunk())
    except ValueError as e:
        return str(e).splitlines()[0]


@_settings
@given(builtin_trees, builtin_trees)
def test_same_as_jax(t: Any, u: Any) -> None:
    jtu = pytest.importorskip("jax.tree_util")
    jax_leaves, jax_treedef = jtu.tree_flatten(t)
    leaves, treedef = tree_flatten(t)
    assert leaves == jax_leaves and repr(treedef) == repr(jax_treedef)
    assert (treedef.num_nodes, treedef.num_leaves) == (jax_treedef.num_nodes, jax_treedef.num_leaves)
    assert [keystr(p) for p, _ in tree_leaves_with_path(t)] == [
        jtu.keystr(p) for p, _ in jtu.tree_leaves_with_path(t)
    ]
    assert (tree_structure(u) == treedef) == (jtu.tree_structure(u) == jax_treedef)
    assert _first_error_line(lambda: treedef.flatten_up_to(u)) == _first_error_line(
        lambda: jax_treedef.flatten_up_to(u)
    )
    assert _first_error_line(lambda: tree_map(lambda x, y: 0, t, u)) == _first_error_line(
        lambda: jtu.tree_map(lambda x, y: 0, t, u)
    )


# ---------------------------------------------------------------------------------------------------------
# Small helpers, the jax.tree-style aliases and the docstring examples.
# ---------------------------------------------------------------------------------------------------------


def test_reduce_all_and_all_leaves() -> None:
    assert tree_reduce(operator.add, {"a": 1, "b": (2, 3)}) == 6
    assert tree_reduce(operator.add, [], 10) == 10
    assert tree_reduce(lambda acc, x: acc + [x], [[1], 2], [], is_leaf=lambda x: x == [1]) == [[1], 2]
    with pytest.raises(TypeError):
        tree_reduce(operator.add, [None])
    assert tree_all([1, (True, {"a": 2})]) and not tree_all([1, (0,)]) and tree_all(None)
    assert all_leaves([1, "a", Pair]) and not all_leaves([1, None]) and not all_leaves([Box(1)])
    assert all_leaves([[1]], is_leaf=lambda x: isinstance(x, list))


def test_jax_tree_aliases() -> None:
    assert tree.map is tree_map and tree.flatten is tree_flatten and tree.unflatten is tree_unflatten
    assert tree.leaves is tree_leaves and tree.structure is tree_structure and tree.all is tree_all
    assert tree.reduce is tree_reduce and tree.transpose is tree_transpose
    assert tree.map_with_path is tree_map_with_path and tree.flatten_with_path is tree_flatten_with_path
    assert tree.leaves_with_path is tree_leaves_with_path
    assert isinstance(tree.structure([1]), PyTreeDef)


@pytest.mark.parametrize("module", [tree_util, tree], ids=["tree_util", "tree"])
def test_docstring_examples(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
