"""What kind of retailer a world simulates: its categories, its customer types and how
each type shops.

`wholesale` is the cash-and-carry wholesaler of the original presets: six business
types, twelve short categories, costs known per product. `grocery` is a supermarket
seen through a household panel, as a retailer's coupon data looks once imported: one
customer type (`household`), 44 long category names in the retailer's own
`DEPARTMENT / COMMODITY` style, no own-brand flag in the feed (every product 0), and
no costs in the feed: every unit cost is an assumed share of the list price.

Keeping these as plain tables makes the world easy to reason about and to tune without
touching the simulation code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Domain:
    """The fixed facts of one kind of retailer (rows of the `type_*` tables: business types,
    columns of category tables: categories)."""

    name: str
    categories: tuple[str, ...]
    fresh_categories: int  # the first ones are fresh goods, sold by weight
    base_price: np.ndarray  # typical price of a standard-tier product, per category
    business_types: tuple[str, ...]
    type_share: np.ndarray
    type_category_weights: np.ndarray  # relative category weight per business type
    type_tier_weights: np.ndarray  # price-tier preference per type (entry, standard, premium)
    type_basket: np.ndarray  # mean lines per order
    type_qty_log: np.ndarray  # log of typical units per line
    type_business_share: np.ndarray  # share of orders on a business account
    type_interval_days: np.ndarray  # median days between orders
    weekday_factor: np.ndarray  # order-rate multipliers Monday..Sunday, per type
    own_brand_share: np.ndarray  # share of own-brand products by price tier (index 0 unused)
    assumed_margin: float | None = None  # no costs in the feed: cost = price * (1 - margin)
    absurd_share: float = 2e-4  # lines with an absurd quantity (a till-log typo)
    absurd_quantity: tuple[int, int] = (500, 5000)
    # How customers respond to an offer, on top of the shared model of `world.truth`:
    affinity_weight: float = 1.0  # scales the category-affinity steps
    repeat_bonus: float = 0.0  # extra log-odds for a product bought in the lookback window
    appeal_weight: float = 0.0  # log-odds per unit of log popularity of the offer's product

    @property
    def n_categories(self) -> int:
        return len(self.categories)


_WEEKDAY = np.array([1.15, 1.10, 1.05, 1.10, 1.20, 0.80, 0.10])
_WEEKDAY_PRIVATE = np.array([0.90, 0.90, 0.90, 1.00, 1.20, 1.70, 0.30])  # Saturday shoppers

WHOLESALE = Domain(
    name="wholesale",
    categories=(
        "meat",
        "fish",
        "produce",
        "dairy",
        "bakery",  # fresh
        "dry_food",
        "beverages",
        "frozen",
        "cleaning",
        "non_food",
        "spirits",
        "confectionery",
    ),
    fresh_categories=5,
    base_price=np.array([12.0, 15.0, 3.0, 4.0, 3.0, 3.0, 2.5, 6.0, 5.0, 8.0, 18.0, 2.0]),
    business_types=("restaurant", "hotel", "catering", "trader", "office", "private"),
    type_share=np.array([0.30, 0.08, 0.10, 0.12, 0.15, 0.25]),
    type_category_weights=np.array(
        [
            [9, 6, 9, 6, 3, 6, 4, 4, 2, 1, 2, 1],  # restaurant: fresh kitchen
            [4, 3, 5, 7, 7, 4, 6, 3, 5, 3, 3, 3],  # hotel: breakfast, drinks, housekeeping
            [8, 3, 7, 4, 4, 8, 3, 7, 2, 2, 1, 1],  # catering: volume cooking, frozen
            [2, 1, 2, 2, 1, 8, 9, 3, 3, 3, 6, 8],  # trader: resale of shelf-stable goods
            [1, 1, 2, 3, 2, 3, 8, 1, 5, 6, 1, 6],  # office: drinks, supplies, snacks
            [4, 2, 5, 5, 4, 5, 5, 3, 3, 3, 2, 4],  # private: a household
        ],
        dtype=float,
    ),
    type_tier_weights=np.array(
        [[3, 5, 2], [1, 4, 5], [5, 4, 1], [6, 3, 1], [3, 5, 2], [4, 4, 2]], dtype=float
    ),
    type_basket=np.array([10.0, 12.0, 14.0, 18.0, 5.0, 4.0]),
    type_qty_log=np.array([1.1, 1.3, 1.5, 2.1, 0.5, 0.1]),
    type_business_share=np.array([0.97, 0.97, 0.96, 0.98, 0.85, 0.03]),
    type_interval_days=np.array([9.0, 10.0, 11.0, 12.0, 18.0, 24.0]),
    weekday_factor=np.vstack([np.tile(_WEEKDAY, (5, 1)), _WEEKDAY_PRIVATE]),
    own_brand_share=np.array([0.0, 0.45, 0.20, 0.05]),
)

# (name, base price, weight in a household's basket); the first ten are fresh goods.
_GROCERY: tuple[tuple[str, float, float], ...] = (
    ("PRODUCE / VEGETABLES - ALL OTHERS & SALAD MIX BAGGED", 2.0, 9),
    ("PRODUCE / TROPICAL FRUIT, BANANAS & PLANTAINS LOOSE", 1.5, 7),
    ("PRODUCE / APPLES, PEARS & CITRUS - BAGGED AND BULK", 3.0, 6),
    ("MEAT / BEEF - GROUND, STEAKS & ROASTS (SERVICE CASE)", 8.0, 5),
    ("MEAT / CHICKEN - FRESH PARTS, WHOLE & VALUE PACKS", 6.0, 5),
    ("MEAT-PCKGD / LUNCHMEAT, BACON & BREAKFAST SAUSAGE", 4.0, 5),
    ("SEAFOOD / FRESH FISH FILLETS & SHELLFISH - COUNTER", 9.0, 1.5),
    ("DELI / SELF-SERVE DELI PREPARED FOODS & SALADS BAR", 5.0, 3),
    ("BAKERY / IN-STORE BREAD, ROLLS & SWEET GOODS - FRESH", 3.0, 3),
    ("DAIRY / FLUID MILK WHITE ONLY - GALLONS & HALF GALLONS", 2.5, 8),
    ("FROZEN PIZZA & SNACKS / SELF-SERVE DELI PREPARED", 5.0, 3),
    ("FROZEN / FRZN MEAT & MEAT DINNERS - MULTI-SERVE ENTREES", 6.0, 2),
    ("FROZEN / ICE CREAM, NOVELTIES & FROZEN DESSERTS PINTS", 4.0, 3),
    ("FROZEN / FRZN VEGETABLE & VEGETABLE BLENDS - BAGGED", 2.0, 2),
    ("GROCERY / SOFT DRINKS 12/18 & 24PK CAN CARBONATED", 5.0, 7),
    ("GROCERY / BAG SNACKS - POTATO CHIPS & TORTILLA CHIPS", 3.0, 5),
    ("GROCERY / COLD CEREAL - ALL FAMILY & KIDS BRANDS BOXED", 3.5, 4),
    ("GROCERY / CHEESE - SHREDDED, SLICED & NATURAL CHUNKS", 3.5, 5),
    ("GROCERY / YOGURT - REFRIGERATED CUPS & MULTI-PACKS", 1.5, 4),
    ("GROCERY / EGGS - LARGE, EXTRA LARGE & SPECIALTY DOZENS", 2.0, 4),
    ("GROCERY / BAKED BREAD/BUNS/ROLLS - MAINSTREAM WHITE", 2.5, 6),
    ("GROCERY / CANNED VEGETABLES, BEANS & TOMATO PRODUCTS", 1.2, 4),
    ("GROCERY / DRY PASTA, PASTA SAUCE & MAC AND CHEESE KITS", 1.8, 3),
    ("GROCERY / COFFEE - GROUND, WHOLE BEAN & SINGLE SERVE PODS", 7.0, 2),
    ("GROCERY / CANDY - PACKAGED CHOCOLATE & NON-CHOCOLATE", 2.5, 4),
    ("GROCERY / COOKIES, CRACKERS & SWEET BAKED SNACKS", 3.0, 4),
    ("GROCERY / SOUP - CONDENSED, READY-TO-SERVE & BROTH CANS", 1.5, 3),
    ("GROCERY / CONDIMENTS, DRESSINGS, SPREADS & MARINADES", 3.0, 3),
    ("GROCERY / FRUIT JUICES & DRINKS - SHELF STABLE BOTTLES", 3.0, 3),
    ("GROCERY / BOTTLED WATER - SPRING, PURIFIED & SPARKLING", 4.0, 3),
    ("GROCERY / BAKING NEEDS - FLOUR, SUGAR, MIXES & OILS", 3.0, 2),
    ("GROCERY / PEANUT BUTTER, JELLY, JAMS & HONEY SPREADS", 3.0, 2),
    ("GROCERY / RICE, DRY BEANS & SHELF STABLE SIDE DISHES", 2.0, 2),
    ("GROCERY / DOG FOODS - DRY, WET & TREATS ALL SIZES BAGS", 9.0, 1.5),
    ("GROCERY / CAT FOOD - DRY KIBBLE, WET CANS & CAT LITTER", 6.0, 1.5),
    ("GROCERY / BEERS/ALES - DOMESTIC 6PK, 12PK & CASES", 9.0, 2),
    ("GROCERY / WINE - RED, WHITE & SPARKLING TABLE WINES 750ML", 9.0, 1),
    ("DRUG GM / PAPER TOWELS, BATH TISSUE & FACIAL TISSUE", 6.0, 3),
    ("DRUG GM / LAUNDRY DETERGENTS, SOFTENERS & STAIN REMOVERS", 7.0, 2),
    ("DRUG GM / HOUSEHOLD CLEANING NEEDS & DISH DETERGENTS", 3.5, 2),
    ("DRUG GM / ORAL HYGIENE - TOOTHPASTE, BRUSHES & RINSES", 3.5, 1.5),
    ("DRUG GM / HAIR CARE - SHAMPOO, CONDITIONER & STYLING", 4.5, 1.5),
    ("DRUG GM / COLD AND FLU, PAIN RELIEF & ALLERGY REMEDIES", 7.0, 1),
    ("KIOSK-GAS / COUPON/MISC ITEMS - FUEL, LOTTERY & SERVICES", 25.0, 1),
)

GROCERY = Domain(
    name="grocery",
    categories=tuple(name for name, _, _ in _GROCERY),
    fresh_categories=10,
    base_price=np.array([price for _, price, _ in _GROCERY]),
    business_types=("household",),
    type_share=np.array([1.0]),
    type_category_weights=np.array([[weight for _, _, weight in _GROCERY]]),
    type_tier_weights=np.array([[3.0, 5.0, 2.0]]),
    type_basket=np.array([9.0]),
    type_qty_log=np.array([0.2]),
    type_business_share=np.array([0.0]),
    type_interval_days=np.array([7.0]),
    weekday_factor=np.array([[0.85, 0.80, 0.85, 0.90, 1.10, 1.40, 1.10]]),
    own_brand_share=np.zeros(4),
    assumed_margin=0.30,
    absurd_share=1e-3,
    absurd_quantity=(500, 90_000),
    # Households redeem across categories (17 % of a real panel's redeemed coupons were
    # in a category not bought in 90 days) and mostly what they already buy or what
    # appeals to everyone: a product-level signal a model must find.
    affinity_weight=0.15,
    repeat_bonus=1.0,
    appeal_weight=1.35,
)

DOMAINS: dict[str, Domain] = {d.name: d for d in (WHOLESALE, GROCERY)}
