"""The study report's charts for pruning and population-based training: intermediate values and lineage."""

from __future__ import annotations

from tidal.automl import SearchSpace, TrialRecord, uniform
from tidal.automl._report import report


def _space() -> SearchSpace:
    return SearchSpace([uniform("alpha", 0.0, 1.0)])


def test_pruned_trials_show_their_steps_and_stop_early():
    trials = [
        TrialRecord(
            "s",
            0,
            "succeeded",
            {"alpha": 0.1},
            0.9,
            meta={"intermediate": [{"step": 10, "value": 0.8}, {"step": 20, "value": 0.9}]},
        ),
        TrialRecord(
            "s",
            1,
            "pruned",
            {"alpha": 0.7},
            0.5,
            meta={"intermediate": [{"step": 10, "value": 0.5}], "pruned_at": 10},
        ),
    ]
    figures = report(trials, _space(), metric="auc", direction="maximize").figures
    rows = figures["intermediate_values"]["data"]["values"]
    assert [(row["trial"], row["status"], row["step"]) for row in rows] == [
        (0, "succeeded", 10),
        (0, "succeeded", 20),
        (1, "pruned", 10),
    ]
    assert "lineage" not in figures


def test_pbt_lineage_links_each_member_to_the_checkpoint_it_continued():
    meta = [
        {"generation": 0, "member": 0, "parent": None, "exploited": False},
        {"generation": 0, "member": 1, "parent": None, "exploited": False},
        {"generation": 1, "member": 0, "parent": 0, "exploited": False},
        {
            "generation": 1,
            "member": 1,
            "parent": 0,
            "exploited": True,
        },  # member 1 copied member 0's checkpoint
    ]
    trials = [
        TrialRecord("s", number, "succeeded", {"alpha": 0.5}, 0.8 + number / 100, meta=item)
        for number, item in enumerate(meta)
    ]
    figures = report(trials, _space(), metric="auc", direction="maximize").figures
    edges, points = (layer["data"]["values"] for layer in figures["lineage"]["layer"])
    assert len(points) == 4
    by_edge: dict[int, list[tuple[int, int, str]]] = {}
    for row in edges:
        by_edge.setdefault(row["edge"], []).append((row["generation"], row["member"], row["kind"]))
    assert by_edge == {
        2: [(0, 0, "continue"), (1, 0, "continue")],
        3: [(0, 0, "exploit"), (1, 1, "exploit")],
    }
    assert "intermediate_values" not in figures


def test_parallel_coordinates_end_on_the_metric_and_carry_no_dotted_field_names():
    space = SearchSpace(
        [uniform("lr", 0.0, 1.0), uniform("layer_params.hidden.out_features", 0.0, 1.0)]
    )
    trials = [
        TrialRecord(
            "s",
            n,
            "succeeded",
            {"lr": n / 4, "layer_params.hidden.out_features": 0.5},
            0.7 + n / 10,
        )
        for n in range(3)
    ]
    figure = report(trials, space, metric="auc", direction="maximize").figures[
        "parallel_coordinates"
    ]
    axes = figure["transform"][0]["fold"]
    assert axes == [
        "lr",
        "layer_params/hidden/out_features",
        "auc (scaled)",
    ]  # Vega-Lite reads a dot as nesting
    rows = figure["data"]["values"]
    assert [row["auc (scaled)"] for row in rows] == [0.0, 0.5, 1.0] and all(
        set(axes) <= set(row) for row in rows
    )
