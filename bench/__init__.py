"""Benchmarks of the bot on loopback: ``python -m bench`` (``make bench``); see bench/README.md."""
