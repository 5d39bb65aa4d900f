# NixOS module: services.wamcp runs `wamcp serve` in the same sandbox as
# deploy/systemd/wamcp.service, with the same watchdog, restart policy and alert
# (tests/e2e/test_deploy.py checks that the two agree). deploy/systemd/README.md explains them.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    mkEnableOption
    mkIf
    mkOption
    optional
    types
    ;

  cfg = config.services.wamcp;
  # Where the users' assistants reach the daemon; nix/claude.nix's default.
  socketPath = "/run/wamcp/wamcp.sock";
  settingsFormat = pkgs.formats.toml { };
  configFile = settingsFormat.generate "wamcp.toml" cfg.settings;
  dataDir = "/var/lib/wamcp";

  # The port of settings.listen: "ADDR:PORT" or "[IPv6]:PORT".
  listenPort = lib.toInt (lib.last (lib.splitString ":" cfg.settings.listen));
  loopback = lib.any (prefix: lib.hasPrefix prefix cfg.settings.listen) [
    "127."
    "[::1]:"
    "localhost:"
  ];

  loginCommand = lib.concatStringsSep " " [
    "systemd-run --pty --wait --collect -p DynamicUser=yes -p User=wamcp"
    "-p StateDirectory=wamcp -p StateDirectoryMode=0700 -E WAMCP_DATA_DIR=${dataDir}"
    "${lib.getExe cfg.package} login"
  ];

  # The sandbox both units share; comments in deploy/systemd/wamcp.service.
  sandbox = {
    DynamicUser = true;
    UMask = "0077";
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateMounts = true;
    PrivateDevices = true;
    DevicePolicy = "closed";
    ProtectProc = "invisible";
    ProcSubset = "pid";
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectClock = true;
    ProtectHostname = true;
    NoNewPrivileges = true;
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    PrivateUsers = true;
    RestrictSUIDSGID = true;
    RemoveIPC = true;
    KeyringMode = "private";
    LockPersonality = true;
    RestrictRealtime = true;
    RestrictNamespaces = true;
    MemoryDenyWriteExecute = true;
    SystemCallFilter = [
      "@system-service"
      "~@privileged @resources"
    ];
    SystemCallErrorNumber = "EPERM";
    SystemCallArchitectures = "native";
  };
in
{
  options.services.wamcp = {
    enable = mkEnableOption "wamcp, the WhatsApp bridge daemon (`wamcp serve`)";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./nix/package.nix { } (the flake's package when imported from the flake)";
      description = "The wamcp package to run.";
    };

    enableVoiceMessages = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Put ffmpeg (the headless build) on the service's PATH, so that audio can be sent as voice
        notes: ffmpeg converts it to Ogg/Opus and decodes it for the waveform. Without it, sending
        a voice note fails with "voice notes need ffmpeg"; everything else works.
      '';
    };

    desk.enable = mkEnableOption "the support desk inside the daemon (`wamcp serve --desk`)";

    settings = mkOption {
      type = types.submodule {
        freeformType = settingsFormat.type;
        options.listen = mkOption {
          type = types.str;
          default = "127.0.0.1:8765";
          description = "Address (ADDR:PORT) of the REST API; openFirewall opens its port.";
        };
      };
      default = { };
      example = lib.literalExpression ''
        {
          listen = "127.0.0.1:8765";
          auto_download = [ "image" "voice" ];
          webhooks = [ "https://hooks.example.com/whatsapp" ];
          desk = { provider = "openai"; base_url = "http://localhost:11434/v1"; model = "llama3.1"; };
          kafka.brokers = "kafka1:9092,kafka2:9092";
        }
      '';
      description = ''
        The contents of wamcp.toml: the keys of the configuration table in wamcp's README, such as
        listen, media_roots, allowed_hosts, webhooks, auto_download, send_policy, and the desk and
        kafka tables. The file lands in the Nix store, so keep secrets in environmentFile. The data
        directory is always /var/lib/wamcp (WAMCP_DATA_DIR beats data_dir here); paths must be
        absolute.
      '';
    };

    environmentFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/wamcp.env";
      description = ''
        A file of NAME=value lines read by systemd when the service starts, for secrets such as
        WAMCP_DESK_DATABASE_URL, GEMINI_API_KEY, OPENAI_API_KEY or TWILIO_AUTH_TOKEN. Give it as a
        string, so that it stays out of the world-readable Nix store.
      '';
    };

    keyCredential = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/etc/credstore.encrypted/wamcp.key";
      description = ''
        An encrypted systemd credential holding the key that encrypts the databases (the store,
        the WhatsApp session, the desk), made with
        `systemd-creds encrypt --name=wamcp.key KEYFILE /etc/credstore.encrypted/wamcp.key`: it is
        sealed to this host (or its TPM) and never lies on disk in the clear. The service reads it
        as $CREDENTIALS_DIRECTORY/wamcp.key. Convert existing plain databases first with
        `wamcp encrypt` (README, "Encryption at rest"). Give it as a string, outside the Nix store.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open the TCP port of settings.listen in the firewall. The API listens on 127.0.0.1 by
        default; to reach it from elsewhere, listen on a public address and name the host in
        settings.allowed_hosts.
      '';
    };

    clients = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "alice" ];
      description = ''
        Users whose assistants may use the service: they join clientGroup, which may connect to
        the socket /run/wamcp/wamcp.sock, where the daemon serves its REST API and MCP without a
        token (`wamcp mcp --daemon unix:/run/wamcp/wamcp.sock`; the home-manager module
        programs.wamcp.claude writes that into Claude's configuration). Each call is audited with
        the caller's uid. They must log in again to be in the group.
      '';
    };

    clientGroup = mkOption {
      type = types.str;
      default = "wamcp-clients";
      description = "The group whose members may connect to the socket; created by the module.";
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "--send-policy"
        "allowlist"
      ];
      description = "More arguments for `wamcp serve`.";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = !(builtins.isPath cfg.environmentFile);
        message = ''
          services.wamcp.environmentFile is a Nix path, which would copy the secrets into the
          world-readable Nix store; give it as a string ("/run/secrets/wamcp.env").
        '';
      }
    ];

    warnings = optional (cfg.openFirewall && loopback) ''
      services.wamcp.openFirewall opens port ${toString listenPort}, but settings.listen
      (${cfg.settings.listen}) is a loopback address, unreachable from other machines.
    '';

    # `wamcp login` and the other commands, for the operator.
    environment.systemPackages = [ cfg.package ];

    networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall [ listenPort ];

    users.groups.${cfg.clientGroup}.members = cfg.clients;

    # The socket for the users' assistants, as deploy/systemd/wamcp.socket: made by systemd with
    # the clients' group, handed to the daemon, kept while it restarts.
    systemd.sockets.wamcp = {
      description = "wamcp's socket for the users' assistants";
      documentation = [ "man:wamcp(1)" ];
      wantedBy = [ "sockets.target" ];
      socketConfig = {
        ListenStream = socketPath;
        SocketUser = "root";
        SocketGroup = cfg.clientGroup;
        SocketMode = "0660";
        DirectoryMode = "0755";
        RemoveOnStop = true;
      };
    };

    systemd.services.wamcp = {
      description = "wamcp WhatsApp bridge";
      documentation = [ "man:wamcp(1)" ];
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      requires = [ "wamcp.socket" ];
      after = [
        "network-online.target"
        "wamcp.socket"
      ];
      path = optional cfg.enableVoiceMessages pkgs.ffmpeg-headless;
      environment = {
        WAMCP_DATA_DIR = dataDir;
        WAMCP_CONFIG = "${configFile}";
        WAMCP_LOG = "info";
        WAMCP_SOCKET = socketPath;
      };
      unitConfig = {
        OnFailure = "wamcp-alert@%n.service";
        StartLimitIntervalSec = "10min";
        StartLimitBurst = 30;
      };
      serviceConfig = sandbox // {
        # No user namespace: in one, everyone connecting to the socket would have the same
        # overflow uid, and the audit log names the real caller.
        PrivateUsers = false;
        Type = "notify";
        NotifyAccess = "main";
        WatchdogSec = "60s";
        ExecStart = lib.escapeShellArgs (
          [
            (lib.getExe cfg.package)
            "serve"
          ]
          ++ optional cfg.desk.enable "--desk"
          ++ cfg.extraArgs
        );
        Restart = "on-failure";
        RestartSec = "10s";
        RestartPreventExitStatus = "10 11 12 13 14";
        TimeoutStopSec = "30s";
        EnvironmentFile = mkIf (cfg.environmentFile != null) cfg.environmentFile;
        LoadCredentialEncrypted = mkIf (cfg.keyCredential != null) "wamcp.key:${cfg.keyCredential}";
        User = "wamcp";
        Group = "wamcp";
        StateDirectory = "wamcp";
        StateDirectoryMode = "0700";
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
          "AF_UNIX"
        ];
      };
    };

    # Started by OnFailure= with the failed unit's name; writes an alert to the journal
    # (`journalctl -p alert`). Override script to send mail or page someone.
    systemd.services."wamcp-alert@" = {
      description = "Alert that %i stopped";
      documentation = [ "man:wamcp(1)" ];
      scriptArgs = "%i";
      script = ''
        unit="$1"
        status="''${MONITOR_EXIT_STATUS:-$(${config.systemd.package}/bin/systemctl show -p ExecMainStatus --value "$unit" || true)}"
        result="''${MONITOR_SERVICE_RESULT:-$(${config.systemd.package}/bin/systemctl show -p Result --value "$unit" || true)}"
        case "$status" in
          10) echo "<1>$unit stopped: WhatsApp logged this device out, so it is not restarted. Link it again, as root: systemctl stop wamcp.socket wamcp; ${loginCommand}; systemctl start wamcp" ;;
          11) echo "<1>$unit stopped: WhatsApp refused this wamcp version as outdated. Upgrade wamcp, then systemctl start wamcp" ;;
          12) echo "<1>$unit stopped: WhatsApp banned the account for a while; journalctl -u $unit says until when. Start it again after that: systemctl start wamcp" ;;
          13) echo "<1>$unit stopped: another program connected with this WhatsApp session. Stop it, then systemctl start wamcp" ;;
          14) echo "<1>$unit stopped: WhatsApp kept refusing the connection; journalctl -u $unit gives the code. Upgrade wamcp or link it again" ;;
          *) echo "<1>$unit failed ($result, exit status $status) and is no longer restarted; see journalctl -u $unit" ;;
        esac
      '';
      serviceConfig = sandbox // {
        Type = "oneshot";
        PrivateNetwork = true;
        IPAddressDeny = "any";
        RestrictAddressFamilies = "AF_UNIX";
      };
    };
  };
}
