"""The base of every spec section: frozen, and unknown fields refused (``extra="forbid"``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
