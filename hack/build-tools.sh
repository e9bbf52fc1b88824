#!/usr/bin/env bash
# Builds the local cluster's tools from the Go module proxy, at the versions pinned
# in hack/versions.sh, into $AIRKUBE_BIN/<tool>-<version>, and links plain names to
# them in $AIRKUBE_PATH_DIR. A tool already built is never rebuilt, so a second run
# does no work. Each step logs to $AIRKUBE_CACHE/logs/; a failing step prints one
# line saying what failed and what to do.
#
# Usage: hack/build-tools.sh [kubernetes|etcd|kwok|helm|versitygw|argo ...]
#   (default: all but argo, Argo Workflows' controller, which only `make bench` needs)
set -euo pipefail
HACK="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$HACK/versions.sh"
LOG_DIR="$AIRKUBE_CACHE/logs"
mkdir -p "$AIRKUBE_BIN" "$AIRKUBE_PATH_DIR" "$LOG_DIR" "$AIRKUBE_CACHE/src"
export GOTOOLCHAIN=local CGO_ENABLED=0

die() { echo "build-tools: $*" >&2; exit 1; }

command -v go >/dev/null || die "go is not installed: install Go >= 1.25 (https://go.dev/doc/install) and retry"

# explain STEP LOG: one line on why STEP failed, from its log.
explain() {
  local step=$1 log=$2 why
  if grep -qiE 'dial tcp|no such host|connection refused|i/o timeout|TLS handshake|proxyconnect|network is unreachable|server misbehaving' "$log"; then
    why="cannot reach the Go module proxy (GOPROXY=$(go env GOPROXY)); check the network or point GOPROXY at a reachable proxy"
  elif grep -qiE 'unknown revision|invalid version|no matching versions|version is not available|: 404 Not Found|410 Gone' "$log"; then
    why="a pinned version does not exist ($(grep -oiE '[^ ]+@v[^: ]+' "$log" | head -1)); fix it in hack/versions.sh"
  elif grep -qiE 'no space left on device' "$log"; then
    why="the disk is full; free space under $AIRKUBE_CACHE and $(go env GOCACHE)"
  else
    why="$(grep -vE '^\s*$|^go: downloading' "$log" | tail -1 | cut -c1-240)"
  fi
  die "building $step failed: $why (full log: $log)"
}

# have TOOL VERSION: true when the cached binary exists; links it onto the path dir.
have() {
  local bin="$AIRKUBE_BIN/$1-$2"
  [[ -x "$bin" ]] || return 1
  ln -sfn "$bin" "$AIRKUBE_PATH_DIR/$1"
}

# install_built TMPDIR VERSION NAME...: move freshly built binaries into the cache.
install_built() {
  local tmp=$1 version=$2; shift 2
  local name
  for name in "$@"; do
    mv -f "$tmp/$name" "$AIRKUBE_BIN/$name-$version"
    have "$name" "$version"
  done
  rm -rf "$tmp"
}

build_kubernetes() {
  local names=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet) missing=0 n
  for n in "${names[@]}"; do have "$n" "$KUBE_VERSION" || missing=1; done
  ((missing)) || return 0
  echo "build-tools: building ${names[*]} $KUBE_VERSION (cold: 5-10 min on 2 cores)"
  local log="$LOG_DIR/kubernetes-$KUBE_VERSION.log" src="$AIRKUBE_CACHE/src/kubernetes-$KUBE_VERSION"
  local tmp; tmp="$(mktemp -d "$AIRKUBE_BIN/.build.XXXX")"
  rm -rf "$src"; mkdir -p "$src"
  cp "$HACK/gomod/kubernetes/go.mod" "$HACK/gomod/kubernetes/go.sum" "$src/"
  local minor; minor="$(cut -d. -f2 <<<"$KUBE_VERSION")"
  local v ld="-s -w"
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor"
    ld+=" -X $v.gitTreeState=clean -X $v.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  (
    cd "$src"
    # The wrapper pins versions.sh's versions (a no-op when they already match).
    edits=(-require="k8s.io/kubernetes@$KUBE_VERSION")
    for m in $(go mod edit -json | python3 -c 'import json,sys; print(" ".join(r["Old"]["Path"] for r in json.load(sys.stdin).get("Replace") or []))'); do
      edits+=(-replace="$m=$m@$KUBE_STAGING_VERSION")
    done
    go mod edit "${edits[@]}"
    go build -mod=mod -trimpath -ldflags "$ld" -o "$tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
      k8s.io/kubernetes/cmd/kubelet
  ) >"$log" 2>&1 || explain "kubernetes $KUBE_VERSION" "$log"
  install_built "$tmp" "$KUBE_VERSION" "${names[@]}"
}

build_etcd() {
  have etcd "$ETCD_VERSION" && return 0
  echo "build-tools: building etcd $ETCD_VERSION"
  local log="$LOG_DIR/etcd-$ETCD_VERSION.log" src="$AIRKUBE_CACHE/src/etcd-$ETCD_VERSION"
  local tmp; tmp="$(mktemp -d "$AIRKUBE_BIN/.build.XXXX")"
  rm -rf "$src"; mkdir -p "$src"
  cp "$HACK/gomod/etcd/go.mod" "$HACK/gomod/etcd/go.sum" "$HACK/gomod/etcd/main.go" "$src/"
  (
    cd "$src"
    go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go build -mod=mod -trimpath -ldflags "-s -w" -o "$tmp/etcd" .
  ) >"$log" 2>&1 || explain "etcd $ETCD_VERSION" "$log"
  install_built "$tmp" "$ETCD_VERSION" etcd
}

# go_install NAME VERSION LDFLAGS PKG...: `go install` module packages at a version
# into the cache.
go_install() {
  local name=$1 version=$2 ld=$3; shift 3
  local log="$LOG_DIR/$name-$version.log" tmp pkg names=()
  tmp="$(mktemp -d "$AIRKUBE_BIN/.build.XXXX")"
  GOBIN="$tmp" go install -trimpath -ldflags "$ld" "$@" >"$log" 2>&1 || explain "$name $version" "$log"
  for pkg in "$@"; do pkg="${pkg%@*}"; names+=("${pkg##*/}"); done
  install_built "$tmp" "$version" "${names[@]}"
}

build_kwok() {
  have kwok "$KWOK_VERSION" && have kwokctl "$KWOK_VERSION" && return 0
  echo "build-tools: building kwok and kwokctl $KWOK_VERSION"
  go_install kwok "$KWOK_VERSION" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

build_helm() {
  have helm "$HELM_VERSION" && return 0
  echo "build-tools: building helm $HELM_VERSION"
  go_install helm "$HELM_VERSION" \
    "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

# The S3-compatible server of the log-store tests (tests/s3_server.py), run with its
# posix backend on a temporary directory.
build_versitygw() {
  have versitygw "$VERSITYGW_VERSION" && return 0
  echo "build-tools: building versitygw $VERSITYGW_VERSION (cold: 5-10 min on 2 cores)"
  go_install versitygw "$VERSITYGW_VERSION" \
    "-s -w -X main.Version=$VERSITYGW_VERSION" \
    "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
}

# The benchmarks' baseline; a large build, so it runs niced (others share the machine).
# The build tag keeps apimachinery >= v0.35's gogo ProtoMessage methods, which Argo
# v4.1 needs. It builds inside Argo's own module (what `go install m@v` does) so that
# its go.sum, authenticated with the module, verifies every dependency: some of v4.1's
# dependencies are on the proxy but not in the checksum database, where `go install`
# looks them up and fails.
build_argo() {
  have workflow-controller "$ARGO_VERSION" && return 0
  echo "build-tools: building Argo Workflows' workflow-controller $ARGO_VERSION (cold: 5-10 min on 2 cores)"
  local m=github.com/argoproj/argo-workflows/v4
  local log="$LOG_DIR/workflow-controller-$ARGO_VERSION.log" tmp
  tmp="$(mktemp -d "$AIRKUBE_BIN/.build.XXXX")"
  (
    renice -n 10 -p "$BASHPID" >/dev/null
    dir="$(go mod download -json "$m@$ARGO_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    cd "$dir"
    go build -mod=readonly -trimpath -tags=kubernetes_protomessage_one_more_release \
      -ldflags "-s -w -X $m.version=$ARGO_VERSION -X $m.gitTag=$ARGO_VERSION -X $m.gitTreeState=clean" \
      -o "$tmp/workflow-controller" ./cmd/workflow-controller
  ) >"$log" 2>&1 || explain "workflow-controller $ARGO_VERSION" "$log"
  install_built "$tmp" "$ARGO_VERSION" workflow-controller
}

rm -rf "$AIRKUBE_BIN"/.build.*   # leftovers of an interrupted build
steps=("$@")
((${#steps[@]})) || steps=(etcd kwok helm versitygw kubernetes)
for step in "${steps[@]}"; do
  case "$step" in
    kubernetes|etcd|kwok|helm|versitygw|argo)
      t0=$SECONDS
      "build_$step"
      ((SECONDS - t0 < 2)) || echo "build-tools: $step built in $((SECONDS - t0))s"
      ;;
    *) die "unknown tool '$step': choose from kubernetes, etcd, kwok, helm, versitygw, argo" ;;
  esac
done
