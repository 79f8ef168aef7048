"""jaxpr -> executable: fusion, rendering, building, the executor."""
