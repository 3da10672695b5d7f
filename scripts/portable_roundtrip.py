"""Models in and out, against the Python libraries themselves (scripts/test-portable.sh).

1. Trained in Python (XGBoost and LightGBM; binary, multiclass, regression), saved as their own
   files, imported by pgml.import with the dataset as holdout: SQL predicts what Python does.
   Likewise scikit-learn pipelines converted by skl2onnx, and XGBoost and LightGBM models
   converted by onnxmltools: SQL predicts what ONNX Runtime does.
2. Trained here, exported by pgml.export, loaded by Python's xgboost / lightgbm: Python
   predicts what SQL does, and reads the feature names. Exported as ONNX (XGBoost, LightGBM,
   random forest, linear models with preprocessing): ONNX Runtime predicts what SQL does,
   the classes included.

Every dataset row is probed, plus one row per feature with that feature missing (NaN). Trees
must agree within 1e-6 (relative, or absolute near zero). Prints one line per model and the
largest difference; exits 1 on any disagreement.
"""

import base64
import subprocess
import sys

import lightgbm as lgb
import numpy as np
import onnxmltools
import onnxruntime

onnxruntime.set_default_logger_severity(3)
import xgboost as xgb
from onnxmltools.convert.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from skl2onnx import to_onnx

DB = sys.argv[1]
TOLERANCE = 1e-6
DATASETS = {
    "iris": ("target", "classification"),
    "breast_cancer": ("malignant", "classification"),
    "diabetes": ("target", "regression"),
}
failures = []


def sql(query, stdin=None):
    out = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", DB, "-c", "SET client_min_messages = warning", "-c", query],
        input=stdin, capture_output=True, text=True,
    )
    if out.returncode != 0:
        sys.exit(f"psql failed: {out.stderr}\n{query[:300]}")
    return out.stdout


def literal(name):
    return "'" + name.replace("'", "''") + "'"


def ident(name):
    return '"' + name.replace('"', '""') + '"'


def load(name):
    """The dataset's features, label and column names, read from the database in one order."""
    label, _ = DATASETS[name]
    sql(f"SELECT pgml.load_dataset({literal(name)})")
    cols = [c for c in sql(
        f"SELECT column_name FROM information_schema.columns WHERE table_schema = 'pgml' AND table_name = {literal(name)} "
        f"AND column_name <> {literal(label)} ORDER BY ordinal_position").splitlines()]
    rows = sql(f"SELECT array_to_string(ARRAY[{', '.join(ident(c) for c in cols)}]::real[], ' ') || ' ' || "
               f"CASE {ident(label)}::text WHEN 'true' THEN '1' WHEN 'false' THEN '0' ELSE {ident(label)}::text END "
               f"FROM pgml.{name} ORDER BY ctid").splitlines()
    data = np.array([[float(v) for v in r.split()] for r in rows], dtype=np.float32)
    return np.ascontiguousarray(data[:, :-1]), data[:, -1], cols


def probe(name, x):
    """The rows predicted on both sides: every row, then row j with feature j missing."""
    extra = []
    for j in range(x.shape[1]):
        row = x[j % len(x)].copy()
        row[j] = np.nan
        extra.append(row)
    rows = np.vstack([x, np.array(extra, dtype=np.float32)])
    table = f"probe_{name}"
    sql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int, f real[])")
    lines = "".join(f"{i}\t{{{','.join('NaN' if np.isnan(v) else repr(float(v)) for v in r)}}}\n" for i, r in enumerate(rows))
    sql(f"\\copy {table} FROM STDIN", stdin=lines)
    return rows, table


def sql_predictions(model, table, task):
    """What SQL predicts for every probe row: probabilities (classification) or values."""
    fn = "pgml.predict_proba" if task == "classification" else "pgml.predict"
    out = sql(f"SELECT array_to_string(ARRAY[{fn}({model}, f)]::real[], ' ') FROM {table} ORDER BY id")
    return np.array([[float(v) for v in line.replace("{", "").replace("}", "").split()] for line in out.splitlines()])


def compare(what, ours, theirs, tolerance=TOLERANCE):
    theirs = np.asarray(theirs, dtype=np.float64).reshape(len(ours), -1)
    if theirs.shape[1] == 1 and ours.shape[1] == 2:
        ours = ours[:, 1:]  # a binary model's P(class 1)
    if ours.shape != theirs.shape:
        failures.append(f"{what}: shapes {ours.shape} and {theirs.shape}")
        print(f"FAILED {what}: shapes {ours.shape} and {theirs.shape}")
        return
    diff = np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))
    # both missing (a linear model given NaN where nothing imputes it) agree; one alone does not
    diff = np.where(np.isnan(ours) & np.isnan(theirs), 0.0, np.where(np.isnan(diff), np.inf, diff))
    worst = float(diff.max())
    ok = worst <= tolerance
    print(f"{'ok' if ok else 'FAILED'} {what}: {len(ours)} rows, largest difference {worst:.2e}")
    if not ok:
        failures.append(what)


def import_file(project, raw, dataset, label):
    b64 = base64.b64encode(raw).decode()
    return sql(f"SELECT pgml.import({literal(project)}, NULL, decode({literal(b64)}, 'base64'), "
               f"relation_name => 'pgml.{dataset}', y_column_name => {literal(label)})").strip()


def export_file(model_id, fmt):
    return base64.b64decode(sql(f"SELECT encode(pgml.export({model_id}, {literal(fmt)}), 'base64')").replace("\n", ""))


def python_models(x, y, cols, task, classes):
    """(name, file bytes, predict(X)) of the Python-trained models of one dataset."""
    if task == "regression":
        xgb_params = [("reg:squarederror", {})]
        lgb_params = {"objective": "regression"}
    elif classes == 2:
        xgb_params = [("binary:logistic", {})]
        lgb_params = {"objective": "binary"}
    else:
        xgb_params = [("multi:softprob", {"num_class": classes}), ("multi:softmax", {"num_class": classes})]
        lgb_params = {"objective": "multiclass", "num_class": classes}
    out = []
    dtrain = xgb.DMatrix(x, label=y, feature_names=cols, missing=np.nan)
    for objective, extra in xgb_params:
        booster = xgb.train({"objective": objective, "max_depth": 4, "seed": 1, **extra}, dtrain, num_boost_round=20)
        # multi:softmax's file predicts labels; its probabilities are softprob's
        prob = booster.copy()
        if objective == "multi:softmax":
            prob.set_param({"objective": "multi:softprob"})
        for fmt in ("ubj", "json"):
            raw = bytes(booster.save_raw(raw_format=fmt))
            out.append((f"xgboost {objective} .{fmt}", raw,
                        lambda rows, b=prob: b.predict(xgb.DMatrix(rows, feature_names=cols, missing=np.nan))))
    model = lgb.train({**lgb_params, "verbose": -1, "num_leaves": 15, "seed": 1}, lgb.Dataset(x, label=y), num_boost_round=20)
    out.append((f"lightgbm {lgb_params['objective']} .txt", model.model_to_string().encode(), model.predict))
    return out + onnx_models(x, y, task)


def runtime(raw):
    """ONNX Runtime's probabilities (classifiers) or values of a model file."""
    session = onnxruntime.InferenceSession(raw)
    name = session.get_inputs()[0].name

    def predict(rows):
        result = session.run(None, {name: rows})
        if len(result) == 1:
            return np.asarray(result[0]).reshape(-1)
        p = result[1]
        if isinstance(p, list):  # ZipMap's dictionaries
            p = [[d[k] for k in sorted(d)] for d in p]
        return np.asarray(p)
    return predict


def onnx_models(x, y, task):
    """scikit-learn pipelines through skl2onnx, XGBoost and LightGBM through onnxmltools."""
    opset = {"": 17, "ai.onnx.ml": 3}
    if task == "classification":
        y = y.astype(int)
        pipelines = [
            ("imputer, scaler, logistic regression", make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000))),
            ("random forest", RandomForestClassifier(n_estimators=20, max_depth=6, random_state=1)),
            ("gradient boosting", GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=1)),
        ]
        boosters = [("xgboost", xgb.XGBClassifier(n_estimators=20, max_depth=4, random_state=1)),
                    ("lightgbm", lgb.LGBMClassifier(n_estimators=20, num_leaves=15, random_state=1, verbose=-1))]
    else:
        pipelines = [
            ("imputer, min-max scaler, linear regression", make_pipeline(SimpleImputer(), MinMaxScaler(), LinearRegression())),
            ("random forest", RandomForestRegressor(n_estimators=20, max_depth=6, random_state=1)),
            ("gradient boosting", GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=1)),
        ]
        boosters = [("xgboost", xgb.XGBRegressor(n_estimators=20, max_depth=4, random_state=1)),
                    ("lightgbm", lgb.LGBMRegressor(n_estimators=20, num_leaves=15, random_state=1, verbose=-1))]
    out = []
    for what, model in pipelines:
        raw = to_onnx(model.fit(x, y), x[:1], target_opset=opset).SerializeToString()
        out.append((f"skl2onnx {what} .onnx", raw, runtime(raw)))
    types = [("input", FloatTensorType([None, x.shape[1]]))]
    for what, model in boosters:
        model.fit(x, y)
        convert = onnxmltools.convert_xgboost if what == "xgboost" else onnxmltools.convert_lightgbm
        raw = convert(model, initial_types=types, target_opset=15).SerializeToString()
        out.append((f"onnxmltools {what} .onnx", raw, runtime(raw)))
    return out


def explain_against_library(dataset, algorithm, model_id, raw, rows, table, cols):
    """pgml.explain's attributions and baseline against the library's own contributions of the
    same model (pred_contribs), on every probe row; pgml.feature_importance against XGBoost's
    get_score."""
    out = sql(f"SELECT id, output, feature, attribution, baseline FROM {table}, "
              f"pgml.explain({model_id}, f) ORDER BY id, feature")
    ours = {}
    for line in out.splitlines():
        i, output, feature, attribution, baseline = line.split("|")
        ours.setdefault(int(i), (output, {}, float(baseline)))[1][feature] = float(attribution)
    if algorithm == "xgboost":
        booster = xgb.Booster()
        booster.load_model(bytearray(raw))
        theirs = booster.predict(xgb.DMatrix(rows, feature_names=cols, missing=np.nan), pred_contribs=True)
    else:
        theirs = lgb.Booster(model_str=raw.decode()).predict(rows, pred_contrib=True)
    k = len(cols) + 1
    worst = 0.0
    for i, (output, attributions, baseline) in ours.items():
        row = np.asarray(theirs[i], dtype=np.float64).reshape(-1)
        if len(row) > k:  # multiclass: the class explained
            c = int(float(output))
            row = row[c * k:(c + 1) * k]
        lib = dict(zip(cols, row[:-1]))
        for f, a in attributions.items():
            worst = max(worst, abs(a - lib[f]) / max(1.0, abs(lib[f])))
        worst = max(worst, abs(baseline - row[-1]) / max(1.0, abs(row[-1])))
    what = f"{dataset}: pgml.explain of {algorithm} (model {model_id}) against its library's pred_contribs"
    ok = worst <= 1e-5
    print(f"{'ok' if ok else 'FAILED'} {what}: {len(ours)} rows, largest difference {worst:.2e}")
    if not ok:
        failures.append(what)
    if algorithm == "xgboost":
        worst = 0.0
        for kind in ("weight", "gain", "cover", "total_gain", "total_cover"):
            mine = dict(line.split("|") for line in sql(
                f"SELECT feature, importance FROM pgml.feature_importance({model_id}) "
                f"WHERE importance_type = {literal(kind)} AND importance > 0").splitlines())
            score = booster.get_score(importance_type=kind)
            if set(mine) != set(score):
                failures.append(f"{dataset} importance {kind}: features {sorted(mine)} against {sorted(score)}")
                continue
            for f, v in score.items():
                worst = max(worst, abs(float(mine[f]) - v) / max(1.0, abs(v)))
        ok = worst <= 1e-5
        print(f"{'ok' if ok else 'FAILED'} {dataset}: pgml.feature_importance against XGBoost's get_score, "
              f"five measures, largest difference {worst:.2e}")
        if not ok:
            failures.append(f"{dataset} importance")


for dataset, (label, task) in DATASETS.items():
    x, y, cols = load(dataset)
    rows, table = probe(dataset, x)
    classes = len(np.unique(y)) if task == "classification" else 0
    # 1. trained in Python, imported here
    for i, (what, raw, predict) in enumerate(python_models(x, y, cols, task, classes)):
        model_id = import_file(f"py_{dataset}_{i}", raw, dataset, label)
        linear = "linear" in what or "logistic" in what  # linear models agree within 1e-5
        compare(f"{dataset}: {what} imported (model {model_id})", sql_predictions(model_id, table, task), predict(rows),
                1e-5 if linear else TOLERANCE)
    # 2. trained here, exported to Python
    for algorithm in ("xgboost", "lightgbm"):
        sql(f"SELECT pgml.train({literal('pg_' + dataset + '_' + algorithm)}, {literal(task)}, 'pgml.{dataset}', "
            f"{literal(label)}, {literal(algorithm)}, '{{\"n_estimators\": 20}}')")
        model_id = sql(f"SELECT max(m.id) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id "
                       f"WHERE p.name = {literal('pg_' + dataset + '_' + algorithm)}").strip()
        ours = sql_predictions(model_id, table, task)
        explain_against_library(dataset, algorithm, model_id, export_file(model_id, algorithm), rows, table, cols)
        if algorithm == "xgboost":
            for fmt in ("xgboost", "xgboost_json"):
                booster = xgb.Booster()
                booster.load_model(bytearray(export_file(model_id, fmt)))
                if booster.feature_names != cols:
                    failures.append(f"{dataset} {fmt}: feature names {booster.feature_names}")
                theirs = booster.predict(xgb.DMatrix(rows, feature_names=cols, missing=np.nan))
                compare(f"{dataset}: xgboost exported as {fmt} (model {model_id})", ours, theirs)
        else:
            booster = lgb.Booster(model_str=export_file(model_id, "lightgbm").decode())
            compare(f"{dataset}: lightgbm exported (model {model_id})", ours, booster.predict(rows))

    # 3. trained here, exported as ONNX, run by ONNX Runtime
    first = cols[0]
    preprocess = '{"%s": {"impute": "mean", "scale": "standard"}}' % first.replace('"', '\\"')
    linear = "linear" if task == "classification" else "ridge"
    for algorithm, params, pre in [("xgboost", '{"n_estimators": 20}', "{}"), ("lightgbm", '{"n_estimators": 20}', "{}"),
                                   ("random_forest", '{"n_estimators": 20}', "{}"), (linear, "{}", preprocess)]:
        project = f"onnx_{dataset}_{algorithm}"
        sql(f"SELECT pgml.train({literal(project)}, {literal(task)}, 'pgml.{dataset}', {literal(label)}, "
            f"{literal(algorithm)}, {literal(params)}, preprocess => {literal(pre)})")
        model_id = sql(f"SELECT max(m.id) FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id "
                       f"WHERE p.name = {literal(project)}").strip()
        ours = sql_predictions(model_id, table, task)
        raw = export_file(model_id, "onnx")
        theirs = runtime(raw)(rows)
        compare(f"{dataset}: {algorithm} exported as onnx (model {model_id})", ours, theirs,
                1e-5 if algorithm == linear else TOLERANCE)
        if task == "classification":
            session = onnxruntime.InferenceSession(raw)
            labels = session.run(None, {"X": rows})[0]
            mine = sql(f"SELECT pgml.predict({model_id}, f) FROM {table} ORDER BY id").split()
            clear = np.sort(ours, axis=1)
            clear = (clear[:, -1] - clear[:, -2]) > 1e-5
            wrong = [i for i, (a, b) in enumerate(zip(mine, labels)) if clear[i] and float(a) != float(b)]
            print(f"{'ok' if not wrong else 'FAILED'} {dataset}: {algorithm} exported as onnx, ONNX Runtime's classes: "
                  f"{len(wrong)} of {len(labels)} differ")
            if wrong:
                failures.append(f"{dataset} {algorithm} onnx classes at rows {wrong[:5]}")

if failures:
    print(f"test-portable: {len(failures)} disagreement(s): {failures}")
    sys.exit(1)
print("test-portable: Python and SQL agree on every model, both ways")
