#!/usr/bin/env bash
# The main job, end to end: bring up the local cluster, install airkube with Helm,
# apply the example DAGs of dags/, run dags/etl.yaml and watch its tasks live until it
# finishes, then print how to look around. Run it with `make demo`; it exits non-zero
# when the run does not succeed.
#
# Everything really runs on the local cluster's real node (hack/node.sh): the operator
# is the chart's Deployment, from the image hack/images.sh built here, and each task
# is a container that prints its log and writes its output. The operator watches the
# demo namespace only, so the tests can run their own operators beside it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=versions.sh
. "$ROOT/hack/versions.sh"
export PATH="$AIRKUBE_PATH_DIR:$PATH"
AIRKUBE="$ROOT/.venv/bin/airkube"
CONTEXT="kwok-${AIRKUBE_CLUSTER_NAME:-airkube}"
NS=demo
DAG=etl

step() { printf '\n== %s\n' "$*"; }
k() { kubectl --context "$CONTEXT" -n "$NS" "$@"; }

step "Local cluster"
"$ROOT/hack/cluster.sh" up

step "The images, built here from Debian packages and imported into the real node"
"$ROOT/hack/node.sh" images
image_key="$(basename "$("$ROOT/hack/images.sh" archives | grep /operator-)" .tar)"

step "helm install airkube (CRDs, RBAC, the operator's Deployment on the real node)"
kubectl --context "$CONTEXT" get namespace "$NS" >/dev/null 2>&1 ||
  kubectl --context "$CONTEXT" create namespace "$NS" >/dev/null
# The image's content hash as a pod annotation: a rebuilt image rolls the Deployment.
helm upgrade --install airkube "$ROOT/charts/airkube" --kube-context "$CONTEXT" \
  --namespace airkube --create-namespace --set "watchNamespaces={$NS}" \
  --set database.sqlite.persistence.enabled=false \
  --set-string "podAnnotations.airkube\.io/image=$image_key" --wait --timeout 120s
kubectl --context "$CONTEXT" get crd dags.airkube.io dagruns.airkube.io
kubectl --context "$CONTEXT" -n airkube get pods -l app.kubernetes.io/instance=airkube -o wide
op() { kubectl --context "$CONTEXT" -n airkube "$@"; }
for _ in $(seq 120); do
  op logs deploy/airkube 2>/dev/null | grep -q "airkube operator ready" && break
  sleep 0.5
done
op logs deploy/airkube | grep "airkube operator ready" ||
  { op logs deploy/airkube | tail -20; echo "demo: the operator did not start" >&2; exit 1; }

step "The example DAGs: kubectl apply -f dags/"
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
done < <(timeout 120 kubectl --context "$CONTEXT" -n "$NS" get dagrun "$run" -w -o go-template="$template")
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

# The run succeeded, so its pods are deleted (the default podGC, OnRunSuccess), each once
# its log is in the log store (the metadata database, in the operator's pod).
step "What each task printed, from the log store (its pods are gone): airkube logs $run TASK"
for t in "${names[@]}"; do
  echo "--- $t"
  op exec deploy/airkube -- airkube logs "$run" "$t" -n "$NS" || true
done

step "Every try on record: airkube tries $run"
op exec deploy/airkube -- airkube tries "$run" -n "$NS"

step "airkube history $DAG (from the metadata database, in the operator's pod)"
op exec deploy/airkube -- airkube history "$DAG" -n "$NS"

[[ "$state" == Succeeded ]] || { echo "demo: the run ended ${state:-unfinished} (operator log: $log)" >&2; exit 1; }

# The web UI, as a user opens it: `kubectl airkube ui` serves it on this machine with the
# kubeconfig's credentials; here without a browser, its page of the run read and checked.
step "The web UI on this machine: kubectl airkube ui"
ui_dir="$(mktemp -d)"
"$AIRKUBE" ui --no-browser --context "$CONTEXT" -n "$NS" --db-url "sqlite:///$ui_dir/ui.db" \
  >"$ui_dir/out" 2>"$ui_dir/err" &
ui_pid=$!
for _ in $(seq 100); do grep -q '^airkube UI: ' "$ui_dir/out" && break; sleep 0.2; done
ui_url="$(sed -n 's/^airkube UI: //p' "$ui_dir/out")"
ui_ok=0
[[ -n "$ui_url" ]] && "$ROOT/.venv/bin/python" "$ROOT/hack/demo/ui_check.py" "$ui_url" "$NS" "$DAG" "$run" "$state" || ui_ok=$?
kill "$ui_pid" 2>/dev/null || true
wait "$ui_pid" 2>/dev/null || true
[[ -n "$ui_url" && "$ui_ok" == 0 ]] || { echo "demo: the web UI did not show $run:" >&2; cat "$ui_dir/out" "$ui_dir/err" >&2; rm -rf "$ui_dir"; exit 1; }
rm -rf "$ui_dir"

step "Next steps"
cat <<EOF
demo: $run succeeded. The cluster and the operator (namespace airkube) keep running;
make cluster-down stops both.

Once, in your shell:
  eval "\$(hack/cluster.sh env)"         # the local cluster's kubectl and helm first on PATH
  export PATH="\$PWD/.venv/bin:\$PATH"    # airkube, and kubectl-airkube for \`kubectl airkube\`
  kubectl config use-context $CONTEXT
  kubectl config set-context --current --namespace $NS

The web UI (DAGs, grid, graph, runs, tries and their logs, live; trigger, clear, mark):
  kubectl airkube ui                      # opens http://127.0.0.1:PORT/?token=… in your browser
  # then DAG $DAG → run $run; --no-browser prints the URL instead

The operator runs in the cluster and watches namespace $NS:
  kubectl -n airkube logs deploy/airkube -f

Look around with kubectl:
  kubectl get airkube                     # every DAG and DAGRun
  kubectl get dags                        # Ready, schedule, next and last run
  kubectl get dagruns -w                  # state, progress, start, duration
  kubectl describe dagrun $run
  kubectl get pods -l airkube.io/run=RUN  # one pod per task try; a succeeded run's are deleted
  kubectl explain dag.spec.tasks          # every field, documented

And with the airkube plugin:
  kubectl airkube get $run                # the run as a tree of tasks
  kubectl -n airkube exec deploy/airkube -- airkube history $DAG -n $NS
  kubectl airkube trigger retries         # fails on purpose: see dags/retries.yaml
  kubectl airkube get RUN                 # RUN: the name trigger printed
  kubectl airkube logs RUN fetch-primary --try 1   # a failed run keeps its pods (podGC)
  kubectl get pods -o wide                # every task ran on real-node-0, for real
  kubectl airkube clear RUN --failed      # that run's failed tasks, run again
EOF
