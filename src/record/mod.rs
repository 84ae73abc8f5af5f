//! The records a model folder's config.json keeps besides the network's shape: how the model
//! was trained ([`TrainSettings`] and the choices it holds) and how it scores
//! ([`SplitScores`]). A leaf: the model, the trainer and the evaluation all import it, and it
//! imports none of them.

mod scores;
mod training;

pub use scores::{split_name, Aggregate, MethodScores, ModelScores, SplitScores, SCORES_METRIC};
pub use training::{Augment, Loss, OptimizerKind, TrainSettings, DEFAULT_RIDGE};
