"""Synthetic California-housing-shaped CSV for tests (no download: the real data set is not fetched).

Columns and value ranges follow sklearn's California housing data; the target is a noisy,
deterministic function of the features so a model can learn it (R^2 well above 0).

    python make_synthetic_data.py --rows 500 --seed 7 --out data.csv   # or '-' for stdout
"""

import argparse
import sys

import numpy as np
import pandas as pd

COLUMNS = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude", "MedHouseVal"]


def make_frame(rows: int = 500, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    med_inc = np.clip(rng.lognormal(mean=1.25, sigma=0.45, size=rows), 0.5, 15.0)
    house_age = rng.integers(1, 53, size=rows).astype("float64")
    ave_rooms = np.clip(rng.normal(5.3, 1.2, size=rows) + 0.25 * (med_inc - 3.8), 1.5, 12.0)
    ave_bedrms = np.clip(ave_rooms * rng.normal(0.2, 0.03, size=rows), 0.5, 4.0)
    population = np.clip(rng.lognormal(mean=7.0, sigma=0.7, size=rows), 3.0, 35000.0).round()
    ave_occup = np.clip(rng.lognormal(mean=1.05, sigma=0.25, size=rows), 1.0, 8.0)
    latitude = rng.uniform(32.5, 42.0, size=rows)
    longitude = np.clip(-124.3 + (42.0 - latitude) * 0.85 + rng.normal(0, 0.6, size=rows), -124.35, -114.3)
    coast = np.exp(-np.abs(longitude + 122.0 - (37.5 - latitude) * 0.8) / 1.5)
    value = (
        0.45 * med_inc
        + 0.9 * coast
        + 0.006 * house_age
        - 0.08 * (ave_occup - 3.0)
        + 0.03 * (ave_rooms - 5.0)
        + rng.normal(0.0, 0.25, size=rows)
    )
    med_house_val = np.clip(value, 0.15, 5.00001)
    frame = pd.DataFrame(
        {
            "MedInc": med_inc.round(4),
            "HouseAge": house_age,
            "AveRooms": ave_rooms.round(5),
            "AveBedrms": ave_bedrms.round(5),
            "Population": population,
            "AveOccup": ave_occup.round(5),
            "Latitude": latitude.round(2),
            "Longitude": longitude.round(2),
            "MedHouseVal": med_house_val.round(5),
        }
    )
    return frame[COLUMNS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="-", help="output CSV path, '-' for stdout")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be >= 1")
    frame = make_frame(args.rows, args.seed)
    frame.to_csv(sys.stdout if args.out == "-" else args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
