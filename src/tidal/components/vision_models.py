"""Image networks: train a classifier on pixel columns, fine-tune a trained one, read embeddings, search by similarity.

Networks are ``tidal-nn: 1`` specs (a named architecture sized to the images, or your own) trained
by ``nn.train``'s loop; models are ``torch`` packages (safetensors + spec) that ``model.predict``
scores, ``tidal serve`` serves (an ``[N, C, H, W]`` tensor over v2) and ``model.export`` writes as ONNX.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

import pandas as pd

from tidal.components._vision_images import checked_shape, pixel_columns
from tidal.core import Column, Columns, DataError, InputFile, Metrics, Param, component
from tidal.core._errors import TidalError
from tidal.models import ModelPackage

IMAGES = {"sample": "images"}
PATH = Annotated[InputFile | None, Param(help="a network file (tidal-nn: 1) instead of a named architecture")]
SPEC = Annotated[dict[str, Any] | str | None, Param(help="a network written inline (a mapping, or YAML text) instead of a "
                                                    "named architecture", widget="code")]


class TrainedNetwork(NamedTuple):
    model: ModelPackage
    report: Metrics


def _report(result: Any) -> Metrics:
    from tidal.components.nn import (
        _report as report,  # imported late: the registry may be importing tidal.components.nn
    )

    return report(result)
FAST = {"epochs": 2, "batch_size": 16, "threads": 1}
PIXELS = Annotated[Columns, Param(help="the pixel columns, in [C, H, W] order; empty: every <prefix>_... column")]
PREFIX = Annotated[str, Param(help="with no 'features': the pixel columns are those named <prefix>_...")]
EPOCHS = Annotated[int, Param(ge=1, le=100_000, help="passes over the training rows")]
BATCH = Annotated[int, Param(ge=1, help="images per training step")]
LR = Annotated[float, Param(gt=0, log=True, tune=True, low=1e-4, high=1e-1, help="learning rate")]
OPTIMIZER = Annotated[Literal["adam", "adamw", "sgd"], Param(help="sgd uses momentum 0.9")]
SCHEDULE = Annotated[Literal["none", "cosine", "step"], Param(help="learning rate per epoch")]
VALIDATION = Annotated[float, Param(ge=0, lt=1, help="share of rows held out each epoch; the model keeps the best epoch")]
THREADS = Annotated[int | None, Param(ge=1, help="CPU threads for PyTorch; empty: PyTorch's default")]
SEED = Annotated[int, Param(ge=0, help="the same seed gives the same model")]


def _table(data: Any, label: str | None = None) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"input 'data' must be a table, got {type(data).__name__}")
    if len(data) == 0:
        raise DataError("input 'data' is empty: there are no images")
    if label is not None and label not in data.columns:
        raise DataError(f"input 'data' has no label column '{label}'")
    return data


def _network(model: Any) -> Any:
    from tidal.nn._network_model import NetworkModel

    if not isinstance(model, ModelPackage) or not isinstance(model.model, NetworkModel):
        shown = model.flavor if isinstance(model, ModelPackage) else type(model).__name__
        raise TidalError(f"input 'model' must be a trained network (flavor torch, from vision.train_classifier or nn.train), "
                         f"got {shown}")
    return model.model


def _settings(**values: Any) -> Any:
    from tidal.nn._train import TrainSettings

    return TrainSettings(loss="cross_entropy", standardize=True, keep_checkpoints=1, acceleration="off", **values)


def _image_metadata(package: ModelPackage, architecture: str, shape: tuple[int, ...]) -> ModelPackage:
    if len(shape) == 3:
        package.metadata["image"] = {"architecture": architecture, "channels": shape[0], "height": shape[1], "width": shape[2]}
    return package


@component("vision.train_classifier", title="Train Image Classifier",
           tags={**IMAGES, "task": "multiclass", "sample_params": {**FAST, "width": 0.25, "path": None}})
def train_classifier(
    data: pd.DataFrame,
    *,
    label: Annotated[Column, Param(help="the class column")],
    architecture: Annotated[Literal["cnn", "resnet18", "mobilenet_v3_small"],
                            Param(help="the network, sized to the images and classes (ignored when 'spec' or 'path' is "
                                       "given)")] = "cnn",
    width: Annotated[float, Param(gt=0, le=4, help="scales every layer's channels (1: the published widths)")] = 1.0,
    features: PIXELS = None,
    prefix: PREFIX = "pixel",
    shape: Annotated[list[int] | None, Param(help="[channels, height, width]; empty: read from the pixel column names")] = None,
    path: PATH = None,
    spec: SPEC = None,
    epochs: EPOCHS = 10,
    batch_size: BATCH = 64,
    optimizer: OPTIMIZER = "adamw",
    lr: LR = 3e-3,
    weight_decay: Annotated[float, Param(ge=0, help="L2 penalty (decoupled for adamw)")] = 1e-4,
    schedule: SCHEDULE = "cosine",
    validation_fraction: VALIDATION = 0.1,
    patience: Annotated[int, Param(ge=0, help="stop after this many epochs without a better validation loss; 0: never")] = 0,
    threads: THREADS = None,
    seed: SEED = 0,
) -> TrainedNetwork:
    """Train an image classifier on pixel columns: a CNN, ResNet-18 or MobileNetV3-Small sized to the images.

    The pixel columns (``vision.to_pixels`` makes them; scikit-learn's digits have them already)
    fill the network's ``[batch, C, H, W]`` input; their names give the shape. ``architecture``
    builds the network as a ``tidal-nn: 1`` spec for that shape and the number of classes:
    ``cnn`` (conv blocks down to about 4x4, then two linear layers), ``resnet18`` or
    ``mobilenet_v3_small`` (the published layers; small images keep their resolution in the
    stem); ``width`` scales their channels. Or bring your own spec with ``spec``/``path``.
    Training is ``nn.train``'s (cross-entropy, standardized pixels, the best validation epoch
    kept); the report is the same. The model's output layer is ``head``: ``vision.finetune``
    replaces it, ``vision.embed`` reads the layer before it.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> digits = load_digits(as_frame=True).frame
    >>> trained = train_classifier(digits, label="target", epochs=15, threads=1)
    >>> trained.model.classes == list(range(10)), trained.model.metadata["image"]["height"]
    (True, 8)
    >>> trained.report["val_accuracy"] > 0.9
    True
    """
    from tidal.components._vision_nets import architecture as build
    from tidal.components.nn import read_spec
    from tidal.nn import NetworkSpec
    from tidal.nn._train import train_network

    _table(data, label)
    columns = pixel_columns(data, features, prefix, label)
    channels, height, width_px = checked_shape(shape, columns)
    given = read_spec(path, spec) if (path or spec) else None
    labelled = data[data[label].notna()]
    classes = int(labelled[label].nunique())
    if classes < 2:
        raise DataError(f"column '{label}' holds {classes} class(es); a classifier needs at least two")
    network = given if given is not None else NetworkSpec.from_dict(
        build(architecture, channels=channels, height=height, width_px=width_px, classes=classes, scale=width),
        source=f"architecture {architecture}")
    settings = _settings(optimizer=optimizer, lr=lr, weight_decay=weight_decay, schedule=schedule, epochs=epochs,
                         batch_size=batch_size, validation_fraction=validation_fraction, patience=patience, seed=seed,
                         threads=threads)
    result = train_network(network, labelled, label=label, features=columns, settings=settings)
    _image_metadata(result.package, "spec" if given is not None else architecture, (channels, height, width_px))
    return TrainedNetwork(result.package, _report(result))


def _head_layer(model: Any) -> str:
    target = model.spec.output_map[model.output_name]
    return str(target).split(".")[0]


@component("vision.finetune", title="Fine-tune Image Classifier",
           tags={**IMAGES, "task": "multiclass", "sample_model": "vision.train_classifier", "sample_params": FAST})
def finetune(
    data: pd.DataFrame,
    model: ModelPackage,
    *,
    label: Annotated[Column, Param(help="the new class column")],
    freeze_until: Annotated[str | None, Param(help="the last layer kept frozen: it and every layer before it keep their "
                                                   "weights; empty: every layer before the new head")] = None,
    train_all: Annotated[bool, Param(help="freeze nothing: every layer trains, starting from the trained weights")] = False,
    features: PIXELS = None,
    prefix: PREFIX = "pixel",
    epochs: EPOCHS = 10,
    batch_size: BATCH = 32,
    optimizer: OPTIMIZER = "adamw",
    lr: LR = 3e-3,
    schedule: SCHEDULE = "cosine",
    validation_fraction: VALIDATION = 0.0,
    threads: THREADS = None,
    seed: SEED = 0,
) -> TrainedNetwork:
    """Fine-tune a trained network on new classes: its output layer is replaced by a new linear layer, and trained.

    ``model`` is any trained network package (``vision.train_classifier``, ``nn.train``) whose
    output is read from a linear layer. That layer is replaced by a new one with one output per
    class of ``label`` (weights drawn from ``seed``); every other layer starts from the trained
    weights. Layers up to ``freeze_until`` (all of those before the head, by default) keep their
    weights and batch-norm statistics; the rest train. The pixel columns are scaled as the
    backbone's were, and must have the backbone's shape.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> digits = load_digits(as_frame=True).frame
    >>> backbone = train_classifier(digits[digits.target < 5], label="target", epochs=10, threads=1).model
    >>> tuned = finetune(digits[digits.target >= 5].head(100), backbone, label="target", epochs=20, threads=1).model
    >>> tuned.classes
    [5, 6, 7, 8, 9]
    >>> bool((tuned.model.state["conv1.weight"] == backbone.model.state["conv1.weight"]).all())
    True
    """
    from tidal.nn import NetworkSpec
    from tidal.nn._network_model import NetworkModel
    from tidal.nn._packages import seeded_module
    from tidal.nn._train import train_network

    base = _network(model)
    _table(data, label)
    head = _head_layer(base)
    layer_ids = [layer.id for layer in base.spec.layers]
    if base.spec.layer(head).kind != "linear":
        raise TidalError(f"the network's output comes from layer '{head}' ({base.spec.layer(head).kind}); fine-tuning "
                         "replaces a linear output layer")
    frozen: list[str] = []
    if not train_all:
        if freeze_until:
            if freeze_until not in layer_ids:
                raise TidalError(f"freeze_until: network '{base.spec.name}' has no layer '{freeze_until}' "
                                 f"(layers: {', '.join(layer_ids)})")
            if freeze_until == head:
                raise TidalError(f"freeze_until: '{head}' is the head being replaced; name a layer before it")
            frozen = layer_ids[: layer_ids.index(freeze_until) + 1]
        else:
            frozen = [layer for layer in layer_ids if layer != head]
    labelled = data[data[label].notna()]
    classes = int(labelled[label].nunique())
    if classes < 2:
        raise DataError(f"column '{label}' holds {classes} class(es); a classifier needs at least two")
    document = base.spec.to_dict()
    for layer in document["layers"]:
        if layer["id"] == head:
            layer["params"] = {key: value for key, value in (layer.get("params") or {}).items() if key != "out_features"}
            layer["params"]["out_features"] = classes
    spec = NetworkSpec.from_dict(document, source=f"network '{base.spec.name}' with a new head")
    fresh = seeded_module(spec, seed).state_dict()
    state = {key: (value if key.split(".")[0] == head else base.state[key]).detach().clone() for key, value in fresh.items()}
    start = NetworkModel(spec=spec, state=state, input_name=base.input_name, input_shape=base.input_shape,
                         input_dtype=base.input_dtype, output_name=base.output_name, mean=base.mean, std=base.std)
    names = list(model.features) if features is None and all(name in data.columns for name in model.features) else \
        pixel_columns(data, features, prefix, label)
    package = ModelPackage(model=start, task="other", features=names, flavor="torch", metadata={"trained": True})
    settings = _settings(optimizer=optimizer, lr=lr, schedule=schedule, epochs=epochs, batch_size=batch_size,
                         validation_fraction=validation_fraction, seed=seed, threads=threads, frozen=tuple(frozen))
    result = train_network(package, labelled, label=label, features=names, settings=settings)
    result.package.metadata["finetuned"] = {"from": model.metadata.get("network", base.spec.name), "head": head, "frozen": frozen}
    image = model.metadata.get("image") or {}
    _image_metadata(result.package, str(image.get("architecture", "spec")), tuple(base.input_shape))
    return TrainedNetwork(result.package, _report(result))


@component("vision.accept_images", title="Accept Encoded Images",
           tags={**IMAGES, "sample_model": "vision.train_classifier", "sample_params": {"white": 16.0}})
def accept_images(
    model: ModelPackage,
    *,
    white: Annotated[float, Param(gt=0, help="the input value of a white pixel in the pixels the network was trained "
                                             "on: 1 for vision.to_pixels, 16 for scikit-learn's digits, 255 for raw "
                                             "8-bit values")] = 1.0,
    fit: Annotated[Literal["stretch", "crop", "pad"], Param(help="how an image of another shape is brought to the "
                                                                 "network's size, as vision.to_pixels does")] = "stretch",
    resample: Annotated[Literal["nearest", "bilinear", "bicubic", "lanczos", "box"],
                        Param(help="the resampling filter for that")] = "bilinear",
) -> ModelPackage:
    """Declare that a trained image network takes encoded images (PNG, JPEG ...) too, and how they become its input.

    The network keeps taking its pixels as columns or as one ``[N, C, H, W]`` tensor; ``tidal
    serve`` then also takes a v2 ``BYTES`` tensor named like that input, one base64-encoded image
    per element, and decodes each exactly as ``vision.to_pixels`` would: converted to grey (one
    channel) or RGB (three), brought to the network's height and width by ``fit`` and
    ``resample``, and scaled so that white is ``white``. Images over 4096 x 4096 pixels, and
    anything that is not an image, are refused with the element named.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> digits = load_digits(as_frame=True).frame
    >>> trained = train_classifier(digits, label="target", epochs=2, threads=1).model
    >>> accepted = accept_images(trained, white=16.0)
    >>> accepted.metadata["image"]["encoded"]["mode"], accepted.signature()["tensor"]["images"]["white"]
    ('L', 16.0)
    """
    import copy

    from tidal.models._images import image_decoding

    network = _network(model)
    shape = tuple(int(size) for size in network.input_shape)
    if len(shape) != 3:
        raise TidalError(f"input 'model': the network's input '{network.input_name}' is {list(shape)} per row; encoded "
                         "images fill an input of [channels, height, width]")
    decoding = image_decoding(shape[0], shape[1], shape[2], fit=fit, resample=resample, white=white)
    accepted = copy.copy(model)
    accepted.metadata = {**model.metadata, "image": {**(model.metadata.get("image") or {}), "encoded": decoding}}
    if not accepted.metadata.get("input_tensor"):
        accepted.metadata["input_tensor"] = {"name": network.input_name, "shape": list(shape)}
    return accepted
