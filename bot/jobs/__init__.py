"""Platform-free pieces of a job's room: metrics read from its logs, their chart, its card.

Nothing here talks to Slack, Discord or Redis; matplotlib is imported only when a
chart is drawn (:mod:`bot.jobs.chart`).
"""
