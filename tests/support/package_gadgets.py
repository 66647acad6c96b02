"""Hostile model packages, made by the tests: each gadget writes a marker file if its code ever runs."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from tidal.models import ModelPackage


def honest_package(folder: Path) -> Path:
    """A real, harmless scikit-learn package: the base the gadgets are grafted onto."""
    frame_x = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.2], [0.1, 0.9]])
    model = LogisticRegression().fit(frame_x, [0, 1, 1, 0])
    import pandas as pd

    data = pd.DataFrame(frame_x, columns=["a", "b"])
    return ModelPackage.from_estimator(model, data, features=["a", "b"], task="binary").save(folder)


def _reduce_node(module: str, name: str, args: list[Any]) -> dict[str, Any]:
    """A skops node that calls ``module.name(*args)`` while loading (skops' constructor-from-reduce form)."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
            "content": [{"__class__": type(arg).__name__, "__module__": "builtins", "__loader__": "JsonNode",
                         "content": json.dumps(arg), "is_json": True, "__id__": 900 + index}
                        for index, arg in enumerate(args)],
            "__id__": 899,
        },
        "__id__": 896,
    }


def skops_gadget(folder: Path, marker: Path, callee: str) -> Path:
    """A package whose skops payload calls ``callee`` (``builtins.eval`` or a numpy.testing exec helper)."""
    honest_package(folder)
    payload = folder / "model.skops"
    with zipfile.ZipFile(payload) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(files["schema.json"])
    code = f"open({str(marker)!r}, 'w').write('code ran')"
    module, name = callee.rsplit(".", 1)
    args: list[Any] = [code] if callee == "builtins.eval" else [code, {}]
    schema["content"]["content"]["intercept_"] = _reduce_node(module, name, args)
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(payload, "w") as archive:
        for name_, data in files.items():
            archive.writestr(name_, data)
    return folder


class _Gadget:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "code ran"))


def pickle_gadget(folder: Path, marker: Path, payload_name: str = "model.pkl") -> Path:
    """A package of the pickle flavor whose unpickling writes ``marker``."""
    honest_package(folder)
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    (folder / "model.skops").unlink()
    (folder / payload_name).write_bytes(pickle.dumps(_Gadget(marker)))
    manifest.update(flavor="pickle", payload=payload_name)
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    return folder


def set_manifest(folder: Path, **fields: Any) -> None:
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    manifest.update(fields)
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))


def zip_folder(folder: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_file():
                archive.writestr(str(item.relative_to(folder)), item.read_bytes())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return target


def zip_bomb(folder: Path, target: Path, entry_mb: int) -> Path:
    """An honest package plus one entry of ``entry_mb`` MiB of zeros (compresses about 1000:1)."""
    zip_folder(folder, target)
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED) as archive, archive.open("padding.bin", "w") as writer:
        for _ in range(entry_mb):
            writer.write(chunk)
    return target


def symlink_entry_archive(folder: Path, target: Path, link_to: str) -> Path:
    zip_folder(folder, target)
    info = zipfile.ZipInfo("model.skops.link")
    info.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr(info, link_to)
    return target


def in_memory_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()
