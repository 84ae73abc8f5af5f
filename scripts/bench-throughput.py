#!/usr/bin/env python3
"""Issue 19's throughput figures in one short run, for a lent GPU machine (or any machine):

- whole `saex extract` commands on a 3-minute stereo 44.1 kHz file, on cuda and on the cpu
  (N runs each, wall time and peak RSS), one more with --timings, and how far apart the cuda and
  cpu outputs are in 16-bit steps;
- `saex batch` of 20 copies of that file on cuda and on the cpu (several --jobs on cuda);
- cores: cpu batch throughput under taskset on 1, 2, 4, 8, ... cores (2 files per core, at
  least 4) against 0.7 x N x one core, and --jobs variants on all cores;
- Open-Unmix (scripts/peer/openunmix_extract.py) on the same file and device, when openunmix
  imports;
- LibTorch's CPU matmul in bf16 against f32 on the network's shapes (Python's torch);
- precision: whole cpu extractions with `--network-precision f32`, `bf16` and `int8`, on every
  core and on 2 (taskset);
- start-up: where a whole command's fixed cost goes (`saex --version`, an extraction of 1 s of
  audio per device, and PyTorch's own CUDA initialisation in Python for comparison).

    bench-throughput.py --bin DIR [--work DIR] [--out DIR] [--devices cuda,cpu]
        [--sections extract,batch,cores,jobs,umx,bf16,precision,startup] [--repeat 3] [--budget SECONDS] [--seconds 180]

DIR holds `saex` and `examples/bench_inputs` (target/release, or the folder that
scripts/gpu-carry.sh fills). Lines are printed as they are measured (and appended to
OUT/table.md), so a run cut short still reports what it did; sections that would start after
--budget seconds are skipped and say so.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(cmd, log):
    """Runs cmd (stderr to `log`, stdout to `log`.out); returns (wall seconds, peak RSS in MB).
    Fails loudly with its stderr."""
    start = time.perf_counter()
    with open(log, "w") as err, open(f"{log}.out", "w") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.stderr.write(Path(log).read_text())
        raise SystemExit(f"failed ({status}): {' '.join(map(str, cmd))}")
    return wall, usage.ru_maxrss / 1024


def lsb_apart(a, b):
    """Largest difference in 16-bit steps between two 16-bit WAVs, and the share that differ."""
    import wave

    def read(p):
        with wave.open(str(p), "rb") as f:
            return f.readframes(f.getnframes())

    try:
        import torch

        x = torch.frombuffer(bytearray(read(a)), dtype=torch.int16).int()
        y = torch.frombuffer(bytearray(read(b)), dtype=torch.int16).int()
        assert x.shape == y.shape
        return int((x - y).abs().max()), float((x != y).float().mean()) * 100
    except ImportError:
        from array import array

        x, y = array("h", read(a)), array("h", read(b))
        diffs = [abs(p - q) for p, q in zip(x, y)]
        return max(diffs), 100 * sum(d > 0 for d in diffs) / len(diffs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, type=Path)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "saex-bench")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--devices", default="cuda,cpu")
    ap.add_argument("--sections", default="extract,batch,cores,jobs,umx,bf16,precision,startup")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-files", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=180, help="input length")
    ap.add_argument("--budget", type=float, default=1e9)
    args = ap.parse_args()
    global SECONDS
    SECONDS = args.seconds
    t0 = time.perf_counter()
    saex = args.bin / "saex"
    out = args.out or Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp())
    table = open(out / "table.md", "a")
    devices = args.devices.split(",")
    sections = args.sections.split(",")
    cores = len(os.sched_getaffinity(0))

    def say(line=""):
        print(line, flush=True)
        table.write(line + "\n")
        table.flush()

    def time_left(section):
        if time.perf_counter() - t0 < args.budget:
            return True
        say(f"(skipped {section}: the {args.budget:.0f} s budget is spent)")
        return False

    subprocess.run([args.bin / "examples" / "bench_inputs", args.work, str(SECONDS)],
                   check=True, stdout=subprocess.DEVNULL)
    model, mix = args.work / "model", args.work / f"mix-{SECONDS}s.wav"

    def batch_dir(n):
        d = args.work / f"batch-{SECONDS}s-{n}"
        if not d.is_dir():
            tmp = args.work / f"batch-{SECONDS}s-{n}.tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                link = tmp / f"song-{i:03}.wav"
                if not link.exists():
                    os.link(mix, link)
            tmp.rename(d)
        return d

    def batch(n, dev, cpus=None, extra=()):
        cmd = [saex, "batch", "--quiet", "--overwrite", "--device", dev, "--model", model,
               "--in", batch_dir(n), "--out", scratch / "batch", *extra]
        if cpus:
            cmd = ["taskset", "-c", cpus, *cmd]
        wall, rss = run(cmd, scratch / "batch.log")
        subprocess.run(["rm", "-rf", scratch / "batch"], check=True)
        return wall, rss

    cpuinfo = open("/proc/cpuinfo").read()
    name = cpuinfo.split("model name")[1].split(":")[1].splitlines()[0].strip()
    flags = cpuinfo.split("flags")[1].split(":")[1].splitlines()[0].split()
    wide = " ".join(f for f in flags
                    if "bf16" in f or "vnni" in f or f.startswith("amx") or f == "avx512f")
    say(f"machine: {cores} cores, {name} ({wide or 'no avx512/bf16/amx'})")
    say(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load before: {open('/proc/loadavg').read().split()[:3]}")
    say()

    if "startup" in sections and time_left("startup"):
        # 1 s of the same mix: the fixed cost of a command, with almost no audio to separate.
        subprocess.run([args.bin / "examples" / "bench_inputs", args.work, "1"],
                       check=True, stdout=subprocess.DEVNULL)
        short = args.work / "mix-1s.wav"
        say("| start-up | runs | best |")
        say("|---|---|---|")
        steps = [("`saex --version` (process, LibTorch's CPU library)", [saex, "--version"])]
        for dev in devices:
            steps.append((f"`saex extract --device {dev}` of 1 s",
                          [saex, "extract", "--quiet", "--device", dev, "--model", model,
                           "--mix", short, "--out", scratch / f"short-{dev}.wav"]))
        if "cuda" in devices:
            steps.append(("Python: `import torch` and a CUDA tensor",
                          [sys.executable, "-c",
                           "import torch; torch.zeros(1, device='cuda'); torch.cuda.synchronize()"]))
        for label, cmd in steps:
            walls = [run(cmd, scratch / "startup.log")[0] for _ in range(args.repeat)]
            say(f"| {label} | {', '.join(f'{w:.2f}' for w in walls)} s | **{min(walls):.2f} s** |")
        say()

    if "extract" in sections and time_left("extract"):
        say(f"| command ({SECONDS} s stereo 44.1 kHz) | runs | best | real-time factor | peak RSS |")
        say("|---|---|---|---|---|")
        for dev in devices:
            walls, rss = [], 0.0
            for _ in range(args.repeat):
                w, r = run([saex, "extract", "--quiet", "--device", dev, "--model", model,
                            "--mix", mix, "--out", scratch / f"vocals-{dev}.wav"],
                           scratch / "extract.log")
                walls.append(w)
                rss = max(rss, r)
            runs = ", ".join(f"{w:.2f}" for w in walls)
            say(f"| `saex extract --device {dev}` | {runs} s | **{min(walls):.2f} s** | "
                f"{SECONDS / min(walls):.0f}x | {rss:.0f} MB |")
        for dev in devices:
            run([saex, "extract", "--device", dev, "--model", model, "--mix", mix,
                 "--out", scratch / "timed.wav", "--timings"], scratch / f"timings-{dev}.log")
            lines = (scratch / f"timings-{dev}.log").read_text().splitlines()
            say()
            say(f"`--timings` on {dev}:")
            say("```")
            for line in lines:
                if line.strip() and not line.startswith("saex: wrote"):
                    say(line)
            say("```")
        if "cuda" in devices:
            # The reference: f32 on the CPU (its default may be bf16, see --network-precision).
            run([saex, "extract", "--quiet", "--device", "cpu", "--network-precision", "f32",
                 "--model", model, "--mix", mix, "--out", scratch / "vocals-f32.wav"],
                scratch / "extract.log")
            steps, share = lsb_apart(scratch / "vocals-cuda.wav", scratch / "vocals-f32.wav")
            say(f"cuda against the cpu in f32: at most {steps} 16-bit steps apart "
                f"({share:.3f} % of the samples differ)")
        say()

    if "precision" in sections and time_left("precision"):
        say(f"| cpu extraction ({SECONDS} s stereo) | cores | runs | best | real-time factor |")
        say("|---|---|---|---|---|")
        for cpus in (None, "0-1"):
            for precision in ("f32", "bf16", "int8"):
                cmd = [saex, "extract", "--quiet", "--device", "cpu", "--model", model, "--mix", mix,
                       "--out", scratch / f"vocals-{precision}.wav", "--network-precision", precision]
                if cpus:
                    cmd = ["taskset", "-c", cpus, *cmd]
                walls = [run(cmd, scratch / "precision.log")[0] for _ in range(args.repeat)]
                say(f"| `--network-precision {precision}` | {2 if cpus else cores} | "
                    f"{', '.join(f'{w:.2f}' for w in walls)} s | **{min(walls):.2f} s** | "
                    f"{SECONDS / min(walls):.0f}x |")
        say()

    if "batch" in sections and time_left("batch"):
        n = args.batch_files
        say(f"| batch, {n} files of {SECONDS} s | jobs | wall time | hours of audio per hour | peak RSS |")
        say("|---|---|---|---|---|")
        for dev in devices:
            variants = [None] + ([8, 16] if dev == "cuda" else [])
            for jobs in variants:
                if not time_left(f"batch {dev} --jobs {jobs}"):
                    break
                extra = () if jobs is None else ("--jobs", str(jobs))
                wall, rss = batch(n, dev, extra=extra)
                say(f"| {dev} | {jobs or 'default'} | {wall:.2f} s | {n * SECONDS / wall:.0f}x | {rss:.0f} MB |")
        say()

    if "cores" in sections and time_left("cores"):
        say("| cores | files | wall time | hours of audio per hour | per core | target 0.7 x N x one core |")
        say("|---|---|---|---|---|---|")
        counts = [c for c in (1, 2, 4, 8, 16, 32, 64) if c < cores] + [cores]
        one = None
        for c in counts:
            if not time_left(f"cores {c}"):
                break
            files = max(2 * c, 4)
            wall, _ = batch(files, "cpu", cpus=f"0-{c - 1}")
            rate = files * SECONDS / wall
            one = one or rate
            target = 0.7 * c * one
            verdict = "" if c == 1 else f"{target:.0f}x: {'met' if rate >= target else 'not met'} ({rate / (c * one):.2f})"
            say(f"| {c} | {files} | {wall:.2f} s | {rate:.0f}x | {rate / c:.1f}x | {verdict} |")
        say()

    if "jobs" in sections and time_left("jobs"):
        files = 2 * cores
        say(f"| cpu batch on {cores} cores, {files} files | wall time | hours of audio per hour |")
        say("|---|---|---|")
        for extra in (("--jobs", str(cores // 2)), ("--jobs", str(cores)),
                      ("--jobs", str(max(cores // 4, 1)), "--network-threads", str(max(cores // 4, 1)))):
            if not time_left(f"jobs {' '.join(extra)}"):
                break
            wall, _ = batch(files, "cpu", extra=extra)
            say(f"| `{' '.join(extra)}` | {wall:.2f} s | {files * SECONDS / wall:.0f}x |")
        say()

    if "umx" in sections and time_left("umx"):
        python = os.environ.get("PYTHON", sys.executable)
        umx = Path(__file__).resolve().parent / "peer" / "openunmix_extract.py"
        ok = subprocess.run([python, "-c", "import openunmix.model"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
        if not ok:
            say("(Open-Unmix: openunmix does not import here; skipped)")
        else:
            say("| tool | runs | best | real-time factor |")
            say("|---|---|---|---|")
        for dev in devices[:1] if ok else []:
            walls = []
            for _ in range(args.repeat):
                w, _ = run([python, umx, mix, scratch / "umx", "--threads", str(cores),
                            "--device", dev], scratch / "umx.log")
                walls.append(w)
            say(f"| Open-Unmix umxhq on {dev} | {', '.join(f'{w:.2f}' for w in walls)} s | "
                f"**{min(walls):.2f} s** | {SECONDS / min(walls):.0f}x |")
            stages = Path(f"{scratch / 'umx.log'}.out").read_text().strip()
            say(f"Open-Unmix's own stage times (last run): {stages}")
        say()
    if "bf16" in sections and time_left("bf16"):
        # LibTorch's CPU matmul in bf16 against f32 on the network's shapes (1024 rows, the
        # default model's layer 1 and layer 2), all cores: what a bf16 network could gain.
        python = os.environ.get("PYTHON", sys.executable)
        code = """
import time, torch
torch.set_num_threads(%d)
for k, n in ((3591, 513), (513, 513)):
    rates = {}
    for kind in (torch.float32, torch.bfloat16):
        x, w = torch.randn(1024, k).to(kind), torch.randn(k, n).to(kind)
        for _ in range(3): x @ w
        best = 1e9
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(20): x @ w
            best = min(best, (time.perf_counter() - t) / 20)
        rates[kind] = 2 * 1024 * k * n / best / 1e9
    print(f"| 1024 x {k} x {n} | {rates[torch.float32]:.0f} | {rates[torch.bfloat16]:.0f} |")
""" % cores
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
        say("| matmul (LibTorch, CPU) | f32 GFLOP/s | bf16 GFLOP/s |")
        say("|---|---|---|")
        say(proc.stdout.strip() or f"(failed: {proc.stderr.strip()[-300:]})")
        say()
    say(f"(whole script: {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
