"""deploy/compose/compose.yaml: wamcp with the desk on PostgreSQL and Kafka (KRaft, one node) and
Prometheus with wamcp's alerts. No image registry is reachable here, so it is checked, not
started: it passes the Compose specification (the compose_spec parser, strict about every key and
value, after compose's variable interpolation), every long-running service has a health check and
a named volume, the desk points at
PostgreSQL and Kafka as they listen, Prometheus loads alerts.yml and scrapes with the token under a
Host wamcp accepts, every setting is one wamcp reads, and no secret is written in the file."""

import re

import pytest
import yaml
from compose_spec import PyCompose

from deploy_files import ALERTS, COMPOSE, NOT_WAMCP, env_names

SERVICES = {"wamcp", "postgres", "kafka", "prometheus"}


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def interpolated(text: str, env: dict) -> str:
    """The file as compose reads it: ${NAME}, ${NAME:-default}, ${NAME:?error} filled in."""
    def fill(match):
        name, operator, argument = match.groups()
        if name in env:
            return env[name]
        if operator == "-":
            return argument
        raise ValueError(f"{name} is not set: {argument}")
    return re.sub(r"\$\{(\w+)(?::([-?])([^}]*))?\}", fill, text)


def test_the_file_passes_the_compose_specification():
    text = interpolated(COMPOSE.read_text(), {"POSTGRES_PASSWORD": "from-.env"})
    assert PyCompose.from_yaml(text).service_names() == ["pair", "wamcp", "postgres", "kafka", "prometheus"]
    misspelled = text.replace("healthcheck:\n      test: [\"CMD\", \"wamcp\"", "helthcheck:\n      test: [\"CMD\", \"wamcp\"", 1)
    assert misspelled != text
    with pytest.raises(ValueError, match="helthcheck"):
        PyCompose.from_yaml(misspelled)
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD is not set"):
        interpolated(COMPOSE.read_text(), {})


def test_every_service_has_a_health_check_and_a_named_volume():
    spec = compose()
    assert SERVICES <= set(spec["services"])
    for name in SERVICES:
        service = spec["services"][name]
        check = service["healthcheck"]
        assert check.get("disable") is not True and check["test"][0] == "CMD", name
        named = [v.split(":")[0] for v in service["volumes"] if not v.startswith((".", "/"))]
        assert named and set(named) <= set(spec["volumes"]), f"{name} keeps its data in a named volume"
    assert spec["services"]["wamcp"]["healthcheck"]["test"] == ["CMD", "wamcp", "health"]


def test_the_desk_points_at_postgresql_and_kafka_as_they_listen():
    services = compose()["services"]
    wamcp = services["wamcp"]
    assert wamcp["command"] == ["serve", "--desk"]
    env = wamcp["environment"]
    database = re.fullmatch(r"postgres://(\w+):\$\{POSTGRES_PASSWORD:\?[^}]+\}@(\w+):5432/(\w+)",
                            env["WAMCP_DESK_DATABASE_URL"])
    assert database, "the password comes from .env, never written here"
    user, host, name = database.groups()
    postgres = services["postgres"]["environment"]
    assert (host, user, name) == ("postgres", postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])
    kafka = services["kafka"]["environment"]
    assert env["WAMCP_KAFKA_BROKERS"] == kafka["KAFKA_ADVERTISED_LISTENERS"].removeprefix("PLAINTEXT://")
    for dependency in ("postgres", "kafka"):
        assert wamcp["depends_on"][dependency]["condition"] == "service_healthy"
    assert wamcp["depends_on"]["pair"]["condition"] == "service_completed_successfully"


def test_kafka_is_one_kraft_node():
    kafka = compose()["services"]["kafka"]["environment"]
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{kafka['KAFKA_NODE_ID']}@kafka:9093"
    assert not any("ZOOKEEPER" in key for key in kafka)
    assert kafka["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1


def test_prometheus_loads_the_alerts_and_scrapes_wamcp_with_the_token():
    spec = compose()
    prometheus = spec["services"]["prometheus"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in prometheus["volumes"] if v.startswith("."))
    alerts = next(source for source, target in mounts.items() if target == "/etc/prometheus/alerts.yml")
    assert (COMPOSE.parent / alerts).resolve() == ALERTS.resolve()
    config = yaml.safe_load((COMPOSE.parent / "prometheus.yml").read_text())
    assert mounts["./prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    (job,) = config["scrape_configs"]
    token_file = job["authorization"]["credentials_file"]
    assert {"source": "api-token", "target": token_file} in prometheus["secrets"]
    (target,) = job["static_configs"][0]["targets"]
    assert target in spec["services"]["wamcp"]["environment"]["WAMCP_ALLOW_HOSTS"].split(","), \
        "wamcp takes the Host Prometheus sends"


def test_the_token_and_webhook_secret_come_from_files_not_from_the_compose_file():
    spec = compose()
    wamcp = spec["services"]["wamcp"]
    targets = {secret["target"] for secret in wamcp["secrets"]}
    assert targets == {"/data/api-token", "/data/webhook-secret"}
    assert all("file" in secret for secret in spec["secrets"].values())
    for name, service in spec["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert not re.search(r"://[^/@\s$]+:[^/@\s${]+@", str(value)), f"{name}: {key} holds a password"


def test_every_wamcp_setting_is_one_wamcp_reads_and_its_ports_stay_on_this_machine():
    services = compose()["services"]
    readable = env_names("serve")
    unknown = set(services["wamcp"]["environment"]) - readable - NOT_WAMCP
    assert not unknown, f"wamcp does not read {unknown}"
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
    assert services["pair"]["command"][:2] == ["login", "--pair-page"]
    for name in ("pair", "wamcp"):
        assert services[name]["read_only"] is True and services[name]["cap_drop"] == ["ALL"]
