"""Connectivity analysis: compiled NetworkPolicy evaluation, matrices, impacts, pitfalls."""
