"""The network editor in headless Chromium: build a small MLP by drag and drop, see a shape error on the layer
that causes it and fix it, go canvas -> code -> canvas, save, and train the saved file through a pipeline's
nn.train node; open a 500-layer network and edit one layer; unfold a block and edit a layer inside it.
The screenshot goes to docs/images/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidal.nn import load_network

pytestmark = pytest.mark.slow
TINY_MODULE = """import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.act(self.fc1(x)))
"""
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def drag_layer(page, kind: str, x: float, y: float) -> None:
    """A real mouse drag from the layer palette to canvas point (x, y)."""
    net = page.get_by_test_id("network-page")
    search = net.get_by_test_id("palette-search")
    search.fill(kind)
    box = net.get_by_test_id(f"palette-{kind}").bounding_box()
    canvas = page.get_by_test_id("network-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(canvas["x"] + x, canvas["y"] + y, steps=12)
    page.mouse.up()
    search.fill("")


def connect(page, source: str, target: str) -> None:
    start = page.get_by_test_id(source).bounding_box()
    end = page.get_by_test_id(target).bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=15)
    page.mouse.up()


def select(page, test_id: str) -> None:
    page.get_by_test_id(test_id).locator(".net-head").click()


def set_param(page, layer: str, name: str, value: str) -> None:
    select(page, f"layer-{layer}")
    page.wait_for_function(f"document.querySelector('[data-testid=node-name]')?.value === {layer!r}")
    page.locator(f"#param-{name}").fill(value)


def edge_label(page, edge_id: str, text: str) -> None:
    page.get_by_test_id(f"rf__edge-{edge_id}").get_by_text(text, exact=True).wait_for(timeout=15_000)


def status_is(page, text: str) -> None:
    page.wait_for_function(
        f"document.querySelector('[data-testid=network-status]')?.textContent.includes({text!r})", timeout=20_000)


def code_has(page, text: str) -> None:
    page.wait_for_function(
        f"document.querySelector('[data-testid=code-view]')?.value.includes({text!r})", timeout=20_000)


def test_build_break_fix_round_trip_save_and_train(network_studio_server, browser):
    url, workspace = network_studio_server
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url + "#view=networks")
    page.get_by_test_id("input-x").wait_for(timeout=30_000)
    page.get_by_test_id("network-name").fill("bc-mlp")

    select(page, "input-x")
    page.get_by_test_id("input-shape").fill("batch, 30")
    page.get_by_test_id("input-shape").press("Enter")

    for kind, y in (("linear", 60), ("relu", 250), ("linear", 440)):
        drag_layer(page, kind, 640, y)
    for layer in ("linear", "relu", "linear_2"):
        page.get_by_test_id(f"layer-{layer}").wait_for()
    connect(page, "out-x-output", "in-linear-0")
    connect(page, "out-linear-output", "in-relu-0")
    connect(page, "out-relu-output", "in-linear_2-0")
    connect(page, "out-linear_2-output", "in-out:y-0")
    set_param(page, "linear", "out_features", "16")
    set_param(page, "linear_2", "out_features", "2")
    status_is(page, "3 layers, shapes fit")
    edge_label(page, "linear:i0", "[batch, 30]")
    edge_label(page, "relu:i0", "[batch, 16]")
    edge_label(page, "out:y:i0", "[batch, 2]")

    # a mistake shows on the layer that makes it, with shape inference's message, and goes away when fixed
    set_param(page, "linear_2", "in_features", "8")
    problem = page.get_by_test_id("issue-linear_2")
    problem.wait_for(timeout=15_000)
    assert "expects last dim 8 (in_features) but gets 16" in problem.text_content()
    assert page.locator(".net-issue").count() == 1
    assert "has-issues" in page.get_by_test_id("layer-linear_2").get_attribute("class")
    status_is(page, "1 problem")
    page.locator("#param-in_features").fill("")
    problem.wait_for(state="detached", timeout=15_000)
    status_is(page, "3 layers, shapes fit")

    # canvas -> code -> canvas: the generated module, edited, read back into the canvas
    code_has(page, "self.linear = nn.Linear(30, 16)")
    code = page.get_by_test_id("code-view")
    assert "class BcMlp(nn.Module):" in code.input_value()
    code.fill(code.input_value().replace("nn.Linear(30, 16)", "nn.Linear(30, 24)").replace("nn.Linear(16, 2)", "nn.Linear(24, 2)"))
    page.get_by_test_id("code-apply").click()
    edge_label(page, "relu:i0", "[batch, 24]")
    code_has(page, "self.linear = nn.Linear(30, 24)")
    assert page.get_by_test_id("code-apply").is_disabled()  # the code is the canvas's again
    for layer in ("linear", "relu", "linear_2"):
        page.get_by_test_id(f"layer-{layer}").wait_for()
    status_is(page, "3 layers, shapes fit")

    # save the YAML nn.train reads, laid out top to bottom first
    page.get_by_test_id("network-layout").click()
    page.get_by_test_id("network-save").click()
    page.get_by_test_id("save-path").fill("networks/mlp.yaml")
    page.get_by_test_id("save-confirm").click()
    page.wait_for_function("document.querySelector('[data-testid=network-path]')?.textContent === 'networks/mlp.yaml'")
    saved = load_network(workspace / "networks" / "mlp.yaml")
    assert [layer.kind for layer in saved.layers] == ["linear", "relu", "linear"]
    assert saved.layer("linear").params["out_features"] == 24 and saved.output_map == {"y": "linear_2"}
    assert saved.inputs["x"].shape == ["batch", 30] and set(saved.layout) >= {"linear", "relu", "linear_2"}
    select(page, "layer-relu")
    page.wait_for_timeout(300)  # the view's fit animation
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMAGES / "studio-network.png"))

    # train it through a pipeline whose nn.train node reads the saved file
    page.get_by_test_id("view-pipeline").click()
    page.get_by_test_id("open").click()
    page.get_by_test_id("open-pipelines/train_net.yaml").click()
    page.get_by_test_id("node-train").wait_for()
    page.get_by_test_id("run").click()
    page.wait_for_function("document.querySelector('[data-testid=status-train]')?.textContent === 'succeeded'",
                           timeout=180_000)
    assert errors == []


def test_a_500_layer_network_opens_and_one_layer_is_edited(network_studio_server, browser):
    url, _ = network_studio_server
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url + "#view=networks")
    page.get_by_test_id("input-x").wait_for(timeout=30_000)
    page.get_by_test_id("network-open").click()
    page.get_by_test_id("open-networks/deep.yaml").click()
    status_is(page, "500 layers, shapes fit")
    code_has(page, "self.fc_249 = nn.Linear(8, 8)")
    rendered = page.locator(".react-flow__node").count()
    assert 0 < rendered < 502  # only what is in view is drawn

    page.get_by_test_id("layer-search").fill("fc_120")
    page.get_by_test_id("layer-search").press("Enter")
    page.get_by_test_id("layer-fc_120").wait_for()
    page.locator("#param-out_features").fill("12")
    edge_label(page, "act_120:i0", "[batch, 12]")
    code_has(page, "self.fc_121 = nn.Linear(12, 8)")
    status_is(page, "500 layers, shapes fit")
    page.get_by_test_id("network-undo").click()  # the edit, undone
    edge_label(page, "act_120:i0", "[batch, 8]")
    code_has(page, "self.fc_121 = nn.Linear(8, 8)")
    page.get_by_test_id("network-redo").click()
    edge_label(page, "act_120:i0", "[batch, 12]")
    assert errors == []


def test_a_block_unfolds_and_a_mistake_inside_shows_on_both(network_studio_server, browser):
    url, _ = network_studio_server
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url + "#view=networks")
    page.get_by_test_id("input-x").wait_for(timeout=30_000)
    page.get_by_test_id("network-open").click()
    page.get_by_test_id("open-networks/nested.yaml").click()
    status_is(page, "4 layers, shapes fit")  # the head's file is found next to the network's
    page.get_by_test_id("fold-block1").click()
    for inner in ("conv1", "relu1", "conv2", "skip", "out"):
        page.get_by_test_id(f"layer-block1/{inner}").wait_for()
    edge_label(page, "block1/relu1:i0", "[batch, 8, h, w]")

    select(page, "layer-block1/conv1")  # a layer of the block: editing it edits the block
    page.get_by_test_id("layer-inspector").get_by_text("in block res_block").wait_for()
    page.locator("#param-out_channels").fill("4")
    page.get_by_test_id("issue-block1/conv2").wait_for(timeout=15_000)
    page.get_by_test_id("issue-block1").wait_for()  # and on the block's layer, for when it is folded
    code_has(page, "The code appears when the network has no problems")
    page.locator("#param-out_channels").fill("8")
    page.get_by_test_id("issue-block1").wait_for(state="detached", timeout=15_000)
    page.get_by_test_id("fold-block1").click()
    page.get_by_test_id("layer-block1/conv1").wait_for(state="detached")
    status_is(page, "4 layers, shapes fit")

    # a module file uploaded into the import box replaces the canvas
    page.get_by_test_id("import-toggle").click()
    page.get_by_test_id("import-file").set_input_files(files=[{"name": "tiny.py", "mimeType": "text/x-python",
                                                                "buffer": TINY_MODULE.encode()}])
    page.wait_for_function("document.querySelector('[data-testid=import-class]')?.value === 'Tiny'")
    page.get_by_test_id("import-shapes").fill("2, 4")
    page.get_by_test_id("import-run").click()
    for layer in ("fc1", "act", "head"):
        page.get_by_test_id(f"layer-{layer}").wait_for(timeout=60_000)
    edge_label(page, "act:i0", "[batch, 8]")
    status_is(page, "3 layers, shapes fit")
    assert errors == []
