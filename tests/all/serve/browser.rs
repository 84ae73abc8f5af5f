//! The page in a real browser: headless Chromium, driven over WebDriver by chromedriver, uploads
//! a generated mix through the page's file input, waits for the players and the spectrogram
//! figure, plays the stems and checks that the browser logged no error or warning. A screenshot
//! is kept in `target/tmp/serve-browser/page.png`.
//!
//! Chromium runs under its default autoplay policy (no `--autoplay-policy` flag): WebDriver's
//! click is a user gesture, as a listener's is, so the test also shows that Play starts the
//! audio where a user's browser would demand a gesture.
//!
//! The WebDriver client is the few lines of HTTP/1.1 and JSON below (the HTTP tests' client and
//! serde_json), not a WebDriver crate: the test needs eight commands, and a crate would bring an
//! HTTP stack and an async runtime into the dev-dependencies for them.
//!
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver`
//! (`scripts/setup-browser.sh`, which the README's test command runs); where they are not
//! installed the test says it is skipped (a failure under CI=true, see `common::skip`).

use super::{Answer, Server};
use crate::common::{on_path, skip, tones};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The first of `names` found on `PATH`.
/// A free port on 127.0.0.1 (free when asked; chromedriver takes it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 50 ms until it gives a value or `timeout` passes; then panics with
/// `what` and the last state `check` described.
fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let started = Instant::now();
    loop {
        match check() {
            Ok(value) => return value,
            Err(state) if started.elapsed() > timeout => {
                panic!("{what}: not after {timeout:?} ({state})")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Standard base64 (the screenshot's encoding) to bytes.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for group in digits.chunks(4) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..group.len()]);
    }
    out
}

/// chromedriver and the headless Chromium it started, in their own process group: dropping it
/// ends the session and kills the group, whatever happened before.
struct Browser {
    driver: Child,
    address: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session with the window
    /// `width` x `height`; None (saying why) where either is not installed.
    fn start(width: u32, height: u32) -> Option<Browser> {
        let how = "scripts/setup-browser.sh installs Debian's chromium and chromium-driver";
        let Some(driver) = on_path(&["chromedriver"]) else {
            skip(
                "serve::browser",
                &format!("no chromedriver on PATH ({how})"),
                true,
            );
            return None;
        };
        let Some(chromium) = on_path(&["chromium", "chromium-browser", "google-chrome"]) else {
            skip(
                "serve::browser",
                &format!("no chromium on PATH ({how})"),
                true,
            );
            return None;
        };
        let profile = tempfile::tempdir().unwrap();
        // The port may be taken between the check and chromedriver's bind: try again.
        for _ in 0..3 {
            let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let mut child = {
                use std::os::unix::process::CommandExt;
                Command::new(&driver)
                    .arg(format!("--port={}", address.port()))
                    .arg(format!(
                        "--log-path={}",
                        profile.path().join("chromedriver.log").display()
                    ))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .unwrap()
            };
            let started = Instant::now();
            let ready = loop {
                if child.try_wait().unwrap().is_some() {
                    break false;
                }
                if let Some((_, answer)) = request(address, "GET", "/status", None) {
                    if answer["value"]["ready"] == true {
                        break true;
                    }
                }
                if started.elapsed() > Duration::from_secs(20) {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("chromedriver is not ready after 20 s");
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            if !ready {
                let _ = child.wait();
                continue;
            }
            let mut browser = Browser {
                driver: child,
                address,
                session: String::new(),
                _profile: profile,
            };
            let user_data = browser._profile.path().join("chromium");
            let created = browser.command(
                "POST",
                "/session",
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": [
                            "--headless=new",
                            // Root in a container has no sandbox to enter.
                            "--no-sandbox",
                            "--disable-dev-shm-usage",
                            "--disable-gpu",
                            "--no-first-run",
                            format!("--window-size={width},{height}"),
                            format!("--user-data-dir={}", user_data.display()),
                        ],
                    },
                    "goog:loggingPrefs": {"browser": "ALL"},
                }}}),
            );
            browser.session = created["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("no session: {created}"))
                .to_string();
            return Some(browser);
        }
        panic!("chromedriver did not start (three ports tried)");
    }

    /// One WebDriver command under the session (`path` after `/session/{id}`, or from the
    /// root when no session is open); its `value`. Panics on a WebDriver error.
    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let full = if self.session.is_empty() {
            path.to_string()
        } else {
            format!("/session/{}{path}", self.session)
        };
        let body = (method == "POST").then_some(body);
        let (status, answer) = request(self.address, method, &full, body.as_ref())
            .unwrap_or_else(|| panic!("{method} {full}: no answer from chromedriver"));
        assert_eq!(status, 200, "{method} {full}: {}", answer["value"]);
        answer["value"].clone()
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; what it returns.
    fn run(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// The WebDriver reference of the element `selector` finds.
    fn element(&self, selector: &str) -> String {
        let found = self.command(
            "POST",
            "/element",
            json!({"using": "css selector", "value": selector}),
        );
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{selector}: {found}"))
            .to_string()
    }

    /// The browser's console and its own messages (CSP violations, failed loads) since the
    /// last call: (level, message).
    fn log(&self) -> Vec<(String, String)> {
        let entries = self.command("POST", "/se/log", json!({"type": "browser"}));
        entries
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_string(),
                            e["message"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A PNG of the viewport.
    fn screenshot(&self) -> Vec<u8> {
        let text = self.command("GET", "/screenshot", Value::Null);
        base64_decode(text.as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Closes Chromium; the group kill below is for when this cannot.
            let _ = request(
                self.address,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        // chromedriver leads its group, and Chromium's processes are in it.
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

/// One HTTP/1.1 request to chromedriver with a JSON body; the answer's status and JSON, or
/// None when no answer came (not listening yet).
fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    // chromedriver keeps the connection open whatever the request says: read what
    // Content-Length announces.
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        raw.extend_from_slice(&chunk[..n]);
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n");
        let complete = end.is_some_and(|end| {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            length.is_some_and(|length| raw.len() >= end + 4 + length)
        });
        if complete || n == 0 {
            break;
        }
    }
    let answer = Answer::parse(&raw)?;
    Some((answer.status, serde_json::from_slice(&answer.body).ok()?))
}

/// The page's state of the newest job: JSON with its state text, error, whether the players
/// are ready, the stems' rows and the figure's size once loaded.
const JOB_STATE: &str = r##"
const job = document.querySelector(".job");
if (!job) return null;
const img = job.querySelector("img.spectrogram");
return {
  state: job.querySelector(".state").textContent,
  error: job.querySelector(".error").textContent,
  ready: job.dataset.ready === "true",
  stems: Array.from(job.querySelectorAll(".stem")).map((row) => row.dataset.stem),
  figure: img.complete && img.naturalWidth > 0 ? [img.naturalWidth, img.naturalHeight] : null,
  formError: document.querySelector("#form-error").textContent,
};"##;

/// Opens the page of `server`, chooses the model `model_id`, uploads `mix` through the file
/// input and waits (at most `timeout`) until the job is done, its players ready and its
/// figure loaded. The stems' names.
fn upload_and_wait(
    browser: &Browser,
    server: &Server,
    model_id: u64,
    mix: &Path,
    timeout: Duration,
) -> Vec<String> {
    browser.command(
        "POST",
        "/url",
        json!({"url": format!("http://{}/", server.address)}),
    );
    // The form lists the models once /api/models has answered.
    wait_for("the models listed", Duration::from_secs(10), || {
        let n = browser.run(
            "return document.querySelectorAll('#models input').length",
            json!([]),
        );
        if n.as_u64().unwrap_or(0) > 0 {
            Ok(())
        } else {
            Err(format!("{n} models"))
        }
    });
    browser.run(
        "for (const box of document.querySelectorAll('#models input')) \
         box.checked = box.value === String(arguments[0]);",
        json!([model_id]),
    );
    // WebDriver types a path into <input type=file>; the page's change handler uploads it.
    let input = browser.element("#files");
    browser.command(
        "POST",
        &format!("/element/{input}/value"),
        json!({"text": mix.display().to_string()}),
    );
    let state = wait_for("the job done and shown", timeout, || {
        let state = browser.run(JOB_STATE, json!([]));
        if state.is_null() {
            return Err("no job on the page".into());
        }
        let bad = |key: &str| state[key].as_str().is_some_and(|s| !s.is_empty());
        if bad("error") || bad("formError") {
            panic!("the page shows an error: {state}");
        }
        if state["ready"] == true && state["figure"].is_array() {
            Ok(state)
        } else {
            Err(state.to_string())
        }
    });
    assert_eq!(state["state"], "done", "{state}");
    state["stems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Makes the window's viewport as tall as the page (so the screenshot shows all of it) and
/// takes the screenshot.
fn whole_page(browser: &Browser, width: u32) -> Vec<u8> {
    wait_for(
        "the viewport as tall as the page",
        Duration::from_secs(10),
        || {
            let size = browser.run(
                "return [document.documentElement.scrollHeight, window.innerHeight, \
               window.outerHeight]",
                json!([]),
            );
            let [page, inner, outer] = [0, 1, 2].map(|i| size[i].as_u64().unwrap());
            if inner >= page {
                return Ok(());
            }
            browser.command(
                "POST",
                "/window/rect",
                json!({"width": width, "height": page + outer.saturating_sub(inner)}),
            );
            Err(format!("page {page} px, viewport {inner} px"))
        },
    );
    browser.screenshot()
}

#[test]
fn the_page_in_headless_chromium() {
    let width = 1200;
    let Some(browser) = Browser::start(width, 900) else {
        return;
    };
    let server = Server::start(&[]);
    let model = server.tiny_model_id();
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("browser test mix.wav");
    saex::write_wav(&mix, &tones(8000, 2, 3 * 8000), saex::SampleFormat::Pcm16).unwrap();

    let stems = upload_and_wait(&browser, &server, model, &mix, Duration::from_secs(60));
    assert_eq!(stems, ["mix", "vocals", "residual"]);
    // A job that has ended cannot be cancelled: its button is hidden (CSS once overrode that).
    let cancel = browser.run(
        "return document.querySelector('.job button.cancel').checkVisibility()",
        json!([]),
    );
    assert_eq!(
        cancel, false,
        "the Cancel button of a finished job is shown"
    );
    // The figure is the one saex draws for three signals, and every waveform is drawn.
    let figure = browser.run(
        "const img = document.querySelector('img.spectrogram'); \
         return [img.naturalWidth, img.naturalHeight];",
        json!([]),
    );
    assert_eq!(
        figure,
        json!([saex::spectrogram::WIDTH, saex::spectrogram::height(3)])
    );
    let inked = browser.run(
        "return Array.from(document.querySelectorAll('.stem canvas')).map((c) => { \
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
           let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; });",
        json!([]),
    );
    for (stem, n) in stems.iter().zip(inked.as_array().unwrap()) {
        assert!(n.as_u64().unwrap() > 100, "{stem}: the waveform is blank");
    }

    // Play: the audio clock runs and the page's position moves on.
    let play = browser.element(".job button.play");
    browser.command("POST", &format!("/element/{play}/click"), json!({}));
    let playing = wait_for("playback", Duration::from_secs(10), || {
        let now = browser.run(
            "return { state: audioContext.state, time: audioContext.currentTime, \
               button: document.querySelector('.job button.play').textContent, \
               playing: document.querySelector('.job').dataset.playing || null, \
               shown: document.querySelector('.job .time').textContent };",
            json!([]),
        );
        if now["state"] == "running" && now["playing"] == "true" {
            Ok(now)
        } else {
            Err(now.to_string())
        }
    });
    assert_eq!(playing["button"], "Pause", "{playing}");
    let started = playing["time"].as_f64().unwrap();
    wait_for(
        "the audio clock to advance",
        Duration::from_secs(10),
        || {
            let time = browser
                .run("return audioContext.currentTime", json!([]))
                .as_f64()
                .unwrap();
            if time > started + 0.3 {
                Ok(())
            } else {
                Err(format!("{time} s, from {started} s"))
            }
        },
    );
    // Solo the vocals (A/B): the row of the mix goes quiet, that of the vocals not.
    browser.run(
        "document.querySelector('.stem[data-stem=vocals] button').click()",
        json!([]),
    );
    let silent = browser.run(
        "return Array.from(document.querySelectorAll('.stem.silent')).map((r) => r.dataset.stem)",
        json!([]),
    );
    assert_eq!(silent, json!(["mix", "residual"]));

    let screenshot = whole_page(&browser, width);
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("page.png"), &screenshot).unwrap();
    let shot = image::load_from_memory(&screenshot).unwrap();
    assert!(shot.width() >= width / 2, "{}", shot.width());

    // A reload lists the server's jobs again, the finished one with its players (was: an
    // empty list, the job lost to the page).
    browser.command("POST", "/refresh", json!({}));
    wait_for("the jobs after a reload", Duration::from_secs(20), || {
        let jobs = browser.run(
            "return Array.from(document.querySelectorAll('.job')).map((j) => \
               [j.querySelector('.name').textContent, j.querySelector('.state').textContent, \
                j.querySelectorAll('.stem canvas').length])",
            json!([]),
        );
        if jobs == json!([["browser test mix.wav", "done", 3]]) {
            Ok(())
        } else {
            Err(jobs.to_string())
        }
    });

    let errors: Vec<_> = browser
        .log()
        .into_iter()
        .filter(|(level, _)| level == "SEVERE" || level == "WARNING")
        .collect();
    assert!(errors.is_empty(), "the browser logged: {errors:#?}");
}

/// docs/serve-screenshot.png: the shipped demo mix through the shipped vocals model, with the
/// shipped models alone on offer. Not run by default (it writes into the checkout's docs);
/// `cargo test --release --test all serve::browser::demo_screenshot -- --ignored` remakes it.
#[test]
#[ignore]
fn demo_screenshot() {
    let width = 1200;
    let Some(browser) = Browser::start(width, 900) else {
        return;
    };
    let server = Server::shipped_only(&[]);
    let models = server.get("/api/models").json();
    let model = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["source"] == "shipped" && m["name"] == "vocals")
        .expect("the shipped vocals model")["id"]
        .as_u64()
        .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Uploaded under its own name, as a user would.
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("demo.wav");
    std::fs::copy(root.join("audio/demo/mixture.wav"), &mix).unwrap();
    upload_and_wait(&browser, &server, model, &mix, Duration::from_secs(300));
    let page = image::load_from_memory(&whole_page(&browser, width))
        .unwrap()
        .to_rgba8();
    // Without the empty margin below the job.
    let bottom = browser
        .run(
            "return Math.round(document.querySelector('.job').getBoundingClientRect().bottom) + 16",
            json!([]),
        )
        .as_u64()
        .unwrap() as u32;
    let screenshot =
        image::imageops::crop_imm(&page, 0, 0, page.width(), bottom.min(page.height())).to_image();
    let png = palette_png(&screenshot);
    std::fs::write(root.join("docs/serve-screenshot.png"), &png).unwrap();
    eprintln!(
        "docs/serve-screenshot.png: {}x{}, {} KiB",
        screenshot.width(),
        screenshot.height(),
        png.len() / 1024
    );
}

/// `image` as an 8-bit palette PNG of 128 colours (NeuQuant): under half the size of the
/// true-colour screenshot, for a figure kept in the repository.
fn palette_png(image: &image::RgbaImage) -> Vec<u8> {
    let quant = color_quant::NeuQuant::new(10, 128, image.as_raw());
    let indices: Vec<u8> = image
        .as_raw()
        .chunks_exact(4)
        .map(|px| quant.index_of(px) as u8)
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width(), image.height());
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(quant.color_map_rgb());
    encoder.set_compression(png::Compression::Best);
    // Unfiltered rows: the smallest file for this image (Sub, Paeth and 256 colours were tried).
    encoder.set_filter(png::FilterType::NoFilter);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&indices).unwrap();
    writer.finish().unwrap();
    out
}
