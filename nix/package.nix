# The wamcp binary, built from this repository with the dependencies pinned by Cargo.lock (all from
# crates.io), with its man page and shell completions.
{
  lib,
  stdenv,
  rustPlatform,
  pkg-config,
  cmake,
  python3,
  which,
  installShellFiles,
  zlib,
}:

let
  workspace = lib.importTOML ../Cargo.toml;
in
rustPlatform.buildRustPackage {
  pname = "wamcp";
  inherit (workspace.workspace.package) version;

  # Only what the build reads, so that editing the docs or the tests does not rebuild it. The demo
  # embeds the sample knowledge base of examples/kb.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../crates
      ../examples
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;
  cargoBuildFlags = [
    "--package"
    "wamcp"
  ];

  # rdkafka-sys compiles librdkafka: with its ./configure script (mklove, which runs lds-gen.py and
  # which), or with CMake under its cmake-build feature; zlib through pkg-config. SQLite (bundled)
  # and ring are compiled with the C compiler.
  nativeBuildInputs = [
    pkg-config
    cmake
    python3
    which
    installShellFiles
  ];
  buildInputs = [ zlib ];
  # cmake is there for rdkafka-sys; the package itself is built by cargo.
  dontUseCmakeConfigure = true;

  # librdkafka's scripts start with "#!/usr/bin/env bash" / "python3", which the build sandbox does
  # not have. The vendored crates are a writable copy at this point.
  postPatch = ''
    patchShebangs "$cargoDepsCopy"/rdkafka-sys-*/librdkafka
  '';

  # The tests need PostgreSQL, ffmpeg, Chromium and loopback networking: ./scripts/test runs them.
  doCheck = false;

  postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    installShellCompletion --cmd wamcp \
      --bash <($out/bin/wamcp completions bash) \
      --zsh <($out/bin/wamcp completions zsh) \
      --fish <($out/bin/wamcp completions fish)
    $out/bin/wamcp man > wamcp.1
    installManPage wamcp.1
  '';

  meta = {
    description = "WhatsApp bridge, MCP server and support desk in one binary";
    license = with lib.licenses; [
      mit
      asl20
    ];
    platforms = lib.platforms.linux;
    mainProgram = "wamcp";
  };
}
