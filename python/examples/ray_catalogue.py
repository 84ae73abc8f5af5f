#!/usr/bin/env python3
"""Separates a catalogue (a folder of audio files) on a Ray cluster, as `saex batch` would.

Each worker is a Ray actor that loads its `saex.Separator` once and runs the library's batch
over its shard of the files (the files sorted by path, file k to worker k mod N, as `saex batch
--shard` deals them): the same output paths, atomic outputs (each file's outputs appear whole
or not at all), finished files skipped on a re-run, and a file that fails is reported with its
reason while the others go on. With a GPU on a node, each worker asks Ray for one.

    python ray_catalogue.py --in mixes/ --out separated/ --workers 4
    python ray_catalogue.py --address auto --in /shared/mixes --out /shared/separated

`--address` is the cluster to join (`auto`: the one `ray start` made on this machine; none: a
local one started for this run with `--num-cpus` CPUs). The folders must be visible to every
node at the same path (a shared file system). Prints each worker's throughput and a summary;
exits 1 when a file failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List, Optional

import ray


@ray.remote
class SeparatorWorker:
    """One Ray actor: one saex.Separator, loaded once, for every file of its shard."""

    def __init__(self, models: List[str], device: str, threads: Optional[int]) -> None:
        import saex  # on the worker's node

        start = time.monotonic()
        self.separator = saex.Separator(models, device=device, threads=threads)
        self.load_seconds = time.monotonic() - start
        context = ray.get_runtime_context()
        self.node = f"{ray.util.get_node_ip_address()} (node {context.get_node_id()[:8]})"

    def run(self, index: int, count: int, in_dir: str, out_dir: str,
            options: Dict[str, Any]) -> Dict[str, Any]:
        start = time.monotonic()
        summary = self.separator.batch(in_dir, out_dir, shard=(index, count), **options)
        summary.update(worker=index, node=self.node, load_seconds=self.load_seconds,
                       wall_seconds=time.monotonic() - start)
        return summary


def separate_catalogue(in_dir: str, out_dir: str, *, models: List[str], workers: int,
                       threads: Optional[int] = None, device: str = "auto",
                       gpus_per_worker: Optional[float] = None,
                       **options: Any) -> List[Dict[str, Any]]:
    """Runs `workers` actors over the shards of `in_dir` on the connected Ray cluster; returns
    each worker's summary (``Separator.batch``'s, plus ``worker``, ``node``, ``load_seconds``
    and ``wall_seconds``). `options` go to ``Separator.batch`` (filename, residual, include,
    overwrite, sample_format, bitrate, clip)."""
    if gpus_per_worker is None:
        gpus = ray.cluster_resources().get("GPU", 0)
        gpus_per_worker = 1 if gpus >= 1 and device in ("auto", "cuda") else 0
    actor = SeparatorWorker.options(num_cpus=threads or 1, num_gpus=gpus_per_worker)
    pool = [actor.remote(models, device, threads) for _ in range(workers)]
    return ray.get([w.run.remote(i, workers, in_dir, out_dir, options)
                    for i, w in enumerate(pool)])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in", dest="in_dir", required=True, help="the folder of mixes")
    parser.add_argument("--out", dest="out_dir", required=True, help="the output folder")
    parser.add_argument("--model", action="append", dest="models",
                        help="a shipped model name or a model folder (repeatable; default "
                             "vocals)")
    parser.add_argument("--workers", type=int, default=2, help="actors, one shard each")
    parser.add_argument("--threads", type=int, default=1,
                        help="cores per worker (its Ray num_cpus and the separator's threads)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--filename", default=None,
                        help="output template as `saex batch --filename` (default "
                             "{track}/{target}.wav)")
    parser.add_argument("--residual", default=None,
                        help="also write the residual under this name (e.g. accompaniment)")
    parser.add_argument("--include", action="append", default=[], help="glob, as saex batch")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--address", default=None,
                        help="the Ray cluster to join (auto, or host:port); default: a local "
                             "one for this run")
    parser.add_argument("--num-cpus", type=int, default=None,
                        help="CPUs of the local cluster (without --address)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")

    if args.address:
        ray.init(address=args.address, log_to_driver=False)
    else:
        # "local": a new cluster of this machine alone, even where one is running already.
        ray.init(address="local", num_cpus=args.num_cpus, include_dashboard=False,
                 log_to_driver=False)
    options: Dict[str, Any] = {"residual": args.residual, "include": args.include,
                               "overwrite": args.overwrite}
    if args.filename:
        options["filename"] = args.filename
    start = time.monotonic()
    try:
        summaries = separate_catalogue(
            os.path.abspath(args.in_dir), os.path.abspath(args.out_dir),
            models=args.models or ["vocals"], workers=args.workers, threads=args.threads,
            device=args.device, **options)
    finally:
        ray.shutdown()
    wall = time.monotonic() - start

    failed = 0
    for s in summaries:
        for f in s["files"]:
            if f["outcome"] == "failed":
                print(f"saex: {f['error']}", file=sys.stderr)
        failed += s["failed"]
        rate = s["seconds_audio"] / s["wall_seconds"] if s["wall_seconds"] > 0 else 0.0
        print(f"worker {s['worker']} on {s['node']}: {s['processed']} separated, "
              f"{s['skipped']} skipped, {s['failed']} failed; {s['seconds_audio']:.1f} s of "
              f"audio in {s['wall_seconds']:.2f} s ({rate:.1f}x real time; model loaded in "
              f"{s['load_seconds']:.2f} s)")
    print(f"{sum(s['processed'] for s in summaries)} separated, "
          f"{sum(s['skipped'] for s in summaries)} skipped, {failed} failed by "
          f"{len(summaries)} workers in {wall:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
