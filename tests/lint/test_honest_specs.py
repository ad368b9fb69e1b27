"""Honest specs: every field of Argo's Workflow schema is honoured, a no-op here, or rejected.

The walk visits each field of each schema definition reachable from Workflow (through fields
that are honoured: a rejected or no-op field's subtree goes with it) and checks that it is
- in HONOURED, with the test that proves argosy honours it, and lint accepts it; or
- in NO_OP, with why doing nothing is what Argo's semantics give on this machine; or
- rejected by lint with a message saying it is not supported here and why.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from argosy.registry import default_registry
from argosy.spec.lint import API_VERSION, lint
from tests.lint.schema import (
    REPO,
    ROOT,
    SCHEMA,
    load_schema,
    properties,
    reachable,
    short_names,
)

pytestmark = pytest.mark.skipif(not SCHEMA.is_file(), reason=f"no Argo schema at {SCHEMA}")

SEM = "tests/engine/test_semantics.py::"
LINT = "tests/lint/test_lint.py::"
REFS = "tests/lint/test_refs.py::"
ENV = "tests/cli/test_config_maps.py::test_env_from_config_maps_and_secrets"
SYNC = "tests/engine/test_sync.py::"
MUTEX = SYNC + "test_nodes_of_one_workflow_take_a_template_mutex_in_arrival_order"
METRICS = "tests/engine/test_metrics.py::test_metrics_are_kept_and_exposed"
CSET = "tests/plugins/test_container_set.py::"
CONTAINER = "tests/plugins/test_container.py::"
POD = "tests/plugins/test_pod.py::"
DAEMON = POD + "test_daemon_step_serves_the_next_steps_and_ends_with_its_scope"
SIDECAR = POD + "test_sidecar_shares_the_pods_network_and_tmp_and_ends_with_main"
HTTP_PROBE = POD + "test_http_probe_asks_the_given_host_path_and_headers"
PROBE_SETTINGS = POD + "test_probe_waits_its_initial_delay_and_needs_its_success_threshold"
VERBS = "tests/cli/test_verbs.py::"
SERVER = "tests/server/test_workflows.py::"
LOOPS = "tests/engine/test_loops.py::"
RESOURCE = "tests/kube/test_resource.py::"
VOLUMES = "tests/hostile/test_volumes.py::test_each_volume_kind"
OBJECT_VOLUMES = "tests/cli/test_config_maps.py::test_config_map_and_secret_volumes"
TTL = "tests/conformance/test_argo_lifecycle.py::test_gc_ttl_deletes_the_workflow_after_success"
#: A field that only holds others, each classified in its turn.
HOLDER = "holds fields classified one by one"


def example(name: str) -> str:
    """Argo's own example, run by the conformance suite to its expected phase."""
    return f"tests/conformance/test_argo_examples.py::test_example[{name}]"


#: "Definition.field" -> the test (node id) that shows argosy honours it.
HONOURED: dict[str, str] = {
    "Workflow.apiVersion": LINT + "test_unknown_api_version",
    "Workflow.kind": LINT + "test_not_a_workflow",
    "Workflow.metadata": HOLDER,
    "Workflow.spec": HOLDER,
    "ObjectMeta.name": SERVER + "test_create_runs_to_succeeded_and_get_shows_argo_status",
    "ObjectMeta.generateName": SEM + "test_apply_overrides_generate_name_replaces_name",
    "ObjectMeta.namespace": SERVER + "test_generate_name_and_namespace_from_the_path",
    "ObjectMeta.labels": SERVER + "test_list_label_selector_limit_continue_and_fields",
    "ObjectMeta.annotations": SEM + "test_workflow_hooks_and_metadata",
    "WorkflowSpec.templates": HOLDER,
    "WorkflowSpec.activeDeadlineSeconds": SEM + "test_workflow_deadline_fails_the_workflow",
    "WorkflowSpec.arguments": HOLDER,
    "WorkflowSpec.entrypoint": "tests/cli/test_run.py::test_parameters_entrypoint_and_yaml_output",
    "WorkflowSpec.hooks": SEM + "test_workflow_hooks_and_metadata",
    "WorkflowSpec.metrics": "tests/server/test_workflows.py::test_custom_metrics_of_workflows",
    "WorkflowSpec.onExit": VERBS + "test_stop_runs_the_exit_handler_and_terminate_does_not",
    "WorkflowSpec.parallelism": SEM + "test_spec_parallelism_counts_pods_only",
    "WorkflowSpec.priority": SYNC + "test_mutex_queue_orders_by_priority_then_creation",
    "WorkflowSpec.retryStrategy": SEM + "test_workflow_retry_strategy_is_the_default_of_every"
                                  "_template",
    "WorkflowSpec.shutdown": VERBS + "test_stop_runs_the_exit_handler_and_terminate_does_not",
    "WorkflowSpec.suspend": VERBS + "test_suspend_keeps_new_nodes_from_starting",
    "WorkflowSpec.synchronization": example("synchronization-mutex-wf-level.yaml"),
    "WorkflowSpec.templateDefaults": SEM + "test_template_defaults_lie_under_each_templates_own"
                                     "_fields",
    "WorkflowSpec.ttlStrategy": TTL,
    "WorkflowSpec.workflowMetadata": example("label-value-from-workflow.yaml"),
    "WorkflowMetadata.annotations": example("label-value-from-workflow.yaml"),
    "WorkflowMetadata.labels": example("label-value-from-workflow.yaml"),
    "WorkflowMetadata.labelsFrom": example("label-value-from-workflow.yaml"),
    "LabelValueFrom.expression": example("label-value-from-workflow.yaml"),
    "TTLStrategy.secondsAfterCompletion": TTL,
    "TTLStrategy.secondsAfterFailure": TTL,
    "TTLStrategy.secondsAfterSuccess": TTL,
    "Arguments.parameters": SEM + "test_input_defaults_values_and_arguments",
    "Inputs.parameters": SEM + "test_input_defaults_values_and_arguments",
    "Outputs.parameters": SEM + "test_output_parameters_from_files",
    "Parameter.name": SEM + "test_input_defaults_values_and_arguments",
    "Parameter.value": SEM + "test_input_defaults_values_and_arguments",
    "Parameter.default": SEM + "test_input_defaults_values_and_arguments",
    "Parameter.enum": SEM + "test_workflow_argument_outside_its_enum_is_rejected",
    "Parameter.globalName": example("custom-metrics.yaml"),
    "Parameter.valueFrom": HOLDER,
    "ValueFrom.default": SEM + "test_output_default_trailing_newline_is_trimmed",
    "ValueFrom.expression": example("conditional-parameters.yaml"),
    "ValueFrom.parameter": example("fibonacci-seq-conditional-param.yaml"),
    "ValueFrom.path": SEM + "test_output_parameters_from_files",
    "ValueFrom.supplied": "tests/conformance/test_argo_lifecycle.py::"
                          "test_suspend_outputs_supplied_by_node_set",
    "LifecycleHook.arguments": SEM + "test_workflow_hooks_and_metadata",
    "LifecycleHook.expression": SEM + "test_workflow_hooks_and_metadata",
    "LifecycleHook.template": SEM + "test_workflow_hooks_and_metadata",
    "LifecycleHook.templateRef": REFS + "test_missing_references_are_named_at_their_path",
    "WorkflowStep.templateRef": REFS + "test_template_ref_copies_the_template_and_what_it_calls"
                                       "_in_its_own_scope",
    "DAGTask.templateRef": REFS + "test_template_ref_copies_the_template_and_what_it_calls_in_"
                                  "its_own_scope",
    "TemplateRef.name": REFS + "test_template_ref_copies_the_template_and_what_it_calls_in_its"
                               "_own_scope",
    "TemplateRef.template": REFS + "test_template_ref_copies_the_template_and_what_it_calls_in_"
                                   "its_own_scope",
    "TemplateRef.clusterScope": REFS + "test_a_recursive_reference_is_copied_once",
    "WorkflowSpec.workflowTemplateRef": REFS + "test_workflow_template_ref_merges_the_spec_with_"
                                               "the_workflows_arguments_first",
    "WorkflowTemplateRef.name": REFS + "test_workflow_template_ref_merges_the_spec_with_the_"
                                       "workflows_arguments_first",
    **dict.fromkeys(["Container.envFrom", "ScriptTemplate.envFrom", "ContainerNode.envFrom",
                     "EnvFromSource.configMapRef", "EnvFromSource.prefix",
                     "ConfigMapEnvSource.name", "EnvVar.valueFrom",
                     "EnvVarSource.configMapKeyRef", "EnvVarSource.secretKeyRef",
                     "SecretKeySelector.name", "SecretKeySelector.key"], ENV),
    **dict.fromkeys(["EnvFromSource.secretRef", "SecretEnvSource.name",
                     "ConfigMapEnvSource.optional", "SecretEnvSource.optional",
                     "SecretKeySelector.optional"], ENV),
    "ValueFrom.configMapKeyRef": "tests/conformance/test_config_maps.py::test_example_reads_"
                                 "the_config_map",
    "WorkflowTemplateRef.clusterScope": "tests/cli/test_templates.py::test_cluster_templates_"
                                        "are_referenced_with_cluster_scope",
    "Metrics.prometheus": METRICS,
    "Prometheus.name": METRICS,
    "Prometheus.help": METRICS,
    "Prometheus.labels": METRICS,
    "Prometheus.when": METRICS,
    "Prometheus.counter": METRICS,
    "Prometheus.gauge": "tests/engine/test_metrics.py::test_gauge_keeps_the_latest_value",
    "Prometheus.histogram": METRICS,
    "MetricLabel.key": METRICS,
    "MetricLabel.value": METRICS,
    "Counter.value": METRICS,
    "Gauge.value": "tests/engine/test_metrics.py::test_gauge_keeps_the_latest_value",
    "Histogram.value": METRICS,
    "Histogram.buckets": METRICS,
    "Synchronization.mutexes": MUTEX,
    "Synchronization.semaphores": SYNC + "test_semaphore_limit_comes_from_the_file",
    "Mutex.name": MUTEX,
    "Mutex.namespace": SYNC + "test_mutexes_are_per_namespace",
    "SemaphoreRef.configMapKeyRef": SYNC + "test_semaphore_limit_comes_from_the_file",
    "SemaphoreRef.namespace": SYNC + "test_namespaced_configmap_entry_wins",
    "ConfigMapKeySelector.name": SYNC + "test_semaphore_limit_comes_from_the_file",
    "ConfigMapKeySelector.key": SYNC + "test_semaphore_limit_comes_from_the_file",
    "Template.name": SEM + "test_input_defaults_values_and_arguments",
    "Template.inputs": HOLDER,
    "Template.outputs": HOLDER,
    "Template.container": CONTAINER + "test_argv_follows_kubernetes_command_and_args",
    "Template.script": example("scripts-python.yaml"),
    "Template.steps": "tests/engine/test_naming.py::test_steps_node_names_types_and_phases",
    "Template.dag": "tests/engine/test_naming.py::test_dag_node_names_types_and_phases",
    "Template.suspend": SEM + "test_suspend_with_duration_waits_then_succeeds",
    "Template.containerSet": CSET + "test_graph_runs_in_dependency_order_with_argos_node_shape",
    "Template.activeDeadlineSeconds": example("timeouts-step.yaml"),
    "Template.timeout": example("step-level-timeout.yaml"),
    "Template.retryStrategy": example("retry-container-to-completion.yaml"),
    "Template.parallelism": SEM + "test_template_parallelism_runs_one_at_a_time",
    "Template.failFast": SEM + "test_dag_fail_fast_false_runs_every_branch",
    "Template.memoize": "tests/cli/test_resubmit_memoized.py::"
                       "test_resubmit_memoized_reruns_only_what_did_not_succeed",
    "Template.synchronization": example("synchronization-mutex-tmpl-level.yaml"),
    "Template.daemon": DAEMON,
    "Template.sidecars": SIDECAR,
    "Template.initContainers": POD + "test_init_containers_run_in_order_before_main",
    "Container.readinessProbe": DAEMON,
    "UserContainer.name": SIDECAR,
    "Probe.httpGet": DAEMON,
    "Probe.tcpSocket": POD + "test_daemon_task_in_a_dag_meets_bare_depends_and_a_tcp_probe",
    "Probe.exec": POD + "test_exec_probe_runs_in_the_daemons_view",
    "Probe.initialDelaySeconds": PROBE_SETTINGS,
    "Probe.periodSeconds": PROBE_SETTINGS,
    "Probe.successThreshold": PROBE_SETTINGS,
    "Probe.timeoutSeconds": POD + "test_a_probe_past_its_timeout_fails_and_is_stopped",
    "ExecAction.command": POD + "test_exec_probe_runs_in_the_daemons_view",
    **{f"HTTPGetAction.{k}": HTTP_PROBE for k in ("host", "httpHeaders", "path", "port",
                                                   "scheme")},
    "v1.HTTPHeader.name": HTTP_PROBE,
    "v1.HTTPHeader.value": HTTP_PROBE,
    "TCPSocketAction.host": HTTP_PROBE,
    "TCPSocketAction.port": POD + "test_daemon_task_in_a_dag_meets_bare_depends_and_a_tcp_probe",
    "Template.metrics": METRICS,
    "Template.archiveLocation": HOLDER,
    "Memoize.key": "tests/engine/test_memo.py::test_miss_then_hit_with_argos_entry_shape",
    "Memoize.maxAge": "tests/engine/test_memo.py::test_entry_older_than_max_age_is_a_miss",
    "Memoize.cache": "tests/engine/test_memo.py::test_caches_are_isolated_by_namespace_and_name",
    "Cache.configMap": "tests/engine/test_memo.py::test_caches_are_isolated_by_namespace_and_name",
    "LocalObjectReference.name": "tests/engine/test_memo.py::"
                                 "test_caches_are_isolated_by_namespace_and_name",
    "RetryStrategy.limit": example("retry-container.yaml"),
    "RetryStrategy.retryPolicy": example("retry-on-error.yaml"),
    "RetryStrategy.expression": example("retry-conditional.yaml"),
    "RetryStrategy.backoff": example("retry-backoff.yaml"),
    "Backoff.duration": example("retry-backoff.yaml"),
    "Backoff.factor": example("retry-backoff.yaml"),
    "Backoff.cap": example("retry-backoff.yaml"),
    "Backoff.maxDuration": example("retry-backoff.yaml"),
    "SuspendTemplate.duration": SEM + "test_suspend_with_duration_waits_then_succeeds",
    "DAGTemplate.tasks": "tests/engine/test_naming.py::test_dag_node_names_types_and_phases",
    "DAGTemplate.target": SEM + "test_dag_target_runs_only_what_the_target_needs",
    "DAGTemplate.failFast": SEM + "test_dag_fail_fast_false_runs_every_branch",
    "ContinueOn.error": SEM + "test_dag_continue_on_error_lets_dependents_run",
    "ContinueOn.failed": SEM + "test_result_exit_code_and_continue_on",
    "Sequence.count": LOOPS + "test_expand_sequence",
    "Sequence.start": LOOPS + "test_expand_sequence",
    "Sequence.end": LOOPS + "test_expand_sequence",
    "Sequence.format": example("loops-sequence.yaml"),
    "Container.image": CONTAINER + "test_args_run_through_the_mapped_entrypoint",
    "Container.command": CONTAINER + "test_argv_follows_kubernetes_command_and_args",
    "Container.args": CONTAINER + "test_argv_follows_kubernetes_command_and_args",
    "Container.env": CONTAINER + "test_image_env_lies_under_the_container_env",
    "Container.workingDir": "tests/executor/test_local.py::test_working_dir",
    "EnvVar.name": CONTAINER + "test_image_env_lies_under_the_container_env",
    "EnvVar.value": CONTAINER + "test_image_env_lies_under_the_container_env",
    "ScriptTemplate.source": example("scripts-python.yaml"),
    "ContainerSetTemplate.containers": CSET + "test_sequence_of_argosay_containers",
    "ContainerSetTemplate.retryStrategy": CSET + "test_retries_count_attempts_as_argo_does",
    "ContainerSetTemplate.volumeMounts": CSET + "test_volume_mounts_outside_tmp_are_refused",
    "ContainerSetRetryStrategy.retries": CSET + "test_retries_count_attempts_as_argo_does",
    "ContainerSetRetryStrategy.duration": CSET + "test_retries_rerun_a_failed_command_in_place",
    "ContainerNode.dependencies": CSET + "test_graph_runs_in_dependency_order_with_argos_node"
                                  "_shape",
    "ContainerNode.volumeMounts": CSET + "test_volume_mounts_outside_tmp_are_refused",
    "VolumeMount.mountPath": CSET + "test_volume_mounts_outside_tmp_are_refused",
    "WorkflowSpec.volumes": VOLUMES,
    "WorkflowSpec.volumeClaimTemplates": VOLUMES,
    "WorkflowSpec.volumeClaimGC": "tests/hostile/test_volumes.py::test_volume_claim_gc",
    "VolumeClaimGC.strategy": "tests/hostile/test_volumes.py::test_volume_claim_gc",
    "Template.volumes": VOLUMES,
    "Container.volumeMounts": VOLUMES,
    "ScriptTemplate.volumeMounts": VOLUMES,
    "VolumeMount.readOnly": VOLUMES,
    "VolumeMount.subPath": VOLUMES,
    "Volume.name": VOLUMES,
    "Volume.emptyDir": VOLUMES,
    "Volume.hostPath": VOLUMES,
    "Volume.persistentVolumeClaim": VOLUMES,
    "HostPathVolumeSource.path": VOLUMES,
    "HostPathVolumeSource.type": VOLUMES,
    "PersistentVolumeClaimVolumeSource.claimName": VOLUMES,
    **{f"{kind}.{key}": OBJECT_VOLUMES for kind, keys in (
        ("Volume", ("configMap", "secret")),
        ("ConfigMapVolumeSource", ("name", "items", "defaultMode", "optional")),
        ("SecretVolumeSource", ("secretName", "items", "defaultMode", "optional")),
        ("KeyToPath", ("key", "path", "mode"))) for key in keys},
    "PersistentVolumeClaim.metadata": VOLUMES,
    "Template.resource": RESOURCE + "test_every_action",
    "ResourceTemplate.action": RESOURCE + "test_every_action",
    "ResourceTemplate.manifest": RESOURCE + "test_every_action",
    "ResourceTemplate.mergeStrategy": RESOURCE + "test_every_action",
    "ResourceTemplate.flags": RESOURCE + "test_every_action",
    "ResourceTemplate.successCondition": RESOURCE + "test_a_created_job_is_waited_for_and_read_out",
    "ResourceTemplate.failureCondition": RESOURCE + "test_the_failure_condition_fails_the_node"
                                         "_saying_which",
    "ResourceTemplate.setOwnerReference": RESOURCE + "test_set_owner_reference_ties_the_object"
                                          "_to_the_workflow",
    "ValueFrom.jsonPath": RESOURCE + "test_a_created_job_is_waited_for_and_read_out",
    "ValueFrom.jqFilter": RESOURCE + "test_a_created_job_is_waited_for_and_read_out",
}
# A script is a container with a source; a containerSet's containers, sidecars and init
# containers are containers too (a containerSet has no daemon, so nothing probes its own).
for _kind in ("ScriptTemplate", "ContainerNode", "UserContainer"):
    HONOURED |= {f"{_kind}.{k.split('.')[1]}": v for k, v in HONOURED.items()
                 if k.startswith("Container.")}
del HONOURED["ContainerNode.readinessProbe"]
_STEP: dict[str, str] = {
    "name": "tests/engine/test_naming.py::test_steps_node_names_types_and_phases",
    "template": "tests/engine/test_naming.py::test_steps_node_names_types_and_phases",
    "inline": SEM + "test_inline_templates_in_steps_and_dag",
    "arguments": SEM + "test_input_defaults_values_and_arguments",
    "when": example("coinflip.yaml"),
    "withItems": example("loops.yaml"),
    "withParam": SEM + "test_with_param_from_a_previous_result",
    "withSequence": example("loops-sequence.yaml"),
    "continueOn": SEM + "test_result_exit_code_and_continue_on",
    "onExit": example("exit-handler-dag-level.yaml"),
    "hooks": example("exit-handler-step-level.yaml"),
}
HONOURED |= {f"WorkflowStep.{k}": v for k, v in _STEP.items()}
HONOURED |= {f"DAGTask.{k}": v for k, v in _STEP.items()}
HONOURED |= {"DAGTask.depends": example("dag-enhanced-depends.yaml"),
             "DAGTask.dependencies": SEM + "test_dag_continue_on_error_lets_dependents_run"}
ARTS = "tests/artifacts/test_artifacts.py::"
_PASSING = ARTS + "test_a_file_passes_between_steps_as_a_tarball_with_its_mode"
_ARCHIVES = ARTS + "test_directories_unarchived_and_zipped"
_SOURCES = ARTS + "test_raw_and_http_inputs_with_headers"
_GIT = ARTS + "test_git_inputs_at_a_revision_a_branch_and_shallow"
_REFS = ARTS + "test_dag_from_expression_global_outputs_and_path_placeholders"
_KEYS = ARTS + "test_key_only_artifacts_and_workflow_arguments"
_GC = "tests/artifacts/test_gc.py::test_each_strategy_collects_at_its_moment"
S3 = "tests/artifacts/test_s3.py::"
_S3 = S3 + "test_explicit_s3_inputs_and_outputs_with_credentials_from_secrets"
_S3_REPO = S3 + "test_the_configured_repository_keeps_outputs_under_its_key_format"
_S3_REF = S3 + "test_artifact_repository_ref_chooses_a_config_map_key"
_LOGS = "tests/artifacts/test_archive_logs.py::test_archive_logs_in_argos_order"
CREDS = "tests/artifacts/test_credentials.py::"
_HTTP_CREDS = CREDS + "test_http_basic_oauth2_and_artifactory_credentials_from_secrets"
_CERT = CREDS + "test_http_client_certificate_from_secrets_over_tls"
_GIT_HTTP = CREDS + "test_git_over_http_with_basic_credentials_and_fetch_refspecs"
_GIT_SSH = CREDS + "test_git_over_ssh_with_a_private_key_from_a_secret"
_S3_CREDS = S3 + "test_credentials_from_secrets_are_the_ones_the_server_checks"
HONOURED |= {
    "HTTPArtifact.auth": _HTTP_CREDS, "HTTPAuth.basicAuth": _HTTP_CREDS,
    "BasicAuth.usernameSecret": _HTTP_CREDS, "BasicAuth.passwordSecret": _HTTP_CREDS,
    "HTTPAuth.oauth2": _HTTP_CREDS,
    **{f"OAuth2Auth.{k}": _HTTP_CREDS for k in ("clientIDSecret", "clientSecretSecret",
                                                "tokenURLSecret", "scopes", "endpointParams")},
    "OAuth2EndpointParam.key": _HTTP_CREDS, "OAuth2EndpointParam.value": _HTTP_CREDS,
    "HTTPAuth.clientCert": _CERT, "ClientCertAuth.clientCertSecret": _CERT,
    "ClientCertAuth.clientKeySecret": _CERT,
    "Artifact.artifactory": _HTTP_CREDS, "ArtifactoryArtifact.url": _HTTP_CREDS,
    "ArtifactoryArtifact.usernameSecret": _HTTP_CREDS,
    "ArtifactoryArtifact.passwordSecret": _HTTP_CREDS,
    "GitArtifact.usernameSecret": _GIT_HTTP, "GitArtifact.passwordSecret": _GIT_HTTP,
    "GitArtifact.fetch": _GIT_HTTP, "GitArtifact.sshPrivateKeySecret": _GIT_SSH,
    "GitArtifact.insecureIgnoreHostKey": _GIT_SSH,
    "S3Artifact.sessionTokenSecret": _S3_CREDS,
    "S3Artifact.caSecret": S3 + "test_a_ca_bundle_from_a_secret_verifies_an_https_endpoint",
}
HONOURED |= {"WorkflowSpec.archiveLogs": _LOGS, "ArtifactLocation.archiveLogs": _LOGS}
_DATA = "tests/artifacts/test_data.py::test_artifact_paths_filtered_and_looped_over"
HONOURED |= {"Template.data": _DATA, "Data.source": _DATA, "Data.transformation": _DATA,
             "DataSource.artifactPaths": _DATA, "TransformationStep.expression": _DATA,
             "ArtifactPaths.name": _DATA, "ArtifactPaths.s3": _DATA}
HONOURED |= {
    "Inputs.artifacts": _PASSING, "Outputs.artifacts": _PASSING, "Arguments.artifacts": _KEYS,
    "Artifact.name": _PASSING, "Artifact.path": _PASSING, "Artifact.from": _PASSING,
    "Artifact.mode": _PASSING, "Artifact.fromExpression": _REFS, "Artifact.globalName": _REFS,
    "Artifact.optional": ARTS + "test_a_missing_output_fails_the_node_unless_optional",
    "Artifact.subPath": ARTS + "test_sub_path_of_an_input_artifact",
    "Artifact.archive": _ARCHIVES, "ArchiveStrategy.none": _ARCHIVES,
    "ArchiveStrategy.tar": _ARCHIVES, "ArchiveStrategy.zip": _ARCHIVES,
    "TarStrategy.compressionLevel": _ARCHIVES,
    "Artifact.raw": _SOURCES, "RawArtifact.data": _SOURCES, "Artifact.http": _SOURCES,
    "HTTPArtifact.url": _SOURCES, "HTTPArtifact.headers": _SOURCES, "Header.name": _SOURCES,
    "Header.value": _SOURCES, "Artifact.s3": _KEYS, "S3Artifact.key": _KEYS,
    "Artifact.git": _GIT, "GitArtifact.repo": _GIT, "GitArtifact.revision": _GIT,
    "GitArtifact.depth": _GIT, "GitArtifact.singleBranch": _GIT, "GitArtifact.branch": _GIT,
    "GitArtifact.disableSubmodules": _GIT,
    "GitArtifact.insecureSkipTLS": _GIT,
    "WorkflowSpec.artifactGC": _GC, "Artifact.artifactGC": _GC,
    **{f"S3Artifact.{k}": _S3 for k in ("endpoint", "bucket", "region", "insecure",
                                        "accessKeySecret", "secretKeySecret")},
    "S3Artifact.useSDKCreds": _S3_REPO, "S3Artifact.createBucketIfNotPresent": _S3_REPO,
    "WorkflowSpec.artifactRepositoryRef": _S3_REF, "ArtifactRepositoryRef.configMap": _S3_REF,
    "ArtifactRepositoryRef.key": _S3_REF,
    "WorkflowLevelArtifactGC.strategy": _GC, "ArtifactGC.strategy": _GC,
}

POD = "shapes the pod a pod executor makes (kept in the manifest for one); a process has no pod"
SERVER_SET = "set by the server (as in `argo get -o yaml` output); argosy sets its own"
NO_RESTART = "only gates a long-running service's readiness; a step's process is not probed"
#: "Definition.field" -> why the local executor honours it by doing nothing.
NO_OP: dict[str, str] = {
    "Artifact.deleted": "set in a status by Argo's artifact garbage collection",
    "HTTPArtifact.saveStreamViaFile": "argosy always streams an http artifact to a file",
    **{f"{kind}.{key}": "shapes the pod Argo's garbage collection runs in; argosy deletes the "
       "artifacts itself" for kind, key in (
           ("ArtifactGC", "podMetadata"), ("ArtifactGC", "serviceAccountName"),
           ("WorkflowLevelArtifactGC", "podMetadata"),
           ("WorkflowLevelArtifactGC", "serviceAccountName"),
           ("WorkflowLevelArtifactGC", "podSpecPatch"))},
    "WorkflowLevelArtifactGC.forceFinalizerRemoval": "argosy's workflows have no finalizers: "
    "a deleted workflow is gone once its artifacts are",
    "Workflow.status": "written by the engine; a manifest's status is not read",
    **{f"ObjectMeta.{k}": SERVER_SET for k in (
        "creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp", "finalizers",
        "generation", "managedFields", "ownerReferences", "resourceVersion", "selfLink", "uid")},
    **{f"WorkflowSpec.{k}": POD for k in (
        "affinity", "automountServiceAccountToken", "dnsConfig", "dnsPolicy", "executor",
        "imagePullSecrets", "nodeSelector", "podDisruptionBudget", "podMetadata",
        "podPriorityClassName", "podResources", "podSpecPatch", "resourceClaims",
        "schedulerName", "securityContext", "tolerations")},
    "WorkflowSpec.hostNetwork": "steps use the host's network already",
    "WorkflowSpec.podGC": "there are no pods; a node's files go when its workflow ends",
    "WorkflowSpec.serviceAccountName": POD + " ({{workflow.serviceAccountName}} shows it)",
    **{f"Template.{k}": POD for k in (
        "affinity", "automountServiceAccountToken", "executor", "metadata", "nodeSelector",
        "podResources", "podSpecPatch", "priorityClassName", "resourceClaims", "schedulerName",
        "securityContext", "serviceAccountName", "tolerations")},
    "Template.annotations": "display hints for Argo's UI",
    "PersistentVolumeClaim.apiVersion": "a claim template is always a PersistentVolumeClaim",
    "PersistentVolumeClaim.kind": "a claim template is always a PersistentVolumeClaim",
    "PersistentVolumeClaim.spec": "what to provision (size, access modes, storage class): a "
                                  "directory of the host stands for it, like resources",
    "PersistentVolumeClaim.status": "written by Kubernetes; a manifest's is not read",
    "Template.pendingTimeout": "a local process is never Pending waiting for a node",
    "Outputs.exitCode": "written by the engine in a node's status; a manifest's is not read",
    "Outputs.result": "written by the engine in a node's status; a manifest's is not read",
    "Parameter.description": "documentation for people and UIs",
    "RetryStrategy.affinity": "it asks for another node on retry; there is one host",
    "ConfigMapKeySelector.optional": "honoured in env (tests/cli/test_config_maps.py); a "
                                     "missing semaphore limit fails the node either way",
    "Gauge.realtime": "the gauge is emitted when its node ends, not updated while it runs",
    "VolumeMount.name": "every mount under a containerSet's /tmp is the node's shared /tmp",
    "UserContainer.mirrorVolumeMounts": "a pod's containers share its /tmp here, the only "
                                        "volume a main container can mount",
    "Probe.failureThreshold": "a daemon stays daemoned once ready, as in Argo; failures before "
                              "only keep it waiting",
    "Probe.terminationGracePeriodSeconds": "Kubernetes takes it for liveness and startup "
                                           "probes, which are not run",
    **{f"{kind}.{k}": reason
       for kind in ("Container", "ScriptTemplate", "ContainerNode", "UserContainer")
       for k, reason in {
           "name": "a template's container is its one process here",
           "imagePullPolicy": "no image is pulled",
           "ports": "a process binds the host's ports itself",
           "readinessProbe": NO_RESTART,
           "startupProbe": NO_RESTART,
           "resizePolicy": POD,
           "resources": "requests shape scheduling on a cluster; the local executor enforces "
                        "limits where cgroups allow (hostile/test_limits)",
           "securityContext": "steps run as the engine's user; pod executors apply it",
           "stdin": "a step gets no input, as a container without stdin",
           "stdinOnce": "a step gets no input, as a container without stdin",
           "tty": "a step gets no terminal, as a container without tty",
           "terminationMessagePath": "a node's message comes from its exit status here",
           "terminationMessagePolicy": "a node's message comes from its exit status here",
       }.items() if f"{kind}.{k}" not in HONOURED},
}


@dataclass(frozen=True)
class Field:
    kind: str  # short definition name, e.g. "Template"
    name: str
    path: tuple[tuple[str, str], ...]  # (field, pattern) from the Workflow down to this field
    schema: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.kind}.{self.name}"

    @property
    def doc_path(self) -> str:
        text = ""
        for field, pattern in self.path[:-1]:
            text += ("." if text else "") + field
            text += "[0]" * pattern.count("[") + ".k" * pattern.count("{")
        return f"{text}.{self.name}" if text else self.name


@cache
def definitions() -> dict[str, Any]:
    return load_schema()


def walk() -> Iterator[Field]:
    """Every field, breadth first, with the first path that reaches its definition."""
    defs = definitions()
    short = short_names(reachable(defs))
    paths: dict[str, tuple[tuple[str, str], ...]] = {ROOT: ()}
    queue = [ROOT]
    while queue:
        name = queue.pop(0)
        # Templates are reached through spec.templates first, where lint checks them whole.
        fields = sorted(properties(defs, name), key=lambda f: f[0] != "templates")
        for field, pattern, target in fields:
            schema = defs[name]["properties"][field]
            item = Field(short[name], field, (*paths[name], (field, pattern)), schema)
            yield item
            if target is not None and target not in paths and item.key not in NO_OP \
                    and item.key in HONOURED:
                paths[target] = item.path
                queue.append(target)


def sample(schema: dict[str, Any], depth: int = 0) -> Any:
    """A set (non-empty, true) value of this schema's type."""
    defs = definitions()
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        if "properties" not in target:
            return sample(target, depth) if "items" in target else "1"
        return skeleton(target, depth + 1) or {
            next(iter(target["properties"])): sample(next(iter(target["properties"].values())),
                                                     depth + 1)}
    kind = schema.get("type")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return 1
    if kind == "array":
        return [sample(schema.get("items", {}), depth)]
    if kind == "object":
        return {"k": sample(schema["additionalProperties"], depth)
                if isinstance(schema.get("additionalProperties"), dict) else "v"}
    return "x"


def skeleton(definition: dict[str, Any], depth: int) -> dict[str, Any]:
    """The required fields of a definition (and its name), so lint looks further in."""
    if depth > 4:
        return {}
    wanted = [f for f in definition.get("properties", {})
              if f in definition.get("required", []) or f == "name"]
    return {f: sample(definition["properties"][f], depth) for f in wanted}


def document(field: Field) -> dict[str, Any]:
    """A Workflow that sets ``field`` at its path (and what lint needs to reach it)."""
    defs = definitions()
    doc: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Workflow",
                           "metadata": {"name": "w"}, "spec": {"entrypoint": "main"}}
    holder = doc
    name = ROOT
    for index, (key, pattern) in enumerate(field.path):
        prop = defs[name]["properties"][key]
        if index == len(field.path) - 1:
            holder[key] = sample(prop)
            break
        target = next(t for f, _, t in properties(defs, name) if f == key)
        child = skeleton(defs[target], 1)
        if pattern == "X":
            child = holder.setdefault(key, {}) | child | holder.get(key, {})
        value: Any = child
        for mark in reversed(pattern.replace("X", "")):
            value = [value] if mark == "[" else {"k": value} if mark == "{" else value
        holder[key] = value
        holder, name = child, target
    return doc


def rejection(field: Field) -> str | None:
    """Lint's "not supported" fault at this field, if any."""
    faults = lint(document(field), template_types=default_registry().validators())
    for fault in faults:
        if fault.path == field.doc_path and "not supported" in fault.message:
            return fault.message
    return None


@cache
def functions_of(file: str) -> set[str]:
    tree = ast.parse((REPO / file).read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_schema_field_is_honoured_a_no_op_or_rejected() -> None:
    unclassified: list[str] = []
    for field in walk():
        message = rejection(field)
        if field.key in HONOURED or field.key in NO_OP:
            assert message is None, f"{field.key} is listed as accepted, but lint says {message}"
        elif message is None:
            unclassified.append(f"{field.key} ({field.doc_path})")
    assert not unclassified, "neither honoured, a no-op nor rejected:\n" + "\n".join(unclassified)


def test_every_listed_field_is_in_the_schema_and_proven_by_an_existing_test() -> None:
    keys = {f.key for f in walk()}
    assert not (set(HONOURED) | set(NO_OP)) - keys
    assert not set(HONOURED) & set(NO_OP)
    for key, node_id in HONOURED.items():
        if node_id == HOLDER:
            continue
        file, _, name = node_id.partition("::")
        assert name.split("[")[0] in functions_of(file), f"{key}: no test {node_id}"
