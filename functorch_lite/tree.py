"""Short names for the pytree functions, as in ``jax.tree``: ``tree.map`` is ``tree_util.tree_map``, etc.

>>> from functorch_lite import tree
>>> tree.map(lambda x: x * 2, {'a': 1, 'b': [2, 3]})
{'a': 2, 'b': [4, 6]}
>>> tree.leaves([None, 1, (2,)])
[1, 2]
>>> leaves, treedef = tree.flatten((1, {'a': 2}))
>>> tree.unflatten(treedef, leaves), treedef
((1, {'a': 2}), PyTreeDef((*, {'a': *})))
"""

from .tree_util import tree_all as all
from .tree_util import tree_flatten as flatten
from .tree_util import tree_flatten_with_path as flatten_with_path
from .tree_util import tree_leaves as leaves
from .tree_util import tree_leaves_with_path as leaves_with_path
from .tree_util import tree_map as map
from .tree_util import tree_map_with_path as map_with_path
from .tree_util import tree_reduce as reduce
from .tree_util import tree_structure as structure
from .tree_util import tree_transpose as transpose
from .tree_util import tree_unflatten as unflatten

__all__ = [
    "all",
    "flatten",
    "flatten_with_path",
    "leaves",
    "leaves_with_path",
    "map",
    "map_with_path",
    "reduce",
    "structure",
    "transpose",
    "unflatten",
]
