import pytest

import train

BASE = {"MLFLOW_TRACKING_URI": "http://mlflow:5000", "DATASET_S3_PATH": "s3://data/h.csv"}


def test_defaults():
    cfg = train.parse_config([], dict(BASE))
    assert cfg.experiment_name == "california_housing_price"
    assert cfg.registered_model_name == "CaliforniaHousingRegressor"
    assert cfg.test_size == 0.2
    assert cfg.dvc_remote is None and cfg.dvc_dataset_hash is None and cfg.training_profile is None


def test_env_values_and_flag_override():
    env = {
        **BASE,
        "MAX_DEPTH": "8",
        "LEARNING_RATE": "0.05",
        "MAX_ITER": "300",
        "RANDOM_STATE": "1",
        "TEST_SIZE": "0.3",
        "TRAINING_PROFILE": "nightly",
        "DVC_REMOTE": "s3://dvc/store",
        "DVC_DATASET_HASH": "D41D8CD98F00B204E9800998ECF8427E",
    }
    cfg = train.parse_config(["--max-depth", "none", "--learning-rate", "0.2", "--tracking-uri", "http://x"], env)
    assert (cfg.max_depth, cfg.learning_rate, cfg.max_iter, cfg.random_state, cfg.test_size) == (None, 0.2, 300, 1, 0.3)
    assert cfg.tracking_uri == "http://x" and cfg.training_profile == "nightly" and cfg.dvc_remote == "s3://dvc/store"
    assert cfg.dvc_dataset_hash == "d41d8cd98f00b204e9800998ecf8427e"


@pytest.mark.parametrize(
    "env,message",
    [
        ({"MAX_DEPTH": "abc"}, "MAX_DEPTH='abc'"),
        ({"MAX_DEPTH": "0"}, "MAX_DEPTH='0'"),
        ({"LEARNING_RATE": "fast"}, "LEARNING_RATE='fast' is not a number"),
        ({"LEARNING_RATE": "0"}, "LEARNING_RATE='0' must be > 0"),
        ({"LEARNING_RATE": "nan"}, "LEARNING_RATE='nan'"),
        ({"MAX_ITER": "1.5"}, "MAX_ITER='1.5' is not an integer"),
        ({"RANDOM_STATE": "-1"}, "RANDOM_STATE='-1' must be >= 0"),
        ({"TEST_SIZE": "1"}, "TEST_SIZE='1' must be between"),
        ({"DVC_DATASET_HASH": "xyz"}, "DVC_DATASET_HASH='xyz'"),
        ({"REGISTERED_MODEL_NAME": "a/b"}, "REGISTERED_MODEL_NAME='a/b'"),
        ({"DATASET_S3_PATH": "/tmp/x.csv"}, "DATASET_S3_PATH='/tmp/x.csv'"),
        ({"DATASET_S3_PATH": ""}, "DATASET_S3_PATH is not set"),
        ({"MLFLOW_TRACKING_URI": ""}, "MLFLOW_TRACKING_URI is not set"),
    ],
)
def test_invalid_values_name_the_variable(env, message):
    with pytest.raises(train.ConfigError, match=message):
        train.parse_config([], {**BASE, **env})


def test_unknown_flag_is_a_config_error():
    with pytest.raises(train.ConfigError, match="unrecognized arguments: --nope"):
        train.parse_config(["--nope"], dict(BASE))
