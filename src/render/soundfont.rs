//! Loading a SoundFont 2 file for rustysynth, with a structural check first so that a corrupt
//! file gives a clear error instead of a huge allocation or a panic.

use crate::error::{Error, Result};
use rustysynth::SoundFont;
use std::path::Path;
use std::sync::Arc;

/// Reads the SF2 file at `path`. Errors name the file: missing, not RIFF `sfbk`, a chunk that
/// claims more bytes than the file has, or a SoundFont that rustysynth rejects.
pub fn load_soundfont(path: impl AsRef<Path>) -> Result<Arc<SoundFont>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    check_riff_structure(&bytes)
        .map_err(|reason| Error::file(path, format!("not a usable SoundFont (SF2): {reason}")))?;
    let parsed = std::panic::catch_unwind(|| SoundFont::new(&mut bytes.as_slice()));
    match parsed {
        Ok(Ok(sound_font)) => Ok(Arc::new(sound_font)),
        Ok(Err(e)) => Err(Error::file(
            path,
            format!("not a usable SoundFont (SF2): {e}"),
        )),
        Err(_) => Err(Error::file(
            path,
            "not a usable SoundFont (SF2): the parser failed on its content",
        )),
    }
}

/// Checks the RIFF `sfbk` form: the lists INFO, sdta and pdta, and every chunk and LIST
/// sub-chunk fits in its parent.
fn check_riff_structure(bytes: &[u8]) -> std::result::Result<(), String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"sfbk" {
        return Err("expected a RIFF file of form 'sfbk'".into());
    }
    let riff_end = 8 + read_u32(bytes, 4) as usize;
    if riff_end > bytes.len() {
        return Err(format!(
            "the RIFF header claims {} bytes, the file has {}",
            riff_end,
            bytes.len()
        ));
    }
    let mut pos = 12;
    let mut lists: Vec<String> = Vec::new();
    while pos + 8 <= riff_end {
        let (id, size) = (&bytes[pos..pos + 4], read_u32(bytes, pos + 4) as usize);
        let end = pos + 8 + size;
        if end > riff_end {
            return Err(format!(
                "chunk '{}' at byte {pos} claims {size} bytes, past the end of the file",
                String::from_utf8_lossy(id)
            ));
        }
        if id == b"LIST" && size >= 4 {
            lists.push(String::from_utf8_lossy(&bytes[pos + 8..pos + 12]).into_owned());
            let mut sub = pos + 12;
            while sub + 8 <= end {
                let sub_size = read_u32(bytes, sub + 4) as usize;
                if sub + 8 + sub_size > end {
                    return Err(format!(
                        "sub-chunk '{}' at byte {sub} claims {sub_size} bytes, past the end of its list",
                        String::from_utf8_lossy(&bytes[sub..sub + 4])
                    ));
                }
                sub += 8 + sub_size;
            }
        }
        pos = end;
    }
    if lists != ["INFO", "sdta", "pdta"] {
        return Err(format!(
            "expected the lists INFO, sdta and pdta in that order, found {lists:?}"
        ));
    }
    Ok(())
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
