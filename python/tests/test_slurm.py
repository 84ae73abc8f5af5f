"""A real one-node Slurm cluster on loopback runs `saex batch` as a job array of 4 tasks.

The test starts munged, slurmctld and slurmd (Debian's munge and slurm-wlm, installed by
scripts/setup-slurm.sh) from a configuration it writes in a temporary folder, on free ports of
127.0.0.1, and stops them at the end. Every mix must be separated exactly once, the outputs
must equal one plain `saex batch` bit for bit, and a task that was cancelled before it ran
is completed by submitting the array again (finished files are skipped).
"""

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

import saex
from conftest import mixture

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch")
NB_MIXES = 8
NB_TASKS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def cluster(tmp):
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing or os.geteuid() != 0:
        why = (f"no {', '.join(missing)} (scripts/setup-slurm.sh installs them)" if missing
               else "not root (munged and slurmd run as root here)")
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    root = tmp / "slurm"
    for d in ("state", "spool", "log", "munge"):
        (root / d).mkdir(parents=True)
    key, sock = root / "munge" / "munge.key", root / "munge" / "sock"
    subprocess.run(["mungekey", "-c", "-k", str(key), "-b", "1024"], check=True)
    key.chmod(0o600)
    node = "saexnode"
    conf = root / "slurm.conf"
    conf.write_text(f"""ClusterName=saextest
SlurmctldHost={socket.gethostname().split('.')[0]}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName={node} NodeHostname={socket.gethostname().split('.')[0]} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=saex Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    env = dict(os.environ, SLURM_CONF=str(conf))
    daemons = []

    def start(name, command):
        """A daemon in the foreground, its messages in log/<name>.out."""
        with open(root / "log" / f"{name}.out", "wb") as log:
            daemons.append(subprocess.Popen(command, env=env, stdout=log,
                                            stderr=subprocess.STDOUT))

    try:
        start("munged", ["munged", "-F", "--force", "-S", str(sock), f"--key-file={key}",
                         f"--pid-file={root}/munge/pid", f"--log-file={root}/munge/log",
                         f"--seed-file={root}/munge/seed"])
        wait_for("munged's socket", sock.exists)
        start("slurmctld", ["slurmctld", "-D", "-i", "-f", str(conf)])
        start("slurmd", ["slurmd", "-D", "-N", node, "-f", str(conf)])

        def node_idle():
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True,
                                 text=True)
            return out.returncode == 0 and out.stdout.strip() == "idle"

        wait_for("the node to be idle (sinfo)", node_idle)
        yield env, root
    finally:
        for p in reversed(daemons):
            p.send_signal(signal.SIGTERM)
        for p in reversed(daemons):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def sbatch(env, *args):
    out = subprocess.run(["sbatch", "--parsable", *args], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip().split(";")[0]


def test_slurm_job_array_over_shards(cluster, saex_bin, tmp):
    env, root = cluster
    mixes, out, reference = tmp / "in", tmp / "out", tmp / "reference"
    mixes.mkdir()
    for i in range(NB_MIXES):
        saex.write_audio(mixes / f"mix{i}.wav", mixture(2, 0.5, 44100, seed=i), 44100)
    # Each task reads its slice from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT.
    command = f"{saex_bin} batch --in {mixes} --out {out} --jobs 1 --threads 1"
    logs = root / "log"

    # Task 2 is cancelled before it runs (as a node lost before it started would be).
    job = sbatch(env, "--hold", f"--array=0-{NB_TASKS - 1}", "-o", f"{logs}/first-%a.out",
                 "--wrap", command)
    subprocess.run(["scancel", f"{job}_2"], env=env, check=True)
    subprocess.run(["scontrol", "release", job], env=env, check=True)
    wait_for("the first array to finish",
             lambda: subprocess.run(["squeue", "-h", "-j", job], env=env, capture_output=True,
                                    text=True).stdout.strip() == "", seconds=300)
    done = {p.parent.name for p in out.glob("*/vocals.wav")}
    assert done == {f"mix{i}" for i in range(NB_MIXES) if i % NB_TASKS != 2}, done

    # The array again: the cancelled task's files are separated, the others skipped.
    sbatch(env, "--wait", f"--array=0-{NB_TASKS - 1}", "-o", f"{logs}/again-%a.out",
           "--wrap", command)
    separated = []
    for task in range(NB_TASKS):
        text = "".join((logs / f"{run}-{task}.out").read_text()
                       for run in ("first", "again") if (logs / f"{run}-{task}.out").exists())
        separated += [line.split()[-1] for line in text.splitlines()
                      if line.startswith("saex: done ")]
    assert sorted(separated) == sorted(str(mixes / f"mix{i}.wav") for i in range(NB_MIXES)), \
        f"each mix separated exactly once: {separated}"

    subprocess.run([str(saex_bin), "batch", "-q", "--in", str(mixes), "--out", str(reference)],
                   check=True, capture_output=True)
    for i in range(NB_MIXES):
        a = (out / f"mix{i}" / "vocals.wav").read_bytes()
        b = (reference / f"mix{i}" / "vocals.wav").read_bytes()
        assert a == b, f"mix{i}/vocals.wav differs from one saex batch"
