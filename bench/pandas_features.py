"""The 22 features for one as_of date, written the straightforward pandas way.

This is the baseline the SQL engine is measured against (bench/bench_features.py) and a
second, independent reading of spec/features.md: filter the window, group by, merge.
Input frames hold the contract tables with dates as datetime64 (day precision).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

PRIOR_WEIGHT = 20.0


def _window_lines(t: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp):
    orders = t["orders"]
    orders = orders[(orders["order_date"] >= start) & (orders["order_date"] < end)]
    lines = t["order_items"].merge(
        orders[["order_id", "customer_id", "order_date"]], on="order_id", how="inner"
    )
    lines = lines.merge(t["products"], on="product_id", how="left")
    lines["amount"] = lines["quantity"] * lines["unit_price"]
    lines["usual"] = (1.0 - lines["unit_price"] / lines["list_price"]).clip(lower=0.0)
    for tier in (1, 2, 3):
        lines[f"tier{tier}"] = (lines["price_tier"] == tier).astype(np.int64)
    return orders, lines


def _customer_features(orders: pd.DataFrame, lines: pd.DataFrame, end: pd.Timestamp):
    by_order = orders.groupby("customer_id").agg(
        n_orders=("order_id", "size"), n_business=("is_business", "sum"), last=("order_date", "max")
    )
    by_line = lines.groupby("customer_id").agg(
        n_lines=("order_id", "size"),
        n_promo=("is_promo", "sum"),
        quantity=("quantity", "sum"),
        monetary=("amount", "sum"),
        tier1=("tier1", "sum"),
        tier2=("tier2", "sum"),
        tier3=("tier3", "sum"),
        fresh=("is_fresh", "sum"),
        usual=("usual", "sum"),
    )
    c = by_order.join(by_line, how="left").fillna(0.0)
    n_lines = c["n_lines"].where(c["n_lines"] > 0)
    out = pd.DataFrame(index=c.index)
    out["recency_days"] = (end - c["last"]).dt.days.astype(float)
    out["frequency"] = c["n_orders"].astype(float)
    out["monetary"] = c["monetary"]
    out["promo_affinity"] = c["n_promo"] / n_lines
    out["avg_basket_size"] = c["n_lines"] / c["n_orders"]
    out["avg_basket_quantity"] = c["quantity"] / c["n_orders"]
    for tier in (1, 2, 3):
        out[f"tier{tier}_ratio"] = c[f"tier{tier}"] / n_lines
    out["fresh_category_ratio"] = c["fresh"] / n_lines
    out["business_order_ratio"] = c["n_business"] / c["n_orders"]
    out["usual_discount"] = c["usual"] / n_lines
    out["n_lines"] = c["n_lines"]
    counts = lines.groupby(["customer_id", "category"]).size().rename("n").reset_index()
    counts["p"] = counts["n"] / counts.groupby("customer_id")["n"].transform("sum")
    counts["h"] = -counts["p"] * np.log(counts["p"])
    out["category_entropy"] = counts.groupby("customer_id")["h"].sum()
    return out.fillna(0.0).reset_index()


def _redemption_rate(t: dict[str, pd.DataFrame], end: pd.Timestamp, label_window: int):
    imp = t["impressions"][["impression_id", "customer_id", "offer_id", "shown_date"]]
    limit = pd.Timedelta(days=label_window)
    imp = imp[imp["shown_date"] + limit < end]
    hits = imp.merge(t["redemptions"], on=["customer_id", "offer_id"])
    hits = hits[
        (hits["redeemed_date"] >= hits["shown_date"])
        & (hits["redeemed_date"] <= hits["shown_date"] + limit)
    ]
    imp = imp.assign(label=imp["impression_id"].isin(hits["impression_id"]).astype(float))
    imp = imp.merge(t["offers"][["offer_id", "product_id"]], on="offer_id")
    g = imp["label"].mean() if len(imp) else 0.0
    per = imp.groupby("product_id")["label"].agg(["sum", "size"])
    rate = (per["sum"] + PRIOR_WEIGHT * g) / (per["size"] + PRIOR_WEIGHT)
    return rate.rename("historical_redemption_rate").reset_index(), g


def pandas_features(
    t: dict[str, pd.DataFrame],
    pairs: pd.DataFrame,
    as_of: date,
    *,
    lookback_days: int = 90,
    label_window_days: int = 7,
) -> pd.DataFrame:
    """Features of `pairs` (customer_id, offer_id), all as of the same date, in input order."""
    end = pd.Timestamp(as_of)
    none = float(lookback_days + 1)
    orders, lines = _window_lines(t, end - pd.Timedelta(days=lookback_days), end)
    cust = _customer_features(orders, lines, end)
    cat = lines.groupby(["customer_id", "category"]).agg(
        cat_lines=("order_id", "size"), cat_last=("order_date", "max")
    )
    prod = lines.groupby(["customer_id", "product_id"]).size().rename("prod_lines")
    rate, g = _redemption_rate(t, end, label_window_days)
    offers = t["offers"].merge(t["products"], on="product_id", how="left")
    df = pairs[["customer_id", "offer_id"]].merge(offers, on="offer_id", how="left")
    df = df.merge(t["customers"][["customer_id", "business_type"]], on="customer_id", how="left")
    df = df.merge(cust, on="customer_id", how="left")
    df = df.merge(cat.reset_index(), on=["customer_id", "category"], how="left")
    df = df.merge(prod.reset_index(), on=["customer_id", "product_id"], how="left")
    df = df.merge(rate, on="product_id", how="left")
    out = df[["customer_id", "offer_id"]].copy()
    out["recency_days"] = df["recency_days"].fillna(none)
    for name in (
        "frequency",
        "monetary",
        "promo_affinity",
        "avg_basket_size",
        "avg_basket_quantity",
    ):
        out[name] = df[name].fillna(0.0)
    out["tier2_purchase_ratio"] = df["tier2_ratio"].fillna(0.0)
    out["tier3_purchase_ratio"] = df["tier3_ratio"].fillna(0.0)
    out["fresh_category_ratio"] = df["fresh_category_ratio"].fillna(0.0)
    out["business_order_ratio"] = df["business_order_ratio"].fillna(0.0)
    out["category_entropy"] = df["category_entropy"].fillna(0.0)
    out["discount_depth"] = df["discount_pct"]
    out["margin_impact"] = (df["list_price"] * (1.0 - df["discount_pct"]) - df["unit_cost"]) / df[
        "list_price"
    ]
    out["days_until_expiry"] = (df["end_date"] - end).dt.days.astype(float)
    out["historical_redemption_rate"] = df["historical_redemption_rate"].fillna(g)
    out["is_own_brand"] = df["is_own_brand"].astype(float)
    out["bought_product_before"] = (df["prod_lines"].fillna(0) > 0).astype(float)
    out["days_since_last_cat_purchase"] = (end - df["cat_last"]).dt.days.fillna(none)
    out["category_affinity_score"] = (df["cat_lines"] / df["n_lines"]).fillna(0.0)
    out["discount_depth_vs_usual"] = df["discount_pct"] - df["usual_discount"].fillna(0.0)
    tier = df["price_tier"]
    ratios = [df["tier1_ratio"], df["tier2_ratio"], df["tier3_ratio"]]
    match = np.select([tier == 1, tier == 2, tier == 3], ratios, default=0.0)
    out["price_sensitivity_match"] = pd.Series(match, index=df.index).fillna(0.0)
    target = df["target_business_type"]
    out["business_type_match"] = (target.isna() | (target == df["business_type"])).astype(float)
    return out
