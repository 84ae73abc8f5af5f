"""Counts what a corpus-v2 folder holds, from its per-track metadata (finished tracks only):

    python scripts/corpus/stats.py CORPUS

Prints per split: tracks, hours, hours per kind, the share of tracks with each stem, the
renderers, the singers and the drawn vocal level, as Markdown for docs/corpus.md. The stem
columns are those of this checkout's release build of saex (gm.STEMS).
"""

import collections
import glob
import json
import os
import sys

import gm


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = sys.argv[1]
    gm.load(gm.REPO_SAEX)
    entries = []
    for path in sorted(glob.glob(os.path.join(root, ".meta", "*.json"))):
        with open(path) as f:
            entry = json.load(f)
        if os.path.isdir(os.path.join(root, entry["split"], entry["name"])):
            entries.append(entry)
    by_split = collections.defaultdict(list)
    for e in entries:
        by_split[e["split"]].append(e)
    print("| split | tracks | hours | " + " | ".join(f"with {s}" for s in gm.STEMS) + " |")
    print("|---|---|---|" + "---|" * len(gm.STEMS))
    for split in ("train", "valid", "test", "ood"):
        es = by_split.get(split, [])
        if not es:
            continue
        hours = sum(e["seconds"] for e in es) / 3600
        shares = [100 * sum(s in e["stems_present"] for e in es) / len(es) for s in gm.STEMS]
        print(f"| {split} | {len(es)} | {hours:.2f} | "
              + " | ".join(f"{x:.0f} %" for x in shares) + " |")
    print()
    for split, es in sorted(by_split.items()):
        kinds = collections.Counter()
        for e in es:
            kinds[e["kind"]] += e["seconds"] / 3600
        renderers = collections.Counter(e["renderer"]["bank"] for e in es)
        voices = collections.Counter(
            f"{line['engine']}:{line['voice']}" for e in es
            for line in e.get("singing", {}).get("lines", []))
        lines = collections.Counter(line["role"] for e in es
                                    for line in e.get("singing", {}).get("lines", []))
        levels = [e["mix"]["vocals_vs_accompaniment_db"] for e in es
                  if e["mix"].get("vocals_vs_accompaniment_db") is not None]
        doubled = sum(any(line.get("doubled") for line in e.get("singing", {}).get("lines", []))
                      for e in es)
        leads = sum(len(e.get("lead_instruments", [])) > 0 for e in es)
        print(f"- {split}: hours per kind "
              + ", ".join(f"{k} {h:.2f}" for k, h in sorted(kinds.items()))
              + "; renderers " + ", ".join(f"{k} {n}" for k, n in sorted(renderers.items()))
              + f"; {len(voices)} distinct singers over {sum(voices.values())} sung lines "
              + f"({dict(lines)}); {doubled} tracks with doubled lead; {leads} with a lead "
              + "instrument in the vocal range"
              + (f"; vocals vs accompaniment {min(levels):+.1f}..{max(levels):+.1f} dB"
                 if levels else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
