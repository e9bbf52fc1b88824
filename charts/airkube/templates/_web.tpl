{{/* The web server's objects (web.yaml): its own name, labels and ServiceAccount. */}}

{{- define "airkube.webName" -}}
{{- printf "%s-web" (include "airkube.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The web pods' selector: a name of their own ("airkube-web"), so that the operator's
Deployment, whose selector is name + instance, never selects them.
*/}}
{{- define "airkube.webSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-web" (include "airkube.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: web
{{- end }}

{{- define "airkube.webLabels" -}}
helm.sh/chart: {{ include "airkube.chart" . }}
{{ include "airkube.webSelectorLabels" . }}
app.kubernetes.io/version: {{ include "airkube.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: airkube
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "airkube.webServiceAccountName" -}}
{{- if .Values.web.serviceAccount.create }}
{{- default (include "airkube.webName" .) .Values.web.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.web.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
What the web server's own ServiceAccount may do: read (never write) what it shows. The
pages read with each user's token; these reads serve what the server reads for all users
(its shared watches). Writes are made with the user's token, never with this account.
*/}}
{{- define "airkube.webReadRules" -}}
- apiGroups: ["airkube.io"]
  resources: ["dags", "dagruns"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods", "pods/log", "events"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["get", "list", "watch"]
{{- end }}
