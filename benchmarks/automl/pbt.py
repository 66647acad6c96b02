"""Population-based training: Tidal's PBT strategy against Ray Tune's PopulationBasedTraining,
and against random search, at equal total training steps.

    .venv/bin/python benchmarks/automl/pbt.py --seeds 5 --out benchmarks/automl/pbt.json

Two problems:

* the learning-rate-schedule toy of Ray Tune's own PBT example (``pbt_function.py``): the
  learning rate that helps depends on the current accuracy, so a fixed rate is never right;
* an MLP (scikit-learn, ``partial_fit`` epochs) on digits, learning rate and L2 penalty tuned.

Both sides run a population of P members for G generations of S steps (P x G x S steps in all),
exploit the bottom 25% from the top 25%, perturb by 0.8/1.2 or resample with probability 0.25.
Tidal's strategy is driven through its ask/tell interface in this process; Ray Tune runs its
own trial actors (2 CPUs). Random search trains P random configurations for G x S steps each.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from tidal.automl import PopulationBasedTraining, SearchSpace, TrialRecord

# -- the toy (Ray Tune examples/pbt_function.py) ---------------------------------------------------
MIDPOINT, Q_TOLERANCE, NOISE = 100.0, 3.0, 2.0
TOY_SPACE = SearchSpace.from_dict({"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}})


def toy_steps(accuracy: float, lr: float, steps: int, rng: np.random.Generator) -> float:
    for _ in range(steps):
        optimal = 0.01 * accuracy / MIDPOINT if accuracy < MIDPOINT else 0.01 - 0.01 * (accuracy - MIDPOINT) / MIDPOINT
        optimal = min(0.01, max(0.001, optimal))
        q_err = max(lr, optimal) / min(lr, optimal)
        if q_err < Q_TOLERANCE:
            accuracy += (1.0 / q_err) * rng.random()
        elif lr > optimal:
            accuracy -= (q_err - Q_TOLERANCE) * rng.random()
        accuracy += NOISE * rng.normal()
        accuracy = max(0.0, accuracy)
    return accuracy


# -- the MLP on digits --------------------------------------------------------------------------------
MLP_SPACE = SearchSpace.from_dict({"learning_rate_init": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
                                   "alpha": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True}})


def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def mlp_steps(model, params, steps, data, seed):
    from sklearn.neural_network import MLPClassifier

    X_train, X_valid, y_train, y_valid = data
    if model is None:
        model = MLPClassifier(hidden_layer_sizes=(64,), random_state=seed)
    model.set_params(learning_rate_init=params["learning_rate_init"], alpha=params["alpha"])
    if getattr(model, "_optimizer", None) is not None:  # Adam recomputes its step from learning_rate_init
        model._optimizer.learning_rate_init = params["learning_rate_init"]
    for _ in range(steps):
        model.partial_fit(X_train, y_train, classes=np.arange(10))
    return model, float(model.score(X_valid, y_valid))


# -- Tidal's PBT, driven through ask/tell --------------------------------------------------------------
def tidal_pbt(problem: str, population: int, generations: int, steps: int, seed: int, data=None) -> list[float]:
    """Best value of each generation (after it finished)."""
    space = TOY_SPACE if problem == "toy" else MLP_SPACE
    strategy = PopulationBasedTraining(space, budget=population * generations, population=population, steps=steps, seed=seed)
    states: dict[int, object] = {}
    told: list[TrialRecord] = []
    best_per_generation = []
    number = 0
    while not strategy.done:
        batch = []
        while (suggestion := strategy.ask()) is not None:
            batch.append((number, suggestion))
            number += 1
        for trial_number, suggestion in batch:
            parent = suggestion.meta["parent"]
            rng = np.random.default_rng([seed, trial_number])
            if problem == "toy":
                start = states[parent] if parent is not None else 0.0
                state = toy_steps(float(start), suggestion.params["lr"], steps, rng)
                value = state
            else:
                import copy

                start = copy.deepcopy(states[parent]) if parent is not None else None
                state, value = mlp_steps(start, suggestion.params, steps, data, seed * 100 + suggestion.meta["member"])
            states[trial_number] = state
            record = TrialRecord("bench", trial_number, "succeeded", params=suggestion.params, value=value,
                                 meta=suggestion.meta, model_uri=f"mem://{trial_number}")
            strategy.tell(record)
            told.append(record)
        best_per_generation.append(max(r.value for r in told[-population:]))
    return best_per_generation


def random_search(problem: str, population: int, generations: int, steps: int, seed: int, data=None) -> list[float]:
    """P random configurations, each trained G x S steps; best value after each block of S steps."""
    space = TOY_SPACE if problem == "toy" else MLP_SPACE
    rng = np.random.default_rng([seed, 99])
    values = np.zeros((population, generations))
    for member in range(population):
        params = space.sample(rng)
        state: object = 0.0 if problem == "toy" else None
        for generation in range(generations):
            trial_rng = np.random.default_rng([seed, 7, member, generation])
            if problem == "toy":
                state = toy_steps(float(state), params["lr"], steps, trial_rng)  # type: ignore[arg-type]
                values[member, generation] = float(state)  # type: ignore[arg-type]
            else:
                state, values[member, generation] = mlp_steps(state, params, steps, data, seed * 100 + member)
    return values.max(axis=0).tolist()


# -- Ray Tune's PBT ------------------------------------------------------------------------------------
def ray_pbt(problem: str, population: int, generations: int, steps: int, seed: int) -> list[float]:
    import pickle

    from ray import tune
    from ray.tune import Checkpoint
    from ray.tune.schedulers import PopulationBasedTraining as RayPBT

    def trainable(config):
        checkpoint = tune.get_checkpoint()
        state, iteration = (0.0 if problem == "toy" else None), 0
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                with open(os.path.join(folder, "state.pkl"), "rb") as handle:
                    state, iteration = pickle.load(handle)
        data = digits() if problem == "mlp" else None
        while True:
            iteration += 1
            rng = np.random.default_rng([config["seed"], iteration, int(config["member"] * 1000)])
            if problem == "toy":
                state = toy_steps(state, config["lr"], steps, rng)
                value = state
            else:
                state, value = mlp_steps(state, config, steps, data, config["seed"] * 100 + int(config["member"]))
            with tempfile.TemporaryDirectory() as folder:
                with open(os.path.join(folder, "state.pkl"), "wb") as handle:
                    pickle.dump((state, iteration), handle)
                tune.report({"score": value}, checkpoint=Checkpoint.from_directory(folder))

    random.seed(seed)
    np.random.seed(seed)
    if problem == "toy":
        mutations = {"lr": tune.loguniform(1e-4, 1e-1)}
    else:
        mutations = {"learning_rate_init": tune.loguniform(1e-5, 1e-1), "alpha": tune.loguniform(1e-6, 1e-1)}
    scheduler = RayPBT(time_attr="training_iteration", perturbation_interval=1, hyperparam_mutations=mutations,
                       quantile_fraction=0.25, resample_probability=0.25)
    param_space = {**mutations, "seed": seed, "member": tune.uniform(0, 1)}
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(metric="score", mode="max", scheduler=scheduler, num_samples=population,
                                    reuse_actors=True),
        run_config=tune.RunConfig(stop={"training_iteration": generations}, verbose=0,
                                  storage_path=tempfile.mkdtemp(prefix="ray-pbt-")),
    )
    results = tuner.fit()
    best = np.full(generations, -math.inf)
    for result in results:
        frame = result.metrics_dataframe
        for _, row in frame.iterrows():
            index = int(row["training_iteration"]) - 1
            if 0 <= index < generations:
                best[index] = max(best[index], float(row["score"]))
    return best.tolist()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--mlp-seeds", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--problems", default="toy,mlp")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("pbt.json"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    problems = {"toy": dict(population=4, generations=10, steps=20), "mlp": dict(population=4, generations=6, steps=3)}
    results: dict = {}
    ray_error = None
    if not args.no_ray:
        try:
            import ray

            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).parent), "OMP_NUM_THREADS": "1"}})
        except Exception as error:  # noqa: BLE001 - reported in the results
            ray_error = f"{type(error).__name__}: {error}"
    for problem, sizes in problems.items():
        if problem not in args.problems.split(","):
            continue
        seeds = args.seeds if problem == "toy" else args.mlp_seeds
        data = digits() if problem == "mlp" else None
        entry: dict = {"sizes": sizes, "seeds": seeds, "curves": {"tidal-pbt": [], "random": [], "ray-pbt": []}, "seconds": {}}
        for name in ("tidal-pbt", "random", "ray-pbt"):
            if name == "ray-pbt" and (args.no_ray or ray_error):
                continue
            started = time.perf_counter()
            for seed in range(seeds):
                if name == "tidal-pbt":
                    curve = tidal_pbt(problem, seed=seed, data=data, **sizes)
                elif name == "random":
                    curve = random_search(problem, seed=seed, data=data, **sizes)
                else:
                    try:
                        curve = ray_pbt(problem, seed=seed, **sizes)
                    except Exception as error:  # noqa: BLE001
                        ray_error = f"{type(error).__name__}: {error}"
                        break
                entry["curves"][name].append(curve)
            entry["seconds"][name] = time.perf_counter() - started
            finals = sorted(c[-1] for c in entry["curves"][name])
            if finals:
                print(f"{problem} · {name}: {entry['seconds'][name]:.0f}s, median final best {finals[len(finals) // 2]:.4f}", flush=True)
            results[problem] = entry
            results["ray_error"] = ray_error
            args.out.write_text(json.dumps(results, indent=1))
        results[problem] = entry
    results["ray_error"] = ray_error
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
