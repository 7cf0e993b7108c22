"""The sandbox server's files, as a backend ships them (a Space's commit, bubblewrap's /app)."""

from pathlib import Path

SERVER_DIR = Path(__file__).resolve().parent
"""Holds ``server.py`` (standard library + aiohttp) and the ``Dockerfile`` that runs it."""
