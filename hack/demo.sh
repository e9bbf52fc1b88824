#!/usr/bin/env bash
# The main job, end to end: bring up the local cluster, install airkube with Helm, run
# the example DAG dags/diamond.yaml and watch it finish. Run it with `make demo`.
#
# kwok simulates pods, so no container really runs on the local cluster — the
# operator's own Deployment included. The chart is installed with replicaCount=0 and
# the operator runs here as a local process, authenticated as the ServiceAccount the
# chart created (so the chart's RBAC is what it gets). On a real cluster,
# `helm install` alone runs it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=versions.sh
. "$ROOT/hack/versions.sh"
export PATH="$AIRKUBE_PATH_DIR:$PATH"
AIRKUBE="$ROOT/.venv/bin/airkube"
DEMO="$AIRKUBE_CACHE/demo"
CONTEXT="kwok-${AIRKUBE_CLUSTER_NAME:-airkube}"
NS=demo
mkdir -p "$DEMO"

step() { printf '\n== %s\n' "$*"; }

step "Local cluster"
"$ROOT/hack/cluster.sh" up

step "helm install airkube (CRDs, RBAC, ServiceAccount; on kwok the Deployment is scaled to 0)"
helm upgrade --install airkube "$ROOT/charts/airkube" --kube-context "$CONTEXT" \
  --namespace airkube --create-namespace --set replicaCount=0 \
  --set database.sqlite.persistence.enabled=false --wait --timeout 60s
kubectl --context "$CONTEXT" get crd dags.airkube.io dagruns.airkube.io

step "Operator, running locally as system:serviceaccount:airkube:airkube"
kubeconfig="$DEMO/operator.kubeconfig"
kubectl config view --raw --minify --flatten --context "$CONTEXT" >"$kubeconfig"
token="$(kubectl --context "$CONTEXT" -n airkube create token airkube --duration 2h)"
kubectl --kubeconfig "$kubeconfig" config set-credentials airkube-operator --token "$token" >/dev/null
kubectl --kubeconfig "$kubeconfig" config set-context --current --user airkube-operator >/dev/null
log="$DEMO/operator.log"
: >"$log"
"$AIRKUBE" run --kubeconfig "$kubeconfig" --db-url "sqlite:///$DEMO/airkube.db" \
  --health-port 0 >"$log" 2>&1 &
operator=$!
trap 'kill $operator 2>/dev/null || true; wait $operator 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "airkube operator ready" "$log" && break
  kill -0 "$operator" 2>/dev/null || { cat "$log"; echo "demo: the operator exited" >&2; exit 1; }
  sleep 0.1
done
grep "airkube operator ready" "$log" || { echo "demo: the operator did not start (log: $log)" >&2; exit 1; }

step "The example DAG: kubectl apply -f dags/diamond.yaml"
kubectl --context "$CONTEXT" get namespace "$NS" >/dev/null 2>&1 ||
  kubectl --context "$CONTEXT" create namespace "$NS" >/dev/null
kubectl --context "$CONTEXT" -n "$NS" apply -f "$ROOT/dags/diamond.yaml"
kubectl --context "$CONTEXT" -n "$NS" wait --for=condition=Ready dag/diamond --timeout=30s
kubectl --context "$CONTEXT" -n "$NS" get dags

step "airkube trigger diamond, and watch it (kubectl get dagruns -w)"
run="$("$AIRKUBE" trigger diamond -n "$NS" --context "$CONTEXT" | sed -E 's|dagrun.airkube.io/([^ ]+) .*|\1|')"
kubectl --context "$CONTEXT" -n "$NS" get dagrun "$run" -w &
watcher=$!
state=""
for _ in $(seq 600); do
  state="$(kubectl --context "$CONTEXT" -n "$NS" get dagrun "$run" -o jsonpath='{.status.state}')"
  case "$state" in Succeeded|Failed|Cancelled) break ;; esac
  sleep 0.2
done
sleep 0.5; kill "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true

step "The finished run"
echo "POD (one per task try)  STATE  TRY  OUTPUT"
kubectl --context "$CONTEXT" -n "$NS" get dagrun "$run" \
  -o jsonpath='{range .status.tasks.*}{.podName}{"  "}{.state}{"  "}{.tryNumber}{"  "}{.output}{"\n"}{end}'
kubectl --context "$CONTEXT" -n "$NS" describe dagrun "$run" | sed -n '/^Events:/,$p'
step "airkube history diamond (from the metadata database)"
"$AIRKUBE" history diamond -n "$NS" --db-url "sqlite:///$DEMO/airkube.db" --context "$CONTEXT"

[[ "$state" == Succeeded ]] || { echo "demo: the run ended $state (operator log: $log)" >&2; exit 1; }
printf '\ndemo: %s succeeded. The cluster keeps running: make cluster-down stops it.\n' "$run"
