"""Shared fixtures: the trainer directory on sys.path, a synthetic dataset, and the CSV bytes."""

import sys
from pathlib import Path

import pytest

TRAINER_DIR = Path(__file__).resolve().parents[2] / "images" / "trainer"
if str(TRAINER_DIR) not in sys.path:
    sys.path.insert(0, str(TRAINER_DIR))

from make_synthetic_data import make_frame  # noqa: E402


@pytest.fixture(scope="session")
def frame():
    return make_frame(rows=200, seed=11)


@pytest.fixture(scope="session")
def csv_bytes(frame) -> bytes:
    return frame.to_csv(index=False).encode()
