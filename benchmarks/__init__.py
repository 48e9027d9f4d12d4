"""Benchmarks of pyck: not part of the installed package."""
