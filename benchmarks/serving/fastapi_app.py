"""The baseline a team writes by hand: FastAPI + the LightGBM booster, same v2 request body.

    TIDAL_BENCH_MODEL=model.txt uvicorn fastapi_app:app
"""

from __future__ import annotations

import os

import lightgbm
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse

booster = lightgbm.Booster(model_file=os.environ["TIDAL_BENCH_MODEL"])
app = FastAPI()


@app.post("/v2/models/cancer/infer")
async def infer(request: Request) -> ORJSONResponse:
    body = await request.json()
    tensor = body["inputs"][0]
    features = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
    probabilities = booster.predict(features)
    return ORJSONResponse({
        "model_name": "cancer",
        "outputs": [{"name": "predict", "shape": [len(probabilities)], "datatype": "FP64", "data": probabilities.tolist()}],
    })
