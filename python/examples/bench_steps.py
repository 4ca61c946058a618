"""Env steps per second through Python: one env (gymnasium.Env.step) and the vector env (N envs
stepped on Rust threads), against the Rust figures of `demorl-studio bench env` measured in the
same run, and, when the `mujoco` package is installed, Gymnasium's MuJoCo HalfCheetah-v5 per
physics step.

    python python/examples/bench_steps.py [--scene scenes/cheetah.ron] [--envs 8] [--threads 2]
        [--seconds 3] [--binary target/release/demorl-studio]
"""

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np

import demorl_studio

ROOT = Path(__file__).resolve().parents[2]


def steps_per_second(step, seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        count += step()
    return count / (time.perf_counter() - started)


def episode_rate(env, action_dim: int, seconds: float) -> float:
    """Env steps/s of any gymnasium env stepped with uniform random actions, resetting as needed."""
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(1024, action_dim)).astype(np.float32)
    k = [0]

    def step():
        _, _, terminated, truncated, _ = env.step(actions[k[0] % 1024])
        k[0] += 1
        if terminated or truncated:
            env.reset()
        return 1

    return steps_per_second(step, seconds)


def single_rate(scene: str, seconds: float) -> float:
    env = demorl_studio.make(scene)
    return episode_rate(env, env.action_space.shape[0], seconds)


def vector_rate(scene: str, envs: int, threads: int, seconds: float) -> float:
    vec = demorl_studio.make_vec(scene, envs, threads)
    vec.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(64, envs, vec.single_action_space.shape[0]))
    actions = actions.astype(np.float32)
    k = [0]

    def step():
        vec.step(actions[k[0] % 64])
        k[0] += 1
        return envs

    return steps_per_second(step, seconds)


def rust_rates(binary: str, scene: str, threads: int, seconds: float) -> dict:
    out = subprocess.run(
        [binary, "bench", "env", "--json", "--threads", str(threads), "--seconds", str(seconds),
         "--scenes", str(Path(scene).parent)],
        check=True, capture_output=True, text=True,
    ).stdout
    figures = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {f["name"]: f["value"] for f in figures}


def mujoco_rate(seconds: float):
    try:
        import gymnasium as gym
        env = gym.make("HalfCheetah-v5")
    except Exception as e:  # the mujoco package is optional
        return None, str(e).splitlines()[0]
    return episode_rate(env, env.action_space.shape[0], seconds), env.unwrapped.frame_skip


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scene", default=str(ROOT / "scenes" / "cheetah.ron"))
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--binary", default=None, help="demorl-studio binary for the Rust figures")
    args = p.parse_args()
    name = Path(args.scene).stem
    single = single_rate(args.scene, args.seconds)
    vector = vector_rate(args.scene, args.envs, args.threads, args.seconds)
    print(f"python single env: {single:,.0f} env steps/s")
    print(f"python vector env ({args.envs} envs, {args.threads} threads): {vector:,.0f} env steps/s")
    if args.binary:
        rust = rust_rates(args.binary, args.scene, args.threads, args.seconds)
        single_key = f"env/{name}/single/env_steps_per_s"
        batch_key = next((k for k in rust if k.startswith(f"env/{name}/batch") and k.endswith("env_steps_per_s")), None)
        for key in (single_key, batch_key):
            if key in rust:
                print(f"rust {key}: {rust[key]:,.0f} env steps/s")
        if single_key in rust:
            print(f"python single / rust single: {single / rust[single_key]:.2f}")
        if batch_key:
            print(f"python vector / rust batched: {vector / rust[batch_key]:.2f}")
    rate, frame_skip = mujoco_rate(args.seconds)
    if rate is None:
        print(f"mujoco HalfCheetah-v5: not measured ({frame_skip})")
    else:
        print(f"mujoco HalfCheetah-v5: {rate:,.0f} env steps/s = {rate * frame_skip:,.0f} physics steps/s "
              f"(frame_skip {frame_skip})")


if __name__ == "__main__":
    main()
