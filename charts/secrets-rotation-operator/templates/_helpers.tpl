{{/*
Names, labels and the few derived values every template shares. Each fact is
computed here once; templates include it.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "sro.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every resource name: fullnameOverride, or "<release>-<name>", or just
the release name when it already contains the chart name. 63 characters at most
(DNS label).
*/}}
{{- define "sro.fullname" -}}
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

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "sro.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object the chart makes. */}}
{{- define "sro.labels" -}}
helm.sh/chart: {{ include "sro.chart" . }}
{{ include "sro.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The labels that select the operator pods; never change them (Deployment selectors are immutable). */}}
{{- define "sro.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "sro.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sro.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false: name the existing ServiceAccount the operator runs as" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: by digest when one is set, else by tag (default: the chart's appVersion). */}}
{{- define "sro.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Lease the replicas elect a leader with. */}}
{{- define "sro.leaseName" -}}
{{- default (include "sro.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
AWS partition and DNS suffix of aws.region: ARNs and the queue URL depend on them
(aws-cn and aws-us-gov regions differ from the commercial ones).
*/}}
{{- define "sro.partition" -}}
{{- if hasPrefix "cn-" .Values.aws.region }}aws-cn
{{- else if hasPrefix "us-gov-" .Values.aws.region }}aws-us-gov
{{- else }}aws
{{- end }}
{{- end }}

{{- define "sro.dnsSuffix" -}}
{{- if eq (include "sro.partition" .) "aws-cn" }}amazonaws.com.cn{{ else }}amazonaws.com{{ end }}
{{- end }}

{{/*
Names and ARNs of the prerequisites (prerequisites.create). They are deterministic,
so the chart wires them together at render time: the queue policy names the rule,
the rule targets the queue, the operator gets the queue URL.
*/}}
{{- define "sro.queueName" -}}
{{- default (include "sro.fullname" .) .Values.prerequisites.queueName }}
{{- end }}

{{- define "sro.deadLetterQueueName" -}}
{{- printf "%s-dlq" (include "sro.queueName" .) }}
{{- end }}

{{- define "sro.ruleName" -}}
{{- include "sro.queueName" . }}
{{- end }}

{{- define "sro.queueArn" -}}
{{- printf "arn:%s:sqs:%s:%s:%s" (include "sro.partition" .) .Values.aws.region .Values.prerequisites.accountId (include "sro.queueName" .) }}
{{- end }}

{{- define "sro.deadLetterQueueArn" -}}
{{- printf "arn:%s:sqs:%s:%s:%s" (include "sro.partition" .) .Values.aws.region .Values.prerequisites.accountId (include "sro.deadLetterQueueName" .) }}
{{- end }}

{{/* A rule on the default event bus. */}}
{{- define "sro.ruleArn" -}}
{{- printf "arn:%s:events:%s:%s:rule/%s" (include "sro.partition" .) .Values.aws.region .Values.prerequisites.accountId (include "sro.ruleName" .) }}
{{- end }}

{{- define "sro.iamRoleName" -}}
{{- default (include "sro.fullname" .) .Values.prerequisites.iamRole.name }}
{{- end }}

{{- define "sro.iamRoleArn" -}}
{{- printf "arn:%s:iam::%s:role/%s" (include "sro.partition" .) .Values.prerequisites.accountId (include "sro.iamRoleName" .) }}
{{- end }}

{{/* True ("true") when the chart makes the operator's IAM role, i.e. the ACK iam objects are rendered. */}}
{{- define "sro.createsIamRole" -}}
{{- if and .Values.prerequisites.create .Values.prerequisites.iamRole.create }}true{{ end }}
{{- end }}

{{/*
SQS_QUEUE_URL: sqs.queueUrl, or the URL of the queue prerequisites.create makes.
SQS builds a queue URL from region, account and name only, so it is known before
the queue exists; reading it back from the ACK Queue's status would need an ACK
FieldExport, a ConfigMap and a pod that waits for both.
*/}}
{{- define "sro.queueUrl" -}}
{{- if .Values.prerequisites.create }}
{{- printf "https://sqs.%s.%s/%s/%s" .Values.aws.region (include "sro.dnsSuffix" .) .Values.prerequisites.accountId (include "sro.queueName" .) }}
{{- else }}
{{- .Values.sqs.queueUrl }}
{{- end }}
{{- end }}

{{/* The IRSA role of the ServiceAccount: serviceAccount.roleArn, or the role the chart makes with trust irsa. */}}
{{- define "sro.irsaRoleArn" -}}
{{- if .Values.serviceAccount.roleArn }}
{{- .Values.serviceAccount.roleArn }}
{{- else if and (include "sro.createsIamRole" .) (eq .Values.prerequisites.iamRole.trust "irsa") }}
{{- include "sro.iamRoleArn" . }}
{{- end }}
{{- end }}

{{/* Annotations that tell the ACK controllers where a resource lives and what to do on deletion. */}}
{{- define "sro.ackAnnotations" -}}
services.k8s.aws/region: {{ .Values.aws.region | quote }}
services.k8s.aws/deletion-policy: {{ .Values.prerequisites.deletionPolicy | quote }}
{{- end }}

{{/*
Encryption of both queues: the KMS key of prerequisites.kmsMasterKeyId, or SSE-SQS,
which EventBridge can write to without a key policy.
*/}}
{{- define "sro.queueEncryption" -}}
{{- with .Values.prerequisites.kmsMasterKeyId -}}
kmsMasterKeyID: {{ . | quote }}
{{- else -}}
sqsManagedSSEEnabled: "true"
{{- end }}
{{- end }}

{{/* ACK tag lists ([{key, value}]) from prerequisites.tags, for the Rule and the IAM objects. */}}
{{- define "sro.ackTagList" -}}
{{- range $key, $value := .Values.prerequisites.tags }}
- key: {{ $key | quote }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{/*
Rules between values that values.schema.json cannot express. Included by the
Deployment, so any render of the chart checks them; each message names the values
to change.
*/}}
{{- define "sro.validateValues" -}}
{{- range $key, $_ := .Values.commonLabels }}
  {{- if or (hasPrefix "app.kubernetes.io/" $key) (eq $key "helm.sh/chart") }}
    {{- fail (printf "commonLabels may not set %s: the chart sets it (selectors and tools rely on it)" $key) }}
  {{- end }}
{{- end }}
{{- $prereq := .Values.prerequisites }}
{{- if $prereq.create }}
  {{- if .Values.sqs.queueUrl }}
    {{- fail "set sqs.queueUrl or prerequisites.create, not both: with prerequisites.create the operator uses the queue the chart creates" }}
  {{- end }}
  {{- if not $prereq.accountId }}
    {{- fail "prerequisites.accountId is required with prerequisites.create: the queue URL and the ARNs are built from it" }}
  {{- end }}
  {{- if not .Values.aws.region }}
    {{- fail "aws.region is required with prerequisites.create: the region the queues and the rule are created in" }}
  {{- end }}
{{- else }}
  {{- if not .Values.sqs.queueUrl }}
    {{- fail "sqs.queueUrl is required: the URL of the SQS queue the EventBridge rule delivers to (or set prerequisites.create=true to create the queue with ACK)" }}
  {{- end }}
  {{- if $prereq.iamRole.create }}
    {{- fail "prerequisites.iamRole.create needs prerequisites.create: the role's policy names the queue the chart creates" }}
  {{- end }}
{{- end }}
{{- if include "sro.createsIamRole" . }}
  {{- if and (eq $prereq.iamRole.trust "irsa") (not $prereq.iamRole.oidcIssuer) }}
    {{- fail "prerequisites.iamRole.oidcIssuer is required with trust irsa: the cluster's OIDC issuer without https:// (aws eks describe-cluster --query cluster.identity.oidc.issuer)" }}
  {{- end }}
  {{- if .Values.serviceAccount.roleArn }}
    {{- fail "set serviceAccount.roleArn or prerequisites.iamRole.create, not both: the chart annotates the ServiceAccount with the role it creates" }}
  {{- end }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
  {{- fail "replicaCount > 1 needs leaderElection.enabled: without a leader every replica would restart the workloads of every event" }}
{{- end }}
{{- if ge (int .Values.leaderElection.renewDeadlineSeconds) (int .Values.leaderElection.leaseDurationSeconds) }}
  {{- fail "leaderElection.renewDeadlineSeconds must be less than leaderElection.leaseDurationSeconds" }}
{{- end }}
{{- if ge (int .Values.leaderElection.retryPeriodSeconds) (int .Values.leaderElection.renewDeadlineSeconds) }}
  {{- fail "leaderElection.retryPeriodSeconds must be less than leaderElection.renewDeadlineSeconds" }}
{{- end }}
{{- if and .Values.leaderElection.enabled (gt (add (int .Values.leaderElection.renewDeadlineSeconds) (int .Values.kubeRequestTimeoutSeconds)) (int .Values.leaderElection.leaseDurationSeconds)) }}
  {{- fail "leaderElection.leaseDurationSeconds must be at least leaderElection.renewDeadlineSeconds + kubeRequestTimeoutSeconds: a write sent just before the renew deadline could still be in flight when another replica takes over" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.service.enabled) }}
  {{- fail "serviceMonitor.enabled needs service.enabled: the ServiceMonitor scrapes the metrics Service" }}
{{- end }}
{{- end }}

{{/*
Admission policies (admissionPolicies.*): ValidatingAdmissionPolicy is served as
admissionregistration.k8s.io/v1 from Kubernetes 1.30. A policy that is asked for
and cannot be installed fails the render instead of silently not being there.
The cluster's discovery names the kind; `helm template` knows no kinds (only
group/versions), so the Kubernetes version decides there (Helm's default, or
--kube-version). Called with (list $ "<the value that asked for it>").
*/}}
{{- define "sro.requireAdmissionPolicies" -}}
{{- $root := index . 0 }}
{{- $served := $root.Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy" }}
{{- if not (or $served (semverCompare ">=1.30.0-0" $root.Capabilities.KubeVersion.Version)) }}
{{- fail (printf "%s needs ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes 1.30 or later), which this cluster does not serve: upgrade the cluster or set %s=false" (index . 1) (index . 1)) }}
{{- end }}
{{- end }}

{{- define "sro.restartOnlyPolicyName" -}}
{{- printf "%s-restart-only" (include "sro.fullname" .) }}
{{- end }}

{{/* With watchNamespaces: the ClusterRole (and binding) that lets the operator read ClusterSecretStores, which are cluster-scoped. */}}
{{- define "sro.clusterSecretStoresRoleName" -}}
{{- printf "%s-clustersecretstores" (include "sro.fullname" .) }}
{{- end }}

{{- define "sro.secretPrefixesPolicyName" -}}
{{- printf "%s-secret-prefixes" (include "sro.fullname" .) }}
{{- end }}

{{/*
The pod-template annotations a restart writes (operator/src/workloads/workload.ts;
operator/test/unit/chartDefaults.test.ts holds this copy to it), as a YAML list.
*/}}
{{- define "sro.restartAnnotations" -}}
- awssecretsoperator.secretoperator/restartedAt
- awssecretsoperator.secretoperator/secret-versions
{{- end }}

{{/*
The workloads the operator restarts, as admission rules: the objects and their
subresources, every operation (RBAC grants only patch; the policy refuses the rest
even if someone grants more). A kind the operator learns to restart is one more
rule here; the policy's CEL already knows how Argo Rollouts' Rollout is restarted
(rule: apiGroups argoproj.io, resources rollouts and rollouts/*, when argoRollouts.enabled).
*/}}
{{- define "sro.restartableResourceRules" -}}
- apiGroups: ["apps"]
  apiVersions: ["*"]
  resources: ["deployments", "deployments/*", "statefulsets", "statefulsets/*", "daemonsets", "daemonsets/*"]
  operations: ["CREATE", "UPDATE", "DELETE"]
{{- if .Values.argoRollouts.enabled }}
- apiGroups: ["argoproj.io"]
  apiVersions: ["*"]
  resources: ["rollouts", "rollouts/*"]
  operations: ["CREATE", "UPDATE", "DELETE"]
{{- end }}
{{- end }}

{{/* The ExternalSecret annotation whose change makes ESO sync at once, whatever its refreshInterval (ESO's own name; the operator's patch sets it to a timestamp). */}}
{{- define "sro.esoForceSyncAnnotation" -}}
force-sync
{{- end }}

{{/* The annotation on an ExternalSecret or SecretProviderClass that records its rollout (operator/src/core/names.ts SOURCE_ROLLOUT_ANNOTATION). */}}
{{- define "sro.sourceRolloutAnnotation" -}}
awssecretsoperator.secretoperator/rollout
{{- end }}

{{/* The Namespace annotation that lists the secret name prefixes a namespace may map (operator/src/names.ts). */}}
{{- define "sro.allowedSecretPrefixesAnnotation" -}}
awssecretsoperator.secretoperator/allowed-secret-prefixes
{{- end }}
