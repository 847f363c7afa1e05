{{/* Names ---------------------------------------------------------------------------------- */}}

{{- define "monitor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "monitor.fullname" -}}
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

{{- define "monitor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "monitor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "monitor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "monitor.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Labels --------------------------------------------------------------------------------- */}}

{{- define "monitor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "monitor.labels" -}}
helm.sh/chart: {{ include "monitor.chart" . }}
{{ include "monitor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: deploy-health-monitor
{{- end }}

{{/* Database: PostgreSQL from a Secret, or SQLite on the data volume ------------------------ */}}

{{- define "monitor.usesSqlite" -}}
{{- if not .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{- define "monitor.sqliteUrl" -}}
sqlite:////var/lib/monitor/monitor.db
{{- end }}

{{/* The monitor as people reach it: publicUrl, else the ingress' host unless the config says. */}}
{{- define "monitor.publicUrl" -}}
{{- if .Values.publicUrl }}
{{- .Values.publicUrl }}
{{- else if and .Values.ingress.enabled (not .Values.config.public_url) }}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host }}
{{- end }}
{{- end }}

{{/* Where the report-link key is mounted (a directory of one file). */}}
{{- define "monitor.reportLinkDir" -}}
/etc/monitor/report-links
{{- end }}

{{/* Rollback actions and the Kubernetes rules they need ------------------------------------- */}}

{{- define "monitor.rollbackActions" -}}
{{- $rollback := .Values.config.rollback | default dict }}
{{- toJson ($rollback.actions | default list) }}
{{- end }}

{{/* The action types present, as a JSON list. */}}
{{- define "monitor.actionTypes" -}}
{{- $types := list }}
{{- range (include "monitor.rollbackActions" . | fromJsonArray) }}
{{- $types = append $types (toString .type) }}
{{- end }}
{{- toJson ($types | uniq | sortAlpha) }}
{{- end }}

{{/* The RBAC rules (a YAML list, empty when no action needs the Kubernetes API). */}}
{{- define "monitor.rbacRules" -}}
{{- $types := include "monitor.actionTypes" . | fromJsonArray }}
{{- if has "argo-rollouts" $types }}
- apiGroups: ["argoproj.io"]
  resources: ["rollouts", "rollouts/status"]
  verbs: ["get", "patch"]
{{- end }}
{{- if has "kubernetes-deployment" $types }}
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "patch"]
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["list"]
{{- end }}
{{- if has "helm" $types }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "create", "update", "patch"]
{{- with .Values.rbac.helm.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end }}

{{/* "true" when some action needs the Kubernetes API (and so the service account's token). */}}
{{- define "monitor.needsKubernetesApi" -}}
{{- if trim (include "monitor.rbacRules" .) }}true{{ end }}
{{- end }}

{{/* Checks that fail rendering with a message saying what to set ---------------------------- */}}

{{- define "monitor.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.database.existingSecret) }}
{{- fail (printf "replicaCount is %d but the database is SQLite, which allows one replica: put a PostgreSQL URL (postgresql://user:password@host:5432/monitor) in a Secret under the key %q and set database.existingSecret to that Secret's name (database.secretKey names another key), or set replicaCount to 1" (int .Values.replicaCount) .Values.database.secretKey) }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not (or .Values.serviceMonitor.tokenSecret.name .Values.existingSecret)) (not .Values.insecureNoAuth) }}
{{- fail "serviceMonitor.enabled: /metrics needs a token with the read scope; set existingSecret (or serviceMonitor.tokenSecret.name) to the Secret holding it under serviceMonitor.tokenSecret.key, and list that token in config.tokens" }}
{{- end }}
{{- if and .Values.prometheusRule.enabled (not .Values.prometheusRule.runbookBaseUrl) }}
{{- fail "prometheusRule.enabled: set prometheusRule.runbookBaseUrl to where the repository is browsed (e.g. https://git.example.com/platform/deploy-health-monitor/blob/main), so each alert's runbook_url is an absolute link to docs/runbooks.md" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) }}
{{- fail "ingress.enabled: set ingress.host to the host name people and pipelines reach the monitor at" }}
{{- end }}
{{- if and .Values.rbac.create .Values.rbac.namespaces }}
{{- range (include "monitor.rollbackActions" . | fromJsonArray) }}
{{- $namespace := toString (.namespace | default "") }}
{{- if and (has (toString .type) (list "argo-rollouts" "kubernetes-deployment" "helm")) $namespace (not (contains "$" $namespace)) (not (has $namespace $.Values.rbac.namespaces)) }}
{{- fail (printf "rollback action %q acts in namespace %q, which rbac.namespaces does not list: add it to rbac.namespaces, or set rbac.namespaces to [] for a ClusterRole" (toString .name) $namespace) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
