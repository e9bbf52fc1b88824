# Pinned versions of every tool the local cluster and the tests use, and where
# their built binaries are cached. Sourced by the other hack/ scripts and read
# by the Makefile and the test fixtures (tests/e2e/cluster.py).
# Each can be overridden through the environment (AIRKUBE_<NAME>) to try another.
KUBE_VERSION="${AIRKUBE_KUBE_VERSION:-v1.35.4}"    # kube-apiserver, -controller-manager, -scheduler, kubectl
KUBE_STAGING_VERSION="${AIRKUBE_KUBE_STAGING_VERSION:-v0.${KUBE_VERSION#v1.}}"
ETCD_VERSION="${AIRKUBE_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${AIRKUBE_KWOK_VERSION:-v0.8.0}"     # kwok and kwokctl
HELM_VERSION="${AIRKUBE_HELM_VERSION:-v3.21.4}"
# versitygw (its posix backend): the real S3-compatible server the log-store tests start.
VERSITYGW_VERSION="${AIRKUBE_VERSITYGW_VERSION:-v1.8.0}"
# Argo Workflows' workflow-controller: the baseline of `make bench` only (never built by
# `make tools`/`make test`). v4.1.4 is the newest v4.1 on the module proxy.
ARGO_VERSION="${AIRKUBE_ARGO_VERSION:-v4.1.4}"

AIRKUBE_CACHE="${AIRKUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/airkube}"
AIRKUBE_BIN="$AIRKUBE_CACHE/bin"
# Plain-named symlinks to the pinned binaries: put this on PATH to use them by hand.
AIRKUBE_PATH_DIR="$AIRKUBE_CACHE/path"
