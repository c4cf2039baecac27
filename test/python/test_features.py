import numpy as np
import pandas as pd
import pytest

from src.california_housing import FEATURE_COLUMNS
from src.california_housing.features import ENGINEERED_COLUMNS, FeatureError, build_features


def test_build_features_adds_engineered_columns_in_order(frame):
    out = build_features(frame)
    assert list(out.columns) == [*FEATURE_COLUMNS, *ENGINEERED_COLUMNS]
    assert (out.dtypes == "float64").all()
    row = frame.iloc[0]
    assert out["BedroomRatio"].iloc[0] == pytest.approx(row["AveBedrms"] / row["AveRooms"])
    assert out["Households"].iloc[0] == pytest.approx(row["Population"] / row["AveOccup"])
    assert out["LogPopulation"].iloc[0] == pytest.approx(np.log1p(row["Population"]))


def test_build_features_ignores_extra_columns_and_reorders(frame):
    shuffled = frame[list(reversed(frame.columns))].assign(extra=1)
    assert list(build_features(shuffled).columns[:8]) == list(FEATURE_COLUMNS)


def test_zero_denominators_become_nan_not_inf(frame):
    bad = frame.head(1).copy()
    bad[["AveRooms", "AveOccup"]] = 0.0
    out = build_features(bad)
    assert np.isnan(out["BedroomRatio"].iloc[0]) and np.isnan(out["RoomsPerPerson"].iloc[0])
    assert not np.isinf(out.to_numpy()).any()


def test_missing_feature_is_named(frame):
    with pytest.raises(FeatureError, match="missing feature column\\(s\\) Latitude"):
        build_features(frame.drop(columns=["Latitude"]))


def test_non_numeric_feature_is_named(frame):
    bad = frame.head(3).astype({"HouseAge": "object"})
    bad.loc[bad.index[0], "HouseAge"] = "old"
    with pytest.raises(FeatureError, match="HouseAge"):
        build_features(pd.DataFrame(bad))
