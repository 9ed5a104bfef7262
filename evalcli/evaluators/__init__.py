"""Evaluators: NLP metrics, judge-based quality, safety, composites and custom ones."""
