"""Drives a WatchCache server with the official Kubernetes Python client and prints what it saw as
JSON: a LIST, a watch with bookmarks from the list's resourceVersion, and a 410 for a version that
has left the history window. Usage: python_client_check.py http://127.0.0.1:PORT"""
import json
import sys
import threading
import time

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

host = sys.argv[1]
configuration = client.Configuration()
configuration.host = host
api_client = client.ApiClient(configuration)
core = client.CoreV1Api(api_client)
result = {}


def pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx"}]}}


core.create_namespaced_pod("default", pod("py-0"))
listed = core.list_namespaced_pod("default")
result["list"] = [p.metadata.name for p in listed.items]
first_version = listed.metadata.resource_version


def write_later():
    time.sleep(0.5)
    core.create_namespaced_pod("default", pod("py-1"))
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}})  # moves the global version


threading.Thread(target=write_later).start()
seen = []
w = watch.Watch()
for event in w.stream(core.list_namespaced_pod, "default", resource_version=first_version,
                      allow_watch_bookmarks=True, timeout_seconds=5):
    if event["type"] == "BOOKMARK":
        seen.append(["BOOKMARK", event["raw_object"]["metadata"]["resourceVersion"]])
    else:
        seen.append([event["type"], event["object"].metadata.name])
result["watch"] = seen

# Push the first version out of the (small) history window, then resume from it.
for i in range(8):
    core.create_namespaced_pod("default", pod("filler-%d" % i))
try:
    for event in watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=first_version, timeout_seconds=3):
        pass
    result["expired"] = None
except ApiException as error:
    result["expired"] = {"status": error.status, "reason": error.reason}

print(json.dumps(result))
