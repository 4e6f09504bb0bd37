"""Benchmark data: the score table, its file formats, the bundled benchmark."""
