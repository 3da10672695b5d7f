"""The Python peer of bench/serve.sh: the same XGBoost model behind Flask (run by gunicorn),
taking features the way pgml-serve does ({"features": [..]} or a batch [[..], ..]) and
answering {"project", "stage", "model_id", "predictions"}. For side-by-side timing only."""
import json
import os

import numpy as np
import xgboost as xgb
from flask import Flask, jsonify, request


def load():
    # pgml-rs model bytes: "PGMLRS", a version byte, a u32 header length, the JSON header,
    # then the XGBoost payload: a u32 class count and the booster as UBJSON.
    raw = bytes.fromhex(open(os.environ["PEER_MODEL_HEX"]).read().strip())
    n = int.from_bytes(raw[7:11], "little")
    header = json.loads(raw[11:11 + n])
    body = raw[11 + n:]
    booster = xgb.Booster()
    booster.load_model(bytearray(body[4:]))
    # one thread per worker: gunicorn runs one worker per core, and OpenMP threads fighting
    # over the cores made a one-row predict 100x slower here
    booster.set_param({"nthread": 1})
    return booster, header


BOOSTER, HEADER = load()
CLASSES = np.array(HEADER["classes"], dtype=np.float32)
MODEL_ID = int(os.environ.get("PEER_MODEL_ID", "1"))
app = Flask(__name__)


@app.post("/v1/projects/<project>/predict")
def predict(project):
    features = request.get_json(force=True)["features"]
    rows = np.asarray(features if isinstance(features[0], list) else [features], dtype=np.float32)
    if rows.shape[1] != HEADER["num_features"]:
        return jsonify(error={"code": "22000", "message": "wrong number of features"}), 400
    proba = BOOSTER.inplace_predict(rows)
    labels = CLASSES[np.argmax(proba, axis=1)] if proba.ndim == 2 else proba
    return jsonify(project=project, stage="production", model_id=MODEL_ID, predictions=labels.tolist())
