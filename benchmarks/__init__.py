"""Benchmark scripts and the baseline views they compare against. Not part of the service."""
