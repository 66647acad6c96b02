{{/* Names, labels and the pieces every Tidal pod shares. */}}

{{- define "tidal.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name: RELEASE-tidal, or RELEASE when it already says tidal. */}}
{{- define "tidal.fullname" -}}
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

{{- define "tidal.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object, less the selector labels. */}}
{{- define "tidal.commonLabels" -}}
helm.sh/chart: {{ include "tidal.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tidal
tidal.dev/size: {{ .Values.size }}
{{- end -}}

{{/* All the labels of one part: (list $ "studio"). */}}
{{- define "tidal.labels" -}}
{{ include "tidal.commonLabels" (index . 0) }}
{{ include "tidal.selectorLabels" . }}
{{- end -}}

{{/* Selector labels of one part: (list $ "studio"). */}}
{{- define "tidal.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "tidal.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "tidal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tidal.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tidal.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "tidal.rayImage" -}}
{{- if .Values.ray.image.repository -}}
{{- printf "%s:%s" .Values.ray.image.repository (default .Chart.AppVersion .Values.ray.image.tag) -}}
{{- else -}}
{{- include "tidal.image" . -}}
{{- end -}}
{{- end -}}

{{/* Secret names. */}}
{{- define "tidal.postgresql.secretName" -}}
{{- default (printf "%s-postgresql" (include "tidal.fullname" .)) .Values.postgresql.existingSecret -}}
{{- end -}}
{{- define "tidal.postgresql.host" -}}
{{- printf "%s-postgresql" (include "tidal.fullname" .) -}}
{{- end -}}
{{- define "tidal.objectStorage.secretName" -}}
{{- if .Values.objectStorage.enabled -}}
{{- default (printf "%s-object-storage" (include "tidal.fullname" .)) .Values.objectStorage.existingSecret -}}
{{- else -}}
{{- .Values.objectStorage.external.existingSecret -}}
{{- end -}}
{{- end -}}
{{- define "tidal.objectStorage.host" -}}
{{- printf "%s-object-storage" (include "tidal.fullname" .) -}}
{{- end -}}
{{- define "tidal.objectStorage.endpoint" -}}
{{- if .Values.objectStorage.enabled -}}
{{- printf "http://%s:%d" (include "tidal.objectStorage.host" .) (int .Values.objectStorage.port) -}}
{{- else -}}
{{- .Values.objectStorage.external.endpoint -}}
{{- end -}}
{{- end -}}
{{- define "tidal.studio.tokenSecretName" -}}
{{- default (printf "%s-studio-token" (include "tidal.fullname" .)) .Values.studio.token.existingSecret -}}
{{- end -}}
{{- define "tidal.serving.tokenSecretName" -}}
{{- default (printf "%s-serving-token" (include "tidal.fullname" .)) .Values.serving.token.existingSecret -}}
{{- end -}}
{{- define "tidal.ray.headService" -}}
{{- printf "%s-ray-head-svc" (include "tidal.fullname" .) -}}
{{- end -}}

{{/*
A generated secret value that survives upgrades: the value already stored in the Secret when
the cluster has it, else the given value, else a random one. (list $ SECRET-NAME KEY GIVEN LENGTH)
*/}}
{{- define "tidal.secretValue" -}}
{{- $root := index . 0 -}}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace (index . 1) -}}
{{- if and $existing (hasKey $existing.data (index . 2)) -}}
{{- index $existing.data (index . 2) | b64dec -}}
{{- else if index . 3 -}}
{{- index . 3 -}}
{{- else -}}
{{- randAlphaNum (int (index . 4)) -}}
{{- end -}}
{{- end -}}

{{/*
The environment that points Tidal at its stores: TIDAL_DB (PostgreSQL), TIDAL_ARTIFACTS and the
S3 settings. The database password stays in its Secret; TIDAL_DB takes it through Kubernetes'
$(VAR) expansion.
*/}}
{{- define "tidal.storeEnv" -}}
{{- if .Values.postgresql.enabled -}}
- name: TIDAL_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "tidal.postgresql.secretName" . }}
      key: password
- name: TIDAL_DB
  value: {{ printf "postgresql://%s:$(TIDAL_DB_PASSWORD)@%s:%d/%s" .Values.postgresql.username (include "tidal.postgresql.host" .) (int .Values.postgresql.port) .Values.postgresql.database | quote }}
{{- else -}}
- name: TIDAL_DB
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.external.urlSecret }}
      key: {{ .Values.postgresql.external.urlKey }}
{{- end }}
- name: TIDAL_ARTIFACTS
  value: {{ printf "s3://%s/%s" .Values.objectStorage.bucket .Values.objectStorage.prefix | trimSuffix "/" | quote }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "tidal.objectStorage.secretName" . }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "tidal.objectStorage.secretName" . }}
      key: AWS_SECRET_ACCESS_KEY
- name: AWS_DEFAULT_REGION
  value: {{ .Values.objectStorage.region | quote }}
{{- with (include "tidal.objectStorage.endpoint" .) }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by Tidal's pods. */}}
{{- define "tidal.podCommon" -}}
serviceAccountName: {{ include "tidal.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Built-in defaults overlaid key by key with the given sections: (list DEFAULTS OVERRIDE...). */}}
{{- define "tidal.overlay" -}}
{{- $out := dict -}}
{{- range $layer := . -}}
{{- range $key, $value := ($layer | default dict) -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* A Kubernetes quantity as `tidal deploy` writes it: 8 -> "8", 150.5 -> "150500m". */}}
{{- define "tidal.quantity" -}}
{{- $value := float64 . -}}
{{- if eq $value (float64 (int64 $value)) -}}
{{- int64 $value -}}
{{- else -}}
{{- printf "%dm" (int64 (mulf $value 1000)) -}}
{{- end -}}
{{- end -}}
