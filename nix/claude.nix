# The mcpServers entry with which Claude Desktop and Claude Code reach the wamcp service through
# its socket (`wamcp mcp --daemon unix:SOCKET`): exactly what
#   wamcp config claude-desktop --daemon unix:SOCKET      (and claude-code)
# prints for the same binary (tests/e2e/test_deploy.py checks). Use it as
#   mcpServers.whatsapp = (wamcp.lib.mcpServers { wamcp = pkgs.wamcp; }).claudeDesktop;
# or let the home-manager module (nix/home-manager.nix) merge it into the clients' files.
{
  wamcp,
  socket ? "/run/wamcp/wamcp.sock",
}:
let
  claudeDesktop = {
    command = "${wamcp}/bin/wamcp";
    args = [
      "mcp"
      "--daemon"
      "unix:${socket}"
    ];
  };
in
{
  inherit claudeDesktop;
  claudeCode = claudeDesktop // {
    type = "stdio";
  };
}
