"""Checks Extract Date Parts against pandas: reads the input CSV (column `at`, ISO 8601 text) and the
block's output CSV, computes each part with pandas' .dt accessors, and prints one JSON line: the number of
rows compared and the mismatches (at most 10).

Usage: python date_parts_check.py INPUT.csv OUTPUT.csv REFERENCE_DATE
"""

import json
import sys

import pandas as pd

source, produced, reference = sys.argv[1], sys.argv[2], sys.argv[3]
def utc(text):
    # One value at a time: a column mixing naive times and offsets is read inconsistently as a whole.
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


at = pd.Series([utc(text) for text in pd.read_csv(source)["at"]])
ours = pd.read_csv(produced)
expected = {
    "at_year": at.dt.year,
    "at_month": at.dt.month,
    "at_day": at.dt.day,
    "at_weekday": at.dt.dayofweek,
    "at_hour": at.dt.hour,
    "at_day_of_year": at.dt.dayofyear,
    "at_is_weekend": at.dt.dayofweek >= 5,
    "at_elapsed_days": (at - pd.Timestamp(reference, tz="UTC")) / pd.Timedelta(days=1),
}
mismatches = []
for column, values in expected.items():
    for row, (want, got) in enumerate(zip(values, ours[column])):
        same = abs(float(want) - float(got)) < 1e-9 if column == "at_elapsed_days" else str(want).lower() == str(got).lower()
        if not same and len(mismatches) < 10:
            mismatches.append(f"{column} row {row}: pandas {want}, ours {got}")
print(json.dumps({"rows": len(ours), "mismatches": mismatches}))
