"""python/examples/ray_catalogue.py on a real local Ray cluster: the same files as `saex batch`.

The example runs as a user runs it (its own process, `ray.init` of a local cluster of 2 CPUs,
two actors of one core each, each holding one loaded `saex.Separator` and separating its shard
of the folder with the library's batch). A corrupt file is reported with its reason while the
others are separated, and every output equals one plain `saex batch` bit for bit.
"""

import os
import pathlib
import subprocess
import sys

import pytest

import saex
from conftest import REPO, mixture

EXAMPLE = REPO / "python" / "examples" / "ray_catalogue.py"


@pytest.fixture(scope="module")
def ray_installed():
    try:
        import ray  # noqa: F401
    except ImportError as e:
        why = f"Ray is not installed ({e}; scripts/setup-python.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)


def files_under(root: pathlib.Path):
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_ray_catalogue_equals_saex_batch(ray_installed, saex_bin, tmp):
    mixes, out, reference = tmp / "in", tmp / "out", tmp / "reference"
    (mixes / "album").mkdir(parents=True)
    names = ["a", "b", "album/c", "album/d", "e"]
    for i, name in enumerate(names):
        saex.write_audio(mixes / f"{name}.wav", mixture(2, 0.5, 44100, seed=i), 44100)
    (mixes / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt not really audio")

    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a new local cluster
    env.update(RAY_USAGE_STATS_ENABLED="0",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "python"),
                                                        os.environ.get("PYTHONPATH")])))
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--in", str(mixes), "--out", str(out), "--workers", "2",
         "--threads", "1", "--num-cpus", "2", "--device", "cpu", "--residual", "accompaniment"],
        env=env, capture_output=True, text=True, timeout=300)
    report = f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    # The corrupt file fails, named with its reason; the others are separated.
    assert run.returncode == 1, report
    assert "broken.wav" in run.stderr, report
    assert "5 separated, 0 skipped, 1 failed by 2 workers" in run.stdout, report
    for worker in (0, 1):
        assert f"worker {worker} on " in run.stdout, report

    cli = subprocess.run(
        [str(saex_bin), "batch", "-q", "--in", str(mixes), "--out", str(reference), "--jobs",
         "1", "--threads", "1", "--device", "cpu", "--residual", "accompaniment"],
        capture_output=True, text=True, timeout=300)
    assert cli.returncode == 1 and "broken.wav" in cli.stderr, cli.stderr

    got, want = files_under(out), files_under(reference)
    expected = {pathlib.Path(f"{n}/{t}.wav") for n in names for t in ("vocals", "accompaniment")}
    assert set(want) == expected, sorted(want)
    assert set(got) == expected, sorted(got)
    for path in expected:
        assert got[path] == want[path], f"{path} differs from saex batch"
