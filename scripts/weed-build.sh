#!/usr/bin/env bash
# Build SeaweedFS's `weed` once, into a versioned cache, for the S3 integration tests
# (tests/support/s3_server.py: `weed server -s3`, a real S3 server, not an emulator).
# Idempotent: it does nothing when the binary is already there, so only a cold machine pays
# for the build.
#
#   ${XDG_CACHE_HOME:-~/.cache}/sovereign-cloud/seaweedfs-<version>/weed
#
# SeaweedFS tags releases as "4.01", not semver, so the Go module proxy serves it by pseudo-version;
# its go.mod has a `replace`, so `go install pkg@version` refuses it: the module's own source is
# fetched from the proxy (no host is named here) and built in place with its own go.mod and go.sum.
set -euo pipefail

WEED_VERSION=${SOVEREIGN_WEED_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/sovereign-cloud
WDIR=$CACHE/seaweedfs-$WEED_VERSION
BUILD=$CACHE/build
GO=${GO:-go}
if [[ ${1:-} == path ]]; then echo "$WDIR/weed"; exit 0; fi
if [[ -x $WDIR/weed ]]; then
  echo "weed-build: weed $WEED_VERSION cached in $WDIR"
  exit 0
fi
if ! command -v "$GO" >/dev/null; then
  echo "weed-build: the go command is missing (Go >= 1.26 builds SeaweedFS $WEED_VERSION)" >&2
  exit 1
fi
mkdir -p "$CACHE" "$BUILD"
exec 9>"$CACHE/.weed-build.lock"
flock 9
[[ -x $WDIR/weed ]] && { echo "weed-build: weed $WEED_VERSION cached in $WDIR"; exit 0; }

export GOFLAGS="${GOFLAGS:-} -trimpath"
export CGO_ENABLED=0
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
t0=$(date +%s)
echo "weed-build: building SeaweedFS weed $WEED_VERSION (slow, once per machine)"
dir=$(cd "$BUILD" && "$GO" mod download -json "github.com/seaweedfs/seaweedfs@$WEED_VERSION" \
      | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d $dir ]] || { echo "weed-build: could not fetch github.com/seaweedfs/seaweedfs@$WEED_VERSION" >&2; exit 1; }
src=$BUILD/seaweedfs-$WEED_VERSION
rm -rf "$src"
cp -r "$dir" "$src"
chmod -R u+w "$src"
mkdir -p "$WDIR.tmp"
(cd "$src" && nice -n 10 "$GO" build -ldflags "-s -w" -o "$WDIR.tmp/weed" ./weed)
rm -rf "$WDIR" "$src"
mv "$WDIR.tmp" "$WDIR"
echo "weed-build: weed $WEED_VERSION built in $(( $(date +%s) - t0 )) s"
