"""The Kubernetes manifests (deploy/kubernetes, kustomize): each overlay rendered by kubectl's
kustomize and validated offline against the schemas of the Kubernetes version they target
(kubernetes-validate, strict) and the Prometheus Operator's (PrometheusRule, ServiceMonitor); then
the promises the manifests make: one bridge replica that never runs twice, non-root pods on a
read-only root, probes that are `wamcp health`, no secret in a ConfigMap, every setting one wamcp
reads, the alerts of deploy/prometheus/alerts.yml."""

import json
import re
import subprocess

import pytest
import yaml

from deploy_files import (ALERTS, CONTAINERFILE, KUBERNETES, KUBERNETES_VERSION, NODE, NOT_WAMCP, OVERLAYS, VENV_BIN,
                          containerfile_stages, documents, env_names, of_kind, rendered)

CRD_CHECK = """
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { PrometheusRule, ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
const models = { PrometheusRule, ServiceMonitor };
const seen = [];
for (const doc of parseAllDocuments(readFileSync(0, "utf8"))) {
  const resource = doc.toJS();
  const Model = resource && models[resource.kind];
  if (!Model) continue;
  try { new Model(resource).validate(); seen.push({ kind: resource.kind, ok: true }); }
  catch (error) { seen.push({ kind: resource.kind, ok: false, error: error.message }); }
}
console.log(JSON.stringify(seen));
"""


def pod_templates(docs):
    return [(doc, doc["spec"]["template"]) for doc in docs if doc["kind"] in ("StatefulSet", "Deployment")]


def bridges(docs):
    return [doc for doc in of_kind(docs, "StatefulSet")
            if doc["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == "bridge"]


def env_of(container) -> dict:
    return {entry["name"]: entry for entry in container.get("env", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_passes_the_schema_of_its_kubernetes_version(overlay, tmp_path):
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(rendered(overlay))
    checked = subprocess.run([str(VENV_BIN / "kubernetes-validate"), "-k", KUBERNETES_VERSION, "--strict", str(manifest)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    built_in = [doc for doc in documents(overlay) if doc["apiVersion"] != "monitoring.coreos.com/v1"]
    assert checked.stdout.count(" passed for resource ") == len(built_in), checked.stdout

    crds = subprocess.run([str(NODE), "--input-type=module", "-e", CRD_CHECK], input=rendered(overlay),
                          capture_output=True, text=True, cwd=KUBERNETES.parents[1] / "tests" / "node")
    assert crds.returncode == 0, crds.stderr
    results = json.loads(crds.stdout)
    assert sorted(r["kind"] for r in results) == ["PrometheusRule", "ServiceMonitor"]
    assert all(r["ok"] for r in results), results


def test_the_schema_check_refuses_a_wrong_manifest(tmp_path):
    broken = re.sub(r"replicas: \d+", "replicas: one", rendered("single"), count=1)
    manifest = tmp_path / "broken.yaml"
    manifest.write_text(broken)
    checked = subprocess.run([str(VENV_BIN / "kubernetes-validate"), "-k", KUBERNETES_VERSION, "--strict", str(manifest)],
                             capture_output=True, text=True)
    assert checked.returncode != 0 and "replicas" in checked.stdout + checked.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_bridge_is_one_replica_that_never_runs_twice(overlay):
    docs = documents(overlay)
    found = bridges(docs)
    assert len(found) == {"single": 1, "ha": 2}[overlay]
    for bridge in found:
        spec = bridge["spec"]
        assert spec["replicas"] == 1, "a second replica would take the first one's WhatsApp stream"
        # A StatefulSet of one replica replaces pod 0 only once the old pod 0 is gone.
        assert spec["podManagementPolicy"] == "OrderedReady"
        assert spec["updateStrategy"]["type"] in ("RollingUpdate", "OnDelete")
        assert "maxUnavailable" not in spec["updateStrategy"].get("rollingUpdate", {})
        assert spec["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert not of_kind(docs, "HorizontalPodAutoscaler")
    assert "EXACTLY ONE REPLICA" in (KUBERNETES / "bridge" / "statefulset.yaml").read_text()
    # Each bridge's Service reaches its own pod only.
    for service in of_kind(docs, "Service"):
        selected = [b for b in found if service["spec"]["selector"].items() <= b["spec"]["template"]["metadata"]["labels"].items()]
        assert len(selected) <= 1, f"Service {service['metadata']['name']} selects several bridges"


def test_high_availability_is_two_linked_devices_on_one_desk_database():
    docs = documents("ha")
    found = bridges(docs)
    names = {b["metadata"]["name"] for b in found}
    assert names == {"wamcp-bridge-a", "wamcp-bridge-b"}
    for bridge in found:
        container = bridge["spec"]["template"]["spec"]["containers"][0]
        database = env_of(container)["WAMCP_DESK_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert database == {"name": "wamcp", "key": "desk-database-url"}, "both bridges share one desk database"
        assert "--desk" in container["args"] or container_config(docs, container).get("WAMCP_DESK") == "true"
        hosts = env_of(container)["WAMCP_ALLOW_HOSTS"]["value"].split(",")
        assert f"{bridge['metadata']['name']}:8765" in hosts, "the bridge takes requests for its own Service"
        pair = bridge["spec"]["template"]["spec"]["initContainers"][0]
        assert pair["args"][0] == "login", "each bridge is paired on its own"
    desk = of_kind(docs, "Deployment")[0]
    assert desk["spec"]["replicas"] >= 2, "desk workers scale out"
    (budget,) = of_kind(docs, "PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"] == desk["spec"]["selector"]["matchLabels"]
    assert budget["spec"]["minAvailable"] == 1 < desk["spec"]["replicas"], "a drain never takes every worker"
    assert env_of(desk["spec"]["template"]["spec"]["containers"][0])["WAMCP_DESK_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "wamcp"


def container_config(docs, container) -> dict:
    """The ConfigMap entries a container takes with envFrom."""
    maps = {m["metadata"]["name"]: m.get("data", {}) for m in of_kind(docs, "ConfigMap")}
    merged = {}
    for source in container.get("envFrom", []):
        merged.update(maps[source["configMapRef"]["name"]])
    return merged


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_as_the_image_user_without_root_capabilities_or_a_writable_root(overlay):
    user = next(rest for instruction, rest in containerfile_stages()["runtime"] if instruction == "USER")
    uid = int(user.split(":")[0])
    for owner, template in pod_templates(documents(overlay)):
        pod = template["spec"]["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == uid and pod["fsGroup"] == uid
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert template["spec"]["automountServiceAccountToken"] is False
        for container in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
            context = container["securityContext"]
            where = f"{owner['metadata']['name']}/{container['name']}"
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["runAsNonRoot"] is True, where
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert {"/data", "/tmp"} <= mounts, f"{where}: the data dir and /tmp are the only writable places"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_bridge_probes_are_wamcp_health_as_in_the_image(overlay):
    healthcheck = next(rest for instruction, rest in containerfile_stages()["runtime"] if instruction == "HEALTHCHECK")
    image_probe = json.loads(healthcheck.split("CMD", 1)[1].strip())
    for bridge in bridges(documents(overlay)):
        container = bridge["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["exec"]["command"] == image_probe == ["wamcp", "health"]
        assert container["startupProbe"]["exec"]["command"] == image_probe
        assert container["readinessProbe"]["exec"]["command"] == ["wamcp", "health", "--ready"], "ready means connected"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_is_in_a_configmap_and_every_setting_is_one_wamcp_reads(overlay):
    docs = documents(overlay)
    secretish = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|DATABASE_URL|KEY_FILE", re.I)
    for config in of_kind(docs, "ConfigMap"):
        for name, value in config.get("data", {}).items():
            assert not secretish.search(name), f"{name} belongs in the Secret, not ConfigMap {config['metadata']['name']}"
            assert not re.search(r"://[^/@\s]+:[^/@\s]+@", value), f"{name} carries a password"
    readable = env_names("serve") | env_names("desk") | env_names("health")
    for owner, template in pod_templates(docs):
        for container in template["spec"]["containers"]:
            names = set(container_config(docs, container)) | set(env_of(container))
            unknown = names - readable - NOT_WAMCP
            assert not unknown, f"{owner['metadata']['name']} sets {unknown}, which wamcp does not read"
            for name, entry in env_of(container).items():
                if secretish.search(name):
                    assert "secretKeyRef" in entry.get("valueFrom", {}), f"{name} must come from the Secret"
            for volume in template["spec"]["volumes"]:
                assert "configMap" not in volume or not secretish.search(json.dumps(volume))


def test_only_the_desk_prometheus_and_api_clients_reach_the_bridge():
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(documents("single"), "NetworkPolicy")}
    bridge = policies["wamcp-bridge"]
    assert bridge["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "bridge"
    assert set(bridge["policyTypes"]) == {"Ingress", "Egress"}
    (rule,) = bridge["ingress"]
    assert [p["port"] for p in rule["ports"]] == [8765]
    # Every peer is named: no empty selector, no address block, so nothing else gets in.
    assert all(peer.get("podSelector", {}).get("matchLabels") or peer.get("namespaceSelector", {}).get("matchLabels")
               for peer in rule["from"])
    assert {"app.kubernetes.io/name": "wamcp", "app.kubernetes.io/component": "desk"} in [
        peer.get("podSelector", {}).get("matchLabels") for peer in rule["from"]]
    desk = policies["wamcp-desk"]
    assert [p["port"] for p in desk["ingress"][0]["ports"]] == [8766]


def test_the_prometheus_rule_carries_the_alerts_of_alerts_yml_and_the_monitor_uses_the_token():
    docs = documents("single")
    (rule,) = of_kind(docs, "PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]
    (monitor,) = of_kind(docs, "ServiceMonitor")
    endpoints = {e["port"]: e for e in monitor["spec"]["endpoints"]}
    assert endpoints["api"]["path"] == "/metrics" and endpoints["http"]["path"] == "/desk/metrics"
    for endpoint in endpoints.values():
        assert endpoint["authorization"]["credentials"] == {"name": "wamcp", "key": "api-token"}
    ports = {port["name"] for service in of_kind(docs, "Service") for port in service["spec"]["ports"]}
    assert set(endpoints) <= ports
