#!/usr/bin/env bash
# After `sam build`: every function of template.yaml has a directory in the build dir
# (default .aws-sam/build) holding an executable ELF `bootstrap` for ARCH (x86_64 | arm64), and
# every artifact directory there does. Exits non-zero, naming what is wrong, otherwise.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/.aws-sam/build}
arch=${ARCH:-x86_64}
case $arch in x86_64) machine=3e00 ;; arm64) machine=b700 ;; *) echo "ARCH must be x86_64 or arm64" >&2; exit 2 ;; esac

functions=$(awk '/^  [A-Za-z0-9]+:[[:space:]]*$/ { id = $1; sub(":", "", id) }
  /^    Type: AWS::Serverless::Function[[:space:]]*$/ { print id }' "$root/template.yaml")
[ -n "$functions" ] || { echo "check-artifacts: no functions in template.yaml" >&2; exit 1; }

bad=0
for f in $functions; do
  [ -d "$build/$f" ] || { echo "check-artifacts: no artifact for $f in $build" >&2; bad=1; }
done
n=0
for dir in "$build"/*/; do
  [ -d "$dir" ] || continue
  n=$((n + 1))
  boot=${dir}bootstrap
  if [ ! -f "$boot" ] || [ ! -x "$boot" ]; then
    echo "check-artifacts: ${dir} has no executable bootstrap" >&2; bad=1
  elif [ "$(od -An -tx1 -j18 -N2 "$boot" | tr -d ' \n')" != "$machine" ]; then
    echo "check-artifacts: ${boot} is not an $arch ELF executable" >&2; bad=1
  fi
done
[ "$bad" = 0 ] || exit 1
echo "check-artifacts: $n artifacts in $build, each with an executable $arch bootstrap ($(echo "$functions" | wc -l) functions)"
