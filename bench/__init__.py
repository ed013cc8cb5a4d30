"""Benchmarks and validations, each a script run from the repository root as `python -m bench.NAME`; what they share
is the package bench.lib."""
