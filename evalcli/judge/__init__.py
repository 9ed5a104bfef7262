"""LLM-judge support: the chat client and its pool (calls go through :mod:`evalcli.remote`)
and judge answer parsing."""
