"""Channel adapters: they translate input and output, and hold no rules of their own."""
