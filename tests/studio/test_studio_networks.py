"""``/api/networks``: the layer catalogue, checking a spec (shapes per edge, problems per layer), generated
code, importing a PyTorch module in a worker, and network files in the workspace."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tidal.nn import load_network, parse_network, same_structure
from tidal.studio import create_app

JSON = {"Content-Type": "application/json"}
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "nn"
MLP = {
    "tidal-nn": 1, "name": "small-mlp", "inputs": {"x": {"shape": ["batch", 30]}},
    "layers": [
        {"id": "fc1", "kind": "linear", "inputs": ["x"], "params": {"out_features": 16}},
        {"id": "act", "kind": "relu", "inputs": ["fc1"]},
        {"id": "head", "kind": "linear", "inputs": ["act"], "params": {"out_features": 2}},
    ],
    "outputs": {"logits": "head"},
    "layout": {"fc1": [40, 80], "act": [40, 160], "head": [40, 240]},
}
TINY_MODULE = '''
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.act(self.fc1(x)))
'''


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("networks")
    (root / "networks" / "blocks").mkdir(parents=True)
    for name in ("nested.yaml", "mlp.yaml"):
        (root / "networks" / name).write_text((EXAMPLES / name).read_text())
    (root / "networks" / "blocks" / "head.yaml").write_text((EXAMPLES / "blocks" / "head.yaml").read_text())
    (root / "pipelines").mkdir()
    (root / "pipelines" / "not-a-network.yaml").write_text("tidal: 1\nname: p\nnodes: []\n")
    return root


@pytest.fixture(scope="module")
def client(workspace):
    with TestClient(create_app(workspace, workers=1), base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_the_catalogue_groups_kinds_with_their_parameter_schemas(client):
    kinds = client.get("/api/networks/kinds").json()
    by_name = {kind["name"]: kind for kind in kinds}
    linear = by_name["linear"]
    assert linear["category_title"] == "Dense" and linear["required"] == ["out_features"]
    assert linear["inferred"] == ["in_features"] and linear["inputs"][0]["name"] == "x"
    assert linear["params_schema"]["properties"]["out_features"]["type"] == "integer"
    assert by_name["lstm"]["outputs"] == ["output", "h_n", "c_n"]
    assert by_name["split"]["numbered_outputs"] is True and by_name["module"]["nested"] is True
    categories = [kind["category"] for kind in kinds]
    assert categories.index("dense") < categories.index("convolution")  # palette order
    assert client.get("/api/info").json()["import_code"] is True  # loopback


def test_check_gives_every_shape_and_puts_a_mistake_on_its_layer(client):
    answer = client.post("/api/networks/check", json={"network": MLP}).json()
    assert answer["ok"] is True and answer["issues"] == []
    layers = answer["shapes"]["layers"]
    assert layers["fc1"]["outputs"] == {"output": "[batch, 16]"}
    assert layers["fc1"]["params"]["in_features"] == 30  # inferred
    assert answer["shapes"]["outputs"] == {"logits": "[batch, 2]"}

    broken = copy.deepcopy(MLP)
    broken["layers"][2]["params"]["in_features"] = 8
    answer = client.post("/api/networks/check", json={"network": broken}).json()
    assert answer["ok"] is False
    [problem] = answer["issues"]
    assert problem["layer"] == "head" and problem["code"] == "size_mismatch"
    assert "expects last dim 8 (in_features) but gets 16" in problem["message"]
    assert answer["shapes"]["layers"]["act"]["outputs"]["output"] == "[batch, 16]"  # what is known still shows


def test_check_reports_malformed_specs_as_issues_naming_the_layer(client):
    broken = copy.deepcopy(MLP)
    broken["layers"][1] = {"id": "act", "kind": "relu", "inputs": ["fc1"], "params": {"bogus": 1}}
    broken["layers"].append({"id": "9bad", "kind": "linear"})
    answer = client.post("/api/networks/check", json={"network": broken}).json()
    assert answer["ok"] is False and answer["shapes"] is None
    assert any(item["layer"] == "9bad" and "id" in item["message"] for item in answer["issues"]), answer
    unknown = copy.deepcopy(MLP)
    unknown["layers"][1]["kind"] = "rellu"
    issues = client.post("/api/networks/check", json={"network": unknown}).json()["issues"]
    assert issues[0]["layer"] == "act" and "relu" in issues[0]["message"] + str(issues[0]["hint"])


def test_check_infers_blocks_and_files_inside_them(client, workspace):
    nested = load_network(workspace / "networks" / "nested.yaml").to_dict()
    without_path = client.post("/api/networks/check", json={"network": nested}).json()
    assert without_path["ok"] is False  # the head's file cannot be found without the file's folder
    answer = client.post("/api/networks/check", json={"network": nested, "path": "networks/nested.yaml"}).json()
    assert answer["ok"] is True, answer["issues"]
    block = answer["shapes"]["layers"]["block1"]["module"]
    assert block["layers"]["conv1"]["outputs"]["output"] == "[batch, 8, h, w]"
    nested["modules"]["res_block"]["layers"][2]["params"]["in_channels"] = 4
    issues = client.post("/api/networks/check", json={"network": nested, "path": "networks/nested.yaml"}).json()["issues"]
    assert issues and issues[0]["layer"] == "block1/conv2"  # named by the module layer that uses the block


def test_code_is_the_generated_module_and_refuses_a_spec_with_problems(client):
    answer = client.post("/api/networks/code", json={"network": MLP})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["class_name"] == "SmallMlp"
    assert "class SmallMlp(nn.Module):" in body["code"] and "self.fc1 = nn.Linear(30, 16)" in body["code"]
    broken = copy.deepcopy(MLP)
    broken["layers"][2]["params"]["in_features"] = 8
    refused = client.post("/api/networks/code", json={"network": broken})
    assert refused.status_code == 422
    assert refused.json()["issues"][0]["node"] == "head"


def test_a_module_imports_in_a_worker_and_the_round_trip_keeps_the_network(client):
    answer = client.post("/api/networks/import", json={"source": TINY_MODULE, "class_name": "Tiny",
                                                       "inputs": [{"shape": [2, 4]}]})
    assert answer.status_code == 200, answer.text
    network = answer.json()["network"]
    assert [layer["id"] for layer in network["layers"]] == ["fc1", "act", "head"]
    assert network["inputs"]["x"]["shape"] == ["batch", 4] and answer.json()["issues"] == []
    assert "kind: linear" in answer.json()["yaml"]

    # canvas -> code -> canvas: the generated code reads back into the same network
    code = client.post("/api/networks/code", json={"network": MLP}).json()
    back = client.post("/api/networks/import", json={"source": code["code"], "class_name": code["class_name"],
                                                     "inputs": [{"shape": [2, 30]}], "name": "small-mlp"})
    assert back.status_code == 200, back.text
    assert same_structure(parse_network(back.json()["yaml"]), parse_network(parse_network_text(MLP)))
    assert [layer["id"] for layer in back.json()["network"]["layers"]] == ["fc1", "act", "head"]


def parse_network_text(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize(("source", "class_name", "expected"), [
    ("import torch\n\nclass Net(torch.nn.Module:\n    pass\n", "Net", "line 3"),
    ("x = 1\nraise RuntimeError('no GPU here')\n", "Net", "line 2): RuntimeError: no GPU here"),
    (TINY_MODULE, "Missing", "defines: Tiny"),
])
def test_import_errors_name_the_line_or_the_class(client, source, class_name, expected):
    answer = client.post("/api/networks/import", json={"source": source, "class_name": class_name,
                                                       "inputs": [{"shape": [2, 4]}]})
    assert answer.status_code == 400, answer.text
    assert expected in answer.json()["detail"]


def test_import_of_untraceable_code_names_the_line(client):
    source = TINY_MODULE.replace("return self.head", "if x.sum() > 0:\n            x = x * 2\n        return self.head")
    answer = client.post("/api/networks/import", json={"source": source, "class_name": "Tiny", "via": "fx",
                                                       "inputs": [{"shape": [2, 4]}]})
    assert answer.status_code == 422, answer.text
    assert "control flow" in answer.json()["detail"] and "module.py:14" in answer.json()["detail"]


def test_network_files_are_listed_opened_and_saved_as_nn_train_reads_them(client, workspace):
    listed = {item["path"]: item for item in client.get("/api/networks").json()}
    assert set(listed) == {"networks/nested.yaml", "networks/mlp.yaml", "networks/blocks/head.yaml"}
    assert listed["networks/mlp.yaml"]["layers"] == 6 and listed["networks/mlp.yaml"]["error"] is None

    opened = client.get("/api/networks/networks/mlp.yaml").json()
    assert opened["network"]["name"] == "mlp" and opened["issues"] == []
    assert opened["network"]["layout"]["fc1"] == [40, 80]

    saved = client.put("/api/networks/networks/new/small.yaml", json={"network": MLP})
    assert saved.status_code == 200, saved.text
    file = workspace / "networks" / "new" / "small.yaml"
    assert same_structure(load_network(file), parse_network(parse_network_text(MLP)))
    assert load_network(file).layout["head"] == [40, 240]
    assert client.put("/api/networks/networks/new/small.yaml", json={"network": MLP}).status_code == 409
    changed = copy.deepcopy(MLP)
    changed["layers"][0]["params"]["out_features"] = 12
    again = client.put("/api/networks/networks/new/small.yaml", json={"network": changed, "overwrite": True})
    assert again.status_code == 200 and load_network(file).layer("fc1").params["out_features"] == 12

    from tidal.components.nn import read_spec  # nn.train's own reader takes the saved file

    assert read_spec(str(file), None).name == "small-mlp"


def test_saving_refuses_malformed_specs_and_other_names(client, workspace):
    broken = copy.deepcopy(MLP)
    del broken["outputs"]
    answer = client.put("/api/networks/networks/broken.yaml", json={"network": broken})
    assert answer.status_code == 422 and "outputs" in answer.text
    assert not (workspace / "networks" / "broken.yaml").exists()
    assert client.put("/api/networks/networks/net.txt", json={"network": MLP}).status_code == 400
    assert client.put("/api/networks/networks", json={"network": MLP}).status_code == 400
    # a spec with shape problems is saved, with its problems
    shape_problem = copy.deepcopy(MLP)
    shape_problem["layers"][2]["params"]["in_features"] = 8
    saved = client.put("/api/networks/networks/wip.yaml", json={"network": shape_problem})
    assert saved.status_code == 200 and saved.json()["issues"][0]["layer"] == "head"


def test_opening_what_is_not_a_network_answers_4xx(client):
    assert client.get("/api/networks/pipelines/not-a-network.yaml").status_code == 422
    missing = client.get("/api/networks/networks/none.yaml")
    assert missing.status_code == 400 and "does not exist" in missing.json()["detail"]
