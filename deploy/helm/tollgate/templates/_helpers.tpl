{{/* The chart's name: nameOverride or the chart's, at most 63 characters. */}}
{{- define "tollgate.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the resources: fullnameOverride; the release's name when it already contains the
chart's; else RELEASE-NAME. At most 63 characters (a DNS label). */}}
{{- define "tollgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "tollgate.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "tollgate.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of the gateway's pods, selected by the Deployment, the Service and the PDB. The
component label keeps the migration Job's pod out of the Service. */}}
{{- define "tollgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tollgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{/* Labels of every resource but the gateway's component. */}}
{{- define "tollgate.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ include "tollgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels of the gateway's resources. */}}
{{- define "tollgate.labels" -}}
{{ include "tollgate.commonLabels" . }}
app.kubernetes.io/component: gateway
{{- end -}}

{{/* The image reference: repository and tag (default: the chart's appVersion). */}}
{{- define "tollgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The Secret holding LITELLM_MASTER_KEY, DATABASE_URL and the optional keys. */}}
{{- define "tollgate.secretName" -}}
{{- .Values.secrets.name | default (include "tollgate.fullname" .) -}}
{{- end -}}

{{/* The gateway's config.yaml: values.config, else the chart's copy of deploy/config/tollgate.yaml. */}}
{{- define "tollgate.config" -}}
{{- .Values.config | default (.Files.Get "files/tollgate.yaml") -}}
{{- end -}}

{{/* Pod and container security: the image's non-root user (uid 10001), nothing writable but the
volumes. */}}
{{- define "tollgate.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "tollgate.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
{{- end -}}

{{/* The gateway's environment: every os.environ/NAME of the config. Secrets by reference, the
optional keys only when the Secret has them. */}}
{{- define "tollgate.env" -}}
- name: LITELLM_MASTER_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "tollgate.secretName" . }}
      key: LITELLM_MASTER_KEY
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "tollgate.secretName" . }}
      key: DATABASE_URL
{{- range .Values.secrets.optionalKeys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "tollgate.secretName" $ }}
      key: {{ . }}
      optional: true
{{- end }}
- name: REDIS_HOST
  value: {{ .Values.redis.host | quote }}
- name: REDIS_PORT
  value: {{ .Values.redis.port | quote }}
{{- with .Values.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}
