{{/*
Names and labels shared by every template. Object names are RELEASE-stromboli[-PART], cut to
63 characters; cluster-scoped objects (ClusterRole, ClusterRoleBinding) carry the release
namespace too, so two releases of the same name in different namespaces cannot collide.
*/}}

{{- define "stromboli.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stromboli.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A namespaced object's name: fullname-PART. */}}
{{- define "stromboli.part" -}}
{{- printf "%s-%s" (include "stromboli.fullname" .root) .part | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* A cluster-scoped object's name: NAMESPACE-fullname-PART (no 63-character limit for RBAC names). */}}
{{- define "stromboli.clusterName" -}}
{{- printf "%s-%s-%s" .root.Release.Namespace (include "stromboli.fullname" .root) .part -}}
{{- end -}}

{{- define "stromboli.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "stromboli.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: stromboli
{{- end -}}

{{/* Selector labels of one component (agent or api). */}}
{{- define "stromboli.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stromboli.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "stromboli.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The facade's namespace: api.namespace, else the release namespace. */}}
{{- define "stromboli.apiNamespace" -}}
{{- default .Release.Namespace .Values.api.namespace -}}
{{- end -}}

{{- define "stromboli.agentServiceAccount" -}}
{{- include "stromboli.part" (dict "root" . "part" "agent") -}}
{{- end -}}

{{- define "stromboli.apiServiceAccount" -}}
{{- include "stromboli.part" (dict "root" . "part" "api") -}}
{{- end -}}

{{- define "stromboli.logTokenSecret" -}}
{{- default (include "stromboli.part" (dict "root" . "part" "log-token")) .Values.logToken.existingSecret -}}
{{- end -}}

{{- define "stromboli.apiAuthSecret" -}}
{{- default (include "stromboli.part" (dict "root" . "part" "api-token")) .Values.api.authSecret -}}
{{- end -}}

{{/*
A random value for a Secret the chart creates, kept across upgrades: the value already in the
cluster when there is one (lookup), a new random one otherwise (and always under helm template,
where lookup sees no cluster).
*/}}
{{- define "stromboli.keptRandom" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- randAlphaNum 48 | b64enc -}}
{{- end -}}
{{- end -}}

{{/* Values no schema can check, because they relate two keys. */}}
{{- define "stromboli.validate" -}}
{{- if and .Values.api.enabled .Values.watchNamespace (ne (include "stromboli.apiNamespace" .) .Values.watchNamespace) -}}
{{- fail (printf "api.namespace %q (default: the release namespace) is not watched by the node agents (watchNamespace %q): the facade's runs would never start; set api.namespace to %q or watchNamespace to \"\"" (include "stromboli.apiNamespace" .) .Values.watchNamespace .Values.watchNamespace) -}}
{{- end -}}
{{- end -}}
