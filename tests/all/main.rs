//! Every integration test in one binary (as ripgrep does), so LibTorch is linked once and the
//! helpers are shared, not copied: [`common`] (the binary under test, tiny models, generated
//! audio, the shipped fixtures) and [`render_support`] (a tiny SoundFont and MIDI files).
//! One module per former test file; run one with `cargo test --release --test all NAME::`.

mod common;
mod render_support;

mod audio_io;
mod cli_extract;
mod docs;
mod edges;
mod eval_cli;
mod eval_museval_fixtures;
mod formats;
mod live;
mod never_panic;
mod plot;
mod reliability;
mod render_cli;
mod render_lib;
mod separate;
mod serve;
mod stems_mp4;
mod train_cli;
mod unix;
