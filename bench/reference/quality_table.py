"""Prints the quality table of docs/algorithms.md from the quality test's output:

    cargo test -p pgml-core --release quality_matches -- --nocapture | python3 bench/reference/quality_table.py

Each cell is ours / the reference (ratio), the ratio left out where the reference is near zero.
"""
import re, sys

COLUMNS = [("iris", "iris F1"), ("breast_cancer", "breast_cancer F1"), ("digits", "digits F1"),
           ("wine", "wine F1"), ("diabetes", "diabetes r2")]
LINE = re.compile(r"^(\w+)\s+(\w+)\s+(-?[\d.]+) \(reference (-?[\d.]+), ratio")
cells, order = {}, []
for line in sys.stdin:
    m = LINE.match(line.strip())
    if not m:
        continue
    dataset, algorithm, ours, reference = m.group(1), m.group(2), float(m.group(3)), float(m.group(4))
    if algorithm not in order:
        order.append(algorithm)
    ratio = "–" if abs(reference) < 0.05 else f"{ours / reference:.2f}"
    cells[(algorithm, dataset)] = f"{ours:.3f} / {reference:.3f} ({ratio})"
print("| algorithm | " + " | ".join(title for _, title in COLUMNS) + " |")
print("|---" * (len(COLUMNS) + 1) + "|")
for algorithm in order:
    print(f"| `{algorithm}` | " + " | ".join(cells.get((algorithm, d), "") for d, _ in COLUMNS) + " |")
