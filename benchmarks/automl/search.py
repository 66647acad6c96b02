"""Search strategies at equal trial budgets: Tidal's grid, random, TPE and evolutionary optimizer
against Optuna's own TPE (``study.optimize``), on five tasks, several seeds.

    .venv/bin/python benchmarks/automl/search.py --seeds 10 --budget 20 --out benchmarks/automl/search.json

For each task and seed it records every strategy's best-so-far curve. Reported: the median best
score at the budget, and the trials a strategy needs to reach random search's final best
(median over seeds; a run that never reaches it counts as budget + 1).
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

from tasks import make_tasks

from tidal.automl import TrialRecord, make_strategy

STRATEGIES = ["random", "grid", "tpe", "evolutionary", "optuna-tpe"]


def run_tidal(task, name: str, budget: int, seed: int) -> list[float]:
    options = {"candidates": max(4, budget // 3), "keep": max(2, budget // 6)} if name == "evolutionary" else {}
    strategy = make_strategy(name, task.search_space, direction=task.direction, budget=budget, seed=seed, options=options)
    values = []
    while not strategy.done and len(values) < budget:
        suggestion = strategy.ask()
        if suggestion is None:
            break
        try:
            value, status = task.evaluate(suggestion.params), "succeeded"
        except Exception:  # noqa: BLE001 - a failing configuration is a failed trial, as in a study
            value, status = math.nan, "failed"
        strategy.tell(TrialRecord("bench", len(values), status, params=suggestion.params, value=value, meta=suggestion.meta))
        values.append(value)
    return values


def run_optuna(task, budget: int, seed: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = task.search_space
    values: list[float] = []

    def objective(trial):
        params = {}
        for item in space:
            if item.kind == "choice":
                params[item.name] = trial.suggest_categorical(item.name, list(item.values))
            elif item.kind == "int":
                params[item.name] = trial.suggest_int(item.name, int(item.low), int(item.high), log=item.log)
            else:
                params[item.name] = trial.suggest_float(item.name, item.low, item.high, log=item.log)
        value = task.evaluate(params)
        values.append(value)
        return value

    study = optuna.create_study(direction=task.direction, sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=budget)
    return values


def best_curve(values: list[float], direction: str) -> list[float]:
    sign = 1 if direction == "maximize" else -1
    out, best = [], -math.inf
    for value in values:
        if not math.isnan(value):
            best = max(best, sign * value)
        out.append(sign * best if best > -math.inf else math.nan)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--heavy-seeds", type=int, default=5, help="seeds for the slower tasks (digits, generated, mlp)")
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--only", default="", help="comma-separated task indexes")
    parser.add_argument("--first-seed", type=int, default=0, help="to add seeds to an earlier run (report.py merges them)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("search.json"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    tasks = make_tasks(args.rows)
    chosen = [int(i) for i in args.only.split(",")] if args.only else range(len(tasks))
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for index in chosen:
        task = tasks[index]
        seeds = args.seeds if index in (0, 4) else args.heavy_seeds
        entry = {"direction": task.direction, "budget": args.budget, "seeds": seeds, "curves": {}, "seconds": {}}
        for name in STRATEGIES:
            started = time.perf_counter()
            curves = []
            for seed in range(args.first_seed, args.first_seed + seeds):
                values = run_optuna(task, args.budget, seed) if name == "optuna-tpe" else run_tidal(task, name, args.budget, seed)
                curves.append(best_curve(values, task.direction))
            entry["curves"][name] = curves
            entry["seconds"][name] = time.perf_counter() - started
            results[task.name] = entry
            args.out.write_text(json.dumps(results, indent=1))
            print(f"{task.name} · {name}: {entry['seconds'][name]:.0f}s, median best "
                  f"{sorted(c[-1] for c in curves)[len(curves) // 2]:.4f}", flush=True)
        results[task.name] = entry
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
