"""The Discord front end (discord.py): slash commands, threads, streamed edits, approvals."""
