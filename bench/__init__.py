"""Benchmarks at operator scale: ``python -m bench build`` and ``python -m bench run``."""
