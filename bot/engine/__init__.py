"""Channel-free conversation engine: one inbound event in, replies out; no I/O."""
