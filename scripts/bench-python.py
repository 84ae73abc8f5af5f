"""Times the Python package's separation of a file against the saex binary's, in pairs.

    PYTHONPATH=python python scripts/bench-python.py MIX.wav [SAEX_BINARY]

Each of 7 pairs: `saex.Separator(models=["vocals"]).separate_file(MIX, out)` in this process
(model loading included; Python's start-up and `import saex`, which imports torch, not), then
`saex extract --mix MIX --out-dir out` as a whole process, then the same on MIX's first second,
whose time (process start, LibTorch and model loading) is taken off the binary's. Prints the
medians and the per-pair ratio Python / (binary - binary on 1 s).
"""

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import saex


def main(mix: str, binary: str) -> None:
    work = Path(tempfile.mkdtemp())
    audio, rate = saex.read_audio(mix)
    one_second = work / "first-second.wav"
    saex.write_audio(one_second, audio[:, :rate], rate)

    def run_binary(path: Path | str) -> float:
        out = work / "binary"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([binary, "extract", "--mix", str(path), "--out-dir", str(out), "-q",
                        "--device", "cpu"], check=True)
        return time.perf_counter() - start

    python, whole, short = [], [], []
    for _ in range(7):
        out = work / "python"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        saex.Separator(models=["vocals"], device="cpu").separate_file(mix, out)
        python.append(time.perf_counter() - start)
        whole.append(run_binary(mix))
        short.append(run_binary(one_second))
    shutil.rmtree(work)

    def line(name: str, values: list[float]) -> str:
        return (f"{name}: median {statistics.median(values):.3f} s "
                f"(min {min(values):.3f}, max {max(values):.3f})")

    print(line("python Separator + separate_file", python))
    print(line("binary, whole process", whole))
    print(line("binary on the first second", short))
    ratios = [p / (w - s) for p, w, s in zip(python, whole, short)]
    print(f"python / (binary - binary on 1 s), per pair: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "target/release/saex")
