#!/usr/bin/env bash
# The local cluster's real node: kubelet (built by hack/build-tools.sh with the other
# Kubernetes binaries), Debian's containerd, runc and CNI plugins, joined to the running
# local cluster beside KWOK's simulated node. Pods scheduled to it really run.
#
# Usage: hack/node.sh prereqs|up|down|status|images|exec CMD...
#   prereqs  install the Debian packages it needs (root; what .ci/run calls)
#   up       build the images if needed (hack/images.sh), start the node, import the
#            images, wait until the node is Ready. A node left by a killed session is
#            cleaned up first.
#   down     stop it and leave nothing behind (see below); delete its Node object
#   status   exit 0 when its processes run and its Node is Ready
#   images   build the images again if their inputs changed, and import them (a running node)
#   exec     run a command inside the node's namespaces (e.g. ctr, iptables)
#
# What it touches on the host, and how it cleans up (needs root):
#   - a network namespace of its own (unnamed: held by the node's holder process, so
#     nothing is mounted under /run/netns) and a veth pair into it, with a /30 link;
#     everything else of the network (the pods' bridge, their masquerade, the route from
#     the kubernetes Service's IP to the API server, ip_forward) is inside that namespace
#     and goes with it. The host's own network settings are never changed.
#   - a private mount namespace shared by containerd and kubelet: every mount they make
#     (container root filesystems, volumes, /run/containerd, CNI's state) lives and dies
#     there. Over the /proc/sys files kubelet insists on setting (kernel.panic,
#     kernel.panic_on_oops, vm.overcommit_memory, vm.panic_on_oom, kernel.keys.*) it
#     bind-mounts plain files, so the host's values never change.
#   - one cgroup, $NODE_CGROUP, in each cgroup v1 hierarchy: kubelet's cgroupRoot, and the
#     home of containerd and kubelet themselves (runc makes the containers' cgroups under
#     it in the cgroup v2 hierarchy of a hybrid host too). `down` kills every process in
#     them and removes them, children first, in every hierarchy.
#   - its state under $AIRKUBE_CACHE/node/<cluster>, removed by `down`; the images it
#     imported stay in containerd's root, $AIRKUBE_CACHE/node-images/<cluster>, so the
#     next `up` need not unpack them again (the containers recorded there are removed
#     when it starts).
# Machine facts it is built for: no systemd (cgroupfs), cgroup v1 (failCgroupV1: false),
# no CAP_SYS_RESOURCE (containerd restrict_oom_score_adj, kubelet oomScoreAdj 0).
set -euo pipefail
HACK="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.sh
. "$HACK/versions.sh"
NAME="${AIRKUBE_CLUSTER_NAME:-airkube}"
CONTEXT="kwok-$NAME"
# shellcheck source=node-env.sh
. "$HACK/node-env.sh"
export PATH="$AIRKUBE_PATH_DIR:$PATH"
export KWOK_WORKDIR="$AIRKUBE_CACHE/kwok"
PKI="$KWOK_WORKDIR/clusters/$NAME/pki"
SOCK="$NODE_STATE/containerd/containerd.sock"
CONTAINERD_ROOT="$AIRKUBE_CACHE/node-images/$NAME"
HOLDER_PID="$NODE_STATE/holder.pid"
KUBELET_PID="$NODE_STATE/kubelet.pid"
CONTAINERD_PID="$NODE_STATE/containerd.pid"
LOGS="$AIRKUBE_CACHE/logs/node-$NAME"
PACKAGES=(containerd runc containernetworking-plugins iptables buildah mmdebstrap busybox-static openssl gcc libc6-dev)
# kubelet's kernel settings (pkg/kubelet/cm setupKernelTunables), shadowed in its mount namespace.
SYSCTLS=(kernel/panic kernel/panic_on_oops vm/overcommit_memory vm/panic_on_oom kernel/keys/root_maxkeys kernel/keys/root_maxbytes)

die() { echo "node: $*" >&2; exit 1; }
kctl() { kubectl --context "$CONTEXT" "$@"; }
alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
in_node() { nsenter --target "$(cat "$HOLDER_PID")" --mount --net -- "$@"; }
in_netns() { nsenter --target "$(cat "$HOLDER_PID")" --net -- "$@"; }

prereqs() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  ((EUID == 0)) || die "the real node needs Debian packages ${missing[*]}: run as root: apt-get install ${missing[*]}"
  echo "node: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The cgroup v1 hierarchies (one directory each under /sys/fs/cgroup), named ones
# (name=systemd) included: the node's own cgroup is made in each.
hierarchies() {
  awk '$3 == "cgroup" { print $2 }' /proc/self/mounts
}

# Every cgroup hierarchy, the cgroup v2 one of a hybrid host (/sys/fs/cgroup/unified)
# too: runc makes each container's cgroup there as well, under the node's cgroupRoot,
# so that is where the node's processes are looked for and its cgroups removed.
all_hierarchies() {
  awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts
}

make_cgroups() {
  local h
  for h in $(hierarchies); do
    mkdir -p "$h/$NODE_CGROUP/node"
    if [[ -f "$h/cpuset.cpus" ]]; then
      # A new cpuset cgroup has no CPUs or memory nodes until it is given its parent's.
      cat "$h/cpuset.cpus" >"$h/$NODE_CGROUP/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h/$NODE_CGROUP/cpuset.mems"
      cat "$h/cpuset.cpus" >"$h/$NODE_CGROUP/node/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h/$NODE_CGROUP/node/cpuset.mems"
    fi
  done
}

# join_node_cgroup PID: move a process into the node's own cgroup in every hierarchy.
join_node_cgroup() {
  local h
  for h in $(hierarchies); do echo "$1" >"$h/$NODE_CGROUP/node/cgroup.procs"; done
}

# Every process in the node's cgroups: kubelet, containerd, its shims, every container.
node_pids() {
  local h
  for h in $(all_hierarchies); do
    [[ -d "$h/$NODE_CGROUP" ]] && find "$h/$NODE_CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

kill_all() {
  local deadline=$((SECONDS + 30)) pids killed="" pid
  while pids="$(node_pids)"; [[ -n "$pids" ]]; do
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    killed+=" $pids"
    ((SECONDS < deadline)) || die "processes of the node did not exit: $pids"
    sleep 0.2
  done
  # A killed process leaves its cgroup at once but stays a zombie until it is reaped
  # (containers' processes by init, their shims being dead): wait for that too.
  for pid in $killed; do
    while kill -0 "$pid" 2>/dev/null; do
      ((SECONDS < deadline)) || { echo "node: process $pid was not reaped" >&2; break; }
      sleep 0.1
    done
  done
}

# Remove the node's cgroups in every hierarchy, children first (rmdir: a cgroup goes
# only empty, and only once its children are gone); its processes are gone already.
remove_cgroups() {
  local h deadline left
  for h in $(all_hierarchies); do
    [[ -d "$h/$NODE_CGROUP" ]] || continue
    deadline=$((SECONDS + 10))
    # A cgroup whose last process just died can stay busy for a moment.
    until find "$h/$NODE_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null; [[ ! -d "$h/$NODE_CGROUP" ]]; do
      if ((SECONDS >= deadline)); then
        left="$(find "$h/$NODE_CGROUP" -depth -type d | tr '\n' ' ')"
        die "cannot remove the cgroups ${left}(processes in them: $(node_pids | tr '\n' ' '))"
      fi
      sleep 0.2
    done
  done
}

down() {
  local quiet=${1:-}
  ((EUID == 0)) || die "stopping the real node needs root"
  if alive "$KUBELET_PID"; then kill "$(cat "$KUBELET_PID")" 2>/dev/null || true; fi
  kill_all
  remove_cgroups
  # The node's network namespace ended with its last process, and the veth pair with it.
  if ip link show "$NODE_VETH_HOST" >/dev/null 2>&1; then ip link delete "$NODE_VETH_HOST"; fi
  rm -rf "$NODE_STATE"
  if kctl get --raw /readyz >/dev/null 2>&1; then
    kctl delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  [[ -n "$quiet" ]] || echo "node: $NODE_NAME of $NAME stopped; nothing left on the host"
}

network() {
  ip link add "$NODE_VETH_HOST" type veth peer name "$NODE_VETH_NODE"
  ip link set "$NODE_VETH_NODE" netns "$(cat "$HOLDER_PID")"
  ip addr add "$NODE_HOST_IP/30" dev "$NODE_VETH_HOST"
  ip link set "$NODE_VETH_HOST" up
  in_netns ip link set lo up
  in_netns ip addr add "$NODE_IP/30" dev "$NODE_VETH_NODE"
  in_netns ip link set "$NODE_VETH_NODE" up
  in_netns ip route add default via "$NODE_HOST_IP"
  # The kubernetes Service's IP leads to the API server (what kube-proxy would do for
  # it; no other Service is routed).
  local svc; svc="$(kctl get service kubernetes -n default -o jsonpath='{.spec.clusterIP}')"
  local chain
  for chain in OUTPUT PREROUTING; do
    in_netns iptables -t nat -A "$chain" -d "$svc/32" -p tcp --dport 443 \
      -j DNAT --to-destination "$NODE_HOST_IP:$APISERVER_PORT"
  done
}

# sign NAME SUBJECT [IP_SAN]: a certificate of the cluster's CA for kubelet.
sign() {
  local name=$1 subject=$2 san=${3:-} dir="$NODE_STATE/pki"
  mkdir -p "$dir"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/$name.key" -subj "$subject" \
    -out "$dir/$name.csr" 2>/dev/null
  local ext="$dir/$name.ext"
  if [[ -n "$san" ]]; then
    printf 'subjectAltName=IP:%s,DNS:%s\nextendedKeyUsage=serverAuth\n' "$san" "$NODE_NAME" >"$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl x509 -req -in "$dir/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
}

configs() {
  local s=$NODE_STATE
  mkdir -p "$CONTAINERD_ROOT" "$s"/{containerd,cni/net.d,cni/ipam,cni/cache,kubelet,pod-logs,container-logs,run-containerd,sysctl} "$LOGS"
  sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME"
  sign kubelet-serving "/CN=$NODE_NAME" "$NODE_IP"
  cat >"$s/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $NAME
  cluster:
    server: https://$NODE_HOST_IP:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $NODE_NAME
  user:
    client-certificate: $s/pki/kubelet-client.crt
    client-key: $s/pki/kubelet-client.key
contexts:
- name: node
  context: {cluster: $NAME, user: $NODE_NAME}
current-context: node
EOF
  cat >"$s/containerd.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$s/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
oom_score = 0
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$SOCK.debug"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_REF"
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$s/cni/net.d"
EOF
  cat >"$s/cni/net.d/10-airkube.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "airkube",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$s/cni/ipam",
        "ranges": [[{"subnet": "$NODE_POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
  cat >"$s/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
containerRuntimeEndpoint: unix://$SOCK
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: $s/pki/kubelet-serving.crt
tlsPrivateKeyFile: $s/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
clusterDomain: cluster.local
failSwapOn: false
oomScoreAdj: 0
podLogsDir: $s/pod-logs
podPidsLimit: 4096
maxPods: 250
# A shared development machine: evict only when truly short, never on its usual load.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
serializeImagePulls: false
registerNode: true
syncFrequency: 10s
fileCheckFrequency: 20s
nodeStatusReportFrequency: 1m
EOF
}

holder() {
  # The holder owns the node's network and mount namespaces: it shadows kubelet's
  # sysctls and the host paths containerd and CNI would write, then sleeps. containerd
  # and kubelet enter its namespaces.
  local s=$NODE_STATE f setup=""
  for f in "${SYSCTLS[@]}"; do
    [[ -e "/proc/sys/$f" ]] || continue
    cat "/proc/sys/$f" >"$s/sysctl/${f//\//.}"
    setup+="mount --bind '$s/sysctl/${f//\//.}' '/proc/sys/$f'; "
  done
  mkdir -p /var/lib/cni /var/log/containers /run/containerd
  setup+="mount --bind '$s/cni/cache' /var/lib/cni; "
  setup+="mount --bind '$s/container-logs' /var/log/containers; "
  setup+="mount --bind '$s/run-containerd' /run/containerd; "
  setup+="mount --bind '$s/kubelet' '$s/kubelet'; mount --make-rshared '$s/kubelet'; "
  (
    join_node_cgroup "$BASHPID"
    exec unshare --net --mount --propagation private --fork -- \
      sh -c "set -e; $setup echo \$\$ >'$HOLDER_PID'; exec sleep infinity"
  ) >"$LOGS/holder.log" 2>&1 &
  local deadline=$((SECONDS + 10))
  until alive "$HOLDER_PID"; do
    ((SECONDS < deadline)) || die "the node's namespace holder did not start: $(cat "$LOGS/holder.log")"
    sleep 0.1
  done
}

# run_in_node NAME PIDFILE CMD...: start CMD in the background in the node's cgroup and
# namespaces (its pid, CMD's own, in PIDFILE; its output in $LOGS/NAME.log).
run_in_node() {
  local name=$1 pidfile=$2; shift 2
  (join_node_cgroup "$BASHPID"; exec nsenter --target "$(cat "$HOLDER_PID")" --mount --net -- "$@") \
    >"$LOGS/$name.log" 2>&1 &
  echo $! >"$pidfile"
}

start_containerd() {
  run_in_node containerd "$CONTAINERD_PID" containerd --config "$NODE_STATE/containerd.toml"
  local deadline=$((SECONDS + 30))
  until ctr --address "$SOCK" version >/dev/null 2>&1; do
    alive "$CONTAINERD_PID" || die "containerd exited: $(tail -3 "$LOGS/containerd.log")"
    ((SECONDS < deadline)) || die "containerd did not answer in 30s (log: $LOGS/containerd.log)"
    sleep 0.2
  done
}

# Imports each image archive once (their names carry a hash of their content).
import_images() {
  local a done="$CONTAINERD_ROOT/airkube-imported"
  touch "$done"
  for a in $("$HACK/images.sh" archives); do
    grep -qxF "$a" "$done" && continue
    ctr --address "$SOCK" --namespace k8s.io images import "$a" >>"$LOGS/import.log" 2>&1 ||
      die "importing $a failed (log: $LOGS/import.log)"
    echo "$a" >>"$done"
  done
}

# Removes the containers an earlier run of the node left in containerd's records (all
# dead: their processes were killed with it), with their snapshots.
forget_containers() {
  local ids
  ids="$(ctr --address "$SOCK" --namespace k8s.io containers list --quiet)"
  # shellcheck disable=SC2086
  [[ -z "$ids" ]] || ctr --address "$SOCK" --namespace k8s.io containers delete $ids >/dev/null 2>&1 || true
}

start_kubelet() {
  run_in_node kubelet "$KUBELET_PID" \
    "$AIRKUBE_BIN/kubelet-$KUBE_VERSION" --config "$NODE_STATE/kubelet.yaml" \
    --kubeconfig "$NODE_STATE/kubelet.kubeconfig" --root-dir "$NODE_STATE/kubelet" \
    --cert-dir "$NODE_STATE/pki" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --node-labels "type=real,airkube.io/node=real"
}

up() {
  ((EUID == 0)) || die "the real node needs root (network and mount namespaces, cgroups)"
  kctl get --raw /readyz >/dev/null 2>&1 || die "cluster $NAME does not answer: hack/cluster.sh up"
  if (status) >/dev/null 2>&1; then echo "node: $NODE_NAME of $NAME is up"; return 0; fi
  prereqs
  [[ -x "$AIRKUBE_BIN/kubelet-$KUBE_VERSION" ]] || "$HACK/build-tools.sh" kubernetes
  "$HACK/images.sh" build
  local start=$SECONDS
  down quiet
  mkdir -p "$NODE_STATE" "$LOGS"
  APISERVER_PORT="$(kctl config view --minify -o jsonpath='{.clusters[0].cluster.server}' | sed 's/.*://')"
  PAUSE_REF="$("$HACK/images.sh" refs | cut -d' ' -f1)"
  make_cgroups
  configs
  holder
  network
  start_containerd
  forget_containers
  import_images
  start_kubelet
  local deadline=$((SECONDS + 120))
  until kctl wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s >/dev/null 2>&1; do
    alive "$KUBELET_PID" || die "kubelet exited: $(grep -E '^[EF][0-9]' "$LOGS/kubelet.log" | tail -2) (log: $LOGS/kubelet.log)"
    ((SECONDS < deadline)) || die "node $NODE_NAME did not become Ready in 120s (log: $LOGS/kubelet.log)"
  done
  echo "node: $NODE_NAME of $NAME is Ready in $((SECONDS - start))s (logs: $LOGS)"
}

status() {
  alive "$HOLDER_PID" && alive "$CONTAINERD_PID" && alive "$KUBELET_PID" ||
    die "$NODE_NAME of $NAME is not running: hack/node.sh up"
  kctl wait --for=condition=Ready "node/$NODE_NAME" --timeout=0s >/dev/null 2>&1 ||
    die "$NODE_NAME of $NAME is not Ready"
  echo "node: $NODE_NAME of $NAME is up"
}

case "${1:-}" in
  prereqs) prereqs ;;
  up) up ;;
  down) down ;;
  status) status ;;
  images) alive "$HOLDER_PID" || die "the node is not running: hack/node.sh up"
    "$HACK/images.sh" build; import_images ;;
  exec) shift; alive "$HOLDER_PID" || die "the node is not running"; in_node "$@" ;;
  *) die "usage: hack/node.sh prereqs|up|down|status|images|exec CMD..." ;;
esac
