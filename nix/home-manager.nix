# home-manager module: programs.wamcp.claude.enable merges the entry that reaches the wamcp service
# (services.wamcp of nix/module.nix, on /run/wamcp/wamcp.sock) into Claude Desktop's
# ~/.config/Claude/claude_desktop_config.json and Claude Code's ~/.claude.json, keeping everything
# else in them (the clients write those files too, so they are merged, not replaced). The merge is
# `wamcp config CLIENT --daemon unix:SOCKET --install`: a backup first, nothing written when the
# entry is already there. The user must be in services.wamcp.clients to connect.
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
    optionalString
    types
    ;

  cfg = config.programs.wamcp;
  install =
    client:
    "run ${
      lib.escapeShellArgs [
        (lib.getExe cfg.package)
        "config"
        client
        "--daemon"
        "unix:${cfg.claude.socket}"
        "--name"
        cfg.claude.name
        "--install"
      ]
    }\n";
in
{
  options.programs.wamcp = {
    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./nix/package.nix { } (the flake's package when imported from the flake)";
      description = "The wamcp package whose `wamcp mcp` the clients start: the service's, ideally.";
    };

    claude = {
      enable = mkEnableOption "the WhatsApp tools of the wamcp service in Claude Desktop and Claude Code";

      socket = mkOption {
        type = types.str;
        default = "/run/wamcp/wamcp.sock";
        description = "The service's socket (services.wamcp puts it at /run/wamcp/wamcp.sock).";
      };

      name = mkOption {
        type = types.str;
        default = "whatsapp";
        description = "The server's name in the clients' mcpServers.";
      };

      desktop = mkOption {
        type = types.bool;
        default = true;
        description = "Merge the entry into Claude Desktop's claude_desktop_config.json.";
      };

      code = mkOption {
        type = types.bool;
        default = true;
        description = "Merge the entry into Claude Code's ~/.claude.json.";
      };

    };
  };

  config = mkIf cfg.claude.enable {
    home.packages = [ cfg.package ];
    home.activation.wamcpClaude = lib.hm.dag.entryAfter [ "writeBoundary" ] (
      optionalString cfg.claude.desktop (install "claude-desktop")
      + optionalString cfg.claude.code (install "claude-code")
    );
  };
}
