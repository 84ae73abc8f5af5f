//! The HTTP endpoints. Every answer to a bad request is a 4xx with a JSON `{"error": ...}` that
//! says what was wrong; names from requests (job ids, stem names, model ids) are only compared
//! with what the server made, never joined to a path.
//!
//! ```text
//! GET    /                                 the page (and /app.js, /style.css, /favicon.svg)
//! GET    /api/models                       models, masks and limits for the form
//! POST   /api/jobs                         multipart: file, model (repeatable id), mask, niter -> 202 job
//! GET    /api/jobs                         every job
//! GET    /api/jobs/{id}                    one job: state, progress, stems when done
//! POST   /api/jobs/{id}/cancel             stop it (queued or running)
//! DELETE /api/jobs/{id}                    stop it and remove its files
//! GET    /api/jobs/{id}/stems/{stem}       a stem (mix, a target, residual) as 16-bit WAV
//! GET    /api/jobs/{id}/spectrogram.png    the figure of the mix, targets and residual
//! GET    /api/jobs/{id}/stems.zip          every stem in one zip (stored)
//! ```

// Helpers return `Result<_, Response>`: the Err is the answer itself, sent at once, never
// propagated up a call chain, so its size does not matter.
#![allow(clippy::result_large_err)]

use super::jobs::{is_job_id, Job, JobState, Jobs, Refused};
use super::models::Catalog;
use super::page;
use crate::separate::MaskKind;
use axum::body::{Body, Bytes};
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::io::{Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};

/// The most Wiener iterations a request may ask for (each costs about one separation).
const MAX_NITER: usize = 10;

/// What every handler shares.
pub struct AppState {
    pub jobs: Jobs,
    pub catalog: Catalog,
    /// The largest upload accepted, in bytes.
    pub max_upload: u64,
}

/// The router over `state`, with the body limit set to the upload limit (plus the form's
/// small fields).
pub fn router(state: Arc<AppState>) -> Router {
    let limit = usize::try_from(state.max_upload)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .route("/favicon.svg", get(page::icon))
        .route("/api/models", get(models))
        .route("/api/jobs", post(submit).get(list))
        .route("/api/jobs/{id}", get(job).delete(remove))
        .route("/api/jobs/{id}/cancel", post(cancel))
        .route("/api/jobs/{id}/stems/{stem}", get(stem))
        .route("/api/jobs/{id}/spectrogram.png", get(spectrogram))
        .route("/api/jobs/{id}/stems.zip", get(zip_all))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such page") })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// A JSON error answer.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// The job of a path's id, or the 404 answer.
fn find(state: &AppState, id: &str) -> Result<Arc<Job>, Response> {
    if !is_job_id(id) {
        return Err(error(StatusCode::NOT_FOUND, "no such job"));
    }
    state.jobs.get(id).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "no such job (finished jobs are removed after a while)",
        )
    })
}

/// A finished job, or 404 (unknown) / 409 (not done).
fn finished(state: &AppState, id: &str) -> Result<Arc<Job>, Response> {
    let job = find(state, id)?;
    match job.state() {
        JobState::Done => Ok(job),
        other => Err(error(
            StatusCode::CONFLICT,
            format!("the job is not done ({})", state_name(&other)),
        )),
    }
}

fn state_name(state: &JobState) -> &'static str {
    match state {
        JobState::Queued => "queued",
        JobState::Running => "running",
        JobState::Done => "done",
        JobState::Failed(_) => "failed",
        JobState::Cancelled => "cancelled",
    }
}

async fn models(State(state): State<Arc<AppState>>) -> Response {
    Json(serde_json::json!({
        "models": state.catalog.entries,
        "masks": ["auto", "ratio", "wiener"],
        "max_niter": MAX_NITER,
        "max_upload_bytes": state.max_upload,
        "extensions": crate::audio::READ_EXTENSIONS,
    }))
    .into_response()
}

async fn list(State(state): State<Arc<AppState>>) -> Response {
    let views: Vec<_> = state.jobs.list().iter().map(|j| j.view()).collect();
    Json(views).into_response()
}

async fn job(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match find(&state, &id) {
        Ok(job) => Json(job.view()).into_response(),
        Err(answer) => answer,
    }
}

async fn cancel(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match find(&state, &id) {
        Ok(job) if job.request_cancel() => Json(job.view()).into_response(),
        Ok(job) => error(
            StatusCode::CONFLICT,
            format!("the job has already ended ({})", state_name(&job.state())),
        ),
        Err(answer) => answer,
    }
}

async fn remove(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    if is_job_id(&id) && state.jobs.remove(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "no such job")
    }
}

/// A file name for downloads: the upload's name without its extension, reduced to letters,
/// digits, `-`, `_` and `.` (it goes into a header), then `.suffix`. The ASCII fallback of
/// [`disposition`], and the folder inside the zip.
fn download_name(job: &Job, suffix: &str) -> String {
    ascii_name(&job.name, suffix)
}

fn ascii_name(upload: &str, suffix: &str) -> String {
    let base = std::path::Path::new(upload)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if clean.trim_matches(['.', '_']).is_empty() {
        clean = "song".into();
    }
    format!("{clean}.{suffix}")
}

/// The Content-Disposition of a download (`kind`: `inline` or `attachment`) of the job's
/// `suffix`: the ASCII [`download_name`] as `filename`, and the upload's own name (any
/// Unicode, without control characters or slashes) as RFC 5987's `filename*=UTF-8''...`, which
/// browsers prefer: `Чайка.wav` downloads as `Чайка.stems.zip` (was: `_____.stems.zip`).
fn disposition(kind: &str, upload: &str, suffix: &str) -> HeaderValue {
    let ascii = ascii_name(upload, suffix);
    let base = std::path::Path::new(upload)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let own: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(120)
        .collect();
    let mut value = format!("{kind}; filename=\"{ascii}\"");
    if !own.trim().is_empty() {
        let full = format!("{own}.{suffix}");
        if full != ascii {
            value += &format!("; filename*=UTF-8''{}", rfc5987(&full));
        }
    }
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// `text` percent-encoded as RFC 5987's `value-chars`: UTF-8 bytes, every one but `attr-char`
/// as `%XX`.
fn rfc5987(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

/// The bytes a streamed download reads from its file at a time.
const CHUNK: usize = 64 * 1024;

/// `file` from its current position to its end as a body of chunks of at most [`CHUNK`] bytes,
/// read as the client takes them: a download never holds the whole file in memory. A read
/// error ends the body with that error (the client sees a cut answer, not a short file).
fn file_body(file: tokio::fs::File) -> Body {
    use tokio::io::AsyncReadExt;
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = vec![0u8; CHUNK];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok(Bytes::from(buffer)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Body::from_stream(chunks)
}

/// `file` (opened, at its start) streamed with its length, a content type and the name a
/// download saves it under.
async fn file_answer(
    file: tokio::fs::File,
    content_type: &'static str,
    disposition: HeaderValue,
) -> Response {
    let length = match file.metadata().await {
        Ok(metadata) => metadata.len(),
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the file: {e}"),
            )
        }
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_LENGTH, HeaderValue::from(length)),
        ],
        file_body(file),
    )
        .into_response()
}

/// Opens a job's file; 404 when it is gone. Once open, a download goes on to its end even if
/// the job is removed meanwhile (the open file outlives its name).
async fn open_file(path: std::path::PathBuf) -> Result<tokio::fs::File, Response> {
    tokio::fs::File::open(&path).await.map_err(|_| {
        error(
            StatusCode::NOT_FOUND,
            "the file is gone (the job was removed)",
        )
    })
}

async fn stem(
    State(state): State<Arc<AppState>>,
    Path((id, stem)): Path<(String, String)>,
) -> Response {
    let job = match finished(&state, &id) {
        Ok(job) => job,
        Err(answer) => return answer,
    };
    let name = stem.strip_suffix(".wav").unwrap_or(&stem);
    let Some(path) = job.stem_file(name) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no stem {name:?}: this job has {}", job.stems().join(", ")),
        );
    };
    match open_file(path).await {
        Ok(file) => {
            file_answer(
                file,
                "audio/wav",
                disposition("inline", &job.name, &format!("{name}.wav")),
            )
            .await
        }
        Err(answer) => answer,
    }
}

async fn spectrogram(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let job = match finished(&state, &id) {
        Ok(job) => job,
        Err(answer) => return answer,
    };
    match open_file(job.plot_file()).await {
        Ok(file) => {
            file_answer(
                file,
                "image/png",
                disposition("inline", &job.name, "spectrogram.png"),
            )
            .await
        }
        Err(answer) => answer,
    }
}

async fn zip_all(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let job = match finished(&state, &id) {
        Ok(job) => job,
        Err(answer) => return answer,
    };
    let zipped = {
        let job = Arc::clone(&job);
        tokio::task::spawn_blocking(move || zip_stems(&job)).await
    };
    match zipped {
        Ok(Ok(file)) => {
            let file = tokio::fs::File::from_std(file);
            let disposition = disposition("attachment", &job.name, "stems.zip");
            file_answer(file, "application/zip", disposition).await
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "the files are gone (the job was removed)",
        ),
    }
}

/// Every stem of a finished job as `<name>/<stem>.wav` in a zip, stored (WAV barely deflates)
/// with the spectrogram figure, written to a nameless temporary file in the job's folder (its
/// space is freed when the download closes it) and returned at its start.
fn zip_stems(job: &Job) -> std::io::Result<std::fs::File> {
    let folder = download_name(job, "");
    let folder = folder.trim_end_matches('.');
    let mut zip = zip::ZipWriter::new(tempfile::tempfile_in(&job.dir)?);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let mut files: Vec<(String, std::path::PathBuf)> = job
        .stems()
        .iter()
        .filter_map(|s| Some((format!("{folder}/{s}.wav"), job.stem_file(s)?)))
        .collect();
    files.push((format!("{folder}/spectrogram.png"), job.plot_file()));
    for (name, path) in files {
        zip.start_file(name, options)
            .map_err(std::io::Error::other)?;
        let mut file = std::fs::File::open(path)?;
        std::io::copy(&mut file, &mut zip)?;
    }
    let mut file = zip.finish().map_err(std::io::Error::other)?;
    file.seek(std::io::SeekFrom::Start(0))?;
    Ok(file)
}

/// The form of a new job, as read from the multipart body.
#[derive(Default)]
struct Form {
    name: Option<String>,
    models: Vec<usize>,
    mask: Option<MaskKind>,
    niter: usize,
}

async fn submit(
    State(state): State<Arc<AppState>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(rejection) => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "send the file as multipart/form-data ({})",
                    rejection.body_text()
                ),
            )
        }
    };
    let mut form = Form::default();
    // The upload goes to disk as it arrives; its folder is removed on any refusal.
    let mut upload: Option<(String, std::path::PathBuf, std::path::PathBuf)> = None;
    let outcome = read_form(&state, &mut multipart, &mut form, &mut upload).await;
    let discard = |upload: &Option<(String, std::path::PathBuf, std::path::PathBuf)>| {
        if let Some((_, dir, _)) = upload {
            let _ = std::fs::remove_dir_all(dir);
        }
    };
    if let Err(answer) = outcome {
        discard(&upload);
        return answer;
    }
    let Some((id, dir, input)) = upload.clone() else {
        return error(
            StatusCode::BAD_REQUEST,
            "no file in the form (field \"file\")",
        );
    };
    let name = form.name.clone().unwrap_or_default();
    let models = match state.catalog.select(&form.models) {
        Ok(models) => models.into_iter().cloned().collect::<Vec<_>>(),
        Err(message) => {
            discard(&upload);
            return error(StatusCode::BAD_REQUEST, message);
        }
    };
    // The content must decode, whatever its name says.
    let probe = {
        let input = input.clone();
        tokio::task::spawn_blocking(move || crate::AudioReader::open(&input).map(|r| r.info()))
            .await
    };
    match probe {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            discard(&upload);
            let reason = e.to_string().replace(&input.display().to_string(), "");
            let reason = reason.trim_start_matches([':', ' ']);
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("{name}: not audio that saex reads ({reason})"),
            );
        }
        Err(_) => {
            discard(&upload);
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the check of the file failed",
            );
        }
    }
    let job = Job {
        id,
        name,
        dir,
        input,
        models,
        // `auto` (or none): as `saex extract --mask auto`.
        mask: form.mask.unwrap_or(MaskKind::auto_for(form.models.len())),
        niter: form.niter,
        state: Mutex::new(JobState::Queued),
        progress: AtomicU32::new(0),
        cancel: Arc::default(),
        finished: Mutex::new(None),
        seconds: Mutex::new(None),
    };
    match state.jobs.submit(job) {
        Ok(job) => (StatusCode::ACCEPTED, Json(job.view())).into_response(),
        Err(Refused::QueueFull(n)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the queue is full ({n} jobs wait): try again when some have finished"),
        ),
        Err(Refused::Stopping) => error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping"),
    }
}

/// Reads the multipart fields into `form`, streaming the file into a new job folder recorded
/// in `upload` (id, folder, input path). An answer is returned for anything refused.
async fn read_form(
    state: &AppState,
    multipart: &mut Multipart,
    form: &mut Form,
    upload: &mut Option<(String, std::path::PathBuf, std::path::PathBuf)>,
) -> Result<(), Response> {
    let limit = state.max_upload;
    // The body limit may stop the upload before its file name is read.
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large("the upload", limit)
        } else {
            error(e.status(), e.body_text())
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        let field_name = field.name().unwrap_or_default().to_string();
        match field_name.as_str() {
            "file" => {
                if upload.is_some() {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        "one file per job: send each file in its own request",
                    ));
                }
                let name: String = field
                    .file_name()
                    .unwrap_or("upload")
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                // An upload keeps its extension only if it is one saex reads (the decoder takes
                // it as a hint), else it is refused.
                let extension = crate::audio::read_extension(std::path::Path::new(&name))
                    .ok_or_else(|| {
                        error(
                            StatusCode::UNSUPPORTED_MEDIA_TYPE,
                            format!(
                                "{name}: not a format saex reads (expected a file ending in .{})",
                                crate::audio::READ_EXTENSIONS.join(", .")
                            ),
                        )
                    })?;
                let (id, dir, input) = state.jobs.prepare(extension).map_err(|e| {
                    error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("cannot make the job's folder: {e}"),
                    )
                })?;
                *upload = Some((id, dir, input.clone()));
                form.name = Some(name.clone());
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&input)
                    .map_err(|e| {
                        error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("cannot store the upload: {e}"),
                        )
                    })?;
                let mut size = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large(&name, limit)
                    } else {
                        bad(e)
                    }
                })? {
                    size += chunk.len() as u64;
                    if size > state.max_upload {
                        return Err(too_large(&name, state.max_upload));
                    }
                    file.write_all(&chunk).map_err(|e| {
                        error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("cannot store the upload: {e}"),
                        )
                    })?;
                }
                if size == 0 {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        format!("{name}: the file is empty"),
                    ));
                }
            }
            "model" => {
                let text = field.text().await.map_err(bad)?;
                let id = text.trim().parse::<usize>().map_err(|_| {
                    error(
                        StatusCode::BAD_REQUEST,
                        format!("model {text:?}: expected a model id from /api/models"),
                    )
                })?;
                form.models.push(id);
            }
            "mask" => {
                let text = field.text().await.map_err(bad)?;
                form.mask = MaskKind::parse_or_auto(&text)
                    .map_err(|e| error(StatusCode::BAD_REQUEST, format!("mask {text:?}: {e}")))?;
            }
            "niter" => {
                let text = field.text().await.map_err(bad)?;
                form.niter = text
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= MAX_NITER)
                    .ok_or_else(|| {
                        error(
                            StatusCode::BAD_REQUEST,
                            format!(
                                "niter {text:?}: expected a whole number from 0 to {MAX_NITER}"
                            ),
                        )
                    })?;
            }
            other => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    format!("unknown field {other:?}: expected file, model, mask, niter"),
                ))
            }
        }
    }
    Ok(())
}

fn too_large(name: &str, limit: u64) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "{name}: larger than the upload limit of {} (saex serve --max-upload-mb)",
            human_size(limit)
        ),
    )
}

/// Bytes as `200 MiB` or `512 KiB` (as --max-upload-mb counts).
fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.0} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// A file is streamed in chunks of at most CHUNK bytes that add up to the file, whatever
    /// its length relative to CHUNK.
    #[tokio::test]
    async fn files_stream_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        for length in [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 5] {
            let path = dir.path().join(format!("{length}.bin"));
            let content: Vec<u8> = (0..length).map(|i| (i * 31 % 251) as u8).collect();
            std::fs::write(&path, &content).unwrap();
            let file = tokio::fs::File::open(&path).await.unwrap();
            let mut chunks = file_body(file).into_data_stream();
            let mut streamed = Vec::new();
            let mut nb_chunks = 0;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.unwrap();
                assert!(
                    !chunk.is_empty() && chunk.len() <= CHUNK,
                    "length {length}: a chunk of {} bytes",
                    chunk.len()
                );
                streamed.extend_from_slice(&chunk);
                nb_chunks += 1;
            }
            assert!(streamed == content, "length {length}: other bytes");
            assert_eq!(nb_chunks, length.div_ceil(CHUNK), "length {length}");
        }
    }

    /// A Unicode upload name downloads under its own name (RFC 5987), with an ASCII fallback
    /// (was: `____song.stems.zip` only).
    #[test]
    fn unicode_names_download_as_themselves() {
        let header = disposition("attachment", "Чайка song.flac", "stems.zip");
        assert_eq!(
            header.to_str().unwrap(),
            "attachment; filename=\"______song.stems.zip\"; \
             filename*=UTF-8''%D0%A7%D0%B0%D0%B9%D0%BA%D0%B0%20song.stems.zip"
        );
        // A plain name needs no second form; quotes, control characters and slashes never
        // reach the header.
        let header = disposition("inline", "song.wav", "vocals.wav");
        assert_eq!(
            header.to_str().unwrap(),
            "inline; filename=\"song.vocals.wav\""
        );
        let header = disposition("inline", "a\"b\r\nc.wav", "vocals.wav");
        assert_eq!(
            header.to_str().unwrap(),
            "inline; filename=\"a_b__c.vocals.wav\"; filename*=UTF-8''a%22bc.vocals.wav"
        );
    }
}
