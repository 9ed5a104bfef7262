"""Renderings of results: results.json, results.csv and the console table."""
