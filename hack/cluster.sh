#!/usr/bin/env bash
# Starts, stops and inspects the local test cluster: kube-apiserver, etcd,
# kube-controller-manager, kube-scheduler and the kwok controller, run by
# `kwokctl --runtime binary` as local processes from the binaries that
# hack/build-tools.sh built (nothing is downloaded). Two nodes: kwok-node-0, where pods
# are simulated by the Stages in hack/kwok/stages.yaml (tainted: only pods that tolerate
# it go there, see hack/kwok/node.yaml), and real-node-0, where they really run
# (kubelet + containerd, hack/node.sh; needs root, skipped with AIRKUBE_REAL_NODE=0).
#
# Usage: hack/cluster.sh up [--fresh] [--no-switch]|down|status|env
#   up      build the tools if needed, create (or reuse) the cluster, wait for Ready nodes.
#           A cluster that exists but is stopped (its processes were killed) is
#           restarted with its objects; --fresh deletes it and starts an empty one
#           instead (what the tests do: a restarted cluster replays a backlog of old
#           pods before it gets to new ones). --no-switch leaves the kubeconfig's
#           current context alone.
#   down    stop the real node, delete the cluster and its context from the kubeconfig
#   status  exit 0 when the cluster answers, its nodes are Ready and it was made from the
#           current hack/kwok and hack/node configs
#   env     print the PATH export that puts the pinned kubectl, helm, kwokctl first
#
# The kubeconfig is the default one (~/.kube/config, or $KUBECONFIG); the
# context is kwok-$AIRKUBE_CLUSTER_NAME (kwok-airkube).
set -euo pipefail
HACK="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$HACK/versions.sh"
NAME="${AIRKUBE_CLUSTER_NAME:-airkube}"
CONTEXT="kwok-$NAME"
export KWOK_WORKDIR="$AIRKUBE_CACHE/kwok"      # kwokctl's state: clusters, logs, certs
export KWOK_KUBE_VERSION="$KUBE_VERSION"        # flags kwokctl generates match our build
export KWOK_ETCD_VERSION="${ETCD_VERSION#v}"
export PATH="$AIRKUBE_PATH_DIR:$PATH"
# shellcheck source=node-env.sh
. "$HACK/node-env.sh"
REAL_NODE="${AIRKUBE_REAL_NODE:-1}"

die() { echo "cluster: $*" >&2; exit 1; }
kctl() { kubectl --context "$CONTEXT" "$@"; }

healthy() {
  kctl get --raw /readyz >/dev/null 2>&1
}

node_ready() {
  kctl wait --for=condition=Ready node/kwok-node-0 --timeout="${1:-0s}" >/dev/null 2>&1
}

# What a cluster is made from (Stages, kwokctl settings, logs): recorded when it is
# created, so `status` can tell a cluster made from older configs (the tests then start
# one of their own rather than reuse it).
fingerprint() {
  { cat "$HACK/kwok/kwokctl.yaml" "$HACK/kwok/stages.yaml" "$HACK/kwok/node.yaml" \
    "$HACK/kwok/logs.yaml" "$HACK/kwok/task.log" "$HACK/node-env.sh"; echo "$REAL_NODE"; } |
    sha256sum | cut -c1-16
}
FINGERPRINT_FILE="$KWOK_WORKDIR/clusters/$NAME/airkube-fingerprint"

current() {
  [[ "$(cat "$FINGERPRINT_FILE" 2>/dev/null)" == "$(fingerprint)" ]]
}

exists() {
  # kwokctl's own state, read directly: `kwokctl get clusters` can miss a cluster while
  # another kwokctl creates or deletes one beside it.
  [[ -f "$KWOK_WORKDIR/clusters/$NAME/kwok.yaml" ]]
}

# Restarts a stopped cluster with its objects. kwok v0.8.0 cannot take over the
# node Lease its killed predecessor held until that expires (200 s), and leaves
# the node's pods Pending meanwhile. So: start everything, stop the new
# kwok-controller, delete the stale Lease while no kwok runs (a running one
# would recreate it under its own name), and start kwok-controller again, which
# then creates a Lease of its own. (kwokctl start starts only what is not running.)
restart() {
  kwokctl start cluster --name "$NAME" || return 1
  local pidfile="$KWOK_WORKDIR/clusters/$NAME/pids/kwok-controller.pid" pid deadline=$((SECONDS + 30))
  pid="$(cat "$pidfile")" || return 1
  kill "$pid" 2>/dev/null || true
  # Until the process is reaped, kwokctl takes it for running and would not start it.
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "kwok-controller ($pid) did not exit"; return 1; }
    sleep 0.1
  done
  kctl delete leases --namespace kube-node-lease --all || return 1
  kwokctl start cluster --name "$NAME" || return 1
  deadline=$((SECONDS + 30))
  until [[ -n "$(kctl get leases --namespace kube-node-lease -o name 2>/dev/null)" ]]; do
    ((SECONDS < deadline)) || { echo "kwok-controller took no node Lease in 30s"; return 1; }
    sleep 0.2
  done
}

up() {
  local fresh=false switch=true
  for opt in "$@"; do
    case "$opt" in
      --fresh) fresh=true ;;
      --no-switch) switch=false ;;
      *) die "up: unknown option $opt (options: --fresh --no-switch)" ;;
    esac
  done
  "$HACK/build-tools.sh"
  local start=$SECONDS log="$AIRKUBE_CACHE/logs/cluster-$NAME.log" previous
  previous="$(kubectl config current-context 2>/dev/null || true)"
  mkdir -p "$(dirname "$log")"
  if $fresh && exists && ! healthy; then
    echo "cluster: $NAME exists but does not answer; deleting it to start afresh"
    kwokctl delete cluster --name "$NAME" >>"$log" 2>&1 || die "deleting the stale $NAME failed (log: $log)"
  fi
  if exists && ! healthy; then
    echo "cluster: $NAME exists but does not answer; restarting it"
    restart >>"$log" 2>&1 || {
      echo "cluster: restart failed; recreating $NAME"
      kwokctl delete cluster --name "$NAME" >>"$log" 2>&1 || true
    }
  fi
  if ! exists; then
    echo "cluster: creating $NAME (kube $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
    # kwok wants an absolute path to the log file: copy it beside kwokctl's state.
    local logs_dir="$KWOK_WORKDIR/logs-$NAME"
    mkdir -p "$logs_dir"
    cp "$HACK/kwok/task.log" "$logs_dir/task.log"
    sed "s|@LOGS_FILE@|$logs_dir/task.log|" "$HACK/kwok/logs.yaml" >"$logs_dir/logs.yaml"
    sed -e "s|@NODE_HOST_IP@|$NODE_HOST_IP|" -e "s|@PKI@|$KWOK_WORKDIR/clusters/$NAME/pki|" \
      "$HACK/kwok/kwokctl.yaml" >"$logs_dir/kwokctl.yaml"
    kwokctl create cluster --name "$NAME" --runtime binary \
      --kube-apiserver-binary "$AIRKUBE_BIN/kube-apiserver-$KUBE_VERSION" \
      --kube-controller-manager-binary "$AIRKUBE_BIN/kube-controller-manager-$KUBE_VERSION" \
      --kube-scheduler-binary "$AIRKUBE_BIN/kube-scheduler-$KUBE_VERSION" \
      --kwok-controller-binary "$AIRKUBE_BIN/kwok-$KWOK_VERSION" \
      --etcd-binary "$AIRKUBE_BIN/etcd-$ETCD_VERSION" \
      --disable-qps-limits \
      --config "$logs_dir/kwokctl.yaml" --config "$HACK/kwok/stages.yaml" \
      --config "$logs_dir/logs.yaml" \
      --wait 120s >>"$log" 2>&1 ||
      die "creating the cluster failed: $(grep -iE 'error|fail' "$log" | tail -1 | cut -c1-240) (full log: $log; component logs: kwokctl --name $NAME logs <component>)"
    fingerprint >"$FINGERPRINT_FILE"
  fi
  current || echo "cluster: $NAME was made from older hack/kwok configs; to refresh it: hack/cluster.sh down; hack/cluster.sh up"
  if $switch; then
    kubectl config use-context "$CONTEXT" >/dev/null
  elif [[ -n "$previous" && "$previous" != "$CONTEXT" ]] &&
    kubectl config get-contexts "$previous" >/dev/null 2>&1; then
    kubectl config use-context "$previous" >/dev/null  # kwokctl create switched to the new one
  elif [[ "$previous" != "$CONTEXT" ]]; then
    # None before, or the previous one was deleted meanwhile (another cluster's `down`).
    kubectl config unset current-context >/dev/null
  fi
  kctl apply -f "$HACK/kwok/node.yaml" >/dev/null
  node_ready 90s || die "node kwok-node-0 did not become Ready in 90s (see: kwokctl --name $NAME logs kwok-controller)"
  if ((REAL_NODE)); then
    "$HACK/node.sh" up || die "the real node did not start (hack/node.sh up)"
  else
    # No real node: every pod goes to the simulated one.
    kctl taint node kwok-node-0 airkube.io/simulated- >/dev/null 2>&1 || true
  fi
  echo "cluster: $NAME is up with a Ready node in $((SECONDS - start))s; kubectl context $CONTEXT"
}

down() {
  if ((REAL_NODE)) && ((EUID == 0)); then "$HACK/node.sh" down >/dev/null; fi
  if exists; then
    local log="$AIRKUBE_CACHE/logs/cluster-$NAME.log"
    kwokctl delete cluster --name "$NAME" >>"$log" 2>&1 || die "deleting $NAME failed (log: $log)"
    rm -rf "$KWOK_WORKDIR/logs-$NAME"
    echo "cluster: $NAME deleted"
  else
    echo "cluster: $NAME does not exist"
  fi
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status)
    healthy && node_ready 0s || die "$NAME is not running: hack/cluster.sh up"
    if ((REAL_NODE)); then "$HACK/node.sh" status >/dev/null || die "$NAME runs but its real node does not: hack/cluster.sh up"; fi
    current || die "$NAME runs but was made from older hack/kwok configs: hack/cluster.sh down; hack/cluster.sh up"
    echo "cluster: $NAME is up (context $CONTEXT)" ;;
  env) echo "export PATH=\"$AIRKUBE_PATH_DIR:\$PATH\"" ;;
  *) die "usage: hack/cluster.sh up [--fresh] [--no-switch]|down|status|env" ;;
esac
