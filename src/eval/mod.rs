//! Evaluation: BSS Eval v4 metrics exactly as museval computes them ([`bss`]).

pub mod bss;
mod correlation;

pub use bss::{bss_eval_v4, bss_eval_v4_with, windows, BssConfig, Metrics, FILTERS_LEN};
