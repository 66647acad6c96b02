"""Neural networks as editable layer graphs (``tidal-nn: 1`` files), converted to and from PyTorch.

    import tidal.nn as tnn

    spec = tnn.load_network("mnist.yaml")       # YAML: inputs, layers, outputs, modules, layout
    shapes = tnn.infer_shapes(spec)             # every edge's shape; NetworkError lists all problems
    print(tnn.to_source(spec))                  # a readable nn.Module source file
    module = tnn.build_module(spec)             # the same network, built directly
    back = tnn.from_module(module, (example,))  # a torch module -> spec, through torch.fx
    result = tnn.train_network(spec, table, label="y")  # .package: a torch model package

Reading specs and inferring shapes is pure Python; ``to_source`` too. ``build_module``,
``from_module``, training and torch model packages need the ``nn`` extra (``pip install
tidal-ml[nn]``): torch is imported only then.
"""

from typing import TYPE_CHECKING

from tidal.core._lazy import lazy_attributes

_EXPORTS = {
    "KINDS": "tidal.nn._kinds",
    "LayerIssue": "tidal.nn._issues",
    "LayerKind": "tidal.nn._kind",
    "LayerShapes": "tidal.nn._infer",
    "LayerSpec": "tidal.nn._spec",
    "NETWORK_SCHEMA": "tidal.nn._schema",
    "NetworkError": "tidal.nn._issues",
    "NetworkModel": "tidal.nn._network_model",
    "NetworkShapes": "tidal.nn._infer",
    "NetworkSpec": "tidal.nn._spec",
    "ParamDef": "tidal.nn._params",
    "SubNetwork": "tidal.nn._spec",
    "TensorSpec": "tidal.nn._spec",
    "TensorType": "tidal.nn._kind",
    "TrainSettings": "tidal.nn._train",
    "TrainingResult": "tidal.nn._train",
    "build_module": "tidal.nn._build",
    "from_module": "tidal.nn._import",
    "infer_shapes": "tidal.nn._infer",
    "inline_modules": "tidal.nn._inline",
    "inline_network": "tidal.nn._inline",
    "load_network": "tidal.nn._spec",
    "network_package": "tidal.nn._packages",
    "parse_network": "tidal.nn._spec",
    "prunable_layers": "tidal.nn._prune",
    "prune_network": "tidal.nn._prune",
    "pruning_plan": "tidal.nn._prune",
    "same_structure": "tidal.nn._signature",
    "to_source": "tidal.nn._codegen",
    "train_network": "tidal.nn._train",
    "validate_network": "tidal.nn._infer",
}
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from tidal.nn._build import build_module
    from tidal.nn._codegen import to_source
    from tidal.nn._import import from_module
    from tidal.nn._infer import LayerShapes, NetworkShapes, infer_shapes, validate_network
    from tidal.nn._inline import inline_modules, inline_network
    from tidal.nn._issues import LayerIssue, NetworkError
    from tidal.nn._kind import LayerKind, TensorType
    from tidal.nn._kinds import KINDS
    from tidal.nn._network_model import NetworkModel
    from tidal.nn._packages import network_package
    from tidal.nn._params import ParamDef
    from tidal.nn._prune import prunable_layers, prune_network, pruning_plan
    from tidal.nn._schema import NETWORK_SCHEMA
    from tidal.nn._signature import same_structure
    from tidal.nn._spec import (
        LayerSpec,
        NetworkSpec,
        SubNetwork,
        TensorSpec,
        load_network,
        parse_network,
    )
    from tidal.nn._train import TrainingResult, TrainSettings, train_network

__all__ = [
    "KINDS",
    "NETWORK_SCHEMA",
    "LayerIssue",
    "LayerKind",
    "LayerShapes",
    "LayerSpec",
    "NetworkError",
    "NetworkModel",
    "NetworkShapes",
    "NetworkSpec",
    "ParamDef",
    "SubNetwork",
    "TensorSpec",
    "TensorType",
    "TrainSettings",
    "TrainingResult",
    "build_module",
    "from_module",
    "infer_shapes",
    "inline_modules",
    "inline_network",
    "load_network",
    "network_package",
    "parse_network",
    "prunable_layers",
    "prune_network",
    "pruning_plan",
    "same_structure",
    "to_source",
    "train_network",
    "validate_network",
]
