"""Writes to a WatchCache server with the official Kubernetes Python client the way controllers and
scripts do: strategic merge patches (the client's default for a dict body) of one container of a
multi-container pod and deployment, the scale and status subresources. Prints what the server
kept, as JSON. Usage: python_patch_check.py http://127.0.0.1:PORT"""
import json
import sys

from kubernetes import client

configuration = client.Configuration()
configuration.host = sys.argv[1]
api_client = client.ApiClient(configuration)
core = client.CoreV1Api(api_client)
apps = client.AppsV1Api(api_client)
result = {}

containers = [
    {"name": "web", "image": "nginx:1.26", "ports": [{"containerPort": 80, "name": "http"}],
     "env": [{"name": "A", "value": "1"}]},
    {"name": "side", "image": "busybox:1.36", "command": ["sleep", "3600"]},
]
core.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "multi"},
                                       "spec": {"containers": containers}})
core.patch_namespaced_pod("multi", "default", {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})
pod = api_client.sanitize_for_serialization(core.read_namespaced_pod("multi", "default"))
result["pod"] = pod["spec"]["containers"]

core.patch_namespaced_pod_status("multi", "default", {"status": {"phase": "Running", "podIP": "10.1.2.3"}})
status = core.read_namespaced_pod_status("multi", "default")
result["podStatus"] = {"phase": status.status.phase, "podIP": status.status.pod_ip, "qosClass": status.status.qos_class}

apps.create_namespaced_deployment("default", {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "multi"},
    "spec": {"selector": {"matchLabels": {"app": "multi"}},
             "template": {"metadata": {"labels": {"app": "multi"}}, "spec": {"containers": containers}}}})
apps.patch_namespaced_deployment("multi", "default", {"spec": {"template": {"spec": {"containers": [
    {"name": "side", "env": [{"name": "MODE", "value": "fast"}]}]}}}})
deployment = api_client.sanitize_for_serialization(apps.read_namespaced_deployment("multi", "default"))
result["deployment"] = deployment["spec"]["template"]["spec"]["containers"]
result["generation"] = deployment["metadata"]["generation"]

apps.patch_namespaced_deployment_scale("multi", "default", {"spec": {"replicas": 4}})
scale = apps.read_namespaced_deployment_scale("multi", "default")
result["scale"] = {"replicas": scale.spec.replicas, "selector": scale.status.selector}

print(json.dumps(result))
