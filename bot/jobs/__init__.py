"""A job's room: metrics read from its logs, their chart, its card, and the room itself.

Nothing here talks to Slack or Discord: the card and chart are drawn for any surface.
Only the room (:mod:`bot.jobs.room`) keeps state, in Redis through the session store
(the card's message, the job index); matplotlib is imported only when a chart is drawn
(:mod:`bot.jobs.chart`).
"""
