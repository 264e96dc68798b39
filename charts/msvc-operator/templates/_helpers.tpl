{{- define "msvc-operator.fullname" -}}
{{- printf "%s-msvc-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "msvc-operator.labels" -}}
app.kubernetes.io/name: msvc-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "msvc-operator.selectorLabels" -}}
app.kubernetes.io/name: msvc-operator
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end -}}
