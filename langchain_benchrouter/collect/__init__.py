"""Evaluate your own chat models into a benchmark: graders, the resumable run, its store."""
