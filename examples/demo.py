"""The functorch_lite demo: trace the neuron o = tanh(w * x + b) into a jaxpr and evaluate it.

Run: python examples/demo.py
"""

import functorch_lite as fl
import functorch_lite.numpy as fnp


def neuron(w, x, b):
    return fnp.tanh(w * x + b)


w = fnp.asarray([0.5, -1.0, 2.0])
x = fnp.asarray([1.0, 2.0, 3.0])
b = fnp.asarray(0.1)

closed = fl.make_jaxpr(neuron)(w, x, b)
print("The neuron o = tanh(w * x + b) as a jaxpr:")
print(closed)
print()
print("Evaluated eagerly:        ", neuron(w, x, b))
print("Evaluated from the jaxpr: ", fl.eval_jaxpr(closed.jaxpr, closed.consts, w, x, b)[0])
print("Output shape, no FLOPs:   ", fl.eval_shape(neuron, w, x, b))

# The transformations compose: gradient, per-example gradients, and a compiled version.
print()
print("d neuron / d w:           ", fl.grad(lambda w: fnp.sum(neuron(w, x, b)))(w))
print("per-example d/dw (vmap):  ", fl.vmap(fl.grad(neuron), in_axes=(0, 0, None))(w, x, b))
fast = fl.jit(neuron)
print("jit, same numbers:        ", fast(w, x, b))
print("the compiled plan:")
print(fast.lower(w, x, b).as_text())
