{{- define "airkube.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "airkube.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the RBAC objects that are cluster-scoped or live outside the release namespace:
prefixed with the release namespace so that equally named releases in two namespaces
do not collide.
*/}}
{{- define "airkube.rbacName" -}}
{{- printf "%s-%s" .Release.Namespace (include "airkube.fullname" .) }}
{{- end }}

{{- define "airkube.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "airkube.selectorLabels" -}}
app.kubernetes.io/name: {{ include "airkube.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "airkube.labels" -}}
helm.sh/chart: {{ include "airkube.chart" . }}
{{ include "airkube.selectorLabels" . }}
app.kubernetes.io/version: {{ include "airkube.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: airkube
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "airkube.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "airkube.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "airkube.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "airkube.sqliteClaimName" -}}
{{- $p := .Values.database.sqlite.persistence }}
{{- default (printf "%s-data" (include "airkube.fullname" .)) $p.existingClaim }}
{{- end }}

{{- define "airkube.dbSecretName" -}}
{{- $pg := .Values.database.postgresql }}
{{- default (printf "%s-db" (include "airkube.fullname" .)) $pg.existingSecret }}
{{- end }}

{{- define "airkube.dbSecretKey" -}}
{{- $pg := .Values.database.postgresql }}
{{- if $pg.existingSecret }}{{ $pg.existingSecretKey }}{{ else }}url{{ end }}
{{- end }}

{{/*
"true" when the replicas peer (kopf peering), else "". peering.enabled auto: with PostgreSQL.
*/}}
{{- define "airkube.peering" -}}
{{- $enabled := .Values.peering.enabled }}
{{- if eq (toString $enabled) "auto" }}
{{- if eq .Values.database.type "postgresql" }}true{{ end }}
{{- else if $enabled }}true{{ end }}
{{- end }}

{{/* The ClusterKopfPeering object the replicas share (cluster-scoped: namespace-prefixed). */}}
{{- define "airkube.peeringName" -}}
{{- include "airkube.rbacName" . }}
{{- end }}

{{/* Settings that cannot be expressed in values.schema.json. */}}
{{- define "airkube.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (eq .Values.database.type "sqlite") }}
{{- fail "replicaCount > 1 needs database.type=postgresql: a SQLite file can have only one writer" }}
{{- end }}
{{- if and (eq (toString .Values.peering.enabled) "true") (eq .Values.database.type "sqlite") }}
{{- fail "peering.enabled=true needs database.type=postgresql: peering replicas share one database, and a SQLite file cannot be shared" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "airkube.peering" .)) }}
{{- fail "replicaCount > 1 needs peering (peering.enabled auto or true): without it every replica would act at once" }}
{{- end }}
{{- $pg := .Values.database.postgresql }}
{{- if and (eq .Values.database.type "postgresql") (not (or $pg.url $pg.existingSecret)) }}
{{- fail "database.type=postgresql needs database.postgresql.url or database.postgresql.existingSecret" }}
{{- end }}
{{- if and (eq .Values.database.type "postgresql") $pg.url $pg.existingSecret }}
{{- fail "set only one of database.postgresql.url and database.postgresql.existingSecret" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled: the ServiceMonitor scrapes the metrics Service" }}
{{- end }}
{{- end }}

{{/*
Peering (cluster-scoped, so in the ClusterRole whatever watchNamespaces says): kopf lists
and watches the whole kind (a watch cannot be narrowed to one name), and patches its
keep-alive into the release's object only; the operator reads that object at start.
*/}}
{{- define "airkube.peeringRules" -}}
- apiGroups: ["kopf.dev"]
  resources: ["clusterkopfpeerings"]
  verbs: ["list", "watch"]
- apiGroups: ["kopf.dev"]
  resources: ["clusterkopfpeerings"]
  resourceNames: [{{ include "airkube.peeringName" . | quote }}]
  verbs: ["get", "patch"]
{{- end }}

{{/* Rules for the airkube resources and the pods of their tasks, in one namespace or all. */}}
{{- define "airkube.workloadRules" -}}
- apiGroups: ["airkube.io"]
  resources: ["dags", "dagruns"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["airkube.io"]
  resources: ["dags/status", "dagruns/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "delete"]
# Task logs are read from a try's pod when it ends, before pod GC (taskLogs).
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.callbackSecrets }}
# Callbacks read a webhook's URL or headers from a Secret (urlFrom, valueFrom).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
{{- end }}
