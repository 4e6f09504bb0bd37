"""Prompt-level A/B experiments: assignment, the exposure log, the report."""
