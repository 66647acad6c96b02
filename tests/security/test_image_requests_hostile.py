"""Encoded images sent to `tidal serve` by strangers: base64 that is not, files that are not images, and images
that claim more pixels than the server decodes (16.7 million) are each a 400 naming the element, never decoded."""

from __future__ import annotations

import base64
import struct
import zlib

import httpx
import pytest
from asgi import asgi_request

pytest.importorskip("torch")
pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from sklearn.datasets import load_digits

    from tidal.components.vision_models import accept_images, train_classifier
    from tidal.serving import ModelServer, ModelSpec

    digits = load_digits(as_frame=True).frame.iloc[:200]
    trained = train_classifier(digits, label="target", epochs=1, threads=1).model
    folder = tmp_path_factory.mktemp("images")
    accept_images(trained, white=16.0).save(folder / "accepted")
    return ModelServer([ModelSpec("digits", str(folder / "accepted"))])


def infer(server, body: dict) -> httpx.Response:
    return asgi_request(server.app, "POST", "/v2/models/digits/infer", json=body)


def huge_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("data", "message"), [
    (["not base64!"], "image 0 of input 'image' is not base64 text"),
    ([base64.b64encode(b"plain text, not an image").decode()], "image 0 of input 'image' cannot be read: it is not an image"),
    ([base64.b64encode(huge_png(50_000, 50_000)).decode()], "image 0 of input 'image' claims more pixels than the limit of 16,777,216"),
    ([""], "image 0 of input 'image' is empty (0 bytes)"),
    ([base64.b64encode(huge_png(5_000, 4_000)).decode()], "image 0 of input 'image' is 5000x4000 pixels, over the limit"),
    ([base64.b64encode(b"\\x89PNG").decode()] * 2 + ["%%%"], "image 2 of input 'image' is not base64 text"),
])
def test_what_is_not_a_small_image_is_a_400_naming_the_element(server, data, message):
    body = {"inputs": [{"name": "image", "shape": [len(data)], "datatype": "BYTES", "data": data}]}
    answer = infer(server, body)
    assert answer.status_code == 400 and message in answer.text, answer.text




def test_a_wrong_shape_or_no_images_is_a_400(server):
    for shape, data, message in (([1, 2], ["a", "b"], "a BYTES tensor of shape [N]"), ([0], [], "no rows")):
        answer = infer(server, {"inputs": [{"name": "image", "shape": shape, "datatype": "BYTES", "data": data}]})
        assert answer.status_code == 400 and message in answer.text, answer.text
