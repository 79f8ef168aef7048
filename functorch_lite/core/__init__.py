"""Arrays, dtypes, tracing machinery and the jaxpr IR: nothing primitive-specific lives here."""
