"""Estimator, metrics and the MLflow pyfunc wrapper that applies the same preprocessing at inference."""

import math

import mlflow.pyfunc
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_squared_error, r2_score

from src.california_housing.features import build_features


def make_estimator(
    max_depth: int | None, learning_rate: float, max_iter: int, random_state: int
) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        max_depth=max_depth, learning_rate=learning_rate, max_iter=max_iter, random_state=random_state
    )


def fit(estimator: HistGradientBoostingRegressor, raw: pd.DataFrame, target: pd.Series) -> HistGradientBoostingRegressor:
    return estimator.fit(build_features(raw), target)


def regression_metrics(y_true, y_pred, prefix: str) -> dict[str, float]:
    return {
        f"{prefix}_rmse": math.sqrt(mean_squared_error(y_true, y_pred)),
        f"{prefix}_r2": float(r2_score(y_true, y_pred)),
    }


class CaliforniaHousingModel(mlflow.pyfunc.PythonModel):
    """Pyfunc model: raw feature columns in, median house value (100k USD units) out."""

    def __init__(self, estimator: HistGradientBoostingRegressor):
        self.estimator = estimator

    # `pd.DataFrame` hint: MLflow takes the schema from the logged signature (infer_signature), not from the hint.
    def predict(self, context, model_input: pd.DataFrame, params=None):  # noqa: ARG002 (pyfunc signature)
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return np.asarray(self.estimator.predict(build_features(frame)), dtype="float64")
