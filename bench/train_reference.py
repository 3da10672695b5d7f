"""The Python side of bench/train.sh: generates the synthetic datasets (once, seeded) and
times scikit-learn / XGBoost fitting them with the same split sizes and hyperparameters.

  python train_reference.py generate DIR ROWS COLS   -> DIR/classification.csv, DIR/regression.csv
  python train_reference.py fit CSV TASK ALGORITHM HYPERPARAMS_JSON [RUNS]
      -> "median seconds of RUNS fits, metric, peak memory growth in MB"
"""
import json
import sys
import time

import numpy as np


def generate(directory, rows, cols):
    from sklearn.datasets import make_classification, make_regression
    x, y = make_classification(n_samples=rows, n_features=cols, n_informative=cols // 2, random_state=0)
    write(f"{directory}/classification.csv", x, y, cols)
    x, y = make_regression(n_samples=rows, n_features=cols, n_informative=cols // 2, noise=10.0, random_state=0)
    write(f"{directory}/regression.csv", x, y, cols)


def write(path, x, y, cols):
    header = ",".join([f"f{i}" for i in range(1, cols + 1)] + ["label"])
    np.savetxt(path, np.column_stack([x, y]).astype(np.float32), delimiter=",", header=header, comments="", fmt="%.7g")


def peak_kb():
    """The process's peak resident size (VmHWM), in kB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def fit(path, task, algorithm, hyperparams, runs="1"):
    """Prints the fit's seconds, its test metric and its peak memory growth in MB. As for
    pgml.train, the library is imported and has trained once on 2,000 rows before the clock
    starts, and the peak is reset then (an import alone took 23-63 ms here)."""
    from sklearn.metrics import f1_score, r2_score
    from sklearn.model_selection import train_test_split
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = data[:, :-1], data[:, -1]
    hp = json.loads(hyperparams)
    classification = task == "classification"
    if algorithm == "linear":
        from sklearn.linear_model import LinearRegression, LogisticRegression
        make = lambda: LogisticRegression(**hp) if classification else LinearRegression(**hp)
    elif algorithm == "xgboost":
        from xgboost import XGBClassifier, XGBRegressor
        make = lambda: XGBClassifier(**hp) if classification else XGBRegressor(**hp)
    elif algorithm == "lightgbm":
        from lightgbm import LGBMClassifier, LGBMRegressor
        make = lambda: LGBMClassifier(verbose=-1, **hp) if classification else LGBMRegressor(verbose=-1, **hp)
    elif algorithm == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
        make = lambda: RandomForestClassifier(**hp) if classification else RandomForestRegressor(**hp)
    else:
        raise SystemExit(f"no reference for {algorithm}")
    make().fit(x[:2000], y[:2000])
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    baseline = peak_kb()
    seconds = []
    for _ in range(int(runs)):
        started = time.perf_counter()
        xa, xb, ya, yb = train_test_split(x, y, test_size=0.25, random_state=42, stratify=y if classification else None)
        model = make()
        model.fit(xa, ya)
        predicted = model.predict(xb)
        metric = f1_score(yb, predicted, average="macro") if classification else r2_score(yb, predicted)
        seconds.append(time.perf_counter() - started)
        del xa, xb, ya, yb, model, predicted
    print(f"{sorted(seconds)[len(seconds) // 2]:.3f} {metric:.4f} {(peak_kb() - baseline) / 1024:.1f}")


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        fit(*sys.argv[2:])
