{{/* Names and labels shared by every object of the release. */}}

{{- define "trainyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "trainyard.fullname" -}}
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

{{- define "trainyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trainyard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "trainyard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "trainyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "trainyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "trainyard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the pod reads its tokens from. */}}
{{- define "trainyard.secretName" -}}
{{- default (include "trainyard.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
The secrets: each Secret key, the value it is made from, and the
environment variable trainyard reads it from. The Secret and the
Deployment both range over this list, so that they cannot disagree.
*/}}
{{- define "trainyard.secretKeys" -}}
- key: gitlab-token
  value: gitlabToken
  env: TRAINYARD_GITLAB_TOKEN
- key: gitlab-webhook-secret
  value: gitlabWebhookSecret
  env: TRAINYARD_GITLAB_WEBHOOK_SECRET
- key: github-token
  value: githubToken
  env: TRAINYARD_GITHUB_TOKEN
- key: github-private-key
  value: githubPrivateKey
  env: TRAINYARD_GITHUB_PRIVATE_KEY
- key: github-webhook-secret
  value: githubWebhookSecret
  env: TRAINYARD_GITHUB_WEBHOOK_SECRET
- key: api-token
  value: apiToken
  env: TRAINYARD_API_TOKEN
- key: redis-password
  value: redisPassword
  env: TRAINYARD_REDIS_PASSWORD
{{- end }}

{{/* trainyard.yaml: the values' config, with the settings the pod fixes. */}}
{{- define "trainyard.config" -}}
{{- if or (hasKey .Values.config "listen") (hasKey .Values.config "data_dir") }}
{{- fail "config.listen and config.data_dir are set by the chart to match the pod: set containerPort instead" }}
{{- end }}
{{- $fixed := dict "listen" (printf "0.0.0.0:%d" (int .Values.containerPort)) "data_dir" "/var/lib/trainyard" }}
{{- toYaml (mergeOverwrite (deepCopy .Values.config) $fixed) }}
{{- end }}
