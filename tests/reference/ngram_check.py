"""scikit-learn's CountVectorizer and TfidfVectorizer on the bundled SMS messages, for Extract N-Gram
Features to be compared with: prints one JSON object with the vocabulary and, for the rows asked for, the
non-zero values of each weighting ({"count": {row: {ngram: value}}, "tfidf": {...}}).

Usage: python ngram_check.py SMS_CSV MIN_N MAX_N MIN_DF ROW...
"""

import json
import sys

import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

path, min_n, max_n, min_df = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = [int(r) for r in sys.argv[5:]]
texts = pd.read_csv(path, keep_default_na=False)["message"].tolist()
out = {}
for name, vectorizer in [
    ("count", CountVectorizer(ngram_range=(min_n, max_n), min_df=min_df)),
    ("tfidf", TfidfVectorizer(ngram_range=(min_n, max_n), min_df=min_df)),
]:
    matrix = vectorizer.fit_transform(texts).tocsr()
    vocabulary = vectorizer.get_feature_names_out().tolist()
    out["vocabulary"] = vocabulary
    out[name] = {
        str(r): {vocabulary[j]: float(v) for j, v in zip(matrix[r].indices, matrix[r].data)} for r in rows
    }
print(json.dumps(out))
