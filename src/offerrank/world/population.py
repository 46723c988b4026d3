"""The catalogue and the customers: the latent, persistent side of the world.

Drawn once when a world is created (randomness of "day 0") and saved to the store,
so that a reopened world behaves exactly like the one that was never closed.
Customers carry tastes a retailer never sees directly (category and tier preference,
order rhythm, promotion sensitivity); their purchases reveal them over time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offerrank.world.presets import Preset

NEVER = 10**9  # a day far beyond any range: "does not churn"
TIER_PRICE = np.array([0.0, 0.7, 1.0, 1.6])  # indexed by price_tier 1..3
N_TIER = 3
TASTE_BLOCK = 1 << 20  # rows of a taste draw at a time


def creation_rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0, stream])


def choose_rows(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One categorical draw per row of `probs` (unnormalised weights), given uniforms `u`."""
    cum = np.cumsum(probs, axis=1)
    idx = (cum < (u * cum[:, -1])[:, None]).sum(axis=1)
    return np.minimum(idx, probs.shape[1] - 1)


@dataclass
class Catalogue:
    """Products by index (product_id = index + 1) and a sampler by (category, tier);
    `category` indexes the domain's `n_categories` categories."""

    category: np.ndarray
    tier: np.ndarray
    is_fresh: np.ndarray
    is_own_brand: np.ndarray
    list_price: np.ndarray
    unit_cost: np.ndarray
    popularity: np.ndarray
    n_categories: int

    def __post_init__(self) -> None:
        group = self.category.astype(np.int64) * N_TIER + (self.tier - 1)
        self._order = np.lexsort((np.arange(group.size), group))
        g_sorted = group[self._order]
        pop = self.popularity[self._order]
        cum = np.cumsum(pop)
        groups = np.arange(self.n_categories * N_TIER)
        starts = np.searchsorted(g_sorted, groups)
        ends = np.searchsorted(g_sorted, groups, side="right")
        before = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
        totals = cum[ends - 1] - before
        self._keys = g_sorted + (cum - before[g_sorted]) / totals[g_sorted]
        self._starts, self._ends = starts, ends

    @property
    def size(self) -> int:
        return int(self.category.size)

    def sample(self, category: np.ndarray, tier: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Product indices drawn by popularity within each row's (category, tier)."""
        group = category.astype(np.int64) * N_TIER + (tier - 1)
        pos = np.searchsorted(self._keys, group + u, side="right")
        pos = np.clip(pos, self._starts[group], self._ends[group] - 1)  # guards float rounding
        return self._order[pos]


def build_catalogue(preset: Preset, seed: int) -> Catalogue:
    """Products covering every (category, tier), heavy-tailed popularity, a few loss leaders
    (costs known per product), or every cost an assumed share of the price (none known)."""
    facts = preset.facts
    n_cat = facts.n_categories
    rng = creation_rng(seed, 1)
    n = max(preset.products, n_cat * N_TIER)
    cover = np.arange(n_cat * N_TIER)
    cat_w = facts.type_category_weights.sum(axis=0)
    category = np.concatenate(
        [cover // N_TIER, rng.choice(n_cat, n - cover.size, p=cat_w / cat_w.sum())]
    )
    tier = np.concatenate(
        [cover % N_TIER + 1, rng.choice([1, 2, 3], n - cover.size, p=[0.35, 0.45, 0.20])]
    )
    price = facts.base_price[category] * TIER_PRICE[tier] * rng.lognormal(0.0, 0.4, n)
    price = np.maximum(np.round(price, 2), 0.19)
    own = rng.random(n) < facts.own_brand_share[tier]
    margin = rng.uniform(0.55, 0.85, n)
    loss_leader = rng.random(n) < 0.02
    cost = np.round(price * np.where(loss_leader, rng.uniform(1.02, 1.15, n), margin), 2)
    if facts.assumed_margin is not None:
        cost = np.round(price * (1.0 - facts.assumed_margin), 2)
    return Catalogue(
        category=category.astype(np.int64),
        tier=tier.astype(np.int64),
        is_fresh=(category < facts.fresh_categories).astype(np.int64),
        is_own_brand=own.astype(np.int64),
        list_price=price,
        unit_cost=cost,
        popularity=np.round(rng.lognormal(0.0, 1.0, n), 6),
        n_categories=n_cat,
    )


@dataclass
class Population:
    """Customers by index (customer_id = index + 1) and their latent tastes."""

    type_index: np.ndarray
    signup_day: np.ndarray
    signup_known: np.ndarray
    churn_day: np.ndarray
    order_rate: np.ndarray
    basket_mean: np.ndarray
    qty_log_mean: np.ndarray
    business_share: np.ndarray
    promo_sensitivity: np.ndarray
    responsiveness: np.ndarray
    home_store: np.ndarray
    tier_pref: np.ndarray  # (n, 3)
    category_pref: np.ndarray  # (n, categories)
    favourites: np.ndarray  # (n, slots) product indices

    @property
    def size(self) -> int:
        return int(self.type_index.size)


def _rows_dirichlet(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    g = rng.gamma(alpha)
    return g / g.sum(axis=1, keepdims=True)


def build_population(
    preset: Preset, seed: int, start_day: int, end_day: int, catalogue: Catalogue
) -> Population:
    """Customers of every business type with distinct tastes, newcomers and churners."""
    facts = preset.facts
    rng = creation_rng(seed, 2)
    n = preset.customers
    btype = rng.choice(len(facts.business_types), n, p=facts.type_share)
    newcomer = rng.random(n) < preset.newcomer_share
    signup = np.where(
        newcomer, rng.integers(start_day, end_day + 1, n), start_day - rng.integers(1, 3 * 365, n)
    )
    churns = rng.random(n) < preset.churn_share
    churn = np.where(
        churns, np.maximum(rng.integers(start_day + 30, end_day + 31, n), signup + 30), NEVER
    )
    interval = np.clip(facts.type_interval_days[btype] * rng.lognormal(0.0, 0.55, n), 3.0, 45.0)
    cat_w, tier_w = facts.type_category_weights, facts.type_tier_weights
    cat_alpha = cat_w / cat_w.sum(axis=1, keepdims=True)
    tier_alpha = tier_w / tier_w.sum(axis=1, keepdims=True)
    cat_pref = _rows_dirichlet(rng, cat_alpha[btype] * 5.0 + 0.03)
    tier_pref = _rows_dirichlet(rng, tier_alpha[btype] * 4.0 + 0.05)
    pop = Population(
        type_index=btype.astype(np.int64),
        signup_day=signup.astype(np.int64),
        signup_known=~((~newcomer) & (rng.random(n) < 0.03)),
        churn_day=churn.astype(np.int64),
        order_rate=1.0 / interval,
        basket_mean=facts.type_basket[btype] * rng.lognormal(0.0, 0.35, n),
        qty_log_mean=facts.type_qty_log[btype] + rng.normal(0.0, 0.4, n),
        business_share=np.clip(
            facts.type_business_share[btype] + rng.normal(0.0, 0.03, n), 0.0, 1.0
        ),
        promo_sensitivity=rng.beta(1.5, 4.0, n),
        responsiveness=rng.normal(0.0, 0.3, n),
        home_store=rng.integers(1, preset.stores + 1, n),
        tier_pref=tier_pref,
        category_pref=cat_pref,
        favourites=np.zeros((n, preset.favourites), dtype=np.int64),
    )
    pop.favourites = draw_by_taste(
        rng, pop, catalogue, np.repeat(np.arange(n), preset.favourites)
    ).reshape(n, preset.favourites)
    return pop


def draw_by_taste(
    rng: np.random.Generator, pop: Population, catalogue: Catalogue, customers: np.ndarray
) -> np.ndarray:
    """One product per entry of `customers`: category and tier by taste, then popularity.

    Rows are drawn in blocks, so that a million customers' favourites never hold a
    (draws x categories) matrix at once; each row's draw is the same either way.
    """
    m = customers.size
    u_cat, u_tier, u_pick = rng.random(m), rng.random(m), rng.random(m)
    cat, tier = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    for start in range(0, m, TASTE_BLOCK):
        rows = slice(start, start + TASTE_BLOCK)
        cat[rows] = choose_rows(pop.category_pref[customers[rows]], u_cat[rows])
        tier[rows] = choose_rows(pop.tier_pref[customers[rows]], u_tier[rows]) + 1
    return catalogue.sample(cat, tier, u_pick)
