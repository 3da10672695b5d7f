"""Reference figures for pgml-rs's quality tests, computed with scikit-learn, XGBoost and LightGBM.

Run: python bench/reference/reference.py  (in a virtual environment with scikit-learn and
xgboost; `make reference` creates one). Prints, per dataset and algorithm, the mean test
metric over 10 stratified 75/25 splits (seeds 0..9) with default settings — the same
protocol as pgml.train's defaults (test_size 0.25, stratified for classification). Each
split's training and test rows, in scikit-learn's order, are written to
bench/reference/splits.txt, and the quality test trains and scores on exactly those rows. The figures are recorded in crates/core/src/algorithms/testdata.rs.
"""
import csv, os, pathlib, statistics, sys, warnings
import numpy as np
from sklearn.cluster import AffinityPropagation, Birch, KMeans, MeanShift, MiniBatchKMeans
from sklearn.ensemble import (AdaBoostClassifier, AdaBoostRegressor, BaggingClassifier, BaggingRegressor, ExtraTreesClassifier, ExtraTreesRegressor,
                              GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBoostingClassifier,
                              HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import (ARDRegression, BayesianRidge, ElasticNet, HuberRegressor, Lars, Lasso, LassoLars,
                                  LinearRegression, LogisticRegression, OrthogonalMatchingPursuit,
                                  PassiveAggressiveClassifier, PassiveAggressiveRegressor, Perceptron, QuantileRegressor,
                                  RANSACRegressor,
                                  TheilSenRegressor,
                                  Ridge, RidgeClassifier, SGDClassifier, SGDRegressor)
from sklearn.gaussian_process import GaussianProcessClassifier, GaussianProcessRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, NuSVC, NuSVR
from sklearn.metrics import f1_score, r2_score, silhouette_score
from sklearn.model_selection import train_test_split
from lightgbm import LGBMClassifier, LGBMRegressor
from xgboost import XGBClassifier, XGBRegressor, XGBRFClassifier, XGBRFRegressor

warnings.filterwarnings("ignore")
DATA = pathlib.Path(__file__).resolve().parents[2] / "datasets"

def load(name, label):
    rows = list(csv.DictReader(open(DATA / f"{name}.csv")))
    y = np.array([1.0 if r[label] == "t" else 0.0 if r[label] == "f" else float(r[label]) for r in rows])
    if name == "digits":
        x = np.array([[float(v) for v in r["image"].replace("{", "").replace("}", "").split(",")] for r in rows])
    else:
        x = np.array([[float(v) for k, v in r.items() if k != label] for r in rows])
    return x, y

CLS = {"linear": lambda s: LogisticRegression(), "random_forest": lambda s: RandomForestClassifier(random_state=s),
       "xgboost": lambda s: XGBClassifier(random_state=s), "ridge": lambda s: RidgeClassifier(),
       "extra_trees": lambda s: ExtraTreesClassifier(random_state=s), "bagging": lambda s: BaggingClassifier(random_state=s),
       "xgboost_random_forest": lambda s: XGBRFClassifier(random_state=s),
       "gradient_boosting_trees": lambda s: GradientBoostingClassifier(random_state=s),
       "lightgbm": lambda s: LGBMClassifier(random_state=s, verbose=-1),
       "hist_gradient_boosting": lambda s: HistGradientBoostingClassifier(random_state=s),
       "stochastic_gradient_descent": lambda s: SGDClassifier(random_state=s),
       "perceptron": lambda s: Perceptron(random_state=s),
       "passive_aggressive": lambda s: PassiveAggressiveClassifier(random_state=s),
       "linear_svm": lambda s: LinearSVC(random_state=s), "svm": lambda s: SVC(), "nu_svm": lambda s: NuSVC(),
       "ada_boost": lambda s: AdaBoostClassifier(random_state=s),
       "gaussian_process": lambda s: GaussianProcessClassifier(random_state=s)}
REG = {"linear": lambda s: LinearRegression(), "random_forest": lambda s: RandomForestRegressor(random_state=s),
       "xgboost": lambda s: XGBRegressor(random_state=s), "ridge": lambda s: Ridge(), "lasso": lambda s: Lasso(),
       "elastic_net": lambda s: ElasticNet(), "extra_trees": lambda s: ExtraTreesRegressor(random_state=s),
       "bagging": lambda s: BaggingRegressor(random_state=s),
       "xgboost_random_forest": lambda s: XGBRFRegressor(random_state=s),
       "gradient_boosting_trees": lambda s: GradientBoostingRegressor(random_state=s),
       "lightgbm": lambda s: LGBMRegressor(random_state=s, verbose=-1),
       "hist_gradient_boosting": lambda s: HistGradientBoostingRegressor(random_state=s),
       "least_angle": lambda s: Lars(), "lasso_least_angle": lambda s: LassoLars(),
       "orthogonal_matching_pursuit": lambda s: OrthogonalMatchingPursuit(), "bayesian_ridge": lambda s: BayesianRidge(),
       "automatic_relevance_determination": lambda s: ARDRegression(), "huber": lambda s: HuberRegressor(),
       "ransac": lambda s: RANSACRegressor(random_state=s), "theil_sen": lambda s: TheilSenRegressor(random_state=s),
       "quantile": lambda s: QuantileRegressor(),
       "stochastic_gradient_descent": lambda s: SGDRegressor(random_state=s),
       "passive_aggressive": lambda s: PassiveAggressiveRegressor(random_state=s),
       "linear_svm": lambda s: LinearSVR(random_state=s), "svm": lambda s: SVR(), "nu_svm": lambda s: NuSVR(),
       "kernel_ridge": lambda s: KernelRidge(), "ada_boost": lambda s: AdaBoostRegressor(random_state=s),
       "gaussian_process": lambda s: GaussianProcessRegressor(random_state=s)}

DATASETS = [("iris", "target", "c"), ("breast_cancer", "malignant", "c"), ("digits", "target", "c"),
            ("wine", "target", "c"), ("diabetes", "target", "r")]
# The training and test rows of every split, in scikit-learn's order: the quality test trains
# pgml-rs on exactly these rows (bench/reference/splits.txt; `reference.py splits` writes only them).
SPLITS = pathlib.Path(__file__).resolve().parent / "splits.txt"
with open(SPLITS, "w") as out:
    out.write("# dataset seed training-rows... | test-rows... in the order train_test_split(test_size=0.25,\n"
              "# random_state=seed, stratify=y for classification) gives them\n")
    def write(name, seed, train, test):
        out.write(f"{name} {seed} {' '.join(map(str, train))} | {' '.join(map(str, test))}\n")
    for name, label, task in DATASETS:
        _, y = load(name, label)
        for seed in range(10):
            write(name, seed, *train_test_split(np.arange(len(y)), test_size=0.25, random_state=seed,
                                                stratify=y if task == "c" else None))
    # the clusterings' splits of iris, below: not stratified
    for seed in range(10):
        write("iris-unstratified", seed, *train_test_split(np.arange(150), test_size=0.25, random_state=seed))
if sys.argv[1:] == ["splits"]:
    sys.exit(0)

# Every constructor parameter of the estimators the algorithms mirror (scikit-learn's, and
# XGBoost's and LightGBM's scikit-learn wrappers'), with its default where JSON can say it: pgml-rs accepts each at its default (a test in
# crates/core/src/algorithms/python_params.rs). `reference.py params` writes only these.
PARAMS = pathlib.Path(__file__).resolve().parent / "sklearn_params.json"
def json_default(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, float, np.integer, np.floating)) and np.isfinite(v):
        return v.item() if hasattr(v, "item") else v
    raise ValueError
def constructor_params(est):
    out = {}
    for k, v in est.get_params(deep=False).items():
        try:
            out[k] = json_default(v)
        except ValueError:
            pass
    return out
CLUSTERING = {"kmeans": KMeans, "mini_batch_kmeans": MiniBatchKMeans, "mean_shift": MeanShift,
              "affinity_propagation": AffinityPropagation, "birch": Birch}
from sklearn.cluster import DBSCAN
from sklearn.decomposition import PCA
import json
table = {}
for task, named in (("classification", CLS), ("regression", REG)):
    for algo, make in named.items():
        table[f"{task} {algo}"] = constructor_params(make(0))
for algo, cls in {**CLUSTERING, "dbscan": DBSCAN}.items():
    table[f"clustering {algo}"] = constructor_params(cls())
table["decomposition pca"] = constructor_params(PCA())
PARAMS.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
if sys.argv[1:] == ["params"]:
    sys.exit(0)

ONLY = set(os.environ.get("ONLY", "").split())
for name, label, task in DATASETS:
    x, y = load(name, label)
    for algo, make in (CLS if task == "c" else REG).items():
        if ONLY and algo not in ONLY:
            continue
        if name == "digits" and algo == "gaussian_process":
            continue  # ten one-vs-rest Laplace fits on 1,347 rows: minutes, and no new information
        scores = []
        for seed in range(10):
            xa, xb, ya, yb = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y if task == "c" else None)
            m = make(seed).fit(xa, ya)
            scores.append(f1_score(yb, m.predict(xb), average="macro") if task == "c" else r2_score(yb, m.predict(xb)))
        print(f"{name:14} {algo:24} {'f1' if task == 'c' else 'r2'} {statistics.mean(scores):.4f}")
x, y = load("iris", "target")
sil = [silhouette_score(xb, KMeans(3, random_state=s).fit(xa).predict(xb)) for s in range(10)
       for xa, xb in [train_test_split(x, test_size=0.25, random_state=s)[:2]]]
print(f"{'iris':14} {'kmeans(k=3)':14} silhouette {statistics.mean(sil):.4f}")
sil = [silhouette_score(xb, MiniBatchKMeans(3, batch_size=64, random_state=s).fit(xa).predict(xb)) for s in range(10)
       for xa, xb in [train_test_split(x, test_size=0.25, random_state=s)[:2]]]
print(f"{'iris':14} {'mini_batch(k=3)':14} silhouette {statistics.mean(sil):.4f}")
for label, make in [("mean_shift", lambda s: MeanShift()), ("affinity", lambda s: AffinityPropagation(random_state=s)),
                    ("birch", lambda s: Birch())]:
    sil = [silhouette_score(xb, labels) if len(set(labels)) > 1 else 0.0 for s in range(10)
           for xa, xb in [train_test_split(x, test_size=0.25, random_state=s)[:2]]
           for labels in [make(s).fit(xa).predict(xb)]]
    print(f"{'iris':14} {label:24} silhouette {statistics.mean(sil):.4f}")
