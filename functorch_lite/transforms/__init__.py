"""Transformation machinery (autodiff, batching, jit): no per-primitive rules live here."""
