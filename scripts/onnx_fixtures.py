"""Writes the ONNX fixtures of pgml-core's tests (crates/core/tests/fixtures/onnx): models
trained in Python on iris, breast cancer's first 8 features and diabetes, converted by skl2onnx
and onnxmltools, and what ONNX Runtime predicts for every row, each feature missing in turn
included (expected.json). Run in .build/venv-portable after `make test-portable` installed it:

    .build/venv-portable/bin/python scripts/onnx_fixtures.py crates/core/tests/fixtures/onnx
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler
from sklearn.tree import DecisionTreeClassifier
from skl2onnx import to_onnx
import lightgbm
import onnxmltools
import xgboost
from onnxmltools.convert.common.data_types import FloatTensorType

out = sys.argv[1]
iris_x, iris_y = load_iris(return_X_y=True)
iris_x = iris_x.astype(np.float32)
binary_y = (iris_y == 2).astype(int)
dia_x, dia_y = load_diabetes(return_X_y=True)
dia_x = dia_x.astype(np.float32)[:150]
dia_y = dia_y[:150]


def probes(x):
    """Every row, then the first row with each feature missing in turn, then a row at a split."""
    rows = [r for r in x]
    for j in range(x.shape[1]):
        r = x[0].copy()
        r[j] = np.nan
        rows.append(r)
    return np.array(rows, dtype=np.float32)


def sk(model, x):
    return to_onnx(model, x[:1], target_opset={'': 17, 'ai.onnx.ml': 3})


def ml(model, x, lgb=False):
    types = [('input', FloatTensorType([None, x.shape[1]]))]
    if lgb:
        return onnxmltools.convert_lightgbm(model, initial_types=types, target_opset=15, zipmap=True)
    return onnxmltools.convert_xgboost(model, initial_types=types, target_opset=15)


def greater_splits(m):
    """The same trees with every `x <= t` split written `x > t` (children swapped)."""
    node = [n for n in m.graph.node if n.op_type.startswith('TreeEnsemble')][0]
    attrs = {a.name: a for a in node.attribute}
    modes = [b'BRANCH_GT' if s == b'BRANCH_LEQ' else s for s in attrs['nodes_modes'].strings]
    yes, no = list(attrs['nodes_truenodeids'].ints), list(attrs['nodes_falsenodeids'].ints)
    for name, values in [('nodes_modes', modes), ('nodes_truenodeids', no), ('nodes_falsenodeids', yes)]:
        node.attribute.remove(attrs[name])
        node.attribute.append(helper.make_attribute(name, values))
    return m


def one_score_linear():
    """A LinearClassifier of one score for two classes (ONNX Runtime answers [1 − s, s])."""
    w = [0.5, -1.0, 0.25, 2.0]
    node = helper.make_node('LinearClassifier', ['X'], ['label', 'probabilities'], domain='ai.onnx.ml',
                            coefficients=w, intercepts=[-3.0], classlabels_ints=[0, 1], post_transform='NONE')
    g = helper.make_graph([node], 'one_score', [helper.make_tensor_value_info('X', 1, [None, 4])],
                          [helper.make_tensor_value_info('label', 7, [None]),
                           helper.make_tensor_value_info('probabilities', 1, [None, 2])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid('', 17), helper.make_opsetid('ai.onnx.ml', 3)])


rs = 0
models = [
    ('lr_iris', 'classification', iris_x, sk(make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=500)).fit(iris_x, iris_y), iris_x)),
    ('lr_binary', 'classification', iris_x, sk(make_pipeline(StandardScaler(), LogisticRegression()).fit(iris_x, binary_y), iris_x)),
    ('normalized_lr', 'classification', iris_x, sk(make_pipeline(Normalizer(), LogisticRegression()).fit(iris_x, iris_y), iris_x)),
    ('minmax_linear', 'regression', dia_x, sk(make_pipeline(MinMaxScaler(), LinearRegression()).fit(dia_x, dia_y), dia_x)),
    ('ridge', 'regression', dia_x, sk(Ridge().fit(dia_x, dia_y), dia_x)),
    ('tree_iris', 'classification', iris_x, sk(DecisionTreeClassifier(max_depth=4, random_state=rs).fit(iris_x, iris_y), iris_x)),
    ('rf_iris', 'classification', iris_x, sk(RandomForestClassifier(n_estimators=5, max_depth=4, random_state=rs).fit(iris_x, iris_y), iris_x)),
    ('rf_binary', 'classification', iris_x, sk(RandomForestClassifier(n_estimators=5, max_depth=4, random_state=rs).fit(iris_x, binary_y), iris_x)),
    ('rf_regression', 'regression', dia_x, sk(RandomForestRegressor(n_estimators=5, max_depth=4, random_state=rs).fit(dia_x, dia_y), dia_x)),
    ('gb_iris', 'classification', iris_x, sk(GradientBoostingClassifier(n_estimators=5, max_depth=3, random_state=rs).fit(iris_x, iris_y), iris_x)),
    ('gb_binary', 'classification', iris_x, sk(GradientBoostingClassifier(n_estimators=5, max_depth=3, random_state=rs).fit(iris_x, binary_y), iris_x)),
    ('gb_regression', 'regression', dia_x, sk(GradientBoostingRegressor(n_estimators=5, max_depth=3, random_state=rs).fit(dia_x, dia_y), dia_x)),
    ('xgb_iris', 'classification', iris_x, ml(xgboost.XGBClassifier(n_estimators=5, max_depth=3).fit(iris_x, iris_y), iris_x)),
    ('xgb_binary', 'classification', iris_x, ml(xgboost.XGBClassifier(n_estimators=5, max_depth=3).fit(iris_x, binary_y), iris_x)),
    ('xgb_regression', 'regression', dia_x, ml(xgboost.XGBRegressor(n_estimators=5, max_depth=3).fit(dia_x, dia_y), dia_x)),
    ('lgb_iris', 'classification', iris_x, ml(lightgbm.LGBMClassifier(n_estimators=5, num_leaves=7, verbose=-1).fit(iris_x, iris_y), iris_x, True)),
    ('lgb_binary', 'classification', iris_x, ml(lightgbm.LGBMClassifier(n_estimators=5, num_leaves=7, verbose=-1).fit(iris_x, binary_y), iris_x, True)),
    ('lgb_regression', 'regression', dia_x, ml(lightgbm.LGBMRegressor(n_estimators=5, num_leaves=7, verbose=-1).fit(dia_x, dia_y), dia_x, True)),
    ('one_score_linear', 'classification', iris_x, one_score_linear()),
]
models.append(('greater_splits', 'regression', dia_x, greater_splits(sk(GradientBoostingRegressor(n_estimators=5, max_depth=3, random_state=rs).fit(dia_x, dia_y), dia_x))))

def f32(values):
    """Numbers as the shortest text that reads back as the same f32."""
    return [json.loads(np.format_float_positional(np.float32(v), unique=True, trim='-')) if np.isfinite(v) else None
            for v in np.asarray(values, dtype=np.float32).reshape(-1)]


datasets = {'iris': probes(iris_x), 'diabetes': probes(dia_x)}
expected = {'datasets': {k: [f32(r) for r in v] for k, v in datasets.items()}, 'models': {}}
for name, task, x, m in models:
    path = os.path.join(out, name + '.onnx')
    onnx.save(m, path)
    session = ort.InferenceSession(path)
    dataset = 'iris' if x is iris_x else 'diabetes'
    rows = datasets[dataset]
    result = session.run(None, {session.get_inputs()[0].name: rows})
    entry = {'task': task, 'dataset': dataset}
    if task == 'classification':
        entry['labels'] = [int(v) for v in result[0]]
        p = result[1]
        if isinstance(p, list):
            keys = sorted(p[0].keys())
            p = [[d[k] for k in keys] for d in p]
        entry['probabilities'] = [f32(r) for r in np.asarray(p, dtype=np.float32)]
    else:
        entry['values'] = f32(result[0])
    expected['models'][name] = entry
with open(os.path.join(out, 'expected.json'), 'w') as f:
    json.dump(expected, f, separators=(',', ':'))
print('wrote', len(models), 'models to', out)
