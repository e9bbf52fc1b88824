#!/usr/bin/env bash
# The main job, end to end: bring up the local cluster, install airkube with Helm,
# apply the example DAGs of dags/, run dags/etl.yaml and watch its tasks live until it
# finishes, then print how to look around. Run it with `make demo`; it exits non-zero
# when the run does not succeed.
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
DAG=etl
mkdir -p "$DEMO"

step() { printf '\n== %s\n' "$*"; }
k() { kubectl --context "$CONTEXT" -n "$NS" "$@"; }

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

step "The example DAGs: kubectl apply -f dags/"
kubectl --context "$CONTEXT" get namespace "$NS" >/dev/null 2>&1 ||
  kubectl --context "$CONTEXT" create namespace "$NS" >/dev/null
k apply -f "$ROOT/dags/"
k wait --for=condition=Ready dags --all --timeout=30s >/dev/null
k get dags
echo "(daily-report has a schedule with catchup over a past window: its three runs start on their own)"

step "airkube trigger $DAG, and its tasks live: kubectl get dagrun RUN -w -o go-template=..."
run="$("$AIRKUBE" trigger "$DAG" -n "$NS" --context "$CONTEXT" | sed -E 's|dagrun.airkube.io/([^ ]+) .*|\1|')"
echo "run: $run"
# The watch prints a line each time the run changes: its state, its progress and each
# task's state, in the DAG's order. The loop lays them out as a table, drops repeated
# lines and stops at the run's final state; `timeout` is the deadline.
read -r -a names <<<"$(k get dag "$DAG" -o jsonpath='{.spec.tasks[*].name}')"
template='{{with .status}}{{or .state "Queued"}} {{or .progress "-"}}'
for t in "${names[@]}"; do
  template+=" {{with .tasks}}{{with index . \"$t\"}}{{.state}}{{else}}None{{end}}{{else}}None{{end}}"
done
template+='{{else}}Queued -'
for _ in "${names[@]}"; do template+=' None'; done
template+='{{end}}{{"\n"}}'
row() { printf '%-10s %-9s' "$1" "$2"; shift 2; printf ' %-15s' "$@"; printf '\n'; }
row STATE PROGRESS "${names[@]}"
previous=""
while read -r -a fields; do
  line="$(row "${fields[@]}")"
  [[ "$line" == "$previous" ]] || echo "$line"
  previous="$line"
  case "${fields[0]}" in Succeeded | Failed | Cancelled) break ;; esac
done < <(timeout 60 kubectl --context "$CONTEXT" -n "$NS" get dagrun "$run" -w -o go-template="$template")
kill "$!" 2>/dev/null || true
state="$(k get dagrun "$run" -o jsonpath='{.status.state}')"

step "The finished run: kubectl get dagrun $run"
k get dagrun "$run"
echo
template='{{printf "%-10s %-10s %-4s %s\n" "TASK" "STATE" "TRY" "OUTPUT (what it wrote to /dev/termination-log)"}}'
for t in "${names[@]}"; do
  template+="{{with index .status.tasks \"$t\"}}{{printf \"%-10s %-10s %-4v %s\\n\" \"$t\" .state .tryNumber (or .output \"\")}}{{end}}"
done
k get dagrun "$run" -o go-template="$template"
k describe dagrun "$run" | sed -n '/^Events:/,$p'

step "airkube history $DAG (from the metadata database)"
"$AIRKUBE" history "$DAG" -n "$NS" --db-url "sqlite:///$DEMO/airkube.db" --context "$CONTEXT"

[[ "$state" == Succeeded ]] || { echo "demo: the run ended ${state:-unfinished} (operator log: $log)" >&2; exit 1; }

step "Next steps"
cat <<EOF
demo: $run succeeded. The cluster keeps running (make cluster-down stops it); the
operator stopped with this script.

Once, in your shell:
  eval "\$(hack/cluster.sh env)"         # the local cluster's kubectl and helm first on PATH
  export PATH="\$PWD/.venv/bin:\$PATH"    # airkube, and kubectl-airkube for \`kubectl airkube\`
  export AIRKUBE_DB_URL=sqlite:///$DEMO/airkube.db
  kubectl config use-context $CONTEXT
  kubectl config set-context --current --namespace $NS

Runs move only while an operator runs: start one in another terminal (same shell setup):
  airkube run

Look around with kubectl:
  kubectl get airkube                     # every DAG and DAGRun
  kubectl get dags                        # Ready, schedule, next and last run
  kubectl get dagruns -w                  # state, progress, start, duration
  kubectl describe dagrun $run
  kubectl get pods -l airkube.io/run=RUN  # one pod per task try; a succeeded run's are deleted
  kubectl explain dag.spec.tasks          # every field, documented

And with the airkube plugin:
  kubectl airkube get $run                # the run as a tree of tasks
  kubectl airkube history $DAG
  kubectl airkube trigger retries         # fails on purpose: see dags/retries.yaml
  kubectl airkube get RUN                 # RUN: the name trigger printed
  kubectl airkube logs RUN fetch-primary --try 1   # a failed run keeps its pods (podGC)
  kubectl airkube clear RUN --failed      # that run's failed tasks, run again
EOF
