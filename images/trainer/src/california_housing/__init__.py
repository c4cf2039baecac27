"""California housing price regression: data loading, feature engineering, model wrapper."""

FEATURE_COLUMNS: tuple[str, ...] = (
    "MedInc",
    "HouseAge",
    "AveRooms",
    "AveBedrms",
    "Population",
    "AveOccup",
    "Latitude",
    "Longitude",
)
TARGET_COLUMN = "MedHouseVal"
