"""Metrics of the recommended lists themselves, labels aside: coverage and diversity."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from offerrank.monitoring.metrics_base import customer_codes


def coverage(recommended_offer_ids: Any, active_offer_ids: Any) -> float | None:
    """Share of the active offers that were recommended to at least one customer.

    Recommended offers that are not in the active set do not count. None when no offer
    is active.
    """
    active = np.unique(np.asarray(active_offer_ids).ravel())
    if active.size == 0:
        return None
    return float(np.isin(active, np.asarray(recommended_offer_ids).ravel()).mean())


def diversity(customers: Any, categories: Any) -> float | None:
    """1 - mean over customers of the share of same-category pairs in their list.

    One row per recommended (customer, offer); for a customer with n >= 2 items of which
    n_g are in category g, the same-category share is sum_g n_g (n_g - 1) / (n (n - 1)).
    Customers with fewer than 2 items are left out; None when no customer has 2.
    """
    return diversity_mean([diversity_terms(customers, categories)])


def diversity_terms(customers: Any, categories: Any) -> np.ndarray:
    """1 - the same-category share of each customer with 2 items or more: lists split
    over several batches of customers give `diversity` of them all as the exact
    (`math.fsum`) mean of their terms, the same whatever the split."""
    cust, n_customers = customer_codes(customers)
    cat, n_categories = customer_codes(categories)
    if cat.size != cust.size:
        raise ValueError("customers and categories must have the same length")
    pairs, counts = np.unique(cust * max(n_categories, 1) + cat, return_counts=True)
    same = np.bincount(
        pairs // max(n_categories, 1), weights=counts * (counts - 1.0), minlength=n_customers
    )
    n = np.bincount(cust, minlength=n_customers).astype(np.float64)
    ok = n >= 2
    return np.asarray(1.0 - same[ok] / (n[ok] * (n[ok] - 1)), dtype=np.float64)


def diversity_mean(batches: list[np.ndarray]) -> float | None:
    """`diversity` of lists given as the terms of several batches of customers."""
    terms = np.concatenate(batches) if batches else np.zeros(0)
    return math.fsum(terms) / terms.size if terms.size else None
