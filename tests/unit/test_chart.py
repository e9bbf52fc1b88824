"""The Helm chart: it lints, renders what each configuration needs, and refuses bad values."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "airkube"
RELEASE, NAMESPACE = "ops", "airkube-system"
FULLNAME = f"{RELEASE}-airkube"
CLUSTER_NAME = f"{NAMESPACE}-{FULLNAME}"
SQLITE_URL = "sqlite:////var/lib/airkube/airkube.db"
PG_URL = "postgresql://airkube:s3cret-pw@db.example:5432/airkube"

Obj = dict[str, Any]


def pinned_helm() -> str | None:
    """helm from hack/build-tools.sh's cache, else from PATH."""
    path_dir = subprocess.run(
        ["bash", "-c", f'. "{ROOT}/hack/versions.sh"; printf %s "$AIRKUBE_PATH_DIR"'],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    built = Path(path_dir) / "helm"
    return str(built) if built.exists() else shutil.which("helm")


@pytest.fixture(scope="module")
def helm() -> str:
    found = pinned_helm()
    if found is None:
        reason = "helm is not built: run `make tools`"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def run_helm(helm: str, *args: str, values: Obj | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, *args, "--values", "-"],
        input=yaml.safe_dump(values or {}),
        capture_output=True,
        text=True,
        timeout=60,
    )


def render(helm: str, values: Obj | None = None, namespace: str = NAMESPACE) -> list[Obj]:
    proc = run_helm(helm, "template", RELEASE, str(CHART), "--namespace", namespace, values=values)
    assert proc.returncode == 0, proc.stderr
    return [o for o in yaml.safe_load_all(proc.stdout) if o]


def refused(helm: str, values: Obj) -> str:
    proc = run_helm(helm, "template", RELEASE, str(CHART), values=values)
    assert proc.returncode != 0, f"rendered although it should not:\n{proc.stdout}"
    return proc.stderr


def kinds(objs: list[Obj]) -> list[str]:
    return sorted(o["kind"] for o in objs)


def only(objs: list[Obj], kind: str, name: str | None = None) -> Obj:
    [found] = [o for o in objs if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    return found


def container(objs: list[Obj]) -> Obj:
    [c] = only(objs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return c


def env(objs: list[Obj]) -> dict[str, Obj]:
    return {e["name"]: e for e in container(objs)["env"]}


def allows(rules: list[Obj], group: str, resource: str, verb: str) -> bool:
    return any(
        group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules
    )


OPERATOR_NEEDS = [
    ("airkube.io", "dags", "watch"),
    ("airkube.io", "dagruns", "create"),
    ("airkube.io", "dagruns", "delete"),
    ("airkube.io", "dags/status", "patch"),
    ("airkube.io", "dagruns/status", "patch"),
    ("", "pods", "create"),
    ("", "pods", "delete"),
    ("", "pods", "watch"),
    ("", "pods/log", "get"),
    ("", "events", "create"),
    ("events.k8s.io", "events", "create"),
]


def allows_on(rules: list[Obj], group: str, resource: str, verb: str, name: str | None) -> bool:
    """Whether ``rules`` allow ``verb`` on the object ``name`` (None: on the whole kind, as
    list and watch need)."""
    return any(
        group in r["apiGroups"]
        and resource in r["resources"]
        and verb in r["verbs"]
        and ("resourceNames" not in r or (name is not None and name in r["resourceNames"]))
        for r in rules
    )


PG = {"database": {"type": "postgresql", "postgresql": {"url": PG_URL}}}
PEERING = ("kopf.dev", "clusterkopfpeerings")
DISCOVERY_NEEDS = [
    ("", "namespaces", "watch"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
]


def test_chart_passes_strict_lint(helm: str) -> None:
    proc = subprocess.run(
        [helm, "lint", "--strict", str(CHART)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_defaults_render_deployment_service_account_cluster_rbac_and_pvc(helm: str) -> None:
    objs = render(helm)
    assert kinds(objs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "PersistentVolumeClaim",
        "Service",
        "ServiceAccount",
    ]
    sa = only(objs, "ServiceAccount")
    assert sa["metadata"] == sa["metadata"] | {"name": FULLNAME, "namespace": NAMESPACE}

    role = only(objs, "ClusterRole")
    assert role["metadata"]["name"] == CLUSTER_NAME
    for need in OPERATOR_NEEDS + DISCOVERY_NEEDS:
        assert allows(role["rules"], *need), need
    assert not allows(role["rules"], "", "secrets", "get")
    binding = only(objs, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": CLUSTER_NAME,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}
    ]
    # The replicas elect through kopf peering, never with Leases.
    for verb in ("get", "create", "update"):
        assert not allows(role["rules"], "coordination.k8s.io", "leases", verb), verb

    pvc = only(objs, "PersistentVolumeClaim")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in pvc["spec"]  # the cluster's default class
    assert pvc["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}

    deployment = only(objs, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert spec["serviceAccountName"] == FULLNAME
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": pvc["metadata"]["name"]}
    mounts = {m["name"]: m["mountPath"] for m in container(objs)["volumeMounts"]}
    assert mounts == {"data": "/var/lib/airkube", "tmp": "/tmp"}
    assert env(objs)["AIRKUBE_DB_URL"] == {"name": "AIRKUBE_DB_URL", "value": SQLITE_URL}
    assert "AIRKUBE_NAMESPACES" not in env(objs)


def test_deployment_runs_the_pinned_image_hardened_with_a_liveness_probe(helm: str) -> None:
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    objs = render(helm)
    c = container(objs)
    assert c["image"] == f"ghcr.io/airkube/operator:{app_version}"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["ports"] == [{"name": "health", "containerPort": 8080, "protocol": "TCP"}]
    assert env(objs)["AIRKUBE_HEALTH_PORT"]["value"] == "8080"
    assert env(objs)["AIRKUBE_LOG_LEVEL"]["value"] == "INFO"
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    pod_sc = only(objs, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert pod_sc["runAsUser"] == 65532
    assert pod_sc["fsGroup"] == 65532  # the SQLite volume is writable by the operator
    assert c["resources"]["requests"]
    assert c["resources"]["limits"]["memory"]

    custom = container(render(helm, {"image": {"tag": "1.2.3"}, "healthPort": 9000}))
    assert custom["image"] == "ghcr.io/airkube/operator:1.2.3"
    assert custom["ports"][0]["containerPort"] == 9000


def test_metrics_service_reaches_the_health_port_of_the_operator_pods(helm: str) -> None:
    objs = render(helm, {"healthPort": 9000})
    service = only(objs, "Service")
    assert service["metadata"]["name"] == f"{FULLNAME}-metrics"
    assert service["metadata"]["namespace"] == NAMESPACE
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9000, "targetPort": "health", "protocol": "TCP"}
    ]
    pod_labels = only(objs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    assert selector.items() <= pod_labels.items()
    assert selector["app.kubernetes.io/component"] == "operator"
    assert [p["name"] for p in container(objs)["ports"]] == ["health"]
    assert "ServiceMonitor" not in kinds(objs)

    assert "Service" not in kinds(render(helm, {"metrics": {"enabled": False}}))


def test_service_monitor_scrapes_the_metrics_port_with_the_given_labels(helm: str) -> None:
    monitor_values = {"enabled": True, "interval": "15s", "labels": {"release": "kps"}}
    objs = render(helm, {"metrics": {"serviceMonitor": monitor_values}})
    monitor = only(objs, "ServiceMonitor")
    service = only(objs, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == NAMESPACE
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    [endpoint] = monitor["spec"]["endpoints"]
    # honorLabels: the metrics' own "namespace" label (the DAG's) is kept as it is.
    assert endpoint == {
        "port": "metrics",
        "path": "/metrics",
        "honorLabels": True,
        "interval": "15s",
    }
    timed = render(helm, {"metrics": {"serviceMonitor": {"enabled": True, "scrapeTimeout": "5s"}}})
    assert only(timed, "ServiceMonitor")["spec"]["endpoints"][0]["scrapeTimeout"] == "5s"


def test_a_service_monitor_without_the_metrics_service_is_refused(helm: str) -> None:
    err = refused(helm, {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}})
    assert "metrics.serviceMonitor.enabled needs metrics.enabled" in err


def test_every_object_carries_the_standard_labels(helm: str) -> None:
    values = {"watchNamespaces": ["team-a"], "metrics": {"serviceMonitor": {"enabled": True}}}
    for obj in render(helm, values):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "airkube", obj["kind"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"]
        assert labels["helm.sh/chart"].startswith("airkube-")


def test_postgresql_url_goes_through_a_secret_and_no_pvc_is_made(helm: str) -> None:
    objs = render(helm, {"database": {"type": "postgresql", "postgresql": {"url": PG_URL}}})
    assert "PersistentVolumeClaim" not in kinds(objs)
    secret = only(objs, "Secret")
    assert base64.b64decode(secret["data"]["url"]).decode() == PG_URL
    assert env(objs)["AIRKUBE_DB_URL"] == {
        "name": "AIRKUBE_DB_URL",
        "valueFrom": {"secretKeyRef": {"name": secret["metadata"]["name"], "key": "url"}},
    }
    deployment = only(objs, "Deployment")
    assert "s3cret-pw" not in yaml.safe_dump(deployment)
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    assert "data" not in {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]}
    # A changed URL rolls the pod.
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/db-secret" in annotations
    other = render(helm, {"database": {"type": "postgresql", "postgresql": {"url": PG_URL + "2"}}})
    other_annotations = only(other, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert other_annotations["checksum/db-secret"] != annotations["checksum/db-secret"]


def test_postgresql_existing_secret_is_referenced_and_not_created(helm: str) -> None:
    pg = {"existingSecret": "prod-db", "existingSecretKey": "dsn"}
    objs = render(helm, {"database": {"type": "postgresql", "postgresql": pg}, "replicaCount": 2})
    assert "Secret" not in kinds(objs)
    assert env(objs)["AIRKUBE_DB_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": "prod-db", "key": "dsn"}
    }
    assert only(objs, "Deployment")["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    ("persistence", "expect_class"),
    [({"storageClass": "fast"}, "fast"), ({"storageClass": "-"}, "")],
)
def test_sqlite_storage_class(helm: str, persistence: Obj, expect_class: str) -> None:
    objs = render(helm, {"database": {"sqlite": {"persistence": persistence}}})
    assert only(objs, "PersistentVolumeClaim")["spec"]["storageClassName"] == expect_class


def test_sqlite_without_persistence_uses_an_empty_dir_and_existing_claim_is_mounted(
    helm: str,
) -> None:
    objs = render(helm, {"database": {"sqlite": {"persistence": {"enabled": False}}}})
    assert "PersistentVolumeClaim" not in kinds(objs)
    volumes = {
        v["name"]: v for v in only(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["data"] == {"name": "data", "emptyDir": {}}

    objs = render(helm, {"database": {"sqlite": {"persistence": {"existingClaim": "history"}}}})
    assert "PersistentVolumeClaim" not in kinds(objs)
    volumes = {
        v["name"]: v for v in only(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "history"}


def test_watch_namespaces_get_roles_there_and_only_discovery_cluster_wide(helm: str) -> None:
    objs = render(helm, {"watchNamespaces": ["team-a", "team-b", "team-a"]})
    roles = {o["metadata"]["namespace"]: o for o in objs if o["kind"] == "Role"}
    bindings = {o["metadata"]["namespace"]: o for o in objs if o["kind"] == "RoleBinding"}
    assert set(roles) == {"team-a", "team-b"}
    assert set(bindings) == {"team-a", "team-b"}
    for ns in ("team-a", "team-b"):
        for need in OPERATOR_NEEDS:
            assert allows(roles[ns]["rules"], *need), (ns, need)
        assert bindings[ns]["roleRef"]["name"] == roles[ns]["metadata"]["name"]
        assert bindings[ns]["subjects"] == [
            {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}
        ]
    cluster_rules = only(objs, "ClusterRole")["rules"]
    for need in DISCOVERY_NEEDS:
        assert allows(cluster_rules, *need), need
    for need in OPERATOR_NEEDS:
        assert not allows(cluster_rules, *need), need
    assert env(objs)["AIRKUBE_NAMESPACES"]["value"] == "team-a,team-b"


def test_callback_secrets_grants_get_on_secrets_where_the_operator_works(helm: str) -> None:
    cluster = only(render(helm, {"callbackSecrets": True}), "ClusterRole")["rules"]
    assert allows(cluster, "", "secrets", "get")
    assert not allows(cluster, "", "secrets", "list")
    objs = render(helm, {"callbackSecrets": True, "watchNamespaces": ["team-a"]})
    assert allows(only(objs, "Role")["rules"], "", "secrets", "get")
    assert not allows(only(objs, "ClusterRole")["rules"], "", "secrets", "get")


def test_equally_named_releases_in_two_namespaces_do_not_collide(helm: str) -> None:
    def shared_names(namespace: str) -> set[tuple[str, str, str]]:
        # Objects outside the release namespace: cluster-scoped, or in a watched namespace.
        return {
            (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
            for o in render(helm, {"watchNamespaces": ["shared"]}, namespace=namespace)
            if o["metadata"].get("namespace") != namespace
        }

    first, second = shared_names("one"), shared_names("two")
    assert len(first) == 4  # ClusterRole(Binding), Role(Binding) in "shared"
    assert not first & second


def test_service_account_can_be_brought_and_rbac_binds_it(helm: str) -> None:
    objs = render(helm, {"serviceAccount": {"create": False, "name": "mine"}})
    assert "ServiceAccount" not in kinds(objs)
    assert only(objs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "mine"
    assert only(objs, "ClusterRoleBinding")["subjects"][0]["name"] == "mine"


def test_extra_env_pod_labels_and_annotations_are_added(helm: str) -> None:
    objs = render(
        helm,
        {
            "extraEnv": [{"name": "TZ", "value": "UTC"}],
            "podLabels": {"team": "data"},
            "podAnnotations": {"prometheus.io/scrape": "false"},
            "logLevel": "DEBUG",
            "workers": 16,
        },
    )
    assert env(objs)["TZ"] == {"name": "TZ", "value": "UTC"}
    assert env(objs)["AIRKUBE_LOG_LEVEL"]["value"] == "DEBUG"
    assert env(objs)["AIRKUBE_WORKERS"]["value"] == "16"
    meta = only(objs, "Deployment")["spec"]["template"]["metadata"]
    assert meta["labels"]["team"] == "data"
    assert meta["annotations"] == {"prometheus.io/scrape": "false"}


def test_postgresql_replicas_peer_through_a_cluster_kopf_peering_the_chart_makes(
    helm: str,
) -> None:
    objs = render(helm, {**PG, "replicaCount": 3})
    peering = only(objs, "ClusterKopfPeering")
    assert peering["apiVersion"] == "kopf.dev/v1"
    assert peering["metadata"]["name"] == CLUSTER_NAME  # cluster-scoped: namespace-prefixed
    assert "namespace" not in peering["metadata"]
    assert env(objs)["AIRKUBE_PEERING"]["value"] == CLUSTER_NAME
    assert env(objs)["AIRKUBE_PEERING_PRIORITY"]["value"] == "0"
    assert env(objs)["AIRKUBE_PEERING_LIFETIME"]["value"] == "15"
    assert only(objs, "Deployment")["spec"]["replicas"] == 3

    rules = only(objs, "ClusterRole")["rules"]
    # kopf lists and watches the kind; it patches (keep-alives) and reads only its object.
    for verb in ("list", "watch"):
        assert allows_on(rules, *PEERING, verb, None), verb
    for verb in ("get", "patch"):
        assert allows_on(rules, *PEERING, verb, CLUSTER_NAME), verb
        assert not allows_on(rules, *PEERING, verb, "another-operators-peering"), verb
    for verb in ("create", "update", "delete"):
        assert not allows_on(rules, *PEERING, verb, CLUSTER_NAME), verb


def test_peering_rules_are_cluster_wide_with_watch_namespaces_too(helm: str) -> None:
    objs = render(helm, {**PG, "replicaCount": 2, "watchNamespaces": ["team-a"]})
    cluster_rules = only(objs, "ClusterRole")["rules"]
    assert allows_on(cluster_rules, *PEERING, "watch", None)
    assert allows_on(cluster_rules, *PEERING, "patch", CLUSTER_NAME)
    team_role = next(
        o for o in objs if o["kind"] == "Role" and o["metadata"]["namespace"] == "team-a"
    )
    assert not allows(team_role["rules"], *PEERING, "patch")
    assert only(objs, "ClusterKopfPeering")["metadata"]["name"] == CLUSTER_NAME


def test_sqlite_does_not_peer_and_peering_values_pass_to_the_operator(helm: str) -> None:
    objs = render(helm)
    assert "ClusterKopfPeering" not in kinds(objs)
    assert "AIRKUBE_PEERING" not in env(objs)
    assert not allows(only(objs, "ClusterRole")["rules"], *PEERING, "watch")

    # auto peers with PostgreSQL even with one replica: a rolling update's new pod then
    # stands by until the old one stops, instead of working beside it.
    one = render(helm, PG)
    assert only(one, "ClusterKopfPeering")
    assert only(one, "Deployment")["spec"]["strategy"] == {"type": "RollingUpdate"}

    tuned = render(helm, {**PG, "peering": {"enabled": True, "priority": -5, "lifetime": 30}})
    assert env(tuned)["AIRKUBE_PEERING_PRIORITY"]["value"] == "-5"
    assert env(tuned)["AIRKUBE_PEERING_LIFETIME"]["value"] == "30"

    off = render(helm, {**PG, "peering": {"enabled": False}})
    assert "ClusterKopfPeering" not in kinds(off)
    assert "AIRKUBE_PEERING" not in env(off)
    assert not allows(only(off, "ClusterRole")["rules"], *PEERING, "watch")


def test_peering_of_equally_named_releases_in_two_namespaces_does_not_collide(
    helm: str,
) -> None:
    names = {
        only(render(helm, PG, namespace=ns), "ClusterKopfPeering")["metadata"]["name"]
        for ns in ("one", "two")
    }
    assert len(names) == 2


def test_several_replicas_without_peering_are_refused(helm: str) -> None:
    err = refused(helm, {**PG, "replicaCount": 2, "peering": {"enabled": False}})
    assert "replicaCount > 1 needs peering" in err


def test_peering_with_sqlite_is_refused(helm: str) -> None:
    err = refused(helm, {"peering": {"enabled": True}})
    assert "peering.enabled=true needs database.type=postgresql" in err


def test_more_than_one_replica_with_sqlite_is_refused(helm: str) -> None:
    assert "replicaCount > 1 needs database.type=postgresql" in refused(helm, {"replicaCount": 2})


def test_postgresql_without_url_or_secret_is_refused(helm: str) -> None:
    err = refused(helm, {"database": {"type": "postgresql"}})
    assert "needs database.postgresql.url or database.postgresql.existingSecret" in err


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"database": {"type": "mysql"}}, "/database/type"),
        ({"logLevel": "TRACE"}, "/logLevel"),
        ({"workers": "four"}, "/workers"),
        ({"watchNamespace": ["a"]}, "watchNamespace"),  # a typo is not silently ignored
        ({"watchNamespaces": ["Not_A_Namespace"]}, "/watchNamespaces/0"),
        ({"peering": {"enabled": "maybe"}}, "/peering/enabled"),
        ({"peering": {"lifetime": 2}}, "/peering/lifetime"),
        ({"peering": {"name": "mine"}}, "additional properties 'name'"),
        ({"metrics": {"serviceMonitor": {"interval": "30 seconds"}}}, "/interval"),
        ({"metrics": {"serviceMonitor": {"labels": {"release": 1}}}}, "/labels/release"),
        ({"metrics": {"port": 9090}}, "additional properties 'port'"),
        ({"callbackSecrets": "yes"}, "/callbackSecrets"),
    ],
)
def test_schema_rejects_bad_values_with_a_message_naming_them(
    helm: str, values: Obj, where: str
) -> None:
    err = refused(helm, values)
    assert "values don't meet the specifications of the schema" in err
    assert where in err


def test_schema_names_the_allowed_database_types(helm: str) -> None:
    err = refused(helm, {"database": {"type": "mysql"}})
    assert "'sqlite'" in err
    assert "'postgresql'" in err


def test_chart_ships_kopfs_peering_crd() -> None:
    crd = yaml.safe_load((CHART / "crds" / "kopf.dev_clusterkopfpeerings.yaml").read_text())
    assert crd["metadata"]["name"] == "clusterkopfpeerings.kopf.dev"
    assert crd["spec"]["scope"] == "Cluster"
    assert crd["spec"]["names"]["kind"] == "ClusterKopfPeering"
    [version] = crd["spec"]["versions"]
    assert version["name"] == "v1"
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["x-kubernetes-preserve-unknown-fields"] is True  # kopf's keep-alives
    assert "subresources" not in version  # kopf patches the status with the object


def test_chart_crds_are_identical_copies_of_the_generated_ones() -> None:
    generated = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    if not generated:
        pytest.skip("crds/ holds no generated CRDs yet: run `make crds`")
    shipped = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    stale = sorted(
        name for name in generated.keys() & shipped.keys() if generated[name] != shipped[name]
    )
    missing = sorted(generated.keys() - shipped.keys())
    extra = sorted(shipped.keys() - generated.keys())
    assert not missing, f"chart lacks CRDs of crds/ {missing}: run `make crds`"
    assert not extra, f"chart ships CRDs crds/ does not have {extra}: run `make crds`"
    assert not stale, f"chart CRDs differ from crds/ ({', '.join(stale)}): run `make crds`"


def test_task_logs_go_to_the_database_by_default_and_to_s3_with_a_secret(helm: str) -> None:
    default = env(render(helm))
    assert default["AIRKUBE_LOG_STORE"]["value"] == "database"
    assert default["AIRKUBE_LOG_CAP"]["value"] == "10Mi"
    assert "AIRKUBE_LOG_S3_BUCKET" not in default
    s3 = env(
        render(
            helm,
            {
                "taskLogs": {
                    "store": "s3",
                    "cap": "1Mi",
                    "s3": {
                        "bucket": "logs",
                        "prefix": "airkube/",
                        "endpoint": "http://minio.storage:9000",
                        "existingSecret": "s3-creds",
                    },
                }
            },
        )
    )
    assert s3["AIRKUBE_LOG_STORE"]["value"] == "s3"
    assert s3["AIRKUBE_LOG_CAP"]["value"] == "1Mi"
    assert s3["AIRKUBE_LOG_S3_BUCKET"]["value"] == "logs"
    assert s3["AIRKUBE_LOG_S3_PREFIX"]["value"] == "airkube/"
    assert s3["AIRKUBE_LOG_S3_ENDPOINT"]["value"] == "http://minio.storage:9000"
    assert s3["AWS_SECRET_ACCESS_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "s3-creds", "key": "AWS_SECRET_ACCESS_KEY"}
    }
    assert "taskLogs.s3.bucket is required" in refused(helm, {"taskLogs": {"store": "s3"}})
    assert "store" in refused(helm, {"taskLogs": {"store": "ftp"}})
