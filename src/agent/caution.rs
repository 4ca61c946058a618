//! κ that follows the training falls (`train.fall_caution`): one dual-ascent step per episode.

use super::train_data::TrainEpisode;
use crate::config::FallCaution;

/// The κ after `episode`, from `current`: raised by each fall beyond the tolerated rate,
/// lowered by the steps without one, kept between `floor` (the settings' κ) and the
/// caution's maximum. Episodes ending before `from_step` leave it unchanged, and so do those cut
/// short by the simulator (a physics blow-up): they say nothing about how bold the plans were.
pub fn penalty_after(caution: &FallCaution, current: f32, floor: f32, episode: &TrainEpisode) -> f32 {
    if episode.env_steps < caution.from_step || !(episode.fell || episode.reached_time_limit()) {
        return current;
    }
    let tolerated = caution.falls_per_1000_steps * episode.length as f32 / 1000.0;
    let excess = f32::from(u8::from(episode.fell)) - tolerated;
    (current + caution.step_size * excess).clamp(floor, caution.max_penalty.max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn episode(env_steps: u64, length: u32, fell: bool) -> TrainEpisode {
        let end = if fell { "terminated: trunk tilted" } else { "time limit" };
        TrainEpisode { env_steps, episode_return: 0.0, length, fell, end: end.into(), disagreement_penalty: None }
    }

    #[test]
    fn falls_raise_kappa_by_their_excess_and_long_episodes_ease_it_back() {
        let caution = FallCaution::default();
        // A fall after 200 steps: 1 − 0.2 tolerated falls → +0.8.
        let after_fall = penalty_after(&caution, 1.0, 1.0, &episode(3000, 200, true));
        assert!((after_fall - 1.8).abs() < 1e-6, "{after_fall}");
        // A 1000-step episode without a fall: −1 tolerated fall → back down, never below the floor.
        let eased = penalty_after(&caution, 2.5, 1.0, &episode(4000, 1000, false));
        assert!((eased - 1.5).abs() < 1e-6, "{eased}");
        assert_eq!(penalty_after(&caution, 1.5, 1.0, &episode(5000, 1000, false)), 1.0);
        // Falls in a row stop at the maximum.
        let kappa = (0..10).fold(1.0, |k, i| penalty_after(&caution, k, 1.0, &episode(3000 + 100 * i, 100, true)));
        assert_eq!(kappa, 3.0);
        // At exactly the tolerated rate κ holds still: a fall after 1000 steps.
        assert_eq!(penalty_after(&caution, 2.0, 1.0, &episode(6000, 1000, true)), 2.0);
        // A physics blow-up after 300 steps is neither a fall nor 300 clean steps.
        let blow_up = TrainEpisode { end: "physics blow-up: speed 1e9".into(), ..episode(7000, 300, false) };
        assert_eq!(penalty_after(&caution, 2.0, 1.0, &blow_up), 2.0);
    }

    #[test]
    fn early_episodes_leave_kappa_alone_and_the_floor_wins_over_a_lower_maximum() {
        let caution = FallCaution { from_step: 2500, ..FallCaution::default() };
        assert_eq!(penalty_after(&caution, 1.0, 1.0, &episode(2499, 100, true)), 1.0);
        assert!(penalty_after(&caution, 1.0, 1.0, &episode(2500, 100, true)) > 1.0);
        let low_max = FallCaution { max_penalty: 0.5, ..FallCaution::default() };
        assert_eq!(penalty_after(&low_max, 2.0, 2.0, &episode(3000, 100, true)), 2.0);
    }
}
