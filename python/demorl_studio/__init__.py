"""DeMoRL Studio's scenes as Gymnasium environments, and its planner, from Python.

    import demorl_studio
    env = demorl_studio.make("scenes/pendulum.ron")          # a gymnasium.Env
    envs = demorl_studio.make_vec("scenes/cheetah.ron", 8)   # a gymnasium.vector.VectorEnv
    planner = demorl_studio.Planner(env, preset="mppi")
    action, trace = planner.plan(env)                        # plans from env's current state

The simulation runs in Rust (Rapier physics, the headless core built without Bevy); arrays
cross the boundary as float32 buffers.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from . import _native

__all__ = ["DemorlEnv", "DemorlVectorEnv", "EnvState", "Planner", "make", "make_vec", "presets"]

EnvState = _native.EnvState


def presets() -> list[str]:
    """The names of the built-in planner presets."""
    return list(_native.presets())


def _floats(buffer: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(buffer, dtype=np.float32).reshape(shape).copy()


def _spaces(native) -> tuple[spaces.Box, spaces.Box]:
    observation = spaces.Box(-np.inf, np.inf, shape=(native.obs_dim,), dtype=np.float32)
    action = spaces.Box(-1.0, 1.0, shape=(native.action_dim,), dtype=np.float32)
    return observation, action


class DemorlEnv(gym.Env):
    """One scene as a Gymnasium environment.

    Observations and actions are float32 Boxes sized by the scene; actions lie in [-1, 1]
    (values outside are clipped by the simulator). ``terminated`` is the scene's termination
    (a fall, a physics blow-up, a non-finite action), ``truncated`` its step limit.
    ``reset(seed=s)`` is reproducible; later resets without a seed continue from it.

    There is no ``render_mode``: the headless core links no renderer (the Bevy studio does:
    ``demorl-studio screenshot SCENE`` or the studio window show a scene).
    """

    metadata = {"render_modes": []}

    def __init__(self, scene_path: str, render_mode: str | None = None):
        if render_mode is not None:
            raise ValueError(
                f"render_mode={render_mode!r} is not available: the headless core has no renderer; "
                "use `demorl-studio screenshot` or the studio to look at a scene"
            )
        self.scene_path = str(scene_path)
        self._native = _native.Env(self.scene_path)
        self.observation_space, self.action_space = _spaces(self._native)

    @classmethod
    def _from_native(cls, native, scene_path: str) -> "DemorlEnv":
        env = cls.__new__(cls)
        env.scene_path = scene_path
        env._native = native
        env.observation_space, env.action_space = _spaces(native)
        env.spec_name = native.name
        return env

    @property
    def control_dt(self) -> float:
        """Seconds per control step."""
        return self._native.control_dt

    @property
    def episode_steps(self) -> int:
        """Control steps before an episode is truncated."""
        return self._native.episode_steps

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        episode_seed = int(self.np_random.integers(0, 2**63))
        obs = self._native.reset(episode_seed)
        return _floats(obs, (self._native.obs_dim,)), {"episode_seed": episode_seed}

    def step(self, action):
        action = np.asarray(action, dtype=np.float32).reshape(self._native.action_dim)
        obs, reward, terminated, truncated, reason = self._native.step(action.tobytes())
        info = {} if reason is None else {"reason": reason}
        return _floats(obs, (self._native.obs_dim,)), float(reward), terminated, truncated, info

    def fork(self, planning: bool = False) -> "DemorlEnv":
        """An exact copy: under the same actions its future is bit-identical to this env's.

        With ``planning=True`` the copy integrates as the planner's simulator copies do: at the
        scene's ``physics.planning`` resolution (exact when the scene sets none), so a planned
        sequence replays on it to its score.
        """
        return DemorlEnv._from_native(self._native.fork(planning), self.scene_path)

    def get_state(self) -> EnvState:
        """A snapshot of the whole state (physics, step count, clock) for ``set_state``."""
        return self._native.get_state()

    def set_state(self, state: EnvState) -> None:
        """Restores a snapshot taken from this env or a fork of it."""
        self._native.set_state(state)

    def observation(self) -> np.ndarray:
        return _floats(self._native.observation(), (self._native.obs_dim,))

    def push(self, link: str, force, steps: int = 1) -> None:
        """Push ``link`` (by name) with ``force`` (3 floats, N, world axes, Y up) at its centre of
        mass for the next ``steps`` control steps, like the studio's push buttons. A push is part
        of the state: ``fork`` and ``get_state`` carry it."""
        self._native.push(str(link), [float(f) for f in force], int(steps))

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Joint angles and velocities in the scene's joint order."""
        angles, velocities = self._native.joint_state()
        return np.asarray(angles, dtype=np.float32), np.asarray(velocities, dtype=np.float32)

    def set_joint_state(self, angles, velocities) -> None:
        self._native.set_joint_state(list(map(float, angles)), list(map(float, velocities)))


class DemorlVectorEnv(gym.vector.VectorEnv):
    """N copies of one scene stepped together on Rust threads (the interpreter is released
    while they step). An env whose episode ends is reset in the same step: its returned
    observation is the new episode's first, and ``info["final_obs"]`` holds the last one
    (Gymnasium's same-step autoreset)."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(self, scene_path: str, num_envs: int, threads: int = 0):
        self.scene_path = str(scene_path)
        self._native = _native.VecEnv(self.scene_path, num_envs, threads)
        probe = _native.Env(self.scene_path)
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = _spaces(probe)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._obs_shape = (num_envs, probe.obs_dim)
        self._np_random = None

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        if isinstance(seed, int) or seed is None:
            root = np.random.default_rng(seed)
            self._np_random = root
            seeds = [int(s) for s in root.integers(0, 2**63, size=self.num_envs)]
        else:
            seeds = [int(s) for s in seed]
        obs = self._native.reset(seeds)
        return _floats(obs, self._obs_shape), {}

    def step(self, actions):
        actions = np.ascontiguousarray(actions, dtype=np.float32)
        obs, rewards, terminated, truncated, finals = self._native.step(actions.tobytes())
        info: dict[str, Any] = {}
        ended = np.array([f is not None for f in finals])
        if ended.any():
            final_obs = np.empty(self.num_envs, dtype=object)
            for k, f in enumerate(finals):
                final_obs[k] = None if f is None else _floats(f, (self._obs_shape[1],))
            info = {"final_obs": final_obs, "_final_obs": ended, "final_info": {}, "_final_info": ended}
        return (
            _floats(obs, self._obs_shape),
            np.asarray(rewards, dtype=np.float64),
            np.asarray(terminated, dtype=bool),
            np.asarray(truncated, dtype=bool),
            info,
        )


class Planner:
    """The DMD-MPC planner with the forked simulator as its model.

    ``Planner(env, preset="mppi")`` (a built-in name, a preset saved from the studio by name, or
    a preset file's path ending in ``.ron``, as the CLI's ``--preset`` takes them),
    ``Planner(env, settings="(horizon: 20, samples: 64)")`` (RON, fields left out take the
    reference preset's) or ``Planner(env)`` (the scene's own settings). ``plan(env)`` plans from
    env's current state without changing it, and returns the action and the trace: every candidate
    sequence of the last iteration with its score, update weight and elite flag, the mean plan and
    its standard deviation.
    """

    def __init__(self, env: DemorlEnv, preset: str | None = None, settings: str | None = None,
                 seed: int = 0, threads: int = 1):
        self._native = _native.Planner(env._native, preset, settings, seed, threads)

    @property
    def settings(self) -> str:
        """The planner settings as RON text."""
        return self._native.settings

    @property
    def source(self) -> str:
        """Where the settings came from: the preset as given, ``"settings"`` or ``"scene"``."""
        return self._native.source

    def reset(self) -> None:
        """Forgets the previous plan (call at every episode start)."""
        self._native.reset()

    def plan(self, env: DemorlEnv, sample: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
        action, raw = self._native.plan(env._native, sample)
        h, a = raw["horizon"], raw["action_dim"]
        n = raw["sample_count"] + raw["prior_count"]
        trace = dict(raw)
        trace["sequences"] = _floats(raw["sequences"], (n, h, a))
        trace["scores"] = _floats(raw["scores"], (n,))
        trace["weights"] = _floats(raw["weights"], (n,))
        trace["elite"] = np.frombuffer(raw["elite"], dtype=np.uint8).astype(bool)
        trace["is_prior"] = np.frombuffer(raw["is_prior"], dtype=np.uint8).astype(bool)
        trace["mean_actions"] = _floats(raw["mean_actions"], (h, a))
        trace["std"] = _floats(raw["std"], (h, a))
        return _floats(action, (a,)), trace


def make(scene_path: str, **options) -> DemorlEnv:
    """A scene file as a ``gymnasium.Env`` (options: ``render_mode``, which must be None)."""
    return DemorlEnv(scene_path, **options)


def make_vec(scene_path: str, num_envs: int, threads: int = 0) -> DemorlVectorEnv:
    """``num_envs`` copies of a scene stepped on ``threads`` Rust threads (0: one per core)."""
    return DemorlVectorEnv(scene_path, num_envs, threads)
