"""Test-only helpers shared by the end-to-end tests and the benchmarks.

They live under ``tests/`` so nothing here can leak into the shipped bot.
"""
