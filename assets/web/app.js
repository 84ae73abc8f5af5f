// saex serve's page: uploads each dropped file as a job, polls its progress, and once done
// plays the stems in sync through Web Audio (solo, mute, A/B at the same position), draws
// their waveforms and shows the spectrogram figure that saex rendered.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
let audioContext = null;
let playing = null; // the job view that is playing, if any

function fmtTime(s) {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
}

async function loadModels() {
  const answer = await fetch("/api/models");
  const info = await answer.json();
  const box = $("#models");
  box.textContent = "";
  let checked = false;
  for (const m of info.models) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = m.id;
    input.name = "model";
    // The first vocals model is chosen by default (else the first model).
    if (!checked && m.target === "vocals") { input.checked = true; checked = true; }
    label.append(input, ` ${m.name} (${m.target}, ${m.source})`);
    box.append(label);
  }
  if (!checked && box.querySelector("input")) box.querySelector("input").checked = true;
  // Four stems: the shipped vocals, drums and bass models alone (the residual becomes "other").
  const four = ["vocals", "drums", "bass"];
  const shipped = info.models.filter((m) => m.source === "shipped" && four.includes(m.target));
  const fourButton = $("#four-stems");
  fourButton.hidden = four.some((t) => !shipped.some((m) => m.target === t));
  fourButton.onclick = () => {
    const chosen = four.map((t) => String(shipped.find((m) => m.target === t).id));
    for (const input of box.querySelectorAll("input")) input.checked = chosen.includes(input.value);
  };
  const mask = $("#mask");
  for (const k of info.masks) mask.append(new Option(k, k));
  $("#niter").max = info.max_niter;
  $("#formats").textContent =
    `${info.extensions.map((e) => "." + e).join(" ")}; up to ${Math.round(info.max_upload_bytes / 1048576)} MiB each`;
}

async function submit(file) {
  const form = new FormData();
  for (const box of document.querySelectorAll("#models input:checked")) form.append("model", box.value);
  form.append("mask", $("#mask").value);
  form.append("niter", $("#niter").value || "0");
  form.append("file", file, file.name);
  const view = addJob({ id: null, name: file.name, state: "uploading", progress: 0 });
  let answer;
  try {
    answer = await fetch("/api/jobs", { method: "POST", body: form });
  } catch (e) {
    return showError(view, `${file.name}: the upload failed (${e})`);
  }
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) return showError(view, body.error || `${file.name}: refused (${answer.status})`);
  view.id = body.id;
  update(view, body);
  poll(view);
}

function showError(view, message) {
  $(".error", view.el).textContent = message;
  $(".state", view.el).textContent = "refused";
  $(".cancel", view.el).hidden = true;
}

function addJob(job) {
  const el = $("#job-template").content.firstElementChild.cloneNode(true);
  $(".name", el).textContent = job.name;
  $("#jobs").prepend(el);
  const view = { id: job.id, el, stems: [], players: null };
  $(".cancel", el).onclick = () => view.id && fetch(`/api/jobs/${view.id}/cancel`, { method: "POST" });
  $(".remove", el).onclick = () => {
    if (playing === view) stop(view);
    if (view.id) fetch(`/api/jobs/${view.id}`, { method: "DELETE" });
    el.remove();
    view.removed = true;
  };
  return view;
}

function update(view, job) {
  $(".state", view.el).textContent = job.state === "running" ? `running ${Math.round(job.progress * 100)} %` : job.state;
  $("progress", view.el).value = job.progress;
  $(".cancel", view.el).hidden = !(job.state === "queued" || job.state === "running");
  if (job.state === "failed") $(".error", view.el).textContent = job.message;
}

async function poll(view) {
  while (!view.removed) {
    const answer = await fetch(`/api/jobs/${view.id}`).catch(() => null);
    if (!answer || !answer.ok) {
      showError(view, "the job is gone (the server stopped or removed it)");
      return;
    }
    const job = await answer.json();
    update(view, job);
    if (job.state === "done") return showResult(view, job);
    if (job.state === "failed" || job.state === "cancelled") return;
    await new Promise((r) => setTimeout(r, 400));
  }
}

async function showResult(view, job) {
  const el = view.el;
  const base = `/api/jobs/${job.id}`;
  $(".result", el).hidden = false;
  $(".spectrogram", el).src = `${base}/spectrogram.png`;
  $(".zip", el).href = `${base}/stems.zip`;
  audioContext = audioContext || new AudioContext();
  const stemsBox = $(".stems", el);
  view.stems = job.stems.map((name) => {
    const row = document.createElement("div");
    row.className = "stem";
    row.dataset.stem = name;
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = name;
    const solo = document.createElement("button");
    solo.textContent = "S";
    solo.title = `solo ${name}`;
    const mute = document.createElement("button");
    mute.textContent = "M";
    mute.title = `mute ${name}`;
    const canvas = document.createElement("canvas");
    const link = document.createElement("a");
    link.className = "button";
    link.textContent = "download";
    link.href = `${base}/stems/${encodeURIComponent(name)}.wav`;
    link.download = `${name}.wav`;
    row.append(label, solo, mute, canvas, link);
    stemsBox.append(row);
    const stem = { name, row, solo, mute, canvas, buffer: null, gain: null, muted: false };
    solo.onclick = () => {
      view.solo = view.solo === name ? null : name;
      applyGains(view);
    };
    mute.onclick = () => {
      stem.muted = !stem.muted;
      applyGains(view);
    };
    canvas.onclick = (e) => {
      const rect = canvas.getBoundingClientRect();
      seek(view, ((e.clientX - rect.left) / rect.width) * view.duration);
    };
    return stem;
  });
  view.solo = "mix"; // the mix first; solo a stem to hear it from the same position
  view.offset = 0;
  applyGains(view);
  await Promise.all(view.stems.map(async (stem) => {
    const bytes = await (await fetch(`${base}/stems/${encodeURIComponent(stem.name)}.wav`)).arrayBuffer();
    stem.buffer = await audioContext.decodeAudioData(bytes);
    drawWave(stem, 0);
  }));
  view.duration = view.stems[0].buffer.duration;
  $(".time", el).textContent = `0:00 / ${fmtTime(view.duration)}`;
  $(".play", el).onclick = () => (playing === view ? stop(view) : play(view));
  el.dataset.ready = "true";
}

// Which stems sound: the soloed one alone, else every unmuted stem but the mix (the stems
// sum to the mix, so muting one leaves the rest, e.g. karaoke).
function audible(view, stem) {
  if (view.solo) return stem.name === view.solo;
  return stem.name !== "mix" && !stem.muted;
}

function applyGains(view) {
  for (const stem of view.stems) {
    const on = audible(view, stem);
    stem.solo.classList.toggle("on", view.solo === stem.name);
    stem.mute.classList.toggle("on", stem.muted);
    stem.row.classList.toggle("silent", !on);
    if (stem.gain) stem.gain.gain.setTargetAtTime(on ? 1 : 0, audioContext.currentTime, 0.01);
  }
}

function play(view) {
  if (playing) stop(playing);
  audioContext.resume();
  view.startedAt = audioContext.currentTime - view.offset;
  view.sources = view.stems.map((stem) => {
    const source = audioContext.createBufferSource();
    source.buffer = stem.buffer;
    stem.gain = audioContext.createGain();
    stem.gain.gain.value = audible(view, stem) ? 1 : 0;
    source.connect(stem.gain).connect(audioContext.destination);
    source.start(0, view.offset);
    return source;
  });
  view.sources[0].onended = () => { if (playing === view && position(view) >= view.duration - 0.05) { stop(view); view.offset = 0; } };
  playing = view;
  $(".play", view.el).textContent = "Pause";
  view.el.dataset.playing = "true";
  tick(view);
}

function position(view) {
  return playing === view ? audioContext.currentTime - view.startedAt : view.offset;
}

function stop(view) {
  view.offset = Math.min(position(view), view.duration);
  for (const s of view.sources || []) { s.onended = null; s.stop(); }
  for (const stem of view.stems) stem.gain = null;
  view.sources = null;
  if (playing === view) playing = null;
  $(".play", view.el).textContent = "Play";
  delete view.el.dataset.playing;
}

function seek(view, seconds) {
  const wasPlaying = playing === view;
  if (wasPlaying) stop(view);
  view.offset = Math.max(0, Math.min(seconds, view.duration));
  if (wasPlaying) play(view);
  else redraw(view);
}

function tick(view) {
  if (playing !== view) return redraw(view);
  redraw(view);
  requestAnimationFrame(() => tick(view));
}

function redraw(view) {
  const t = position(view);
  $(".time", view.el).textContent = `${fmtTime(t)} / ${fmtTime(view.duration)}`;
  for (const stem of view.stems) drawWave(stem, t / view.duration);
}

// The waveform: min and max of the channels' mean per pixel column, and the play head.
function drawWave(stem, at) {
  const canvas = stem.canvas;
  const width = (canvas.width = canvas.clientWidth || 600);
  const height = (canvas.height = canvas.clientHeight || 56);
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, width, height);
  if (!stem.buffer) return;
  if (!stem.peaks || stem.peaks.length !== width) stem.peaks = peaks(stem.buffer, width);
  g.fillStyle = "#1f77b4";
  for (let x = 0; x < width; x++) {
    const [lo, hi] = stem.peaks[x];
    g.fillRect(x, (1 - hi) * height / 2, 1, Math.max(1, (hi - lo) * height / 2));
  }
  g.fillStyle = "#d62728";
  g.fillRect(Math.round(at * width), 0, 2, height);
}

function peaks(buffer, width) {
  const channels = Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
  const per = Math.max(1, Math.floor(buffer.length / width));
  const out = [];
  for (let x = 0; x < width; x++) {
    let lo = 0, hi = 0;
    for (let i = x * per; i < Math.min((x + 1) * per, buffer.length); i++) {
      let v = 0;
      for (const ch of channels) v += ch[i];
      v /= channels.length;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    out.push([Math.max(-1, lo), Math.min(1, hi)]);
  }
  return out;
}

function take(files) {
  $("#form-error").textContent = "";
  if (!document.querySelector("#models input:checked")) {
    $("#form-error").textContent = "choose at least one model";
    return;
  }
  for (const file of files) submit(file);
}

const drop = $("#drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); take(e.dataTransfer.files); });
$("#files").addEventListener("change", (e) => { take(e.target.files); e.target.value = ""; });
loadModels().catch((e) => { $("#form-error").textContent = `cannot list the models: ${e}`; });

// After a reload, the server's jobs are listed again: finished ones with their players,
// queued and running ones followed as they go.
async function loadJobs() {
  const answer = await fetch("/api/jobs");
  if (!answer.ok) return;
  for (const job of await answer.json()) {
    const view = addJob(job);
    update(view, job);
    if (job.state === "done") showResult(view, job);
    else if (job.state === "queued" || job.state === "running") poll(view);
  }
}
loadJobs().catch((e) => { $("#form-error").textContent = `cannot list the jobs: ${e}`; });
