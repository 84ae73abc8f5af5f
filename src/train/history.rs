//! `history.csv`: one row per epoch of every stage (and one per layer init), written by the
//! trainer after every epoch, read back by [`read`] for plots and comparisons.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The history file's name inside a model folder.
pub const HISTORY_CSV: &str = "history.csv";

const HEADER: &str = "stage,nb_layers,epoch,train_loss,valid_loss,seconds";

/// One line of history.csv. Epoch 0 of a stage is the model right after the new layer's init
/// (no training loss).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// `1` ..= `K`, or `finetune`.
    pub stage: String,
    pub nb_layers: usize,
    pub epoch: usize,
    pub train_loss: Option<f64>,
    pub valid_loss: f64,
    pub seconds: f64,
}

/// The CSV text of `history` (losses in `%.8e`, seconds in `%.3f`).
fn to_csv(history: &[HistoryRow]) -> String {
    let mut csv = format!("{HEADER}\n");
    for row in history {
        let train = row
            .train_loss
            .map(|l| format!("{l:.8e}"))
            .unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{train},{:.8e},{:.3}\n",
            row.stage, row.nb_layers, row.epoch, row.valid_loss, row.seconds
        ));
    }
    csv
}

/// Writes `history` to `path` atomically.
pub fn write(path: &Path, history: &[HistoryRow]) -> Result<()> {
    crate::atomic::write_bytes(path, to_csv(history).as_bytes())
}

/// Reads a history.csv; errors name the file and the line.
pub fn read(path: &Path) -> Result<Vec<HistoryRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, HEADER)) => {}
        _ => {
            return Err(Error::file(
                path,
                format!("not a saex history: expected the header {HEADER:?}"),
            ))
        }
    }
    lines
        .map(|(i, line)| {
            parse_row(line)
                .ok_or_else(|| Error::file(path, format!("line {}: cannot read {line:?}", i + 1)))
        })
        .collect()
}

fn parse_row(line: &str) -> Option<HistoryRow> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() != 6 {
        return None;
    }
    Some(HistoryRow {
        stage: f[0].to_string(),
        nb_layers: f[1].parse().ok()?,
        epoch: f[2].parse().ok()?,
        train_loss: match f[3] {
            "" => None,
            v => Some(v.parse().ok()?),
        },
        valid_loss: f[4].parse().ok()?,
        seconds: f[5].parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_the_file() {
        let rows = vec![
            HistoryRow {
                stage: "1".into(),
                nb_layers: 1,
                epoch: 0,
                train_loss: None,
                valid_loss: 0.25,
                seconds: 1.5,
            },
            HistoryRow {
                stage: "finetune".into(),
                nb_layers: 2,
                epoch: 3,
                train_loss: Some(0.125),
                valid_loss: 0.0625,
                seconds: 0.75,
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HISTORY_CSV);
        write(&path, &rows).unwrap();
        assert_eq!(read(&path).unwrap(), rows);
        std::fs::write(&path, format!("{HEADER}\n1,1,x,,0.1,0.0\n")).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
