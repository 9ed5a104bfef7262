"""LLM-judge support: client, retry policy, cache and answer parsing."""
