"""PPO on CartPole-v1 for 100k steps: ``rl.train`` beside Stable-Baselines3 called directly.

Both sides use RL Zoo's CartPole-v1 PPO hyperparameters (8 environments, n_steps 32, batch 256,
20 epochs, gamma 0.98, GAE lambda 0.8, learning rate and clip range falling linearly from 1e-3 and
0.2), the same seeds, one PyTorch thread, in one process after a warm-up run of each, alternating
which side runs first. For
each seed: wall time of training (SB3: ``make_vec_env`` + ``PPO(...)`` + ``learn``; Tidal:
``rl.train``, which also builds the curve, the report and the safetensors package), and the mean
reward over 100 evaluation episodes with deterministic actions (Tidal: ``rl.evaluate``; SB3:
``evaluate_policy``). Reports medians, the overhead ratio, the machine and the load average.

    PYTHONPATH=src nice -n 10 python benchmarks/rl_cartpole.py [--steps 100000] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

ZOO = {"n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98, "n_epochs": 20, "ent_coef": 0.0}
N_ENVS = 8
LEARNING_RATE, CLIP_RANGE = 1e-3, 0.2


def sb3_run(steps: int, seed: int) -> tuple[float, float, float]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    started = time.perf_counter()
    env = make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=seed)
    model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **ZOO,
                learning_rate=lambda left: left * LEARNING_RATE, clip_range=lambda left: left * CLIP_RANGE)
    model.learn(total_timesteps=steps)
    elapsed = time.perf_counter() - started
    evaluation = make_vec_env("CartPole-v1", n_envs=1, seed=seed)
    mean, std = evaluate_policy(model, evaluation, n_eval_episodes=100, deterministic=True)
    return elapsed, float(mean), float(std)


def tidal_run(steps: int, seed: int) -> tuple[float, float, float]:
    from tidal.components import rl

    started = time.perf_counter()
    trained = rl.train(environment="CartPole-v1", algorithm="PPO", total_timesteps=steps, n_envs=N_ENVS, seed=seed,
                       learning_rate=LEARNING_RATE, clip_range=CLIP_RANGE, schedule="linear", threads=1, **ZOO)
    elapsed = time.perf_counter() - started
    evaluation = rl.evaluate(trained.model, n_episodes=100, deterministic=True, seed=seed)
    return elapsed, float(evaluation.summary["mean_reward"]), float(evaluation.summary["std_reward"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    for run in (sb3_run, tidal_run):  # imports and first-call costs, paid before anything is timed
        run(1024, 0)
    rows = []
    load_before = os.getloadavg()
    for index, seed in enumerate(args.seeds):
        order = [("sb3", sb3_run), ("tidal", tidal_run)]
        if index % 2:
            order.reverse()
        for name, run in order:
            elapsed, mean, std = run(args.steps, seed)
            rows.append({"side": name, "seed": seed, "seconds": round(elapsed, 2), "mean_reward": mean, "std_reward": std})
            print(json.dumps(rows[-1]), flush=True)
    load_after = os.getloadavg()
    summary = {}
    for side in ("sb3", "tidal"):
        mine = [row for row in rows if row["side"] == side]
        summary[side] = {"median_seconds": statistics.median(row["seconds"] for row in mine),
                         "mean_rewards": [row["mean_reward"] for row in mine]}
    ratios = [tidal["seconds"] / sb3["seconds"] for tidal, sb3 in zip(
        (row for row in rows if row["side"] == "tidal"), (row for row in rows if row["side"] == "sb3"), strict=True)]
    summary["overhead_ratio_median"] = round(statistics.median(ratios), 3)
    summary["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}"
    summary["load_average_before_after"] = [round(value, 2) for value in (*load_before, *load_after)]
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
