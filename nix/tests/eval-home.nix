# Evaluates nix/claude.nix and the home-manager module nix/home-manager.nix with the stubs of
# ./stubs.nix, for tests/e2e/test_deploy.py, with `wamcpDir` standing for the package (a directory
# holding bin/wamcp), so that the test can run what they make with a real binary:
#   nix-instantiate --eval --strict --json nix/tests/eval-home.nix --argstr wamcpDir DIR
{ wamcpDir }:
let
  stubs = import ./stubs.nix;
  inherit (stubs) evalModule;
  wamcp = {
    type = "derivation";
    name = "wamcp-0.1.0";
    outPath = wamcpDir;
    meta.mainProgram = "wamcp";
  };
  home = defs: (evalModule (import ../home-manager.nix) { defs = { programs.wamcp = defs; }; }).produced;
  flake = (import ../../flake.nix).outputs {
    self = flake;
    nixpkgs = {
      inherit (stubs) lib;
      legacyPackages.x86_64-linux = stubs.pkgs;
      legacyPackages.aarch64-linux = stubs.pkgs;
    };
  };
in
{
  claude = import ../claude.nix { inherit wamcp; };
  claudeElsewhere = flake.lib.mcpServers {
    inherit wamcp;
    socket = "/srv/wamcp/w.sock";
  };
  homeModules = builtins.attrNames flake.homeManagerModules;
  home = {
    disabled = home { package = wamcp; };
    enabled = home {
      package = wamcp;
      claude.enable = true;
    };
    codeOnly = home {
      package = wamcp;
      claude = {
        enable = true;
        desktop = false;
        name = "wa";
        socket = "/srv/wamcp/w.sock";
      };
    };
  };
}
