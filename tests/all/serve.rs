//! `saex serve` over HTTP: the page, every endpoint, and every refusal (too large, wrong type,
//! malformed forms, traversal attempts, unknown jobs, a full queue), cancelling, and a clean
//! stop on Ctrl-C that removes the temporary folder. The server is the real binary on port 0,
//! the client a few lines of HTTP/1.1 over a TcpStream.

mod browser;

use crate::common::{data, tones, Setup};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `saex serve` with the tiny model of [`Setup`] offered under `--models` (or the
/// shipped models alone).
struct Server {
    child: Child,
    address: SocketAddr,
    stderr: Arc<Mutex<String>>,
    _setup: Option<Setup>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server::spawn(Some(Setup::new()), extra)
    }

    /// The shipped models only, as a user's `saex serve` offers them.
    fn shipped_only(extra: &[&str]) -> Server {
        Server::spawn(None, extra)
    }

    fn spawn(setup: Option<Setup>, extra: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_saex"));
        command.env_remove("SAEX_MODELS").args([
            "serve",
            "--port",
            "0",
            "--device",
            "cpu",
            "--threads",
            "2",
        ]);
        if let Some(setup) = &setup {
            command.arg("--models").arg(setup.dir.path());
        }
        // The most permissive umask, so that the tests see what saex sets itself.
        // SAFETY: umask is async-signal-safe and touches nothing else of the child.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::umask(0);
                Ok(())
            });
        }
        let mut child = command
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let stderr = Arc::clone(&stderr);
            let pipe = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut all = stderr.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}: {}", stderr.lock().unwrap()))
            .parse()
            .unwrap();
        Server {
            child,
            address,
            stderr,
            _setup: setup,
        }
    }

    /// One request; the answer's status, headers (lower-case names) and body.
    fn request(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Answer {
        let mut stream = TcpStream::connect(self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.address,
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) and close before the whole body is sent.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Answer::parse(&raw).unwrap_or_else(|| {
            panic!(
                "{method} {path}: no HTTP answer ({} bytes); server said: {}",
                raw.len(),
                self.stderr.lock().unwrap()
            )
        })
    }

    fn get(&self, path: &str) -> Answer {
        self.request("GET", path, "text/plain", b"")
    }

    /// The id of the tiny model (the one not shipped).
    fn tiny_model_id(&self) -> u64 {
        let models = self.get("/api/models").json();
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["source"] != "shipped")
            .expect("the --models folder's model is offered")["id"]
            .as_u64()
            .unwrap()
    }

    /// Submits `file_bytes` as `file_name` with `fields`.
    fn submit(&self, fields: &[(&str, &str)], file_name: &str, file_bytes: &[u8]) -> Answer {
        let (content_type, body) = multipart(fields, Some((file_name, file_bytes)));
        self.request("POST", "/api/jobs", &content_type, &body)
    }

    /// Polls a job until it leaves `queued` and `running`; its last view.
    fn wait(&self, id: &str) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let job = self.get(&format!("/api/jobs/{id}")).json();
            let state = job["state"].as_str().unwrap().to_string();
            if state != "queued" && state != "running" {
                return job;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "job {id} still {state}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGINT and waits for the exit (at most 20 s); the exit status.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                let stderr = self.stderr.lock().unwrap().clone();
                return (status, stderr);
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the server did not stop on Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    /// Parses a whole HTTP/1.1 answer (Content-Length or chunked).
    fn parse(raw: &[u8]) -> Option<Answer> {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[end + 4..].to_vec();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            let mut out = Vec::new();
            let mut rest = &body[..];
            loop {
                let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
                let size =
                    usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).ok()?, 16).ok()?;
                if size == 0 {
                    break;
                }
                out.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
                rest = &rest[line_end + 4 + size..];
            }
            body = out;
        }
        Some(Answer {
            status,
            headers,
            body,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {}, body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The JSON error message of a refusal.
    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// The stems a finished job lists.
fn stem_names(job: &serde_json::Value) -> Vec<&str> {
    job["stems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// A multipart/form-data body: its content type and bytes.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "saex-test-boundary-7c1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((file_name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A 16-bit WAV of [`tones`] in memory.
fn wav_bytes(sample_rate: u32, nb_channels: usize, nb_frames: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.wav");
    saex::write_wav(
        &path,
        &tones(sample_rate, nb_channels, nb_frames),
        saex::SampleFormat::Pcm16,
    )
    .unwrap();
    std::fs::read(path).unwrap()
}

/// The temporary folder the server reported on standard error.
fn temp_folder(stderr: &str) -> PathBuf {
    let line = stderr
        .lines()
        .find(|l| l.contains("uploads and results in "))
        .unwrap_or_else(|| panic!("no temporary folder in: {stderr}"));
    let rest = line.split("uploads and results in ").nth(1).unwrap();
    PathBuf::from(rest.trim_end_matches(" (removed on exit)"))
}

#[test]
fn page_models_and_a_whole_job() {
    let server = Server::start(&[]);
    for (path, kind) in [
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/style.css", "text/css"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let answer = server.get(path);
        assert_eq!(answer.status, 200, "{path}");
        assert!(
            answer.header("content-type").unwrap().starts_with(kind),
            "{path}"
        );
        // Nothing may be loaded from anywhere but this server.
        assert!(answer
            .header("content-security-policy")
            .unwrap()
            .starts_with("default-src 'self'"));
        // The SVG namespace's name is no link.
        let text = String::from_utf8_lossy(&answer.body).replace("http://www.w3.org/2000/svg", "");
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{path} links outside"
        );
    }
    let models = server.get("/api/models").json();
    let names: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    // The shipped models and the tiny one under --models.
    assert!(
        names.contains(&"bass") && names.contains(&"drums"),
        "{names:?}"
    );
    let id = server.tiny_model_id().to_string();

    let (nb_frames, rate) = (22050 + 777, 22050);
    let submitted = server.submit(
        &[("model", &id), ("mask", "ratio"), ("niter", "1")],
        "My Song (live).wav",
        &wav_bytes(rate, 2, nb_frames),
    );
    assert_eq!(
        submitted.status,
        202,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    let job_id = submitted.json()["id"].as_str().unwrap().to_string();
    assert_eq!(job_id.len(), 32);
    let job = server.wait(&job_id);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["name"], "My Song (live).wav");
    assert_eq!(job["progress"], 1.0);
    let stems = stem_names(&job);
    assert_eq!(stems, ["mix", "vocals", "residual"]);
    let list = server.get("/api/jobs").json();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Each stem decodes with the upload's rate, channels and length; the stems sum to the mix.
    let dir = tempfile::tempdir().unwrap();
    let mut decoded = Vec::new();
    for stem in &stems {
        let answer = server.get(&format!("/api/jobs/{job_id}/stems/{stem}.wav"));
        assert_eq!(answer.status, 200, "{stem}");
        assert_eq!(answer.header("content-type"), Some("audio/wav"));
        // The download name is made safe for a header, the upload's own name beside it.
        assert_eq!(
            answer.header("content-disposition"),
            Some(
                format!(
                    "inline; filename=\"My_Song__live_.{stem}.wav\"; \
                     filename*=UTF-8''My%20Song%20%28live%29.{stem}.wav"
                )
                .as_str()
            )
        );
        let path = dir.path().join(format!("{stem}.wav"));
        std::fs::write(&path, &answer.body).unwrap();
        let audio = saex::read_audio(&path).unwrap();
        assert_eq!(
            (audio.sample_rate, audio.nb_channels(), audio.nb_frames()),
            (rate, 2, nb_frames)
        );
        decoded.push(audio);
    }
    let worst = (0..nb_frames)
        .map(|i| {
            (decoded[0].channels[0][i] - decoded[1].channels[0][i] - decoded[2].channels[0][i])
                .abs()
        })
        .fold(0.0f32, f32::max);
    assert!(
        worst < 3e-3,
        "vocals + residual differ from the mix by {worst}"
    );

    let figure = server.get(&format!("/api/jobs/{job_id}/spectrogram.png"));
    assert_eq!(figure.status, 200);
    assert_eq!(
        figure.header("content-length"),
        Some(figure.body.len().to_string().as_str())
    );
    assert_eq!(figure.header("content-type"), Some("image/png"));
    let image = image::load_from_memory(&figure.body).unwrap();
    assert_eq!(
        (image.width(), image.height()),
        (saex::spectrogram::WIDTH, saex::spectrogram::height(3))
    );

    // The zip is written to a nameless temporary file and streamed from it: it announces its
    // length and leaves nothing behind in the job's folder.
    let job_folder = temp_folder(&server.stderr.lock().unwrap()).join(&job_id);
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(&job_folder)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let before = listing();
    let zipped = server.get(&format!("/api/jobs/{job_id}/stems.zip"));
    assert_eq!(zipped.status, 200);
    assert!(zipped
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(
        zipped.header("content-length"),
        Some(zipped.body.len().to_string().as_str())
    );
    assert_eq!(listing(), before);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped.body)).unwrap();
    let mut names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "My_Song__live_/mix.wav",
            "My_Song__live_/residual.wav",
            "My_Song__live_/spectrogram.png",
            "My_Song__live_/vocals.wav"
        ]
    );
    let mut vocals = Vec::new();
    archive
        .by_name("My_Song__live_/vocals.wav")
        .unwrap()
        .read_to_end(&mut vocals)
        .unwrap();
    assert_eq!(
        vocals,
        std::fs::read(dir.path().join("vocals.wav")).unwrap()
    );

    // A finished job cannot be cancelled; removing it removes its files.
    let cancel = server.request(
        "POST",
        &format!("/api/jobs/{job_id}/cancel"),
        "text/plain",
        b"",
    );
    assert_eq!(cancel.status, 409, "{}", cancel.error());
    let folder = temp_folder(&server.stderr.lock().unwrap());
    assert!(folder.join(&job_id).is_dir());
    assert_eq!(
        server
            .request("DELETE", &format!("/api/jobs/{job_id}"), "text/plain", b"")
            .status,
        204
    );
    assert!(!folder.join(&job_id).exists());
    assert_eq!(server.get(&format!("/api/jobs/{job_id}")).status, 404);
    assert_eq!(
        server
            .request("DELETE", &format!("/api/jobs/{job_id}"), "text/plain", b"")
            .status,
        404
    );
}

/// A download streams from the open file: removing the job while a client is still reading
/// a stem neither cuts nor corrupts the download.
#[test]
fn a_download_outlives_the_removal_of_its_job() {
    let server = Server::start(&[]);
    let id = server.tiny_model_id().to_string();
    let (nb_frames, rate) = (60 * 44100, 44100);
    let submitted = server.submit(
        &[("model", &id), ("mask", "ratio")],
        "long.wav",
        &wav_bytes(rate, 2, nb_frames),
    );
    assert_eq!(submitted.status, 202, "{}", submitted.error());
    let job_id = submitted.json()["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait(&job_id)["state"], "done");

    let mut stream = TcpStream::connect(server.address).unwrap();
    // A small receive buffer, so that most of the 10-MB stem is still to be sent (and read
    // from the file) when the job goes.
    unsafe {
        use std::os::fd::AsRawFd;
        let size: libc::c_int = 32 * 1024;
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET /api/jobs/{job_id}/stems/mix.wav HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.address
    )
    .unwrap();
    let mut raw = vec![0u8; 64 * 1024];
    stream.read_exact(&mut raw).unwrap();
    assert_eq!(
        server
            .request("DELETE", &format!("/api/jobs/{job_id}"), "text/plain", b"")
            .status,
        204
    );
    assert!(!temp_folder(&server.stderr.lock().unwrap())
        .join(&job_id)
        .exists());
    stream.read_to_end(&mut raw).unwrap();
    let answer = Answer::parse(&raw).unwrap();
    assert_eq!(answer.status, 200);
    let length: usize = answer.header("content-length").unwrap().parse().unwrap();
    assert_eq!(answer.body.len(), length);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mix.wav");
    std::fs::write(&path, &answer.body).unwrap();
    let audio = saex::read_audio(&path).unwrap();
    assert_eq!((audio.nb_channels(), audio.nb_frames()), (2, nb_frames));
}

#[test]
fn refusals_are_4xx_and_name_the_problem() {
    let server = Server::start(&["--max-upload-mb", "1"]);
    let id = server.tiny_model_id().to_string();
    let model = [("model", id.as_str())];
    let wav = wav_bytes(22050, 1, 4000);

    // Too large: 413, and nothing is left in the temporary folder.
    let big = vec![0u8; 1_300_000];
    let answer = server.submit(&model, "big.wav", &big);
    assert_eq!(answer.status, 413);
    assert!(
        answer
            .error()
            .contains("big.wav: larger than the upload limit of 1 MiB"),
        "{}",
        answer.error()
    );

    // Wrong type: by name, and by content under an audio name.
    let answer = server.submit(&model, "notes.txt", b"hello");
    assert_eq!(answer.status, 415);
    assert!(
        answer
            .error()
            .starts_with("notes.txt: not a format saex reads"),
        "{}",
        answer.error()
    );
    let answer = server.submit(&model, "fake.wav", b"this is not a RIFF file at all");
    assert_eq!(answer.status, 415);
    assert!(
        answer
            .error()
            .starts_with("fake.wav: not audio that saex reads"),
        "{}",
        answer.error()
    );
    assert!(
        !answer.error().contains("saex-serve-"),
        "the temporary path leaks: {}",
        answer.error()
    );

    // Malformed forms.
    let answer = server.request("POST", "/api/jobs", "application/json", b"{}");
    assert_eq!(answer.status, 415, "{}", answer.error());
    let answer = server.request(
        "POST",
        "/api/jobs",
        "multipart/form-data; boundary=x",
        b"garbage",
    );
    assert!((400..500).contains(&answer.status), "{}", answer.status);
    let (content_type, body) = multipart(&model, None);
    let answer = server.request("POST", "/api/jobs", &content_type, &body);
    assert_eq!(
        (answer.status, answer.error().as_str()),
        (400, "no file in the form (field \"file\")")
    );
    for (fields, message) in [
        (vec![], "choose at least one model"),
        (vec![("model", "999")], "no model 999"),
        (vec![("model", "../../etc")], "expected a model id"),
        (
            vec![("model", id.as_str()), ("mask", "bogus")],
            "mask \"bogus\"",
        ),
        (
            vec![("model", id.as_str()), ("niter", "99")],
            "niter \"99\": expected a whole number from 0 to 10",
        ),
        (
            vec![("model", id.as_str()), ("path", "/etc/passwd")],
            "unknown field \"path\"",
        ),
        (
            vec![("model", id.as_str()), ("model", id.as_str())],
            "both extract vocals",
        ),
    ] {
        let answer = server.submit(&fields, "song.wav", &wav);
        assert_eq!(answer.status, 400, "{fields:?}");
        assert!(
            answer.error().contains(message),
            "{fields:?}: {}",
            answer.error()
        );
    }
    // The file name is never a path: a traversal in it is only a name.
    let answer = server.submit(&model, "../../../../tmp/evil.wav", &wav);
    assert_eq!(answer.status, 202, "{}", answer.error());
    let job_id = answer.json()["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait(&job_id)["state"], "done");
    assert!(!std::path::Path::new("/tmp/evil.wav").exists());
    let folder = temp_folder(&server.stderr.lock().unwrap());
    let mut inside: Vec<String> = std::fs::read_dir(folder.join(&job_id))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    inside.sort();
    assert_eq!(
        inside,
        [
            "input.wav",
            "spectrogram.png",
            "stem0.wav",
            "stem1.wav",
            "stem2.wav"
        ]
    );
    // Only the refused uploads' folders are gone: one job folder is left.
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1);

    // Unknown jobs, malformed ids, unknown stems, traversal in paths: 404.
    for path in [
        "/api/jobs/0123456789abcdef0123456789abcdef".to_string(),
        "/api/jobs/0123456789abcdef0123456789abcdef/stems/mix.wav".to_string(),
        "/api/jobs/0123456789abcdef0123456789abcdef/stems.zip".to_string(),
        "/api/jobs/not-a-job".to_string(),
        "/api/jobs/..%2F..%2F..%2Fetc/spectrogram.png".to_string(),
        format!("/api/jobs/{job_id}/stems/drums.wav"),
        format!("/api/jobs/{job_id}/stems/..%2F..%2Finput.wav"),
        format!("/api/jobs/{job_id}/stems/%2Fetc%2Fpasswd"),
        format!("/api/jobs/{job_id}/stems/input"),
        "/../../../../etc/passwd".to_string(),
        "/app.js/../../Cargo.toml".to_string(),
        "/assets/web/app.js".to_string(),
        "/api/nothing".to_string(),
    ] {
        let answer = server.get(&path);
        assert_eq!(answer.status, 404, "{path}");
        assert!(!answer.body.starts_with(b"root:"), "{path}");
    }
    let answer = server.request(
        "POST",
        "/api/jobs/0123456789abcdef0123456789abcdef/cancel",
        "text/plain",
        b"",
    );
    assert_eq!(answer.status, 404);
    // Wrong methods are refused, not served.
    assert_eq!(
        server.request("PUT", "/api/jobs", "text/plain", b"").status,
        405
    );
    // A request that is not HTTP does not bring the server down.
    let mut raw = TcpStream::connect(server.address).unwrap();
    raw.write_all(b"\x16\x03\x01garbage\r\n\r\n").unwrap();
    drop(raw);
    assert_eq!(server.get("/api/models").status, 200);
}

#[test]
fn queue_cancel_and_ctrl_c() {
    let server = Server::start(&["--queue", "1"]);
    let id = server.tiny_model_id().to_string();
    // A long song with Wiener iterations keeps the worker busy for a while.
    let long = wav_bytes(22050, 2, 22050 * 40);
    let fields = [("model", id.as_str()), ("niter", "10")];
    let first = server.submit(&fields, "first.wav", &long);
    assert_eq!(first.status, 202, "{}", first.error());
    let first = first.json()["id"].as_str().unwrap().to_string();
    // The worker takes the first; the second waits in the queue of 1; the third is refused.
    let started = Instant::now();
    while server.get(&format!("/api/jobs/{first}")).json()["state"] == "queued" {
        assert!(started.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = server.submit(&fields, "second.wav", &long);
    assert_eq!(second.status, 202);
    let second = second.json()["id"].as_str().unwrap().to_string();
    let third = server.submit(&fields, "third.wav", &long);
    assert_eq!(
        third.status,
        503,
        "{}",
        String::from_utf8_lossy(&third.body)
    );
    assert!(
        third.error().contains("the queue is full"),
        "{}",
        third.error()
    );
    assert_eq!(
        server.get(&format!("/api/jobs/{first}")).json()["state"],
        "running",
        "the first job ended too soon for this test"
    );

    // Cancelling: the queued job at once, the running one at its next block.
    let answer = server.request(
        "POST",
        &format!("/api/jobs/{second}/cancel"),
        "text/plain",
        b"",
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["state"], "cancelled");
    server.request(
        "POST",
        &format!("/api/jobs/{first}/cancel"),
        "text/plain",
        b"",
    );
    assert_eq!(server.wait(&first)["state"], "cancelled");
    let answer = server.get(&format!("/api/jobs/{first}/stems/mix.wav"));
    assert_eq!(answer.status, 409, "a cancelled job has no stems");

    // Ctrl-C while a job runs: the server stops at once and removes its temporary folder.
    let busy = server.submit(&fields, "busy.wav", &long);
    assert_eq!(busy.status, 202);
    let folder = temp_folder(&server.stderr.lock().unwrap());
    assert!(folder.is_dir());
    let (status, stderr) = server.interrupt();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("saex: stopped"), "{stderr}");
    assert!(!folder.exists(), "{} is left", folder.display());
}

#[test]
fn binding_beyond_this_machine_warns() {
    let server = Server::start(&["--bind", "0.0.0.0"]);
    assert_eq!(server.get("/api/models").status, 200);
    // Standard error is read by a thread of its own: the line may come after the address.
    let warning = "saex: warning: listening on 0.0.0.0: anyone who can reach this machine";
    let started = Instant::now();
    while !server.stderr.lock().unwrap().contains(warning) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no warning in: {}",
            server.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every format `saex extract` reads is an upload the page takes (one list, `READ_EXTENSIONS`):
/// an Ogg Opus file was refused with 415 while the command line decoded it.
#[test]
fn an_opus_upload_is_separated() {
    let server = Server::start(&[]);
    let id = server.tiny_model_id().to_string();
    let opus = std::fs::read(data("tone.opus")).unwrap();
    let answer = server.submit(&[("model", id.as_str())], "tone.opus", &opus);
    assert_eq!(answer.status, 202, "{}", answer.error());
    let job_id = answer.json()["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait(&job_id)["state"], "done");
}

/// The working folder and every job folder are 0700 and every file 0600, whatever the umask
/// (the server runs under umask 0 here): other local users must not read uploads and stems.
#[test]
fn uploads_and_stems_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start(&[]);
    let id = server.tiny_model_id().to_string();
    let answer = server.submit(
        &[("model", id.as_str())],
        "song.wav",
        &wav_bytes(22050, 2, 6000),
    );
    assert_eq!(answer.status, 202, "{}", answer.error());
    let job_id = answer.json()["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait(&job_id)["state"], "done");
    let root = temp_folder(&server.stderr.lock().unwrap());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o700, "{}", root.display());
    assert_eq!(mode(&root.join(&job_id)), 0o700);
    let files: Vec<_> = std::fs::read_dir(root.join(&job_id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() >= 4, "{files:?}");
    for file in files {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

/// The shipped vocals, drums and bass models together are four stems: the residual is served
/// as `other`, as `saex extract --stems 4` names it.
#[test]
fn the_three_shipped_models_give_four_stems() {
    let server = Server::start(&[]);
    let models = server.get("/api/models").json();
    let ids: Vec<String> = ["vocals", "drums", "bass"]
        .iter()
        .map(|target| {
            models["models"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["source"] == "shipped" && m["target"] == *target)
                .unwrap_or_else(|| panic!("the shipped {target} model is offered"))["id"]
                .to_string()
        })
        .collect();
    let fields: Vec<(&str, &str)> = ids.iter().map(|id| ("model", id.as_str())).collect();
    let answer = server.submit(&fields, "song.wav", &wav_bytes(22050, 2, 6000));
    assert_eq!(answer.status, 202, "{}", answer.error());
    let job_id = answer.json()["id"].as_str().unwrap().to_string();
    let job = server.wait(&job_id);
    assert_eq!(job["state"], "done", "{job}");
    let stems = stem_names(&job);
    assert_eq!(stems.last(), Some(&"other"), "{stems:?}");
    assert_eq!(stems.len(), 5, "{stems:?}");
    let other = server.get(&format!("/api/jobs/{job_id}/stems/other.wav"));
    assert_eq!(other.status, 200);
}
