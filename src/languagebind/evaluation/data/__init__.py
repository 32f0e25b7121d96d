"""Prompt templates, class-name lists and the paper results table (data files)."""
