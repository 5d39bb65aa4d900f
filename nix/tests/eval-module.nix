# Evaluates nix/module.nix (and the flake's wiring of it, and nix/package.nix) with the stubs of
# ./stubs.nix, for tests/e2e/test_deploy.py:
#   nix-instantiate --eval --strict --json nix/tests/eval-module.nix
# Returns the options declared (with their defaults) and, for a few configurations, the units,
# firewall ports and files the module produces.
let
  stubs = import ./stubs.nix;
  inherit (stubs) lib pkgs evalModule;
  module = import ../module.nix;
  system = { systemd.package = pkgs.systemd; };

  run = wamcp: (evalModule module { defs = { services.wamcp = wamcp; }; extraConfig = system; });

  # What a configuration makes, as JSON: store paths as strings.
  produced = wamcp:
    let
      evaluated = run wamcp;
      out = evaluated.produced;
      service = out.systemd.services.wamcp or null;
    in
    out // {
      # The wamcp.toml the settings make, and its text (the stub's file carries it).
      # Its path is that of the file made from the settings option's value.
      configFile = if service == null then null else
        let file = (pkgs.formats.toml { }).generate "wamcp.toml" evaluated.config.services.wamcp.settings;
        in { path = file.outPath; inherit (file) text; };
    };

  # Declared options, by dotted name, with type and default.
  describe = prefix: decls:
    builtins.foldl' (acc: name:
      let
        decl = decls.${name};
        path = "${prefix}${name}";
      in
      if decl._type or null == "option" then
        acc // {
          ${path} = {
            type = decl.type.name;
            default = if decl ? default then decl.default else null;
            description = decl.description or null;
          };
        }
      else acc // describe "${path}." decl
    ) { } (builtins.attrNames decls);

  declared = (evalModule module { defs = { }; extraConfig = system; }).options.services.wamcp;

  # The flake, with the stub nixpkgs as its input.
  flake = (import ../../flake.nix).outputs {
    self = flake;
    nixpkgs = {
      inherit lib;
      legacyPackages = {
        x86_64-linux = pkgs;
        aarch64-linux = pkgs;
      };
    };
  };
  flakeModule = flake.nixosModules.default { inherit lib pkgs; config = { }; };
  package = flake.packages.x86_64-linux.default;
in
{
  options = describe "" declared;

  disabled = produced { };
  minimal = produced { enable = true; };
  full = produced {
    enable = true;
    desk.enable = true;
    enableVoiceMessages = true;
    openFirewall = true;
    environmentFile = "/run/secrets/wamcp.env";
    keyCredential = "/etc/credstore.encrypted/wamcp.key";
    extraArgs = [ "--send-policy" "allowlist" ];
    clients = [ "alice" "bob" ];
    settings = {
      listen = "0.0.0.0:9000";
      allowed_hosts = [ "wamcp.example.com:9000" ];
      auto_download = [ "image" "voice" ];
      webhooks = [ "https://hooks.example.com/whatsapp" ];
      desk = { provider = "openai"; base_url = "http://localhost:11434/v1"; };
      kafka.brokers = "kafka1:9092";
    };
  };
  loopbackFirewall = produced { enable = true; openFirewall = true; };
  storePathSecrets = (produced { enable = true; environmentFile = ./stubs.nix; }).assertions;

  flake = {
    systems = builtins.attrNames flake.packages;
    modules = builtins.attrNames flake.nixosModules;
    overlay = (flake.overlays.default pkgs pkgs).wamcp.name;
    moduleImports = map toString flakeModule.imports;
    modulePackage = (stubs.resolve flakeModule.services.wamcp.package).outPath;
    flakePackage = package.outPath;
    devShells = builtins.attrNames flake.devShells;
  };

  package = {
    inherit (package) name;
    inherit (package.meta) mainProgram;
    inherit (package.buildArgs) cargoBuildFlags doCheck postInstall postPatch nativeBuildInputs;
    cargoLock = toString package.buildArgs.cargoLock.lockFile;
    src = package.buildArgs.src.files;
  };
}
