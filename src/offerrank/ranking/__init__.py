"""Candidate generation, scoring and top-K."""
