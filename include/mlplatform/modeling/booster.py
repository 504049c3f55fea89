"""The booster's storage format: XGBoost's UBJSON, loaded without pickle.

A leaf module (only xgboost, imported lazily) so the registry can load a booster without
importing the training code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import xgboost as xgb

BOOSTER_FORMAT = "ubj"


def load_booster(raw: bytes) -> xgb.Booster:
    """A booster from UBJSON bytes (XGBoost's own format, never pickle)."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster
