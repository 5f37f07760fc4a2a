"""Validation tests and benchmarks of the shipped artifacts: each script prints its figures, the key one last."""
