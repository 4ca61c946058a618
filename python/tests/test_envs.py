"""The Python package against Gymnasium's own checker and against known answers: seeded resets,
exact forks and snapshots, the vector env equal to N single envs, the planner's trace replayed on
a fork, pushes, and errors that keep the core's messages. Run from the repository root (scene paths)."""

from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import demorl_studio

ROOT = Path(__file__).resolve().parents[2]
SCENES = sorted(str(p) for p in (ROOT / "scenes").glob("*.ron"))
PENDULUM = str(ROOT / "scenes" / "pendulum.ron")
CHEETAH = str(ROOT / "scenes" / "cheetah.ron")


def rollout(env, actions):
    """Observations and rewards of stepping `env` with `actions` (stops at the end of an episode)."""
    out = []
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(a)
        out.append((obs, reward))
        if terminated or truncated:
            break
    return out


def test_there_are_shipped_scenes():
    assert len(SCENES) >= 7, SCENES


@pytest.mark.parametrize("scene", SCENES, ids=lambda p: Path(p).stem)
def test_every_shipped_scene_passes_gymnasiums_checker(scene):
    env = demorl_studio.make(scene)
    check_env(env, skip_render_check=True)
    assert env.observation_space.dtype == np.float32 and env.action_space.dtype == np.float32
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)


def test_seeded_resets_and_steps_are_reproducible():
    env = demorl_studio.make(CHEETAH)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(30, env.action_space.shape[0])).astype(np.float32)
    first, _ = env.reset(seed=7)
    a = rollout(env, actions)
    again, _ = env.reset(seed=7)
    b = rollout(env, actions)
    assert np.array_equal(first, again)
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b))
    other, _ = env.reset(seed=8)
    assert not np.array_equal(first, other)


def test_the_time_limit_truncates_and_a_fall_terminates():
    env = demorl_studio.make(PENDULUM)
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(np.zeros(1, dtype=np.float32))
        assert not terminated
        steps += 1
    assert steps == env.episode_steps
    hopper = demorl_studio.make(str(ROOT / "scenes" / "hopper.ron"))
    hopper.reset(seed=0)
    for _ in range(hopper.episode_steps):
        _, _, terminated, truncated, info = hopper.step(np.zeros(hopper.action_space.shape, dtype=np.float32))
        if terminated:
            assert "terminated" in info["reason"]
            break
    assert terminated, "the hopper left alone should fall and terminate"


def test_a_fork_and_a_restored_snapshot_replay_bit_identically():
    env = demorl_studio.make(CHEETAH)
    env.reset(seed=3)
    rng = np.random.default_rng(1)
    rollout(env, rng.uniform(-1, 1, size=(10, 6)).astype(np.float32))
    actions = rng.uniform(-1, 1, size=(20, 6)).astype(np.float32)
    fork = env.fork()
    state = env.get_state()
    original = rollout(env, actions)
    forked = rollout(fork, actions)
    env.set_state(state)
    restored = rollout(env, actions)
    for run in (forked, restored):
        assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(original, run))
    other = demorl_studio.make(PENDULUM)
    with pytest.raises(ValueError, match="another scene"):
        other.set_state(state)


def test_joint_state_round_trips():
    env = demorl_studio.make(PENDULUM)
    env.reset(seed=0)
    env.set_joint_state([0.5], [-1.25])
    angles, velocities = env.joint_state()
    assert angles == pytest.approx([0.5], abs=1e-5) and velocities == pytest.approx([-1.25], abs=1e-4)
    with pytest.raises(ValueError, match="1 joints"):
        env.set_joint_state([0.1, 0.2], [0.0, 0.0])


def test_the_vector_env_equals_single_envs_with_same_step_autoreset():
    n, steps = 3, 260  # past the pendulum's 200-step limit: every env resets once
    vec = demorl_studio.make_vec(PENDULUM, n, threads=2)
    seeds = [11, 12, 13]
    obs, _ = vec.reset(seed=seeds)
    singles = [demorl_studio.make(PENDULUM) for _ in range(n)]
    for k, single in enumerate(singles):
        single._native.reset(seeds[k])
        assert np.array_equal(obs[k], single.observation())
    actions = np.random.default_rng(5).uniform(-1, 1, size=(steps, n, 1)).astype(np.float32)
    resets = 0
    for t in range(steps):
        obs, rewards, terminated, truncated, info = vec.step(actions[t])
        for k, single in enumerate(singles):
            s_obs, s_reward, s_term, s_trunc, _ = single.step(actions[t, k])
            assert rewards[k] == np.float32(s_reward) and (terminated[k], truncated[k]) == (s_term, s_trunc)
            if s_term or s_trunc:
                resets += 1
                assert info["_final_obs"][k] and np.array_equal(info["final_obs"][k], s_obs)
                # The vector env reset this env in the same step, from its second episode's seed.
                assert not np.array_equal(obs[k], s_obs)
                single._native.reset(demorl_studio._native.episode_seed(seeds[k], 1))
                assert np.array_equal(obs[k], single.observation())
            else:
                assert np.array_equal(obs[k], s_obs)
    assert resets == n
    assert vec.observation_space.shape == (n, vec.single_observation_space.shape[0])


def test_the_planners_best_sequence_replays_to_its_score_on_a_planning_fork():
    # The shipped pendulum plans on copies with fewer solver iterations (`physics.planning`), so a
    # plan's scores are returns at that resolution: `fork(planning=True)` integrates the same way.
    assert "planning:" in Path(PENDULUM).read_text(), "the pendulum scene plans on coarser copies"
    env = demorl_studio.make(PENDULUM)
    env.reset(seed=2)
    planner = demorl_studio.Planner(env, settings="(horizon: 12, samples: 32, iterations: 2, discount: 1.0)")
    before = env.observation()
    action, trace = planner.plan(env)
    assert np.array_equal(env.observation(), before), "planning changed the env"
    n = trace["sample_count"] + trace["prior_count"]
    assert trace["sequences"].shape == (n, 12, 1) and trace["scores"].shape == (n,)
    assert trace["elite"].sum() == trace["elite_count"]
    assert np.allclose(action, np.clip(trace["mean_actions"][0], -1, 1))
    # The model is the simulator itself: a sequence's score is its return on a fork.
    best = int(np.argmax(trace["scores"]))
    replayed = sum(r for _, r in rollout(env.fork(planning=True), trace["sequences"][best]))
    assert replayed == pytest.approx(float(trace["scores"][best]), rel=1e-5, abs=1e-4)
    # On an exact fork the same actions integrate differently: the resolution is what matters.
    exact = sum(r for _, r in rollout(env.fork(), trace["sequences"][best]))
    assert exact != pytest.approx(replayed, rel=1e-5, abs=1e-4)
    # Elites are the best-scored sequences, and the update weights are a distribution.
    assert trace["scores"][trace["elite"]].min() >= trace["scores"][~trace["elite"]].max()
    assert trace["weights"].sum() == pytest.approx(1.0, abs=1e-5)


def test_presets_plan_and_bad_settings_are_refused_with_the_core_message():
    env = demorl_studio.make(PENDULUM)
    env.reset(seed=0)
    for name in demorl_studio.presets():
        action, _ = demorl_studio.Planner(env, preset=name).plan(env)
        assert action.shape == (1,) and np.all(np.abs(action) <= 1)
    with pytest.raises(ValueError, match="no preset named `nope`"):
        demorl_studio.Planner(env, preset="nope")
    with pytest.raises(ValueError, match="horizon"):
        demorl_studio.Planner(env, settings="(horizon: 0)")


def test_a_preset_file_is_read_as_the_cli_reads_it(tmp_path):
    env = demorl_studio.make(str(ROOT / "scenes" / "hopper.ron"))
    env.reset(seed=0)
    shipped = str(ROOT / "docs" / "presets" / "hopper-oracle-cem-h25.ron")
    planner = demorl_studio.Planner(env, preset=shipped)
    assert planner.source == shipped
    assert "horizon: 25" in planner.settings and "samples: 64" in planner.settings
    broken = tmp_path / "broken.ron"
    broken.write_text("(horizon: 0)")
    with pytest.raises(ValueError, match="broken.ron.*horizon"):
        demorl_studio.Planner(env, preset=str(broken))


def test_a_broken_scene_raises_with_file_line_and_column(tmp_path):
    text = Path(PENDULUM).read_text().replace("episode_steps: 200", "episode_steps: -3", 1)
    broken = tmp_path / "broken.ron"
    broken.write_text(text)
    with pytest.raises(ValueError, match=r"broken\.ron:\d+:\d+"):
        demorl_studio.make(str(broken))
    with pytest.raises(ValueError, match="cannot read"):
        demorl_studio.make(str(tmp_path / "missing.ron"))
    with pytest.raises(ValueError, match="render_mode"):
        demorl_studio.make(PENDULUM, render_mode="rgb_array")


def test_a_wrong_action_length_is_an_error_not_a_crash():
    env = demorl_studio.make(CHEETAH)
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step(np.zeros(5, dtype=np.float32))


def test_a_push_speeds_the_torso_up_and_forks_carry_it():
    quadruped = str(ROOT / "scenes" / "quadruped.ron")
    pushed, free = demorl_studio.make(quadruped), demorl_studio.make(quadruped)
    for env in (pushed, free):
        env.reset(seed=2)
    pushed.push("torso", [80.0, 0.0, 0.0], steps=3)
    fork = pushed.fork()
    zero = np.zeros((3, 8), dtype=np.float32)
    a, b, c = rollout(pushed, zero), rollout(free, zero), rollout(fork, zero)
    # Observation 4 is the torso's forward velocity (after height and roll, pitch, yaw).
    assert a[-1][0][4] > b[-1][0][4] + 0.2
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, c)), "a fork finishes the push"
    with pytest.raises(ValueError, match="no link named `tail`"):
        pushed.push("tail", [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="not finite"):
        pushed.push("torso", [float("nan"), 0.0, 0.0])
