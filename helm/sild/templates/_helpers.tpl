{{/*
Names and labels (the standard helpers of `helm create`).
*/}}
{{- define "sild.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sild.fullname" -}}
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

{{- define "sild.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sild.labels" -}}
helm.sh/chart: {{ include "sild.chart" . }}
{{ include "sild.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sild
{{- end }}

{{- define "sild.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sild.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sild.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sild.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sild.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Secrets: the name of the Secret an entry of .Values.secrets is read from, and
the key inside it. `existingSecret` wins; otherwise the chart creates
"<fullname>-<suffix>" from the inline value (templates/secrets.yaml).
Call with (dict "root" $ "entry" .Values.secrets.x "suffix" "x").
*/}}
{{- define "sild.secretName" -}}
{{- if .entry.existingSecret }}
{{- .entry.existingSecret }}
{{- else }}
{{- printf "%s-%s" (include "sild.fullname" .root) .suffix }}
{{- end }}
{{- end }}

{{/* The key inside the Secret; chart-made Secrets use the default key name. */}}
{{- define "sild.secretKey" -}}
{{- if .entry.existingSecret }}
{{- .entry.existingSecretKey }}
{{- else }}
{{- .default }}
{{- end }}
{{- end }}

{{/*
Refuses values that cannot run, with a message naming the value. Included by
the Deployment, so `helm template` and `helm install` both stop on it.
*/}}
{{- define "sild.validate" -}}
{{- $s := .Values.secrets }}
{{- if not (or $s.tls.existingSecret (and $s.tls.cert $s.tls.key)) }}
{{- fail "secrets.tls: set existingSecret (a kubernetes.io/tls Secret with the gateway's certificate) or, for development, cert and key" }}
{{- end }}
{{- if not (or $s.federationCa.existingSecret $s.federationCa.bundle) }}
{{- fail "secrets.federationCa: set existingSecret or bundle (the federation CA that agency certificates chain to)" }}
{{- end }}
{{- if and $s.crl.enabled (not (or $s.crl.existingSecret $s.crl.files)) }}
{{- fail "secrets.crl.enabled: set existingSecret or files (hashed CRL files <hash>.r0)" }}
{{- end }}
{{- if not (or $s.auditSigningKey.existingSecret $s.auditSigningKey.privateKey) }}
{{- fail "secrets.auditSigningKey: set existingSecret or privateKey (Ed25519 PEM): nothing is disclosed without a signed audit trail" }}
{{- end }}
{{- if not (or $s.pseudonymKey.existingSecret $s.pseudonymKey.key) }}
{{- fail "secrets.pseudonymKey: set existingSecret or key (64 hex characters)" }}
{{- end }}
{{- if not (or $s.payloadKey.existingSecret $s.payloadKey.key) }}
{{- fail "secrets.payloadKey: set existingSecret or key (openssl rand -hex 32)" }}
{{- end }}
{{- if eq .Values.store.type "postgres" }}
{{- if not (or .Values.store.postgres.existingSecret .Values.store.postgres.dsn) }}
{{- fail "store.postgres: set existingSecret (a Secret holding the libpq connection string) or, for development, dsn" }}
{{- end }}
{{- else if eq .Values.store.type "sqlite" }}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}
{{- fail "store.type sqlite serves one replica: set replicaCount 1 and autoscaling.enabled false, or use store.type postgres" }}
{{- end }}
{{- else }}
{{- fail (printf "store.type must be postgres or sqlite, not %q" .Values.store.type) }}
{{- end }}
{{- end }}

{{/* Where the probe's client certificate is mounted. */}}
{{- define "sild.probeCertDir" -}}
{{- if .Values.probes.clientCert.existingSecret }}/etc/sild/probe{{ else }}/etc/sild/tls{{ end }}
{{- end }}
