#!/usr/bin/env bash
# Start-up of the installed command: `hyperprop list` and `hyperprop check --runs 1` (the default designs
# x every property, one scenario each, seed 1) from a packed tarball installed into a fresh `npm init -y`
# project, median of 10 runs (hyperfine, after 2 warm-ups), for this working tree and for BEFORE (a git
# ref, default the commit before the build existed: the TypeScript sources run through tsx; its package
# lacked mutants/ so every verb crashed installed, and `mutants` is added to its `files` to measure it).
#
#   bash bench/startup.sh [BEFORE_REF]      (npm run bench:startup)
set -euo pipefail
cd "$(dirname "$0")/.."
before_ref=${1:-dbea95b}
command -v hyperfine >/dev/null || { echo "bench/startup: hyperfine is missing (apt-get install hyperfine)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pack() { # $1: source folder, $2: where the tarball goes; prints the tarball's path
  (cd "$1" && npm pack --silent --pack-destination "$2" 2>/dev/null | tail -1 | sed "s#^#$2/#")
}
project() { # $1: folder, $2: tarball
  mkdir -p "$1" && (cd "$1" && npm init -y >/dev/null && npm install --prefer-offline --no-audit --no-fund "$2" >/dev/null 2>&1)
}

mkdir -p "$work/before-src" "$work/before-pkg" "$work/after-pkg"
git archive "$before_ref" | tar -x -C "$work/before-src"
node -e '
  const fs = require("fs"); const p = process.argv[1]; const j = JSON.parse(fs.readFileSync(p, "utf8"));
  if (!j.files.includes("mutants")) j.files.push("mutants");
  fs.writeFileSync(p, JSON.stringify(j, null, 2));
' "$work/before-src/package.json"
project "$work/before" "$(pack "$work/before-src" "$work/before-pkg")"
project "$work/after" "$(pack "$PWD" "$work/after-pkg")"

for side in before after; do
  bin="$work/$side/node_modules/.bin/hyperprop"
  (cd "$work/$side" && "$bin" list >/dev/null) || { echo "bench/startup: $side: hyperprop list fails installed" >&2; exit 1; }
  (cd "$work/$side" && hyperfine -N --style none --warmup 2 --runs 10 -i \
    --export-json "$work/$side.json" \
    "$bin list" \
    "$bin check --runs 1 --seed 1 --no-out --no-corpus" >/dev/null)
done
node -e '
  const fs = require("fs");
  const m = (side) => JSON.parse(fs.readFileSync(`${process.argv[1]}/${side}.json`, "utf8")).results;
  const [b, a] = [m("before"), m("after")];
  console.log("installed hyperprop, median of 10 (user+system CPU in brackets)   before (tsx, sources)   after (compiled)");
  for (const [i, name] of ["list", "check --runs 1"].entries()) {
    const f = (r) => `${(r.median * 1000).toFixed(0)} ms [${((r.user + r.system) * 1000).toFixed(0)} ms]`;
    console.log(`  hyperprop ${name.padEnd(16)} ${f(b[i]).padStart(40)} ${f(a[i]).padStart(22)}   x${(b[i].median / a[i].median).toFixed(2)}`);
  }
' "$work"
