#!/usr/bin/env bash
# Builds the container images the examples, the tests and the chart use, without a
# registry: from Debian packages with buildah, under the names they have on a real
# cluster, so dags/ runs unchanged on both. Each image is saved as an archive in
# $AIRKUBE_CACHE/images/, named by a hash of everything it is built from: a second run
# with the same inputs does no work. hack/node.sh imports the archives into the real
# node's containerd (nothing is ever pulled: the pods use IfNotPresent and fixed tags).
#
#   registry.k8s.io/pause:3.10
#                             the pod sandbox: images/pause/pause.c, compiled statically
#   busybox:1.36              Debian's busybox-static, every applet linked in /bin
#   python:3.11-slim          Debian bookworm minbase + python3 (3.11), venv, pip;
#                             `python` is python3, like the official image
#   ghcr.io/airkube/operator:<chart appVersion>
#                             `buildah bud` of images/operator/Dockerfile, unchanged,
#                             with PYTHON_IMAGE set to the python image above
#
# Usage: hack/images.sh build [pause|busybox|python|operator ...]   (default: all four)
#        hack/images.sh archives                              the archive of each image
#
# Buildah keeps its storage under $AIRKUBE_CACHE/images/buildah with the vfs driver, and
# runs build steps with chroot isolation: no overlay mount, no cgroup and no network
# namespace stays on the host after a build.
set -euo pipefail
HACK="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HACK")"
# shellcheck source=versions.sh
. "$HACK/versions.sh"
IMAGES="$AIRKUBE_CACHE/images"
LOG_DIR="$AIRKUBE_CACHE/logs"
mkdir -p "$IMAGES" "$LOG_DIR"
# One builder at a time (two checkouts may build the same image at once).
exec 9>"$IMAGES/.lock"
flock 9

die() { echo "images: $*" >&2; exit 1; }

PAUSE_REF=registry.k8s.io/pause:3.10
BUSYBOX_REF=docker.io/library/busybox:1.36
PYTHON_REF=docker.io/library/python:3.11-slim
OPERATOR_REF="ghcr.io/airkube/operator:$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ROOT/charts/airkube/Chart.yaml")"
# What goes into the python image (and so into the operator's base).
PYTHON_PACKAGES=python3,python3-venv,python3-pip,ca-certificates,tzdata
DEBIAN_SUITE=bookworm

bah() {
  buildah --root "$IMAGES/buildah/storage" --runroot "$IMAGES/buildah/run" --storage-driver vfs "$@"
}

need() {
  local cmd missing=()
  for cmd in "$@"; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
  ((${#missing[@]} == 0)) || die "missing ${missing[*]}: apt-get install buildah mmdebstrap busybox-static (hack/node.sh prereqs installs them)"
}

# key TEXT...: a short content hash of the inputs.
key() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

pause_key() {
  key "$(sha256sum <"$ROOT/images/pause/pause.c")" "$(gcc --version | head -1)" "$PAUSE_REF" \
    "$(declare -f build_pause scratch_image)"
}
busybox_key() {
  key "$(busybox 2>&1 | head -1)" "$(sha256sum /bin/busybox)" "$BUSYBOX_REF" \
    "$(declare -f build_busybox scratch_image)"
}
python_key() {
  key "$DEBIAN_SUITE" "$PYTHON_PACKAGES" "$PYTHON_REF" "$(declare -f build_python scratch_image)"
}
operator_key() {
  local sources
  sources="$(cd "$ROOT" && find pyproject.toml README.md images/operator operator/airkube \
    -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum)"
  key "$(python_key)" "$sources" "$OPERATOR_REF" "$(declare -f build_operator)"
}

archive() { echo "$IMAGES/$1-$("$1_key").tar"; }

# save REF ARCHIVE: write a built image as a docker archive (what `ctr import` reads),
# atomically, then drop older archives of the same image.
save() {
  local ref=$1 out=$2 name; name="$(basename "$out")"; name="${name%-*}"
  rm -f "$out.tmp"
  bah push --quiet "$ref" "docker-archive:$out.tmp:$ref" >/dev/null
  mv -f "$out.tmp" "$out"
  find "$IMAGES" -maxdepth 1 -name "$name-*.tar" ! -path "$out" -delete
}

# scratch_image REF ARCHIVE VERB SRC DEST CONFIG...: an image of one layer, SRC put at
# DEST by `buildah VERB` (copy; add unpacks a tar), configured with `buildah config
# CONFIG...`, committed and saved.
scratch_image() {
  local ref=$1 out=$2 verb=$3 src=$4 dest=$5 ctr; shift 5
  ctr="$(bah from scratch)"
  bah "$verb" "$ctr" "$src" "$dest" >/dev/null
  bah config "$@" "$ctr"
  bah commit --quiet --rm "$ctr" "$ref" >/dev/null
  save "$ref" "$out"
}

build_pause() {
  local out; out="$(archive pause)"
  [[ -f "$out" ]] && return 0
  need gcc buildah
  echo "images: building $PAUSE_REF"
  local root; root="$(mktemp -d)"
  gcc -static -Os -o "$root/pause" "$ROOT/images/pause/pause.c"
  strip "$root/pause"
  scratch_image "$PAUSE_REF" "$out" copy "$root/pause" /pause \
    --entrypoint '["/pause"]' --user 65535:65535
  rm -rf "$root"
}

build_busybox() {
  local out; out="$(archive busybox)"
  [[ -f "$out" ]] && return 0
  need busybox buildah
  echo "images: building $BUSYBOX_REF"
  local root; root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/tmp" "$root/etc"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $(busybox --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  scratch_image "$BUSYBOX_REF" "$out" copy "$root/" / --cmd sh --env PATH=/bin
  rm -rf "$root"
}

build_python() {
  local out; out="$(archive python)"
  [[ -f "$out" ]] && return 0
  need mmdebstrap buildah
  echo "images: building $PYTHON_REF (Debian $DEBIAN_SUITE: $PYTHON_PACKAGES)"
  local work; work="$(mktemp -d)"
  # The host's apt sources name the mirror (this machine reaches no other).
  local sources=(/etc/apt/sources.list.d/*.sources)
  [[ -f "${sources[0]}" ]] || sources=(/etc/apt/sources.list)
  mmdebstrap --quiet --variant=minbase --include="$PYTHON_PACKAGES" \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook='ln -sf python3 "$1/usr/bin/python"; ln -sf pip3 "$1/usr/bin/pip"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    "$DEBIAN_SUITE" "$work/rootfs.tar" "${sources[0]}" >"$LOG_DIR/image-python.log" 2>&1 ||
    die "mmdebstrap failed: $(tail -1 "$LOG_DIR/image-python.log") (log: $LOG_DIR/image-python.log)"
  scratch_image "$PYTHON_REF" "$out" add "$work/rootfs.tar" / --cmd python3 --env LANG=C.UTF-8 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  rm -rf "$work"
}

build_operator() {
  local out; out="$(archive operator)"
  [[ -f "$out" ]] && return 0
  build_python
  need buildah
  echo "images: building $OPERATOR_REF from images/operator/Dockerfile"
  # pip inside the build reaches the package index the host's pip reaches: the host's
  # CA bundle is mounted read-only for it (an egress proxy may sign with its own CA).
  local mounts=()
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] &&
    mounts+=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  bah bud --quiet --isolation chroot --network host --layers=false \
    --build-arg PYTHON_IMAGE="$PYTHON_REF" --pull=never \
    --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt "${mounts[@]}" \
    -f "$ROOT/images/operator/Dockerfile" -t "$OPERATOR_REF" "$ROOT" \
    >"$LOG_DIR/image-operator.log" 2>&1 ||
    die "building the operator image failed: $(tail -1 "$LOG_DIR/image-operator.log") (log: $LOG_DIR/image-operator.log)"
  save "$OPERATOR_REF" "$out"
}

case "${1:-}" in
  build)
    shift
    steps=("$@"); ((${#steps[@]})) || steps=(pause busybox python operator)
    for step in "${steps[@]}"; do
      case "$step" in
        pause|busybox|python|operator) t0=$SECONDS; "build_$step"
          ((SECONDS - t0 < 2)) || echo "images: $step built in $((SECONDS - t0))s" ;;
        *) die "unknown image '$step': choose from pause, busybox, python, operator" ;;
      esac
    done ;;
  archives) for i in pause busybox python operator; do archive "$i"; done ;;
  refs) echo "$PAUSE_REF $BUSYBOX_REF $PYTHON_REF $OPERATOR_REF" ;;
  *) die "usage: hack/images.sh build [pause|busybox|python|operator ...] | archives | refs" ;;
esac
