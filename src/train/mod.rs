//! Layer-wise training of the stacked network (`saex train`).
//!
//! Stage k = 1..K adds layer k, initialised by `init` (`ls`, `identity` or `random`) from the
//! current stack, and trains the whole stack for `epochs_per_stage` epochs; a last stage
//! fine-tunes all K layers at `finetune_lr`. The optimizer state starts afresh at each stage.
//! Loss: mean squared error on magnitudes, i.e. after the per-frame scale is multiplied back
//! (or, with `--loss masked`, on the estimate clipped to the mixture as the ratio mask does: `loss`);
//! with scaling on, the least-squares init weights each frame by its squared scale so that it
//! minimises exactly this loss for the new layer's affine part.
//!
//! The output folder holds the best model of the deepest stack so far (written atomically
//! whenever the validation loss improves, and reset when a layer is added, so the final model
//! always has K layers), `history.csv` and `history.png`; `checkpoint/` beside them holds the
//! weights, optimizer state and position after every epoch, so `resume` continues a killed run
//! and reaches the same weights as an uninterrupted one.

//!
//! The jobs, one module each: `settings` (what a run is asked to do, declared once),
//! `sampler` (excerpts of the [`crate::dataset`] tracks into magnitude frames), `augment`
//! (per-stem effects), `init` (a new layer's weights), `schedule` (learning-rate decay and
//! early stopping on a plateau), `history` (history.csv), `plot` (history.png), `checkpoint`
//! (resuming), and the loop that drives them ([`train`]).

mod augment;
mod autoencoder;
mod checkpoint;
mod history;
mod init;
mod loss;
mod optim;
mod plot;
mod plot_scaling;
mod sampler;
mod schedule;
mod settings;
mod synth;
mod trainer;

pub use crate::record::{Augment, Loss, OptimizerKind, TrainSettings};
pub use checkpoint::{stored_run, StoredRun, CHECKPOINT_DIR};
pub use history::{read as read_history, HistoryRow, HISTORY_CSV};
pub use init::LsAccumulator;
pub use plot::{render_comparison, write_history_png, XAxis, PALETTE};
pub use plot_scaling::{render_scaling, ScalingRun};
pub use sampler::{ExcerptPlan, FrameMaker};
pub use settings::{Fingerprint, RAISABLE_ON_RESUME};
pub use synth::{write_dataset, SynthSpec};
pub use trainer::{train, Progress, TrainOptions, TrainReport, HISTORY_PNG};
