#!/usr/bin/env bash
# Build the real kube-apiserver, kubectl and etcd once, into a versioned cache, for the
# Kubernetes integration tests (tests/support/kube_apiserver.py). Idempotent: it does nothing
# when the binaries are already there, so only a cold machine pays for the build
# (about 12 minutes for Kubernetes and 4 for etcd on a 2-core machine).
#
#   ${XDG_CACHE_HOME:-~/.cache}/sovereign-cloud/kube-<version>/{kube-apiserver,kubectl}
#   ${XDG_CACHE_HOME:-~/.cache}/sovereign-cloud/etcd-<version>/etcd
#
# Everything comes from the Go module proxy the go command is configured with (no host is named
# here): k8s.io/kubernetes itself, each k8s.io staging module at the matching v0.x version (the
# `replace` list is read from k8s.io/kubernetes' own go.mod), and go.etcd.io/etcd/server/v3
# behind a two-line main that calls etcdmain.Main.
set -euo pipefail

KUBE_VERSION=${SOVEREIGN_KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${SOVEREIGN_ETCD_VERSION:-v3.6.17}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/sovereign-cloud
KDIR=$CACHE/kube-$KUBE_VERSION
EDIR=$CACHE/etcd-$ETCD_VERSION
BUILD=$CACHE/build
GO=${GO:-go}
if [[ ${1:-} == paths ]]; then echo "$KDIR"; echo "$EDIR"; exit 0; fi
mkdir -p "$CACHE" "$BUILD"

if ! command -v "$GO" >/dev/null; then
  echo "kube-build: the go command is missing (Go >= 1.26 builds Kubernetes $KUBE_VERSION)" >&2
  exit 1
fi

# One build at a time (make test and a developer may start it together).
exec 9>"$CACHE/.kube-build.lock"
flock 9

export GOFLAGS="${GOFLAGS:-} -trimpath"
export CGO_ENABLED=0
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

have() { for b in "$@"; do [[ -x $b ]] || return 1; done; }

build_kube() {
  if have "$KDIR/kube-apiserver" "$KDIR/kubectl"; then
    echo "kube-build: kube-apiserver and kubectl $KUBE_VERSION cached in $KDIR"
    return
  fi
  local t0 src mod minor staging
  t0=$(date +%s)
  src=$BUILD/kube-$KUBE_VERSION
  mkdir -p "$src"
  echo "kube-build: building kube-apiserver and kubectl $KUBE_VERSION in $src (log: slow, ~12 min cold)"
  mod=$(cd "$src" && "$GO" mod download -json "k8s.io/kubernetes@$KUBE_VERSION" \
        | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f $mod ]] || { echo "kube-build: could not fetch k8s.io/kubernetes@$KUBE_VERSION go.mod" >&2; exit 1; }
  minor=${KUBE_VERSION#v1.}                # 37.2
  staging="v0.$minor"                      # v0.37.2
  {
    echo "module sovereign.cloud/kube-build"
    echo
    echo "go $(sed -n 's/^go //p' "$mod")"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\t\1 => \1 '"$staging"'#p' "$mod"
    echo ")"
  } > "$src/go.mod"
  (
    cd "$src"
    "$GO" get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" "k8s.io/kubernetes/cmd/kubectl@$KUBE_VERSION"
    local ld="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=${minor%%.*}"
      ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    mkdir -p "$KDIR.tmp"
    nice -n 10 "$GO" build -ldflags "$ld" -o "$KDIR.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
    nice -n 10 "$GO" build -ldflags "$ld" -o "$KDIR.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
  )
  rm -rf "$KDIR"
  mv "$KDIR.tmp" "$KDIR"
  echo "kube-build: kube-apiserver and kubectl $KUBE_VERSION built in $(( $(date +%s) - t0 )) s"
}

build_etcd() {
  if have "$EDIR/etcd"; then
    echo "kube-build: etcd $ETCD_VERSION cached in $EDIR"
    return
  fi
  local t0 src
  t0=$(date +%s)
  src=$BUILD/etcd-$ETCD_VERSION
  mkdir -p "$src"
  echo "kube-build: building etcd $ETCD_VERSION in $src (~4 min cold)"
  cat > "$src/main.go" <<'EOF'
// etcd, built from go.etcd.io/etcd/server/v3 for sovereign.cloud's Kubernetes tests.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  printf 'module sovereign.cloud/etcd-build\n\ngo 1.24\n' > "$src/go.mod"
  (
    cd "$src"
    "$GO" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    "$GO" mod tidy
    mkdir -p "$EDIR.tmp"
    nice -n 10 "$GO" build -ldflags "-s -w" -o "$EDIR.tmp/etcd" .
  )
  rm -rf "$EDIR"
  mv "$EDIR.tmp" "$EDIR"
  echo "kube-build: etcd $ETCD_VERSION built in $(( $(date +%s) - t0 )) s"
}

case "${1:-all}" in
  all) build_etcd; build_kube ;;
  kube) build_kube ;;
  etcd) build_etcd ;;
  *) echo "usage: $0 [all|kube|etcd|paths]" >&2; exit 2 ;;
esac
