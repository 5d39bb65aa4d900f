{
  description = "wamcp: WhatsApp bridge, MCP server and support desk in one binary";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: rec {
        wamcp = pkgs.callPackage ./nix/package.nix { };
        default = wamcp;
      });

      overlays.default = final: prev: { wamcp = final.callPackage ./nix/package.nix { }; };

      # services.wamcp (nix/module.nix), running this flake's package unless told otherwise.
      nixosModules.wamcp =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/module.nix ];
          services.wamcp.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      nixosModules.default = self.nixosModules.wamcp;

      # programs.wamcp.claude (nix/home-manager.nix): the service's tools in Claude Desktop and
      # Claude Code, with this flake's package unless told otherwise.
      homeManagerModules.wamcp =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/home-manager.nix ];
          programs.wamcp.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      homeManagerModules.default = self.homeManagerModules.wamcp;

      # The mcpServers entry for Claude Desktop (claudeDesktop) and Claude Code (claudeCode) that
      # reaches the service's socket: lib.mcpServers { wamcp = <package>; } (nix/claude.nix).
      lib.mcpServers = import ./nix/claude.nix;

      # `nix develop`: the toolchain, and ffmpeg for voice notes.
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
          packages = with pkgs; [
            clippy
            rustfmt
            ffmpeg-headless
          ];
        };
      });
    };
}
