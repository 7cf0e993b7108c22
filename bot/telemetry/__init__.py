"""What the runtime tells about itself: Prometheus metrics, structured logs, session traces.

Low in ``bot/``: everything above may report here; nothing here drives a turn.
"""
