"""Golden conversations: inputs and the exact replies expected, kept beside the flow they test."""
