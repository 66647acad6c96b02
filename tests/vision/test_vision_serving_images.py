"""Encoded images over v2: a network declared with vision.accept_images answers base64 PNGs sent as a BYTES
tensor exactly as it answers the pixels vision.to_pixels makes of the same files; an undeclared network gets
a 400 saying how to declare it. Hostile images: tests/security/test_image_requests_hostile.py."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from asgi import asgi_request

pytest.importorskip("torch")
pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def trained(digits):
    from tidal.components.vision_models import train_classifier

    return train_classifier(digits.iloc[:600], label="target", epochs=2, threads=1).model


@pytest.fixture(scope="module")
def packages(trained, tmp_path_factory):
    from tidal.components.vision_models import accept_images

    folder = tmp_path_factory.mktemp("images")
    accept_images(trained, white=16.0).save(folder / "accepted")
    trained.save(folder / "plain")
    return folder


@pytest.fixture(scope="module")
def server(packages):
    from tidal.serving import ModelServer, ModelSpec

    return ModelServer([ModelSpec("digits", str(packages / "accepted")), ModelSpec("plain", str(packages / "plain"))])


def infer(server, name: str, body: dict) -> httpx.Response:
    return asgi_request(server.app, "POST", f"/v2/models/{name}/infer", json=body)


def images_tensor(images: list[bytes]) -> dict:
    return {"inputs": [{"name": "image", "shape": [len(images)], "datatype": "BYTES",
                        "data": [base64.b64encode(image).decode("ascii") for image in images]}]}


def test_base64_pngs_are_answered_exactly_as_their_pixels(server, trained, digits):
    from tidal.components.vision import from_pixels, to_pixels

    rows = digits.iloc[1500:1512].reset_index(drop=True)
    pngs = from_pixels(rows.drop(columns="target"), scale=16.0)["image"].tolist()
    answer = infer(server, "digits", images_tensor(pngs))
    assert answer.status_code == 200, answer.text
    outputs = {item["name"]: item for item in answer.json()["outputs"]}
    # the same files through vision.to_pixels (0..1), scaled to the 0..16 the network was trained on
    pixels = to_pixels(rows[["target"]].assign(image=pngs), column="image", width=8, height=8, keep_columns=False) * 16.0
    expected = trained.predict_proba(pixels)
    assert np.allclose(np.reshape(outputs["probabilities"]["data"], (12, 10)), expected, atol=1e-6)
    assert outputs["prediction"]["data"] == [int(value) for value in trained.predict(pixels)]


def test_the_metadata_says_the_model_takes_encoded_images(server):
    import json

    parameters = asgi_request(server.app, "GET", "/v2/models/digits").json()["parameters"]
    assert parameters["tensor_input"] == "image" and json.loads(parameters["tensor_images"])["white"] == 16.0


def test_a_larger_colour_jpeg_is_brought_to_the_networks_mode_and_size(server):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (255, 255, 255)).save(buffer, format="JPEG")
    answer = infer(server, "digits", images_tensor([buffer.getvalue()]))
    assert answer.status_code == 200, answer.text


def test_a_network_not_declared_to_take_images_says_how_to_declare_it(server):
    answer = infer(server, "plain", images_tensor([b"\x89PNG"]))
    assert answer.status_code == 400
    assert "has not been declared to take encoded images (BYTES)" in answer.text and "vision.accept_images" in answer.text


def test_the_declaration_is_checked_when_the_model_loads(trained, tmp_path):
    from tidal.components.vision_models import accept_images
    from tidal.core._errors import TidalError
    from tidal.serving._signature import Signature

    signature = accept_images(trained, white=16.0).signature()
    assert signature["tensor"]["images"] == {"mode": "L", "height": 8, "width": 8, "fit": "stretch",
                                             "resample": "bilinear", "white": 16.0}
    for forged in ({**signature["tensor"]["images"], "mode": "RGB"}, {**signature["tensor"]["images"], "white": -1},
                   {**signature["tensor"]["images"], "fit": "explode"}, "yes"):
        with pytest.raises((ValueError, TidalError)):
            Signature.from_manifest({**signature, "tensor": {**signature["tensor"], "images": forged}})
    with pytest.raises(TidalError, match=r"parameter 'white': Input should be greater than 0 \(got 0.0\)"):
        accept_images(trained, white=0.0)


def test_grpc_carries_the_same_base64_images(server, packages, digits):
    """KServe's gRPC ModelInfer with the images in ``bytes_contents`` (base64 text): the same answers as over REST."""
    grpc = pytest.importorskip("grpc")
    from grpc_endpoint import grpc_endpoint

    from tidal.components.vision import from_pixels
    from tidal.serving import grpc_predict_v2_pb2 as messages

    rows = digits.iloc[1600:1604].reset_index(drop=True)
    pngs = from_pixels(rows.drop(columns="target"), scale=16.0)["image"].tolist()
    rest = {item["name"]: item for item in infer(server, "digits", images_tensor(pngs)).json()["outputs"]}
    message = messages.ModelInferRequest(model_name="digits")
    tensor = message.inputs.add(name="image", datatype="BYTES", shape=[len(pngs)])
    tensor.contents.bytes_contents.extend(base64.b64encode(png) for png in pngs)
    from tidal.serving import ModelServer, ModelSpec

    own = ModelServer([ModelSpec("digits", str(packages / "accepted"))])  # the endpoint stops its server when done
    with grpc_endpoint(own) as address, grpc.insecure_channel(address) as channel:
        call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                   request_serializer=lambda item: item.SerializeToString(),
                                   response_deserializer=messages.ModelInferResponse.FromString)
        answer = call(message, timeout=60)
    outputs = {item.name: item for item in answer.outputs}
    assert list(outputs["prediction"].contents.int64_contents) == rest["prediction"]["data"]
    assert np.allclose(list(outputs["probabilities"].contents.fp64_contents), rest["probabilities"]["data"], atol=1e-12)


def test_images_are_decoded_off_the_event_loop(server, digits, monkeypatch):
    import threading

    import tidal.serving._v2 as v2
    from tidal.components.vision import from_pixels

    decoded_on = []
    decode = v2._from_images

    def watched(tensor, signature):
        decoded_on.append(threading.current_thread())
        return decode(tensor, signature)

    monkeypatch.setattr(v2, "_from_images", watched)
    pngs = from_pixels(digits.iloc[:2].drop(columns="target"), scale=16.0)["image"].tolist()
    answer = infer(server, "digits", images_tensor(pngs))
    assert answer.status_code == 200, answer.text
    # a batch of large images takes the decoder milliseconds: other requests on the loop must not wait for it
    assert decoded_on and all(thread is not threading.main_thread() for thread in decoded_on)
