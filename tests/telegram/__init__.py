"""End-to-end tests: the real Application over real HTTP against the fake Bot API."""
