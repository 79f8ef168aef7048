"""jaxpr -> executable: fusion, rendering, building, the executor (imported lazily: jit compiles on first use)."""

# Primitives whose params hold a jaxpr evaluated as a plain call (``name -> param``): the executor inlines
# them. Registered by the primitives themselves (jit's pjit), so it lives here, not in the heavy executor.
INLINE_CALLS: dict[str, str] = {}
