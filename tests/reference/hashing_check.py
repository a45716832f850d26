"""scikit-learn's HashingVectorizer on the bundled SMS messages, for Feature Hashing to be compared with:
prints one JSON object {row: {column index: value}} of the non-zero values of the rows asked for.

Usage: python hashing_check.py SMS_CSV BITS MIN_N MAX_N ROW...
"""

import json
import sys

import pandas as pd
from sklearn.feature_extraction.text import HashingVectorizer

path, bits, min_n, max_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [int(r) for r in sys.argv[5:]]
texts = pd.read_csv(path, keep_default_na=False)["message"].tolist()
matrix = HashingVectorizer(n_features=2**bits, ngram_range=(min_n, max_n)).transform(texts).tocsr()
print(json.dumps({str(r): {str(j): float(v) for j, v in zip(matrix[r].indices, matrix[r].data)} for r in rows}))
