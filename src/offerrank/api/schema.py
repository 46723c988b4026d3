"""The API's response shapes, for its OpenAPI document (/docs, /openapi.json).

Responses are built as plain dicts and encoded by orjson without a validation pass (it
costs more than the query); tests check that real responses match these models.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Reason(BaseModel):
    code: str = Field(description="stable reason code (docs/reasons.md)")
    text: str = Field(description="the sentence a customer reads")


class Offer(BaseModel):
    rank: int = Field(description="1 = best")
    offer_id: int
    score: float = Field(description="calibrated redemption probability")
    product_id: int | None = None
    category: str | None = None
    discount_pct: float | None = Field(None, description="0.3 = 30 % off")
    valid_from: str | None = Field(None, description="first day of the offer (YYYY-MM-DD)")
    valid_to: str | None = Field(None, description="last day of the offer (YYYY-MM-DD)")
    list_price: float | None = None
    offer_price: float | None = Field(None, description="list price after the discount")
    price_tier: int | None = Field(None, description="1 entry, 2 standard, 3 premium")
    own_brand: bool | None = None
    label: str | None = Field(None, description="the offer in one line")
    reasons: list[Reason] = Field(description="one to three, strongest first")


class CustomerOffers(BaseModel):
    customer_id: int
    run_date: str
    run_id: str | None = Field(description="the run that wrote this list")
    model_version: str
    offers: list[Offer]


class Step(BaseModel):
    step: str
    status: str = Field(description="running, success, skipped, failed or interrupted")
    seconds: float | None
    started_at: str | None
    finished_at: str | None
    detail: str | None


class Run(BaseModel):
    run_date: str
    run_id: str
    status: str = Field(description="success, or the first of failed, interrupted, running")
    complete: bool = Field(description="every step succeeded or was skipped")
    model_version: str | None
    steps: list[Step]
    metrics: dict[str, float] = Field(description="headline metrics of the run")


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str = Field(description="ready or not ready")
    run_date: str | None = None
    run_id: str | None = None
    reason: str | None = None


class Error(BaseModel):
    status: int
    error: str = Field(description="one line saying what is wrong")
