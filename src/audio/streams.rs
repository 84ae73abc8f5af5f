//! Files of several audio streams, such as the stems format of Native Instruments that MUSDB18
//! ships (`NAME.stem.mp4`: one MP4 of five AAC streams). [`stream_infos`] reads the container's
//! headers; [`read_streams`] decodes every stream in one pass over the file, each packet routed
//! by its track to that stream's decoder. One stream at a time, with seeking, is
//! [`AudioReader::open_stream`](super::AudioReader::open_stream).

use super::mp4_edits::{read_edits, Edit};
use super::read::{audio_tracks, decode_interleaved, next_packet, probe, trimmed};
use super::{check_layout, AudioBuffer, AudioInfo};
use crate::error::{Error, Result};
use std::fs::File;
use std::path::Path;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_AAC};
use symphonia::core::formats::FormatReader;

/// A container opened by symphonia, and its MP4 edit lists by track id.
type Opened = (Box<dyn FormatReader>, Vec<Option<Edit>>);

/// Opens `path` for symphonia, with its MP4 edit lists.
fn open(path: &Path) -> Result<Opened> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    if file.metadata().map_err(|e| Error::io(path, e))?.is_dir() {
        return Err(Error::file(path, "is a folder, expected an audio file"));
    }
    let edits = read_edits(&mut file);
    use std::io::Seek;
    file.rewind().map_err(|e| Error::io(path, e))?;
    Ok((probe(path, Box::new(file))?, edits))
}

/// What each audio stream of `path` holds, in order, from the container's headers (the length
/// after dropping an MP4 edit list's priming). Errors name the file.
pub fn stream_infos(path: impl AsRef<Path>) -> Result<Vec<AudioInfo>> {
    let path = path.as_ref();
    let (format, edits) = open(path)?;
    audio_tracks(format.as_ref())
        .iter()
        .enumerate()
        .map(|(i, track)| {
            let params = &track.codec_params;
            // MP4 leaves an AAC stream's channels to the decoder configuration in extra_data.
            let nb_channels = params.channels.map(|c| c.count()).or_else(|| {
                (params.codec == CODEC_TYPE_AAC)
                    .then(|| params.extra_data.as_deref().and_then(aac_channels))
                    .flatten()
            });
            let (Some(sample_rate), Some(nb_channels)) = (params.sample_rate, nb_channels) else {
                return Err(Error::file(
                    path,
                    format!("audio stream {i} does not say its sample rate and channels"),
                ));
            };
            check_layout(sample_rate, nb_channels)
                .map_err(|e| Error::file(path, format!("audio stream {i}: {e}")))?;
            Ok(AudioInfo {
                sample_rate,
                nb_channels,
                nb_frames: trimmed(track, sample_rate, &edits).1,
            })
        })
        .collect()
}

/// The channel count of an AAC AudioSpecificConfig (ISO 14496-3 1.6.2.1): 5 bits of object
/// type (31: 6 more), 4 bits of sampling frequency index (15: 24 bits of frequency), then 4
/// bits of channel configuration, 1 to 7 for 1 to 6 or 8 channels (0: defined in the stream).
fn aac_channels(config: &[u8]) -> Option<usize> {
    let bit = |i: usize| config.get(i / 8).map(|b| (b >> (7 - i % 8)) & 1);
    let bits = |from: usize, n: usize| {
        (from..from + n).try_fold(0u32, |acc, i| Some(acc << 1 | u32::from(bit(i)?)))
    };
    let mut pos = 5;
    if bits(0, 5)? == 31 {
        pos += 6;
    }
    if bits(pos, 4)? == 15 {
        pos += 24;
    }
    pos += 4;
    match bits(pos, 4)? {
        c @ 1..=6 => Some(c as usize),
        7 => Some(8),
        _ => None,
    }
}

/// One stream being decoded.
struct StreamDecoder {
    track_id: u32,
    decoder: Box<dyn Decoder>,
    /// Frames still to drop (priming).
    skip: u64,
    nb_frames: Option<u64>,
    buffer: Option<SampleBuffer<f32>>,
    channels: Vec<Vec<f32>>,
    sample_rate: u32,
}

/// Decodes every audio stream of `path` in one pass: one buffer per stream `(nb_channels,
/// nb_frames)`, in order. Each stream is cut to the length its container states (after an MP4
/// edit list's priming). NaN or infinite samples are an error naming the stream.
pub fn read_streams(path: impl AsRef<Path>) -> Result<Vec<AudioBuffer>> {
    let path = path.as_ref();
    let infos = stream_infos(path)?;
    let (mut format, edits) = open(path)?;
    let mut streams = Vec::with_capacity(infos.len());
    for (track, info) in audio_tracks(format.as_ref()).into_iter().zip(&infos) {
        let decoder = super::opus::codecs()
            .make(&track.codec_params, &DecoderOptions::default())
            .map_err(|e| Error::file(path, format!("unsupported encoding: {e}")))?;
        streams.push(StreamDecoder {
            track_id: track.id,
            decoder,
            skip: trimmed(track, info.sample_rate, &edits).0,
            nb_frames: info.nb_frames,
            buffer: None,
            channels: vec![Vec::new(); info.nb_channels],
            sample_rate: info.sample_rate,
        });
    }
    while let Some(packet) = next_packet(path, format.as_mut())? {
        let Some(stream) = streams.iter_mut().find(|s| s.track_id == packet.track_id()) else {
            continue;
        };
        let nb_channels = stream.channels.len();
        let Some(samples) =
            decode_interleaved(path, stream.decoder.as_mut(), &packet, &mut stream.buffer)?
        else {
            continue;
        };
        if stream.decoder.last_decoded().spec().channels.count() != nb_channels {
            return Err(Error::file(
                path,
                "a stream changes its channel count midway",
            ));
        }
        let frames = samples.chunks_exact(nb_channels);
        let dropped = stream.skip.min(frames.len() as u64);
        stream.skip -= dropped;
        for frame in frames.skip(dropped as usize) {
            if stream
                .nb_frames
                .is_some_and(|n| stream.channels[0].len() as u64 >= n)
            {
                break;
            }
            for (ch, &x) in stream.channels.iter_mut().zip(frame) {
                ch.push(x);
            }
        }
    }
    streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            if let Some(n) = s.nb_frames {
                if (s.channels[0].len() as u64) < n {
                    return Err(Error::file(
                        path,
                        format!(
                            "truncated: audio stream {i} announces {n} frames, the file holds {}",
                            s.channels[0].len()
                        ),
                    ));
                }
            }
            if let Some(c) = s
                .channels
                .iter()
                .position(|ch| ch.iter().any(|x| !x.is_finite()))
            {
                return Err(Error::file(
                    path,
                    format!("audio stream {i}, channel {c}: NaN or infinite samples are refused"),
                ));
            }
            Ok(AudioBuffer {
                sample_rate: s.sample_rate,
                channels: s.channels,
            })
        })
        .collect()
}
