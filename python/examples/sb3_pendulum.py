"""Stable-Baselines3 SAC, with its defaults, on scenes/pendulum.ron through the binding, and the
same on Gymnasium's Pendulum-v1 on the same machine, for docs/RESULTS.md.

    pip install ./python stable-baselines3
    python python/examples/sb3_pendulum.py [--steps 5000] [--seeds 1 2 3] [--eval-episodes 10]

Each run trains SB3's SAC (its default hyper-parameters) for --steps env steps, then reports the
mean and spread of the return over --eval-episodes deterministic episodes on a fresh env.
"""

import argparse
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from stable_baselines3 import SAC
from stable_baselines3.common.evaluation import evaluate_policy

import demorl_studio

SCENE = str(Path(__file__).resolve().parents[2] / "scenes" / "pendulum.ron")


def train_and_evaluate(make_env, seed: int, steps: int, eval_episodes: int):
    model = SAC("MlpPolicy", make_env(), seed=seed, verbose=0)
    started = time.time()
    model.learn(total_timesteps=steps)
    wall = time.time() - started
    eval_env = make_env()
    eval_env.reset(seed=10_000 + seed)
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=eval_episodes, deterministic=True)
    return float(mean), float(std), wall


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--only", choices=["demorl", "gymnasium"], help="run one of the two environments")
    args = parser.parse_args()
    envs = {
        "demorl_studio scenes/pendulum.ron": lambda: demorl_studio.make(SCENE),
        "gymnasium Pendulum-v1": lambda: gym.make("Pendulum-v1"),
    }
    if args.only == "demorl":
        envs.pop("gymnasium Pendulum-v1")
    elif args.only == "gymnasium":
        envs.pop("demorl_studio scenes/pendulum.ron")
    print(f"| environment | seed | eval return (mean ± std over {args.eval_episodes}) | train wall (s) |")
    print("|---|---|---|---|")
    for name, make_env in envs.items():
        reached = 0
        for seed in args.seeds:
            mean, std, wall = train_and_evaluate(make_env, seed, args.steps, args.eval_episodes)
            reached += mean >= -200
            print(f"| {name} | {seed} | {mean:.1f} ± {std:.1f} | {wall:.0f} |", flush=True)
        print(f"| {name} | reached −200 | {reached}/{len(args.seeds)} seeds | |", flush=True)


if __name__ == "__main__":
    main()
