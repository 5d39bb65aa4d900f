"""Configuration: `wamcp.toml`, WAMCP_* variables and flags, and `wamcp serve --print-config`."""

import os
import subprocess

from conftest import WAMCP


def wamcp(tmp_path, *args, **env):
    """Runs wamcp with HOME and XDG dirs inside `tmp_path`, so no real setup leaks in; stdin is
    empty, so `wamcp mcp` ends at once."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WAMCP_", "XDG_"))}
    clean.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"), **env)
    return subprocess.run([WAMCP, *args], input="", capture_output=True, text=True, timeout=60, env=clean)


def write_config(tmp_path, text):
    folder = tmp_path / "config" / "wamcp"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wamcp.toml").write_text(text)
    return folder / "wamcp.toml"


def effective(output):
    """`key = value  # source` lines as {key: (value, source)}."""
    lines = {}
    for line in output.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        assignment, source = line.split(" # ", 1)
        key, value = assignment.split(" = ", 1)
        lines[key.strip()] = (value.strip(), source.strip())
    return lines


def test_flags_beat_the_environment_which_beats_the_file(tmp_path):
    data = tmp_path / "data"
    write_config(tmp_path, f'data_dir = "{data}"\nlisten = "127.0.0.1:9001"\n'
                           'webhooks = ["https://hooks.example/from-file"]\nauto_download = ["image"]\n'
                           'allowed_hosts = ["file.example:443"]\n')
    result = wamcp(tmp_path, "serve", "--print-config", "--auto-download", "voice",
                   WAMCP_ALLOW_HOSTS="env.example:443", WAMCP_AUTO_DOWNLOAD="document")
    assert result.returncode == 0, result.stderr
    lines = effective(result.stdout)
    assert lines["data_dir"] == (f'"{data}"', "from the config file")
    assert lines["listen"] == ('"127.0.0.1:9001"', "from the config file")
    assert lines["webhooks"] == ('["https://hooks.example/from-file"]', "from the config file")
    assert lines["allowed_hosts"] == ('["env.example:443"]', "from WAMCP_ALLOW_HOSTS")
    assert lines["auto_download"] == ('["voice"]', "from the command line")
    assert lines["media_roots"] == (f'["{data / "outbox"}"]', "default")


def test_without_a_file_the_defaults_apply_and_the_token_stays_hidden(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "api-token").write_text("s3cret-token-value\n")
    result = wamcp(tmp_path, "--data-dir", str(data), "serve", "--print-config")
    assert result.returncode == 0, result.stderr
    lines = effective(result.stdout)
    assert lines["listen"] == ('"127.0.0.1:8765"', "default")
    assert lines["data_dir"] == (f'"{data}"', "from the command line")
    assert "(not present)" in result.stdout
    assert "s3cret-token-value" not in result.stdout
    assert str(data / "api-token") in result.stdout


def test_the_printed_configuration_reads_back_as_a_config_file(tmp_path):
    first = wamcp(tmp_path, "--data-dir", str(tmp_path / "data"), "serve", "--print-config",
                  "--webhook", "https://hooks.example/a", "--listen", "127.0.0.1:9100")
    copy = tmp_path / "copy.toml"
    copy.write_text(first.stdout)
    second = wamcp(tmp_path, "--config", str(copy), "serve", "--print-config")
    assert second.returncode == 0, second.stderr
    assert {k: v for k, (v, _) in effective(second.stdout).items()} == \
        {k: v for k, (v, _) in effective(first.stdout).items()}


def test_a_misspelt_key_is_refused_naming_the_keys_accepted_and_nothing_is_created(tmp_path):
    data = tmp_path / "data"
    write_config(tmp_path, f'data_dir = "{data}"\nlisen = "127.0.0.1:9001"\n')
    result = wamcp(tmp_path, "serve")
    assert result.returncode == 1
    assert "unknown field `lisen`" in result.stderr and "`listen`" in result.stderr
    assert "line 2" in result.stderr
    assert not data.exists()


def test_bad_values_say_what_is_accepted(tmp_path):
    result = wamcp(tmp_path, "serve", "--print-config", "--auto-download", "pictures")
    assert result.returncode == 1
    assert "'pictures'" in result.stderr and "image, video, audio, voice, document, sticker" in result.stderr
    write_config(tmp_path, 'webhooks = ["ftp://hooks.example"]\n')
    result = wamcp(tmp_path, "serve", "--print-config")
    assert result.returncode == 1 and "not an http:// or https:// URL" in result.stderr
    result = wamcp(tmp_path, "--config", str(tmp_path / "missing.toml"), "mcp")
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_the_data_dir_in_the_file_is_where_mcp_reads(tmp_path):
    data = tmp_path / "elsewhere"
    write_config(tmp_path, f'data_dir = "{data}"\n')
    # `demo --no-serve` ignores the file (it never touches the real account's setup) ...
    assert wamcp(tmp_path, "--data-dir", str(data), "demo", "--no-serve").returncode == 0
    # ... and `wamcp mcp` without --data-dir finds that store through the file.
    result = wamcp(tmp_path, "mcp")
    assert "has no messages yet" not in result.stderr, result.stderr
    assert not (tmp_path / "home" / ".local" / "share" / "wamcp").exists()


def test_the_desk_is_configured_in_its_own_table(tmp_path):
    write_config(tmp_path, '[desk]\nenabled = true\nsentiment_threshold = -0.4\nprovider = "openai"\n'
                           'base_url = "http://localhost:11434/v1"\n[kafka]\nbrokers = "kafka-1:9092,kafka-2:9092"\n')
    result = wamcp(tmp_path, "serve", "--print-config", "--desk-model", "llama3.1")
    assert result.returncode == 0, result.stderr
    lines = effective(result.stdout)
    assert lines["desk.enabled"] == ("true", "from the config file")
    assert lines["desk.sentiment_threshold"] == ("-0.4", "from the config file")
    assert lines["desk.provider"] == ('"openai"', "from the config file")
    assert lines["desk.model"] == ('"llama3.1"', "from the command line")
    assert lines["kafka.brokers"] == ('"kafka-1:9092,kafka-2:9092"', "from the config file")
    # The printed settings read back, desk included.
    copy = tmp_path / "copy.toml"
    copy.write_text(result.stdout)
    again = wamcp(tmp_path, "--config", str(copy), "serve", "--print-config")
    assert again.returncode == 0, again.stderr
    assert effective(again.stdout)["desk.base_url"][0] == '"http://localhost:11434/v1"'


def test_bad_desk_settings_say_what_is_accepted(tmp_path):
    result = wamcp(tmp_path, "serve", "--print-config", "--desk", "--desk-provider", "gemini")
    assert result.returncode == 1 and "GEMINI_API_KEY" in result.stderr
    result = wamcp(tmp_path, "serve", "--print-config", "--desk", "--desk-provider", "claude-9")
    assert result.returncode == 1 and "use offline, gemini or openai" in result.stderr
    result = wamcp(tmp_path, "serve", "--print-config", "--desk", "--desk-sentiment-threshold", "-3")
    assert result.returncode == 1 and "-1.0 ..= 1.0" in result.stderr
    write_config(tmp_path, '[desk]\nenable = true\n')
    result = wamcp(tmp_path, "serve", "--print-config")
    assert result.returncode == 1 and "unknown field `enable`" in result.stderr and "`enabled`" in result.stderr


def test_a_database_password_is_not_printed(tmp_path):
    result = wamcp(tmp_path, "serve", "--print-config", "--desk",
                   "--desk-database-url", "postgres://desk:hunter2@db.internal/desk")
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert effective(result.stdout)["desk.database_url"][0] == '"postgres://desk:***@db.internal/desk"'
