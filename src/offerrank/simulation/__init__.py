"""Closed-loop simulation on a synthetic world, off-policy evaluation, and their summaries.

The world knows each pair's true redemption probability, so a ranking policy can be
run day after day against it and its business value measured exactly (see
docs/simulation.md for the definitions).
"""
