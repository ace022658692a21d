"""Benchmarks of the bot: ``python -m benchmarks`` (``make bench``); see README, Performance."""
