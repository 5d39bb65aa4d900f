"""The OCI image: the Containerfile passes hadolint, its build stage runs the README's build, and
the image, built with podman (vfs storage, on a Debian base made here with debootstrap, since no
image registry is reachable) from the binary the test command built, starts for real: it runs as
user 10001 on a read-only root with no capabilities, its HEALTHCHECK and `wamcp health --ready`
answer, the API needs the token, and `serve` without a session says how to link one."""

import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import tarfile
import uuid

import pytest

from conftest import ROOT, WAMCP
from daemon import free_port
from deploy_files import CONTAINERFILE, TOOLS, VENV_BIN, containerfile_stages

README = ROOT / "README.md"
# Settings for this machine's podman only: runc (crun refuses a host whose cgroups are half v1,
# half v2), cgroupfs (no systemd), and limits the sandbox lets a container set.
PODMAN_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"""


def test_the_containerfile_passes_hadolint():
    checked = subprocess.run([str(VENV_BIN / "hadolint"), "--no-color", str(CONTAINERFILE)], capture_output=True,
                             text=True, cwd=ROOT)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def readme_build() -> str:
    section = README.read_text().split("### Build from source", 1)[1].split("\n#", 1)[0]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_build_stage_runs_the_readmes_build():
    runs = [rest for instruction, rest in containerfile_stages()["build"] if instruction == "RUN"]
    commands = [step.strip() for run in runs for step in run.split("&&")]
    readme = readme_build()
    installs = [c for c in commands if c.startswith("apt-get install")]
    (install,) = installs
    packages = [word for word in shlex.split(install)[2:] if not word.startswith("-")]
    readme_install = next(line for line in readme.splitlines() if "apt-get install" in line)
    assert packages == [w for w in shlex.split(readme_install) if w not in ("sudo", "apt-get", "install", "-y")]
    (build,) = [c for c in commands if c.startswith("cargo build")]
    assert build in readme.splitlines(), f"the README builds otherwise than the image: {build}"
    # And the test command installs what the build needs on a fresh machine.
    script = (ROOT / "scripts" / "test").read_text()
    for package in packages:
        assert re.search(rf"missing\+=\([^)]*\b{re.escape(package)}\b", script), package


def test_the_runtime_holds_ffmpeg_and_certificates_only_and_runs_serve_as_a_user():
    runtime = containerfile_stages()["runtime"]
    (run,) = [rest for instruction, rest in runtime if instruction == "RUN"]
    install = next(step for step in run.split("&&") if "apt-get install" in step)
    assert [w for w in shlex.split(install)[2:] if not w.startswith("-")] == ["ffmpeg", "ca-certificates"]
    instructions = dict(runtime)
    assert instructions["USER"] == "10001:10001"
    assert json.loads(instructions["ENTRYPOINT"]) == ["wamcp"] and json.loads(instructions["CMD"]) == ["serve"]
    assert json.loads(instructions["VOLUME"]) == ["/data"]
    assert "WAMCP_DATA_DIR=/data" in instructions["ENV"] and "WAMCP_LISTEN=0.0.0.0:8765" in instructions["ENV"]


# --- the image, built and started ------------------------------------------------------------------

class Podman:
    def __init__(self, root: pathlib.Path):
        conf = root / "containers.conf"
        conf.write_text(PODMAN_CONF)
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.base = ["podman", "--root", str(root / "storage"), "--runroot", str(root / "run"),
                     "--storage-driver", "vfs"]

    def __call__(self, *args: str, check=True, timeout=600, **kw) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True, env=self.env, timeout=timeout, **kw)
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done


def debian_base() -> pathlib.Path:
    """A minimal Debian bookworm root file system as a tarball, made once with debootstrap."""
    tarball = TOOLS / "debian-bookworm-minbase.tar"
    if not tarball.exists():
        if shutil.which("debootstrap") is None:
            pytest.fail("debootstrap not found: apt install debootstrap (./scripts/test does)")
        TOOLS.mkdir(parents=True, exist_ok=True)
        rootfs = TOOLS / "debian-rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), "http://deb.debian.org/debian"],
                       check=True, capture_output=True, timeout=900)
        partial = tarball.with_suffix(".partial")
        with tarfile.open(partial, "w") as archive:
            archive.add(rootfs, arcname=".")
        partial.rename(tarball)
        shutil.rmtree(rootfs)
    return tarball


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    if os.environ.get("WAMCP_E2E_ENCRYPTED") == "1":
        pytest.skip("the image is built and started once, in the plain pass")
    if shutil.which("podman") is None:
        pytest.fail("podman not found: apt install podman runc debootstrap (./scripts/test does)")
    root = tmp_path_factory.mktemp("podman")
    podman = Podman(root)
    base = "localhost/wamcp-test/debian:bookworm"
    with open(debian_base(), "rb") as rootfs:
        podman("import", "-", base, stdin=rootfs)
    # The binary the test command built stands in for the build stage (named `build`): the
    # machine cannot fetch the Rust image. Its debug information is stripped, as a release's is.
    context = root / "binary"
    (context / "out").mkdir(parents=True)
    subprocess.run(["strip", "-o", str(context / "out" / "wamcp"), WAMCP], check=True)
    tag = "localhost/wamcp:test"
    podman("build", "--format", "docker", "--network", "host", "--build-arg", f"RUNTIME_IMAGE={base}",
           "--build-context", f"build={context}", "-t", tag, "-f", str(CONTAINERFILE), str(ROOT), timeout=1200)
    yield podman, tag
    podman("system", "reset", "--force", check=False)


def test_the_image_is_configured_as_the_containerfile_says(image):
    podman, tag = image
    inspected = json.loads(podman("image", "inspect", tag).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["wamcp"] and config["Cmd"] == ["serve"]
    assert inspected["Healthcheck"]["Test"] == ["CMD", "wamcp", "health"], "kept by --format docker"
    assert "/data" in config["Volumes"]
    version = podman("run", "--rm", "--network", "none", "--entrypoint", "ffmpeg", tag, "-version").stdout
    assert version.startswith("ffmpeg version")


def test_serve_without_a_session_says_how_to_link_one(image):
    podman, tag = image
    done = podman("run", "--rm", "--network", "none", "--read-only", tag, check=False)
    assert done.returncode == 1
    assert "no WhatsApp session in /data: link this computer first with `wamcp login`" in done.stderr


def test_the_container_runs_read_only_as_a_user_and_answers_its_health_checks(image):
    podman, tag = image
    port = free_port()
    name = f"wamcp-{uuid.uuid4().hex[:8]}"
    podman("volume", "create", name)
    started = podman("run", "-d", "--name", name, "--network", "host", "--read-only", "--cap-drop", "all",
                     "--security-opt", "no-new-privileges", "--health-interval", "disable",
                     "-e", f"WAMCP_LISTEN=127.0.0.1:{port}", "-v", f"{name}:/data", tag, "demo")
    try:
        container = started.stdout.strip()
        from daemon import Daemon
        probe = Daemon(pathlib.Path("/nonexistent"), port=port)
        probe.wait_until(lambda: podman("exec", container, "wamcp", "health", check=False).returncode == 0,
                         "wamcp health answers in the container")
        assert podman("healthcheck", "run", container, check=False).returncode == 0, "the image's HEALTHCHECK passes"
        ready = podman("exec", container, "wamcp", "health", "--ready", check=False)
        assert ready.returncode == 0 and "connected to WhatsApp" in ready.stdout, ready.stdout + ready.stderr
        assert podman("exec", container, "id", "-u").stdout.strip() == "10001"
        assert podman("exec", container, "touch", "/usr/local/bin/x", check=False).returncode != 0, "the root is read-only"
        token = podman("exec", container, "cat", "/data/api-token").stdout.strip()
        assert probe.request("GET", "/api/health", token=None)[0] == 200
        assert probe.request("GET", "/api/ready", token=None) == (200, {"ready": True, "connection": "connected"})
        assert probe.request("GET", "/api/status", token=None)[0] == 401, "the API needs the token"
        assert probe.request("GET", "/api/status", token=token)[1]["connection"]["state"] == "connected"
        mode = podman("exec", container, "stat", "-c", "%a %u", "/data").stdout.split()
        assert mode == ["700", "10001"], "the data dir is the user's alone"
    finally:
        podman("rm", "-f", name, check=False)
        podman("volume", "rm", "-f", name, check=False)
