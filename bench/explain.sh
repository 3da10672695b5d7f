#!/usr/bin/env bash
# What an explanation costs (issue 31), one thread, 20 features: TreeSHAP of XGBoost (100 trees
# of depth 6) and LightGBM (100 trees of 63 leaves), exact and approximate, and a linear model's;
# against XGBoost's own pred_contribs / approx_contribs on the same model and rows (Python's
# xgboost in .build/venv-portable, nthread 1). Then the global explanation a training stores
# against the training's time. Not a test: timings on a shared machine vary.
# Usage: make bench-explain
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
machine
venv_portable
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cargo run -q --release -p pgml-core --example explain_cost -- "$TMP" | tee "$TMP/ours.txt"
"$ROOT/.build/venv-portable/bin/python" - "$TMP" <<'PY' | tee "$TMP/peer.txt"
import sys, time
import numpy as np, xgboost as xgb
d = sys.argv[1]
rows = np.loadtxt(f"{d}/rows.csv", delimiter=",", dtype=np.float32)
booster = xgb.Booster()
booster.load_model(f"{d}/xgboost.ubj")
booster.set_param({"nthread": 1})
for name, kw in (("exact", {"pred_contribs": True}), ("approximate", {"pred_contribs": True, "approx_contribs": True})):
    one = xgb.DMatrix(rows[:1], feature_names=booster.feature_names)
    booster.predict(one, **kw)
    # XGBoost's best case: the whole batch in one call (its per-call cost left out)
    dm = xgb.DMatrix(rows, feature_names=booster.feature_names)
    best = min((lambda t: (booster.predict(dm, **kw), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))
    print(f"xgboost_library_{name} {best * 1e6 / len(rows):.2f}")
PY
us() { awk -v k="$1" '$1 == k {print $2}' "$TMP/ours.txt" "$TMP/peer.txt"; }
echo "== per explained row, one thread (lower is better)"
for m in exact approximate; do
  printf '   XGBoost %-11s ours %8s us, XGBoost'"'"'s own %8s us: %sx its time\n' "$m" "$(us xgboost_$m)" "$(us xgboost_library_$m)" \
    "$(ratio "$(us xgboost_$m)" "$(us xgboost_library_$m)")"
done
printf '   LightGBM exact %s us, approximate %s us; linear %s us\n' "$(us lightgbm_exact)" "$(us lightgbm_approximate)" "$(us linear_exact)"
