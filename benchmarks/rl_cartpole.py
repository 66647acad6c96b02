"""PPO on CartPole-v1 for 100k steps: ``rl.train`` beside Stable-Baselines3 called directly.

Both sides use RL Zoo's CartPole-v1 PPO hyperparameters (8 environments, n_steps 32, batch 256,
20 epochs, gamma 0.98, GAE lambda 0.8, learning rate and clip range falling linearly from 1e-3 and
0.2), the same seeds, one PyTorch thread, in one process after a warm-up run of each, alternating
which side runs first. For
each seed: wall time of training (SB3: ``make_vec_env`` + ``PPO(...)`` + ``learn``; Tidal:
``rl.train``, which also builds the curve, the report and the safetensors package), and the mean
reward over 100 evaluation episodes with deterministic actions (Tidal: ``rl.evaluate``; SB3:
``evaluate_policy``). Reports medians, the overhead ratio, the machine and the load average.

Wall times of whole runs swing with the machine's load by more than the 5% the overhead goal allows,
so the overhead is also measured directly: the time each side spends inside SB3's ``PPO.learn``
(the same loop on both sides) is recorded, and so is the time of Tidal's per-step callback (which runs
inside it). Tidal's own work is its run's time outside ``learn`` plus the callback's; SB3's is its
run's time outside ``learn`` (``make_vec_env`` and ``PPO(...)``, which ``rl.train`` does too). The
difference, as a share of SB3's run, is the component's overhead, free of the loop's swings.

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


#: seconds inside ``PPO.learn`` and inside Tidal's per-step callback, per run (filled by :func:`instrument`)
INSIDE_LEARN: list[float] = []
CALLBACK: list[float] = [0.0]


def instrument() -> None:
    """Time ``PPO.learn`` (both sides) and the ``_on_step`` of Tidal's curve callback."""
    from stable_baselines3 import PPO

    import tidal.components._rl_train as rl_train

    learn = PPO.learn

    def timed_learn(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return learn(self, *args, **kwargs)
        finally:
            INSIDE_LEARN.append(time.perf_counter() - started)

    PPO.learn = timed_learn
    make = rl_train._curve_callback

    def timed_callback():  # type: ignore[no-untyped-def]
        callback = make()
        step = callback._on_step

        def on_step() -> bool:
            started = time.perf_counter()
            try:
                return step()
            finally:
                CALLBACK[0] += time.perf_counter() - started

        callback._on_step = on_step
        return callback

    rl_train._curve_callback = timed_callback


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    instrument()
    for run in (sb3_run, tidal_run):  # imports and first-call costs, paid before anything is timed
        run(1024, 0)
    rows = []
    load_before = os.getloadavg()
    for index, seed in enumerate(args.seeds):
        order = [("sb3", sb3_run), ("tidal", tidal_run)]
        if index % 2:
            order.reverse()
        for name, run in order:
            INSIDE_LEARN.clear()
            CALLBACK[0] = 0.0
            elapsed, mean, std = run(args.steps, seed)
            inside = INSIDE_LEARN[0]  # the training run's learn (evaluation calls none)
            rows.append({"side": name, "seed": seed, "seconds": round(elapsed, 2), "mean_reward": mean, "std_reward": std,
                         "inside_learn_s": round(inside, 3), "outside_learn_s": round(elapsed - inside, 3),
                         "callback_s": round(CALLBACK[0], 3)})
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
    direct = []
    for tidal, sb3 in zip((row for row in rows if row["side"] == "tidal"), (row for row in rows if row["side"] == "sb3"),
                          strict=True):
        own = tidal["outside_learn_s"] + tidal["callback_s"]
        direct.append((own - sb3["outside_learn_s"]) / sb3["seconds"])
    summary["direct_overhead_share"] = [round(value, 5) for value in direct]
    summary["direct_overhead_share_median"] = round(statistics.median(direct), 5)
    summary["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}"
    summary["load_average_before_after"] = [round(value, 2) for value in (*load_before, *load_after)]
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
