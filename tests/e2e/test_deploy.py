"""Deployment files: the systemd units of deploy/systemd (checked with systemd-analyze) and the
NixOS module, package and flake of nix/ and flake.nix (parsed and evaluated with nix-instantiate,
on the stubs of nix/tests/stubs.nix, so no nixpkgs is needed), and that the module's unit keeps
the sandbox of deploy/systemd/wamcp.service."""

import io
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import tarfile
import tomllib

import pytest

from conftest import ROOT, WAMCP

SYSTEMD = ROOT / "deploy" / "systemd"
SERVICE = SYSTEMD / "wamcp.service"
SOCKET = SYSTEMD / "wamcp.socket"
ALERT = SYSTEMD / "wamcp-alert@.service"
BACKUP = SYSTEMD / "wamcp-backup.service"
BACKUP_TIMER = SYSTEMD / "wamcp-backup.timer"
MAX_EXPOSURE = 1.5


def tool(name: str, package: str) -> str:
    """The path of a command the tests need; fails (never skips) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install {package} (apt install {package}; ./scripts/test does)")
    return path


# --- unit files -----------------------------------------------------------------------------------

def read_unit(path: pathlib.Path) -> dict[str, list[tuple[str, str]]]:
    """{section: [(key, value), ...]} in file order, as systemd reads it: comments skipped, a line
    ending in a backslash continued on the next (the backslash becomes a space)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith(("#", ";")) or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


def values(unit, section: str) -> dict[str, list[str]]:
    """{key: [value of each assignment]}."""
    found: dict[str, list[str]] = {}
    for key, value in unit.get(section, []):
        found.setdefault(key, []).append(value)
    return found


BOOLEANS = {"yes": "yes", "true": "yes", "on": "yes", "no": "no", "false": "no", "off": "no"}


def normal(assignments) -> tuple[str, ...]:
    """A setting's value, comparable between a unit file (a list of assignments) and a NixOS
    serviceConfig (a string, number, boolean or list): the words of each assignment in order, with
    booleans spelt yes/no."""
    if not isinstance(assignments, list):
        assignments = [assignments]
    words = []
    for value in assignments:
        if isinstance(value, bool):
            value = "yes" if value else "no"
        value = str(value)
        words += [BOOLEANS.get(value.lower(), value)] if value.lower() in BOOLEANS else value.split()
    return tuple(words)


def differences(unit, nixos: dict, exempt: set[str]) -> list[str]:
    """Where the NixOS unit (as evaluated: description, unitConfig, serviceConfig...) differs from
    the unit file, key by key in both directions, except the keys in `exempt`."""
    pairs = {}  # key: (unit file value, NixOS value)
    for key, assigned in values(unit, "Unit").items():
        option = {"Description": "description", "Documentation": "documentation", "Wants": "wants",
                  "After": "after", "Requires": "requires"}.get(key)
        pairs[f"Unit.{key}"] = (assigned, nixos.get(option) if option else nixos.get("unitConfig", {}).get(key))
    for key in nixos.get("unitConfig", {}):
        pairs.setdefault(f"Unit.{key}", (None, nixos["unitConfig"][key]))
    for section, option in [("Service", "serviceConfig"), ("Socket", "socketConfig")]:
        for key, assigned in values(unit, section).items():
            pairs[f"{section}.{key}"] = (assigned, nixos.get(option, {}).get(key))
        for key in nixos.get(option, {}):
            pairs.setdefault(f"{section}.{key}", (None, nixos[option][key]))
    if "Install" in unit or nixos.get("wantedBy"):
        pairs["Install.WantedBy"] = (values(unit, "Install").get("WantedBy"), nixos.get("wantedBy"))
    found = []
    for key, (in_file, in_nixos) in sorted(pairs.items()):
        if key.split(".", 1)[1] in exempt:
            continue
        if in_file is None or in_nixos is None or normal(in_file) != normal(in_nixos):
            found.append(f"{key}: unit file {in_file!r}, NixOS module {in_nixos!r}")
    return found


# Keys of wamcp.service that legitimately differ on NixOS: the binary's path, the secrets file
# (optional there), the settings (a file in the Nix store, not under /etc), the environment
# (compared on its own below).
SERVICE_EXEMPT = {"ExecStart", "EnvironmentFile", "Environment", "ConfigurationDirectory",
                  "ConfigurationDirectoryMode", "LoadCredentialEncrypted"}
# The alert's command is a `script` on NixOS (run on its own below).
ALERT_EXEMPT = {"ExecStart"}
HARDENING = {"Type", "WatchdogSec", "NotifyAccess", "Restart", "RestartPreventExitStatus", "DynamicUser",
             "User", "StateDirectory", "StateDirectoryMode", "UMask", "ProtectSystem", "ProtectHome",
             "PrivateTmp", "PrivateDevices", "PrivateUsers", "NoNewPrivileges", "CapabilityBoundingSet",
             "AmbientCapabilities", "SystemCallFilter", "SystemCallArchitectures", "MemoryDenyWriteExecute",
             "LockPersonality", "RestrictNamespaces", "RestrictAddressFamilies", "RestrictSUIDSGID",
             "RestrictRealtime", "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
             "ProtectClock", "ProtectHostname", "ProtectControlGroups", "ProtectProc", "ProcSubset"}


# --- systemd-analyze ------------------------------------------------------------------------------

def installed_copy(folder: pathlib.Path, service_text: str | None = None) -> list[str]:
    """The units in `folder`, with ExecStart= on a binary that exists (verify checks it); returns
    the names to verify: the units, the timer and the alert's instance for wamcp.service."""
    binary = WAMCP if os.access(WAMCP, os.X_OK) else "/bin/true"
    text = service_text if service_text is not None else SERVICE.read_text()
    (folder / SERVICE.name).write_text(text.replace("/usr/local/bin/wamcp", binary))
    (folder / BACKUP.name).write_text(BACKUP.read_text().replace("/usr/local/bin/wamcp", binary))
    shutil.copy(ALERT, folder / ALERT.name)
    shutil.copy(BACKUP_TIMER, folder / BACKUP_TIMER.name)
    shutil.copy(SOCKET, folder / SOCKET.name)
    return [SERVICE.name, SOCKET.name, ALERT.name, "wamcp-alert@wamcp.service.service", BACKUP.name, BACKUP_TIMER.name]


def verify(folder: pathlib.Path, names: list[str]) -> subprocess.CompletedProcess:
    # --man=no: Documentation=man:wamcp(1) names a page that is installed with the binary, not here.
    return subprocess.run([tool("systemd-analyze", "systemd"), "verify", "--man=no", *names], cwd=folder,
                          capture_output=True, text=True, timeout=120)


def test_the_units_pass_systemd_analyze_verify(tmp_path):
    names = installed_copy(tmp_path)
    result = verify(tmp_path, names)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr

    # verify reports a mistake (by a warning, with status 0), so the check above can fail.
    broken = tmp_path / "broken"
    broken.mkdir()
    verify_broken = verify(broken, installed_copy(broken, SERVICE.read_text().replace("Type=notify", "Type=notifx")))
    assert "notifx" in verify_broken.stdout + verify_broken.stderr


@pytest.mark.parametrize("unit", [SERVICE, ALERT, BACKUP], ids=lambda p: p.name)
def test_the_sandbox_keeps_the_exposure_at_most_1_5(unit):
    result = subprocess.run([tool("systemd-analyze", "systemd"), "security", "--offline=yes",
                             f"--threshold={int(MAX_EXPOSURE * 10)}", str(unit)],
                            capture_output=True, text=True, timeout=120)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    exposure = float(match.group(1))
    failing = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    assert exposure <= MAX_EXPOSURE, f"exposure {exposure} > {MAX_EXPOSURE}:\n" + "\n".join(failing)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Nix ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nix_env(tmp_path_factory):
    """nix-instantiate with its store and state in a temporary directory (it needs no /nix, no
    daemon and no build users for parsing and evaluating)."""
    home = tmp_path_factory.mktemp("nix")
    env = dict(os.environ, NIX_STORE_DIR=str(home / "store"), NIX_STATE_DIR=str(home / "state"),
               NIX_LOG_DIR=str(home / "log"), NIX_CONF_DIR=str(home / "conf"), XDG_CACHE_HOME=str(home / "cache"))
    return env


def nix_instantiate(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("nix-instantiate", "nix-bin"), "--readonly-mode", "--option", "build-users-group", "",
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_every_nix_file_parses(nix_env):
    files = [ROOT / "flake.nix", *sorted((ROOT / "nix").rglob("*.nix"))]
    names = {str(f.relative_to(ROOT)) for f in files}
    assert {"flake.nix", "nix/package.nix", "nix/module.nix", "nix/tests/stubs.nix",
            "nix/tests/eval-module.nix"} <= names
    for file in files:
        result = nix_instantiate(nix_env, "--parse", str(file))
        assert result.returncode == 0, f"{file}: {result.stderr}"


@pytest.fixture(scope="module")
def evaluated(nix_env):
    """nix/tests/eval-module.nix: the module's options and what it makes for a few configurations."""
    result = nix_instantiate(nix_env, "--eval", "--strict", "--json", "nix/tests/eval-module.nix")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_module_declares_its_options(evaluated):
    options = evaluated["options"]
    assert {"enable", "package", "enableVoiceMessages", "desk.enable", "settings", "environmentFile",
            "keyCredential", "openFirewall"} <= set(options)
    assert options["keyCredential"]["default"] is None
    assert options["enable"]["default"] is False
    assert options["openFirewall"]["default"] is False
    assert options["desk.enable"]["default"] is False
    assert options["environmentFile"]["default"] is None
    assert options["settings"]["type"] == "submodule"
    assert "ffmpeg" in options["enableVoiceMessages"]["description"]
    # Without the flake, the package is built from this checkout.
    assert options["package"]["default"].endswith("-wamcp-0.1.0")


def test_the_options_shape_the_service(evaluated):
    assert evaluated["disabled"] == {"configFile": None}, "nothing at all unless enabled"

    minimal, full = evaluated["minimal"], evaluated["full"]
    service, full_service = minimal["systemd"]["services"]["wamcp"], full["systemd"]["services"]["wamcp"]
    assert shlex.split(service["serviceConfig"]["ExecStart"])[1:] == ["serve"]
    assert service["path"] == []
    assert minimal["networking"]["firewall"].get("allowedTCPPorts", []) == []
    assert "EnvironmentFile" not in service["serviceConfig"]
    assert "LoadCredentialEncrypted" not in service["serviceConfig"], "no key, no credential to load"

    # desk.enable, extraArgs, enableVoiceMessages, openFirewall (the port of settings.listen), environmentFile.
    command = shlex.split(full_service["serviceConfig"]["ExecStart"])
    assert command[0].endswith("/bin/wamcp") and command[1:] == ["serve", "--desk", "--send-policy", "allowlist"]
    assert len(full_service["path"]) == 1 and full_service["path"][0].endswith("-ffmpeg-headless")
    assert full["networking"]["firewall"]["allowedTCPPorts"] == [9000]
    assert full_service["serviceConfig"]["EnvironmentFile"] == "/run/secrets/wamcp.env"
    assert full_service["serviceConfig"]["LoadCredentialEncrypted"] == "wamcp.key:/etc/credstore.encrypted/wamcp.key"
    # The operator gets the binary for `wamcp login`.
    assert full["environment"]["systemPackages"] == [command[0].removesuffix("/bin/wamcp")]

    # Mistakes the module points out.
    assert all(a["assertion"] for a in full["assertions"])
    assert [a["assertion"] for a in evaluated["storePathSecrets"]] == [False]
    assert full["warnings"] == []
    assert "loopback" in evaluated["loopbackFirewall"]["warnings"][0]


def test_the_settings_become_the_config_file_the_service_reads(evaluated):
    for case, expected in [
        ("minimal", {"listen": "127.0.0.1:8765"}),
        ("full", {"listen": "0.0.0.0:9000", "allowed_hosts": ["wamcp.example.com:9000"],
                  "auto_download": ["image", "voice"], "webhooks": ["https://hooks.example.com/whatsapp"],
                  "desk": {"provider": "openai", "base_url": "http://localhost:11434/v1"},
                  "kafka": {"brokers": "kafka1:9092"}}),
    ]:
        made = evaluated[case]
        environment = made["systemd"]["services"]["wamcp"]["environment"]
        assert environment["WAMCP_CONFIG"] == made["configFile"]["path"], case
        assert tomllib.loads(made["configFile"]["text"]) == expected, case
        assert environment["WAMCP_DATA_DIR"] == "/var/lib/wamcp"


def test_the_nixos_unit_keeps_the_sandbox_of_the_unit_file(evaluated):
    unit = read_unit(SERVICE)
    nixos = evaluated["full"]["systemd"]["services"]["wamcp"]
    assert HARDENING <= set(values(unit, "Service")), "the unit file lost hardening"
    assert differences(unit, nixos, SERVICE_EXEMPT) == []

    # The same environment, but for where the settings are.
    in_file = dict(v.split("=", 1) for v in values(unit, "Service")["Environment"])
    assert set(in_file) == set(nixos["environment"])
    assert {k: v for k, v in in_file.items() if k != "WAMCP_CONFIG"} == \
        {k: v for k, v in nixos["environment"].items() if k != "WAMCP_CONFIG"}

    # A change on one side is caught.
    loosened = {**unit, "Service": [(k, "full" if k == "ProtectSystem" else v) for k, v in unit["Service"]]}
    assert differences(loosened, nixos, SERVICE_EXEMPT) == \
        ["Service.ProtectSystem: unit file ['full'], NixOS module 'strict'"]
    nixos_extra = {**nixos, "serviceConfig": {**nixos["serviceConfig"], "PrivateNetwork": True}}
    assert len(differences(unit, nixos_extra, SERVICE_EXEMPT)) == 1


def test_the_nixos_socket_is_the_socket_unit_and_lets_the_clients_in(evaluated):
    unit = read_unit(SOCKET)
    nixos = evaluated["full"]["systemd"]["sockets"]["wamcp"]
    assert differences(unit, nixos, set()) == []
    socket = values(unit, "Socket")
    assert socket["ListenStream"] == ["/run/wamcp/wamcp.sock"]
    assert (socket["SocketGroup"], socket["SocketMode"]) == (["wamcp-clients"], ["0660"])
    # The daemon is told where it is, and takes it from systemd.
    service = values(read_unit(SERVICE), "Service")
    assert "WAMCP_SOCKET=/run/wamcp/wamcp.sock" in service["Environment"]
    assert values(read_unit(SERVICE), "Unit")["Requires"] == ["wamcp.socket"]
    # services.wamcp.clients join the socket's group.
    assert evaluated["full"]["users"]["groups"] == {"wamcp-clients": {"members": ["alice", "bob"]}}
    assert evaluated["minimal"]["users"]["groups"] == {"wamcp-clients": {"members": []}}
    options = evaluated["options"]
    assert options["clients"]["default"] == [] and options["clientGroup"]["default"] == "wamcp-clients"


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory):
    """A directory laid out as the package, bin/wamcp being the built binary (a hard link, so the
    binary reports this path as its own, as the one in the Nix store does)."""
    package = tmp_path_factory.mktemp("pkg", numbered=True)
    (package / "bin").mkdir()
    try:
        os.link(WAMCP, package / "bin" / "wamcp")
    except OSError:
        shutil.copy2(WAMCP, package / "bin" / "wamcp")
    return package


@pytest.fixture(scope="module")
def home_evaluated(nix_env, package_dir):
    """nix/tests/eval-home.nix: nix/claude.nix and the home-manager module, on `package_dir`."""
    result = nix_instantiate(nix_env, "--eval", "--strict", "--json", "nix/tests/eval-home.nix",
                             "--argstr", "wamcpDir", str(package_dir))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_claude_entry_nix_makes_is_what_wamcp_config_prints(home_evaluated, package_dir):
    binary = str(package_dir / "bin" / "wamcp")
    for client, key in [("claude-desktop", "claudeDesktop"), ("claude-code", "claudeCode")]:
        for socket, made in [("/run/wamcp/wamcp.sock", home_evaluated["claude"]),
                             ("/srv/wamcp/w.sock", home_evaluated["claudeElsewhere"])]:
            printed = subprocess.run([binary, "config", client, "--daemon", f"unix:{socket}"],
                                     capture_output=True, text=True, timeout=60)
            assert printed.returncode == 0, printed.stderr
            assert json.loads(printed.stdout) == {"mcpServers": {"whatsapp": made[key]}}, (client, socket)
    assert home_evaluated["homeModules"] == ["default", "wamcp"]


def activate(home_evaluated, case: str, home: pathlib.Path) -> subprocess.CompletedProcess:
    """Runs the activation step the home-manager module made, as home-manager does (its `run`
    runs the command)."""
    step = home_evaluated["home"][case]["home"]["activation"]["wamcpClaude"]
    assert step["after"] == ["writeBoundary"]
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    return subprocess.run(["bash", "-e", "-c", 'run() { "$@"; }\n' + step["data"]], env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_home_manager_module_merges_the_entry_into_both_clients(home_evaluated, package_dir, tmp_path):
    assert home_evaluated["home"]["disabled"] == {}, "nothing unless enabled"
    home = tmp_path / "home"
    home.mkdir()
    # Claude Code's file has the user's own things, which stay.
    (home / ".claude.json").write_text(json.dumps({"numStartups": 7, "mcpServers": {"other": {"command": "x"}}}))
    done = activate(home_evaluated, "enabled", home)
    assert done.returncode == 0, done.stderr
    desktop = json.loads((home / ".config" / "Claude" / "claude_desktop_config.json").read_text())
    code = json.loads((home / ".claude.json").read_text())
    assert desktop == {"mcpServers": {"whatsapp": home_evaluated["claude"]["claudeDesktop"]}}
    assert code["numStartups"] == 7 and code["mcpServers"]["other"] == {"command": "x"}
    assert code["mcpServers"]["whatsapp"] == home_evaluated["claude"]["claudeCode"]
    assert home_evaluated["home"]["enabled"]["home"]["packages"] == [str(package_dir)]
    # Activating again changes nothing and makes no backup.
    files = sorted(p.name for p in home.rglob("*"))
    again = activate(home_evaluated, "enabled", home)
    assert again.returncode == 0 and again.stderr.count("unchanged") == 2, again.stderr
    assert sorted(p.name for p in home.rglob("*")) == files

    # Only Claude Code, under another name and socket.
    other = tmp_path / "other"
    other.mkdir()
    assert activate(home_evaluated, "codeOnly", other).returncode == 0
    assert not (other / ".config").exists()
    code = json.loads((other / ".claude.json").read_text())
    assert code == {"mcpServers": {"wa": home_evaluated["claudeElsewhere"]["claudeCode"]}}


def test_the_nixos_alert_keeps_the_sandbox_of_the_unit_file(evaluated):
    unit = read_unit(ALERT)
    nixos = evaluated["full"]["systemd"]["services"]["wamcp-alert@"]
    assert {"PrivateNetwork", "IPAddressDeny", "DynamicUser", "SystemCallFilter"} <= set(values(unit, "Service"))
    assert differences(unit, nixos, ALERT_EXEMPT) == []
    assert nixos["scriptArgs"] == "%i"
    # The service names the alert; both name the template the same way.
    assert values(read_unit(SERVICE), "Unit")["OnFailure"] == ["wamcp-alert@%n.service"]


# --- the alert's words ----------------------------------------------------------------------------

def login_command() -> str:
    """The login line of deploy/systemd/README.md."""
    readme = (SYSTEMD / "README.md").read_text()
    return next(line for line in readme.splitlines() if line.startswith("systemd-run") and "/usr/local/bin/wamcp" in line)


def run_alert(command: list[str], **monitor: str) -> str:
    env = {"PATH": os.environ["PATH"], **monitor}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def unit_file_alert() -> list[str]:
    """The alert unit's command as systemd runs it for wamcp.service: specifiers filled in, words
    split, "$$" turned into "$"."""
    (command,) = values(read_unit(ALERT), "Service")["ExecStart"]
    return [word.replace("$$", "$") for word in shlex.split(command.replace("%i", "wamcp.service"))]


def nixos_alert(evaluated) -> list[str]:
    # NixOS runs a unit's script with `sh -e` (bash), its scriptArgs after it.
    script = evaluated["full"]["systemd"]["services"]["wamcp-alert@"]["script"]
    return ["bash", "-e", "-c", script, "wamcp-alert", "wamcp.service"]


def test_a_logged_out_session_raises_an_alert_that_says_how_to_log_in_again(evaluated):
    login = login_command()
    said = run_alert(unit_file_alert(), MONITOR_EXIT_STATUS="10", MONITOR_SERVICE_RESULT="exit-code")
    assert said.startswith("<1>wamcp.service stopped: WhatsApp logged this device out"), said
    assert f"systemctl stop wamcp.socket wamcp; {login}; systemctl start wamcp" in said

    said = run_alert(nixos_alert(evaluated), MONITOR_EXIT_STATUS="10", MONITOR_SERVICE_RESULT="exit-code")
    store_binary = shlex.split(evaluated["full"]["systemd"]["services"]["wamcp"]["serviceConfig"]["ExecStart"])[0]
    assert said.startswith("<1>wamcp.service stopped: WhatsApp logged this device out"), said
    assert login.replace("/usr/local/bin/wamcp", store_binary) in said


def test_each_final_connection_failure_raises_its_own_alert(evaluated):
    advice = {"11": "Upgrade wamcp", "12": "says until when", "13": "another program connected",
              "14": "kept refusing the connection"}
    for command in (unit_file_alert(), nixos_alert(evaluated)):
        for status, words in advice.items():
            said = run_alert(command, MONITOR_EXIT_STATUS=status, MONITOR_SERVICE_RESULT="exit-code")
            assert said.startswith("<1>wamcp.service stopped: ") and words in said, (status, said)


def test_other_failures_raise_an_alert_with_the_result(evaluated):
    for command in (unit_file_alert(), nixos_alert(evaluated)):
        said = run_alert(command, MONITOR_EXIT_STATUS="1", MONITOR_SERVICE_RESULT="start-limit-hit")
        assert said == "<1>wamcp.service failed (start-limit-hit, exit status 1) and is no longer restarted; " \
                       "see journalctl -u wamcp.service\n"
        # Without MONITOR_* (systemd < 251) it asks systemctl, and still speaks if that fails.
        said = run_alert(command)
        assert said.startswith("<1>wamcp.service failed ("), said


# --- the flake and the package --------------------------------------------------------------------

def test_the_flake_offers_the_package_module_and_overlay(evaluated):
    flake = evaluated["flake"]
    assert flake["systems"] == ["aarch64-linux", "x86_64-linux"]
    assert flake["devShells"] == ["aarch64-linux", "x86_64-linux"]
    assert flake["modules"] == ["default", "wamcp"]
    assert flake["moduleImports"] == [str(ROOT / "nix" / "module.nix")]
    assert flake["modulePackage"] == flake["flakePackage"], "the flake's module runs the flake's package"
    assert flake["overlay"] == "wamcp-0.1.0"


def test_the_package_builds_the_binary_with_its_man_page_and_completions(evaluated):
    package = evaluated["package"]
    assert package["mainProgram"] == "wamcp"
    assert package["cargoBuildFlags"] == ["--package", "wamcp"]
    assert package["doCheck"] is False
    for shell in ("bash", "zsh", "fish"):
        assert f"--{shell} <($out/bin/wamcp completions {shell})" in package["postInstall"]
    assert "$out/bin/wamcp man > wamcp.1" in package["postInstall"]
    assert package["cargoLock"] == str(ROOT / "Cargo.lock")
    # Every crate comes from crates.io: importCargoLock would need a hash for a git dependency.
    sources = set(re.findall(r'^source = "([^"+]+)', (ROOT / "Cargo.lock").read_text(), re.M))
    assert sources == {"registry"}, sources


def test_the_package_source_holds_every_file_the_build_reads(evaluated):
    """Files the Rust code embeds from outside crates/ must be in the package's source set."""
    included = [pathlib.Path(p) for p in evaluated["package"]["src"]]
    embedded = set()
    for source in (ROOT / "crates").rglob("*.rs"):
        for name in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"', source.read_text()):
            embedded.add((source.parent / name).resolve())
    assert embedded, "no include_str! found: the scan is broken"
    missing = [str(p) for p in embedded if not any(p == root or root in p.parents for root in included)]
    assert missing == []


def unit_command(line: str, replacements: dict[str, str]) -> list[str]:
    """An Exec*= line as systemd would run it: `%%` is `%` and `$$` is `$`, then words split like a
    shell."""
    for old, new in replacements.items():
        line = line.replace(old, new)
    return shlex.split(line.replace("%%", "%").replace("$$", "$"))


def test_the_backup_unit_writes_an_archive_and_keeps_the_newest_14(tmp_path):
    data, archives = tmp_path / "data", tmp_path / "wamcp-backups"
    archives.mkdir()
    made = subprocess.run([WAMCP, "--data-dir", str(data), "demo", "--no-serve"], capture_output=True, text=True,
                          timeout=300)
    assert made.returncode == 0, made.stderr
    service = values(read_unit(BACKUP), "Service")
    # The pair is made where backups are read; the server gets the public key only.
    identity = tmp_path / "backup-identity.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True).stdout
    recipients = tmp_path / "backup-recipients"
    recipients.write_text(f"# the backup reader's key\n{public}")
    paths = {"/usr/local/bin/wamcp": WAMCP, "/var/lib/wamcp-backups": str(archives),
             "/etc/wamcp/backup-recipients": str(recipients)}
    unit_env = dict(line.split("=", 1) for line in service["Environment"])
    assert unit_env["WAMCP_BACKUP_RECIPIENTS_FILE"] == "/etc/wamcp/backup-recipients"
    env = dict(os.environ, WAMCP_DATA_DIR=str(data), WAMCP_BACKUP_RECIPIENTS_FILE=str(recipients))
    for old in range(15):
        stale = archives / f"wamcp-2020-01-{old + 1:02d}T030000.tar"
        stale.write_text("an older archive")
        os.utime(stale, (1_577_000_000 + old, 1_577_000_000 + old))
    (start,) = service["ExecStart"]
    result = subprocess.run(unit_command(start, paths), env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (post,) = service["ExecStartPost"]
    result = subprocess.run(unit_command(post, paths), env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    kept = sorted(p.name for p in archives.iterdir())
    assert len(kept) == 14
    new = [name for name in kept if not name.startswith("wamcp-2020-")]
    assert len(new) == 1 and re.fullmatch(r"wamcp-\d{4}-\d\d-\d\dT\d{6}\.tar", new[0])
    assert "wamcp-2020-01-01T030000.tar" not in kept and "wamcp-2020-01-02T030000.tar" not in kept
    assert oct((archives / new[0]).stat().st_mode & 0o777) == "0o600"
    # A standard age file: age itself opens it with the identity, and finds the archive inside.
    opened = subprocess.run(["age", "--decrypt", "-i", str(identity), str(archives / new[0])], capture_output=True)
    assert opened.returncode == 0, opened.stderr
    assert "wamcp-backup.json" in tarfile.open(fileobj=io.BytesIO(opened.stdout)).getnames()
