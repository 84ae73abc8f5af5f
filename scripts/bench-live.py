#!/usr/bin/env python3
"""Paced pipe benchmark of `saex extract --latency low` (issue 17), standard library only.

Feeds a WAV to `saex extract --mix - --out - --latency low` in real time, one hop at a time at
the instant the hop's last sample would have been captured live, reads the output as it
comes, and reports:

- the algorithmic latency the tool states;
- end to end (impulse run): from the instant an impulse is "captured" (its sample's time on
  the input's clock) to the moment standard output delivers that sample's output;
- response per hop (music run): from writing a hop to reading the output hop it completes
  (the stated latency says which), median / 99th percentile / max, and the hops late by more
  than one hop's duration (what a one-hop output buffer would underrun on);
- compute per hop as saex measures it (`--timings`: the stages' busy time per hop).

    scripts/bench-live.py --saex target/release/saex --model models/vocals \\
        --input audio/demo/mixture.wav --seconds 60
"""

import argparse
import re
import statistics
import struct
import subprocess
import sys
import threading
import time
import wave


def percentile(values, q):
    """Nearest rank, as saex's own summary."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-int(q * len(ordered) * 1000) // 1000)))
    return ordered[rank - 1]


def wav_header(rate, channels):
    """16-bit PCM, sizes 0xFFFFFFFF: a stream of unknown length (as on a live pipe)."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    return (
        b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", 0xFFFFFFFF)
    )


def run(saex, model, pcm, rate, channels, hop, extra):
    """Streams `pcm` (16-bit interleaved bytes) through saex in real time. Returns the write
    time of each hop, the (time, output frames so far) of each read, the output samples of
    channel 0, saex's stderr, and the capture clock's origin."""
    cmd = [saex, "extract", "--device", "cpu", "--latency", "low", "--timings",
           "--format", "float", "--mix", "-", "--out", "-"] + extra
    if model:
        cmd += ["--model", model]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0)
    frame_bytes = channels * 2
    nb_hops = len(pcm) // (hop * frame_bytes)
    writes = []
    reads = []
    out = bytearray()
    err = []
    ready = threading.Event()

    def reader():
        header = b""
        while b"data" not in header[:-4] or len(header) < header.index(b"data") + 8:
            chunk = proc.stdout.read(4096)
            if not chunk:
                return
            header += chunk
        start = header.index(b"data") + 8
        data = header[start:]
        out_frame = channels * 4
        got = len(data)
        out.extend(data)
        reads.append((time.perf_counter(), got // out_frame))
        while True:
            chunk = proc.stdout.read(1 << 16)
            if not chunk:
                break
            out.extend(chunk)
            got += len(chunk)
            reads.append((time.perf_counter(), got // out_frame))

    def drain_stderr():
        lines = []
        for line in proc.stderr:
            lines.append(line.decode())
            if "algorithmic latency" in lines[-1]:
                ready.set()  # the model is loaded
        ready.set()
        err.append("".join(lines))

    threads = [threading.Thread(target=reader), threading.Thread(target=drain_stderr)]
    for t in threads:
        t.start()
    proc.stdin.write(wav_header(rate, channels))
    ready.wait()
    origin = time.perf_counter()
    for k in range(nb_hops):
        due = origin + (k + 1) * hop / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        proc.stdin.write(pcm[k * hop * frame_bytes:(k + 1) * hop * frame_bytes])
        writes.append(time.perf_counter())
    proc.stdin.close()
    for t in threads:
        t.join()
    if proc.wait() != 0:
        sys.exit(f"saex failed:\n{err[0]}")
    samples = struct.unpack(f"<{len(out) // 4}f", bytes(out[: len(out) // 4 * 4]))
    return writes, reads, samples[::channels], err[0], origin


def first_read_with(reads, frames):
    for t, n in reads:
        if n >= frames:
            return t
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--saex", default="target/release/saex")
    p.add_argument("--model", help="model folder (default: the shipped default)")
    p.add_argument("--input", required=True, help="16-bit WAV at the model's rate")
    p.add_argument("--seconds", type=float, default=60, help="length of the music run")
    args = p.parse_args()
    with wave.open(args.input) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        assert w.getsampwidth() == 2, "a 16-bit WAV, please"
        music = w.readframes(w.getnframes())
    frame_bytes = channels * 2
    total = int(args.seconds * rate) * frame_bytes
    music = (music * (total // len(music) + 1))[:total]

    # Impulse run: 3 s of silence with one full-scale click at a hop boundary near 1 s.
    hop = 512
    j0 = (rate // hop) * hop
    silence = bytearray(3 * rate * frame_bytes)
    for c in range(channels):
        struct.pack_into("<h", silence, j0 * frame_bytes + 2 * c, 30000)
    writes, reads, out, stderr, origin = run(
        args.saex, args.model, bytes(silence), rate, channels, hop, [])
    stated = re.search(r"algorithmic latency (\d+) samples at (\d+) Hz = ([\d.]+) ms", stderr)
    if not stated:
        sys.exit(f"no stated latency in saex's messages:\n{stderr}")
    latency = int(stated.group(1))
    arrived = first_read_with(reads, j0 + 1)
    window = out[max(0, j0 - 2048): j0 + 2048]
    peak_at = max(range(len(window)), key=lambda i: abs(window[i])) + max(0, j0 - 2048)
    print(f"stated algorithmic latency: {latency} samples = {stated.group(3)} ms")
    print(f"impulse at sample {j0}: output peak at sample {peak_at} "
          f"(|y| {abs(out[peak_at]):.3f}); end to end "
          f"{1000 * (arrived - (origin + j0 / rate)):.1f} ms")

    # Music run: response per hop against the hop's duration.
    writes, reads, out, stderr, origin = run(
        args.saex, args.model, music, rate, channels, hop, [])
    hop_ms = 1000 * hop / rate
    delays = []
    nb_frames = len(music) // frame_bytes
    for k, w in enumerate(writes):
        need = min((k + 1) * hop - latency + hop, nb_frames)
        if need <= 0:
            continue
        r = first_read_with(reads, need)
        delays.append(1000 * (r - w))
    delays = delays[10:]
    late = sum(d > hop_ms for d in delays)
    print(f"music run: {args.seconds:.0f} s, {len(delays)} hops of {hop_ms:.2f} ms")
    print(f"response per hop (write -> output read): median {statistics.median(delays):.2f} ms, "
          f"99th percentile {percentile(delays, 0.99):.2f} ms, max {max(delays):.2f} ms; "
          f"{late} hops later than one hop")
    for line in re.findall(r"compute per hop.*", stderr) or ["(no compute line)"]:
        print(f"saex --timings: {line}")


if __name__ == "__main__":
    main()
