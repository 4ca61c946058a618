//! How a run's training episodes ended: the falls a learner risks while it learns, which on a
//! real robot are the cost of learning (the table's "training falls").

use std::path::Path;

use crate::agent::{TrainEpisode, read_train_episodes_csv};

/// A run's training episodes and how many of them a fall ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainingEnds {
    pub episodes: usize,
    pub falls: usize,
}

impl TrainingEnds {
    pub fn of(episodes: &[TrainEpisode]) -> Self {
        TrainingEnds { episodes: episodes.len(), falls: episodes.iter().filter(|e| e.fell).count() }
    }

    /// From a finished run's folder: `Ok(None)` when it has no `train_episodes.csv` (runs
    /// written before the file existed), an error naming the file when it cannot be read.
    pub fn read(run_dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = run_dir.join("train_episodes.csv");
        if !path.exists() {
            return Ok(None);
        }
        read_train_episodes_csv(&path).map(|episodes| Some(Self::of(&episodes)))
    }
}
