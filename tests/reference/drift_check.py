"""Evidently's default column drift for the cases a test writes: for each case, the test Evidently picks
(`get_stattest` with no method named), its score and decision, and PSI beside it. Used by
deploy/tests/drift_reference.rs to check Pipewright's drift statistics against Evidently (and through it, scipy).

    python drift_check.py CASES.json  →  JSON list on standard output
"""
import json
import sys

import pandas as pd
from evidently.legacy.calculations.stattests import get_stattest
from evidently.legacy.core import ColumnType

cases = json.load(open(sys.argv[1]))
results = []
for case in cases:
    kind = ColumnType.Numerical if case["kind"] == "numeric" else ColumnType.Categorical
    reference = pd.Series(case["reference"])
    current = pd.Series(case["current"])
    test = get_stattest(reference, current, kind, None)
    result = test(reference, current, kind, None)
    psi = get_stattest(reference, current, kind, "psi")(reference, current, kind, None)
    results.append(
        {
            "name": case["name"],
            "method": test.name,
            "score": float(result.drift_score),
            "drifted": bool(result.drifted),
            "psi": float(psi.drift_score),
        }
    )
print(json.dumps(results))
