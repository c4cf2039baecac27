"""Feature engineering shared by training and inference (the reason ``src/`` ships with the model)."""

import numpy as np
import pandas as pd

from src.california_housing import FEATURE_COLUMNS

ENGINEERED_COLUMNS: tuple[str, ...] = (
    "BedroomRatio",
    "RoomsPerPerson",
    "Households",
    "LogPopulation",
)


class FeatureError(ValueError):
    """The input frame cannot be turned into model features."""


def validate_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the raw feature columns as float64, in canonical order; raise FeatureError otherwise."""
    missing = [c for c in FEATURE_COLUMNS if c not in frame.columns]
    if missing:
        raise FeatureError(
            f"missing feature column(s) {', '.join(missing)}; expected {', '.join(FEATURE_COLUMNS)}"
        )
    raw = frame.loc[:, list(FEATURE_COLUMNS)]
    bad = [c for c in FEATURE_COLUMNS if not pd.api.types.is_numeric_dtype(raw[c])]
    if bad:
        raise FeatureError(f"non-numeric values in feature column(s) {', '.join(bad)}")
    return raw.astype("float64")


def _safe_ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    # Zero or missing denominators give NaN, which HistGradientBoostingRegressor handles natively.
    return (num / den.where(den != 0)).replace([np.inf, -np.inf], np.nan)


def build_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Raw California housing columns -> model matrix (raw columns plus engineered ones)."""
    raw = validate_features(frame)
    out = raw.copy()
    out["BedroomRatio"] = _safe_ratio(raw["AveBedrms"], raw["AveRooms"])
    out["RoomsPerPerson"] = _safe_ratio(raw["AveRooms"], raw["AveOccup"])
    out["Households"] = _safe_ratio(raw["Population"], raw["AveOccup"])
    out["LogPopulation"] = np.log1p(raw["Population"].clip(lower=0))
    return out
