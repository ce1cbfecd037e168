#!/usr/bin/env bash
# One function's artifact for `sam build` (infra/deploy/Makefile): artifact.sh LOGICAL_ID ARTIFACTS_DIR.
#
# The first function of a `sam build` to get here runs the release build of every function
# (`make build` in the checkout: one `cargo lambda build --release` of every Binary of
# template.yaml, the same command CI runs); the others wait on the lock, then find the build
# done. Cargo rebuilds only what changed, so a checkout whose target/ is up to date compiles
# nothing. LAMBDA_BUILD=reuse skips cargo when every function's bootstrap is already in
# target/lambda (for artifacts built by `make build` just before, in CI, or by another checkout
# sharing CARGO_TARGET_DIR; the bootstraps are then taken as they are, stale or not).
set -euo pipefail

id=${1:?logical id}
out=${2:?ARTIFACTS_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
template=$root/template.yaml
arch=${ARCH:-x86_64}
mode=${LAMBDA_BUILD:-auto}
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac

case $arch in
  x86_64) machine=3e00 ;;  # ELF e_machine EM_X86_64, little-endian
  arm64) machine=b700 ;;   # EM_AARCH64
  *) echo "artifact.sh: ARCH must be x86_64 or arm64, not $arch" >&2; exit 2 ;;
esac
case $mode in auto | reuse) ;; *) echo "artifact.sh: LAMBDA_BUILD must be auto or reuse, not $mode" >&2; exit 2 ;; esac

# The function's Metadata.BuildProperties.Binary (the cargo binary; the local runtime and
# `make build` read the same property).
binary=$(awk -v id="$id" '
  $0 ~ "^  " id ":[[:space:]]*$" { f = 1; next }
  f && /^  [A-Za-z0-9]+:/ { exit }
  f && /^ +Binary:/ { print $2; exit }' "$template")
[ -n "$binary" ] || { echo "artifact.sh: $id has no Metadata.BuildProperties.Binary in $template" >&2; exit 1; }

# The bootstrap at $1 exists, is executable and is an ELF for $arch.
fits() {
  [ -x "$1" ] && [ "$(od -An -tx1 -j18 -N2 "$1" 2>/dev/null | tr -d ' \n')" = "$machine" ]
}

all_fit() {
  local b
  for b in $(sed -n 's/^ *Binary: *//p' "$template"); do
    fits "$target/lambda/$b/bootstrap" || return 1
  done
}

mkdir -p "$target" "$out"
# Held until the copy is done: no build of another `sam build` (or `make build`) sharing this
# target dir replaces a bootstrap while it is copied.
exec 9>"$target/.sam-build.lock"
flock 9
# SAM empties its build dir at the start of every `sam build`: this stamp marks the run's build done.
stamp=$(dirname "$out")/.lambdas-built
if [ ! -e "$stamp" ]; then
  if [ "$mode" = reuse ] && all_fit; then
    echo "artifact.sh: LAMBDA_BUILD=reuse: every bootstrap is in $target/lambda, not building"
  else
    echo "artifact.sh: make build ARCH=$arch (CARGO_TARGET_DIR=$target)"
    CARGO_TARGET_DIR=$target make -C "$root" --no-print-directory build ARCH="$arch" >&2
  fi
  touch "$stamp"
fi
src=$target/lambda/$binary/bootstrap
fits "$src" || { echo "artifact.sh: $src is missing or not an $arch executable" >&2; exit 1; }
cp "$src" "$out/bootstrap"
chmod 755 "$out/bootstrap"
