#!/usr/bin/env bash
# Scores the shipped models on the corpus' test split with BSS Eval v4 (`saex eval`), with both
# masks, beside the IRM ceiling and the mixture floor, and records each model's scores (Wiener
# and ratio masks, with the command) under "scores" in its config.json.
#
#   scripts/score-default-models.sh [CORPUS]   (default: $SAEX_CACHE/corpus-v1)
#
# Evaluation folders (museval JSON per track, summary.md/json) go to $SAEX_CACHE/eval-corpus-v1.
# Prints a markdown table of the medians over tracks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
corpus="${1:-$cache/corpus-v1}"
out="$cache/eval-corpus-v1"
targets="${TARGETS:-vocals bass drums}"
scripts/setup-libtorch.sh >/dev/null
cargo build --release --locked --quiet --bin saex
mkdir -p "$out"

# Exit code 1 means some tracks failed and the others were scored: the summary says which.
run_eval() {
    local name="$1"
    shift
    echo "saex eval $* -> $name" >&2
    target/release/saex eval --data "$corpus/test" --out "$out/$name" "$@" >/dev/null || [ $? -eq 1 ]
}

target_list="$(echo "$targets" | tr ' ' ',')"
run_eval oracle-irm --oracle irm --targets "$target_list"
run_eval oracle-mixture --oracle mixture --targets "$target_list"
for target in $targets; do
    for mask in wiener ratio; do
        run_eval "$target-$mask" --model "models/$target" --mask "$mask" --targets "$target" \
            --device cpu
    done
done

python3 - "$out" "$targets" <<'EOF'
import json, sys, datetime
out, targets = sys.argv[1], sys.argv[2].split()

def medians(name, target):
    summary = json.load(open(f"{out}/{name}/summary.json"))
    found = {t["target"]: t for t in summary["targets"]}
    residual = "accompaniment" if target == "vocals" else f"{target}_accompaniment"
    def metrics(t):
        m = found[t]["metrics"]
        return {k: m[k] for k in ("SDR", "SIR", "ISR", "SAR")}
    return {
        "nb_tracks": found[target]["nb_tracks"],
        "skipped": len([s for s in summary.get("skipped", []) if s["error"].startswith(target + ":")]),
        target: metrics(target),
        residual: metrics(residual),
    }

print("| target | method | tracks | target SDR | SIR | ISR | SAR | residual SDR |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for target in targets:
    rows = [(f"models/{target}, {mask} mask", f"{target}-{mask}") for mask in ("wiener", "ratio")]
    rows += [("IRM oracle", "oracle-irm"), ("mixture", "oracle-mixture")]
    scores = {}
    for label, name in rows:
        m = medians(name, target)
        scores[name] = m
        residual = [k for k in m if k not in ("nb_tracks", "skipped", target)][0]
        t = m[target]
        print(f"| {target} | {label} | {m['nb_tracks']} | {t['SDR']:.2f} | {t['SIR']:.2f} | "
              f"{t['ISR']:.2f} | {t['SAR']:.2f} | {m[residual]['SDR']:.2f} |")
    path = f"models/{target}/config.json"
    config = json.load(open(path))
    config["scores"] = {
        "data": "$SAEX_CACHE/corpus-v1/test (scripts/corpus/make-corpus.sh --seed 1 --hours 3)",
        "metric": "BSS Eval v4 as museval 0.4.1 computes it: median over 1 s windows per track, "
                  "median over tracks, dB; tracks whose target is silent are skipped",
        "date": datetime.date.today().isoformat(),
        "wiener": scores[f"{target}-wiener"],
        "ratio": scores[f"{target}-ratio"],
        "irm_oracle": scores["oracle-irm"],
        "mixture": scores["oracle-mixture"],
        "command": f"saex eval --data $SAEX_CACHE/corpus-v1/test --model models/{target} "
                   f"--mask wiener --targets {target}",
    }
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
EOF
for target in $targets; do
    target/release/saex info --model "models/$target" >/dev/null
done
