"""The execution sandbox: a server per session (``sandbox_server/``), started by a backend
(``local``: bubblewrap on the bot's host; ``space``: a private HF Space), reached by a
client, kept in ``session.state`` so any worker reattaches."""
