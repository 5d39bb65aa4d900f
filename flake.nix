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
