{{/*
The chart's name, overridable with nameOverride.
*/}}
{{- define "netfence.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A fully qualified name for the release's objects. A release named "netfence" (or anything
containing it) is used as is, so `helm install netfence ...` gives objects named "netfence".
*/}}
{{- define "netfence.fullname" -}}
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
chart-name-version, as the helm.sh/chart label wants it.
*/}}
{{- define "netfence.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The labels that select the controller's pods; they never change across upgrades.
*/}}
{{- define "netfence.selectorLabels" -}}
app.kubernetes.io/name: {{ include "netfence.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The standard labels on every object of the release.
*/}}
{{- define "netfence.labels" -}}
helm.sh/chart: {{ include "netfence.chart" . }}
{{ include "netfence.selectorLabels" . }}
app.kubernetes.io/version: {{ (default .Chart.AppVersion .Values.image.tag) | quote }}
app.kubernetes.io/part-of: netfence
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The controller's service account.
*/}}
{{- define "netfence.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller" (include "netfence.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The container image, tag defaulting to the chart's appVersion.
*/}}
{{- define "netfence.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The console's service account.
*/}}
{{- define "netfence.consoleServiceAccountName" -}}
{{- if .Values.console.serviceAccount.create }}
{{- default (printf "%s-console" (include "netfence.fullname" .)) .Values.console.serviceAccount.name }}
{{- else }}
{{- required "console.serviceAccount.name is required when console.serviceAccount.create is false" .Values.console.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Secure session cookies: asked for, or implied by TLS at the Ingress.
*/}}
{{- define "netfence.consoleSecureCookies" -}}
{{- if or .Values.console.secureCookies (and .Values.console.ingress.enabled .Values.console.ingress.tls) }}true{{- end }}
{{- end }}
