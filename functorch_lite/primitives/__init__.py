"""Primitive families: each file holds every rule (impl, abstract_eval, jvp, transpose, batch, lower) of
its primitives."""
