"""Turn search*.json and pbt.json into RESULTS.md: medians over seeds and ratios to random search.

    .venv/bin/python benchmarks/automl/report.py
"""

from __future__ import annotations

import json
import math
import platform
import statistics
from pathlib import Path

HERE = Path(__file__).parent


def reach(curve: list[float], target: float, direction: str) -> int | None:
    """1-based trial (or generation) at which the best-so-far curve first reaches ``target``."""
    for index, value in enumerate(curve):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if (value >= target - 1e-12) if direction == "maximize" else (value <= target + 1e-12):
            return index + 1
    return None


def running_max(curve: list[float]) -> list[float]:
    out, best = [], -math.inf
    for value in curve:
        best = max(best, value)
        out.append(best)
    return out


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def search_section(results: dict) -> list[str]:
    lines = ["## Search strategies at equal trial budgets", "",
             "Best validation score at the budget (median over seeds) and the trials needed to reach random search's "
             "final best in the same seed (median; a run that never reaches it counts as budget + 1, shown with `>`). "
             "`ratio` = that budget / random search's own. Lower is better for log loss and RMSE.", ""]
    for task, entry in results.items():
        direction, budget, curves = entry["direction"], entry["budget"], entry["curves"]
        if "random" not in curves:
            continue
        lines += [f"### {task}", "", f"budget {budget} trials, {entry['seeds']} seed(s), direction: {direction}", "",
                  "| strategy | median best | trials to reach random's best | ratio to random | reached in | wall time (all seeds) |",
                  "| --- | --- | --- | --- | --- | --- |"]
        targets = [curve[-1] for curve in curves["random"]]
        random_needs = [reach(curve, target, direction) or budget + 1 for curve, target in zip(curves["random"], targets, strict=True)]
        for name, runs in curves.items():
            needs, reached = [], 0
            for seed, curve in enumerate(runs):
                found = reach(curve, targets[seed], direction)
                reached += found is not None
                needs.append(found or budget + 1)
            med_need = median(needs)
            ratio = med_need / median(random_needs[: len(needs)])
            shown = f">{budget}" if med_need > budget else f"{med_need:g}"
            lines.append(f"| {name} | {median([c[-1] for c in runs]):.4f} | {shown} | {ratio:.2f} | {reached}/{len(runs)} seeds | "
                         f"{entry['seconds'].get(name, math.nan):.0f} s |")
        lines.append("")
    return lines


def steps_needed(runs: list[list[float]], targets: list[float], sizes: dict) -> list[float]:
    """Training steps each run spent before its best reached random search's final best (same seed)."""
    found = [reach(curve, target, "maximize") for curve, target in zip(runs, targets, strict=False)]
    return [(item or sizes["generations"] + 1) * sizes["population"] * sizes["steps"] for item in found]


def pbt_section(results: dict) -> list[str]:
    lines = ["## Population-based training at equal total training steps", ""]
    if results.get("ray_error"):
        lines += [f"Ray Tune's PBT could not run: `{results['ray_error']}`", ""]
    for problem, entry in results.items():
        if problem == "ray_error":
            continue
        sizes = entry["sizes"]
        total = sizes["population"] * sizes["generations"] * sizes["steps"]
        title = "learning-rate-schedule toy (Ray Tune's pbt_function)" if problem == "toy" else "MLP on digits (validation accuracy)"
        lines += [f"### {title}", "",
                  f"population {sizes['population']}, {sizes['generations']} generations of {sizes['steps']} steps = {total} steps "
                  f"per method, {entry['seeds']} seed(s). Steps to reach random search's final best: the generation at which the "
                  "population's best first reaches it, in steps; `ratio` = that / random search's own.", "",
                  "| method | median best at the budget | steps to reach random's best | ratio to random | wall time |",
                  "| --- | --- | --- | --- | --- |"]
        # a population keeps its checkpoints, so every method is scored by the best model seen so far
        curves = {name: [running_max(curve) for curve in runs] for name, runs in entry["curves"].items()}
        targets = [curve[-1] for curve in curves.get("random", [])]
        random_need = median(steps_needed(curves.get("random", []), targets, sizes))
        for name, runs in curves.items():
            if not runs:
                continue
            med = median(steps_needed(runs, targets, sizes))
            shown = f">{total}" if med > total else f"{med:g}"
            lines.append(f"| {name} | {median([c[-1] for c in runs]):.4f} | {shown} | {med / random_need:.2f} | "
                         f"{entry['seconds'].get(name, math.nan):.0f} s |")
        lines.append("")
    return lines


def main() -> None:
    search: dict = {}
    for path in sorted(HERE.glob("search_*.json")):
        search.update(json.loads(path.read_text()))
    for path in sorted(HERE.glob("more_seeds_*.json")):  # extra seeds of a task, merged when every strategy finished
        for task, extra in json.loads(path.read_text()).items():
            base = search.get(task)
            if base is None or set(extra["curves"]) != set(base["curves"]):
                continue
            for name, curves in extra["curves"].items():
                base["curves"][name] = base["curves"][name] + curves
                base["seconds"][name] = base["seconds"][name] + extra["seconds"][name]
            base["seeds"] += extra["seeds"]
    lines = ["# AutoML benchmark", "",
             f"Machine: {platform.machine()}, 2 cores shared with other jobs (load average 5–13 while this ran), 24 GiB, no GPU; "
             f"Python {platform.python_version()}. Produced by `benchmarks/automl/search.py`, `pbt.py` and `report.py`.", "",
             "What was cut to fit the shared 2-core machine in the time available (each cut applies to every method alike):",
             "",
             "* budget 16 trials (not 20); seeds as stated per task (goal was 10): only the MLP search has 10; breast cancer "
             "and diabetes have 3, the generated task 2 and LightGBM on digits 1, so those medians are anecdotes, not "
             "evidence; strategies missing from a task's table did not finish before the time limit;",
             "* grid search over 6 numeric parameters at 16 trials gets 2 points per parameter and runs the first 16 of "
             "the 64 combinations, which is why it trails everywhere; it is there as the baseline the issue asks for;",
             "* wall times are not comparable between Tidal's PBT (driven in this process) and Ray Tune (trial actors, "
             "checkpoints on disk); the PBT comparison is at equal training steps;",
             "* the generated classification task has 5 000 rows, not 200 000 (one 200k-row trial took minutes here);",
             "* LightGBM's `n_estimators` is searched in 20–200 and the MLP trains at most 30 epochs per trial;",
             "* trials run in the benchmark's process through the `automl.trial` component's code path (train, score the "
             "validation part), not through worker processes, so the figures measure the search, not process start-up.",
             "", "`optuna-tpe` is Optuna's own `study.optimize` with its default `TPESampler(seed)`; `tpe` is Tidal's "
             "strategy over the same sampler (multivariate, constant liar, 3–10 start-up trials).", ""]
    lines += search_section(search)
    pbt_path = HERE / "pbt.json"
    if pbt_path.exists():
        pbt = json.loads(pbt_path.read_text())
        for more in sorted(HERE.glob("pbt_*.json")):  # a rerun replaces a problem's entry once it finished
            extra = json.loads(more.read_text())
            pbt.update({key: value for key, value in extra.items() if key != "ray_error" and all(value["curves"].values())})
        lines += pbt_section(pbt)
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
