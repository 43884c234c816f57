"""Pure query functions: validated arguments in, a JSON-ready dict with `meta` out."""
