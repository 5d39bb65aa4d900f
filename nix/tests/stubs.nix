# Just enough of nixpkgs' lib and pkgs, and of the NixOS module system, for plain Nix to evaluate
# nix/module.nix, nix/package.nix and flake.nix without nixpkgs (tests/e2e/test_deploy.py). The
# functions behave like their nixpkgs namesakes for the arguments these files give them; anything
# else the files start to use fails the evaluation with "attribute missing", so the stub grows
# with them.
let
  inherit (builtins)
    all
    attrNames
    concatStringsSep
    elemAt
    filter
    foldl'
    head
    isAttrs
    isBool
    isFloat
    isInt
    isList
    isPath
    isString
    length
    listToAttrs
    mapAttrs
    match
    replaceStrings
    split
    toJSON
    ;

  # A store path whose hash part stands for `contents`, so that different files get different paths.
  storePath = name: contents: "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" contents)}-${name}";

  # A type: a name and a check, as in lib.types (which also merge several definitions; here every
  # option has one).
  type = name: check: { inherit name check; };

  lib = rec {
    mkOption = args: args // { _type = "option"; };
    mkEnableOption = what: mkOption {
      type = types.bool;
      default = false;
      description = "Whether to enable ${what}.";
    };
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkDefault = content: { _type = "override"; priority = 1000; inherit content; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };

    types = rec {
      bool = type "bool" isBool;
      str = type "str" isString;
      int = type "int" isInt;
      port = type "port" (v: isInt v && v >= 0 && v <= 65535);
      path = type "path" (v: isPath v || (isString v && match "/.*" v != null));
      package = type "package" (v: isAttrs v && v ? outPath);
      anything = type "anything" (v: true);
      nullOr = t: type "null or ${t.name}" (v: v == null || t.check v);
      listOf = t: type "list of ${t.name}" (v: isList v && all t.check v);
      attrsOf = t: type "attribute set of ${t.name}" (v: isAttrs v && all t.check (builtins.attrValues v));
      submodule = module: type "submodule" isAttrs // { inherit (module) options; freeformType = module.freeformType or null; };
    };

    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    optionalString = cond: s: if cond then s else "";
    optionalAttrs = cond: as: if cond then as else { };
    inherit concatStringsSep;
    any = builtins.any;
    hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
    splitString = sep: s: filter isString (split (replaceStrings [ "." "[" "]" ] [ "\\." "\\[" "\\]" ] sep) s);
    last = list: elemAt list (length list - 1);
    toInt = s: if match "[0-9]+" s != null then builtins.fromJSON s else throw "toInt: not a number: ${s}";
    escapeShellArg =
      arg:
      let
        s = toString arg;
      in
      if match "[[:alnum:],._+:@%/-]+" s != null then s else "'${replaceStrings [ "'" ] [ "'\\''" ] s}'";
    escapeShellArgs = args: concatStringsSep " " (map escapeShellArg args);
    getExe = p: "${p}/bin/${p.meta.mainProgram}";
    # home-manager's lib.hm: an activation step and what it runs after.
    hm.dag.entryAfter = after: data: { inherit after data; before = [ ]; };
    importTOML = file: builtins.fromTOML (builtins.readFile file);
    genAttrs = names: f: listToAttrs (map (n: { name = n; value = f n; }) names);
    licenses = { mit = "MIT"; asl20 = "Apache-2.0"; };
    platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
    fileset = {
      unions = list: list;
      toSource = { root, fileset }: let files = map toString fileset; in { outPath = storePath "source" (toJSON files); root = toString root; inherit files; };
    };
  };

  # TOML for what wamcp.toml holds: scalars and lists of them at the top, then one table per
  # attribute set (nested tables as [a.b]).
  toTOML =
    let
      value = v: if isString v || isInt v || isFloat v || isBool v then toJSON v
        else if isList v then "[${concatStringsSep ", " (map value v)}]"
        else throw "toTOML: cannot write ${toJSON v}";
      table = prefix: attrs:
        let
          names = attrNames attrs;
          plain = filter (n: !isAttrs attrs.${n}) names;
          tables = filter (n: isAttrs attrs.${n}) names;
        in
        (if prefix != "" && plain != [ ] then "[${prefix}]\n" else "")
        + concatStringsSep "" (map (n: "${n} = ${value attrs.${n}}\n") plain)
        + concatStringsSep "" (map (n: table (if prefix == "" then n else "${prefix}.${n}") attrs.${n}) tables);
    in
    table "";

  package = name: extra: { type = "derivation"; inherit name; outPath = storePath name (extra.text or name); meta = { }; } // extra;

  pkgs = rec {
    ffmpeg = package "ffmpeg" { };
    ffmpeg-headless = package "ffmpeg-headless" { };
    systemd = package "systemd" { };
    pkg-config = package "pkg-config" { };
    cmake = package "cmake" { };
    python3 = package "python3" { };
    which = package "which" { };
    installShellFiles = package "install-shell-files" { };
    zlib = package "zlib" { };
    stdenv = {
      hostPlatform.system = "x86_64-linux";
      buildPlatform.canExecute = platform: true;
    };
    formats.toml = { }: {
      type = type "TOML value" (v: true);
      # The stub's file carries its text, so that the test can read what the module rendered.
      generate = name: value: package name { text = toTOML value; };
    };
    rustPlatform.buildRustPackage = args: package "${args.pname}-${args.version}" {
      inherit (args) meta;
      buildArgs = args;
    };
    callPackage = fn: overrides:
      let
        f = if isPath fn then import fn else fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) (pkgs // { inherit lib; }) // overrides);
    legacyPackages = { };
  };

  isOption = v: isAttrs v && v._type or null == "option";

  # The values of declared options: the definitions given, else the defaults; a submodule's own
  # options likewise, and with a freeform type, undeclared attributes pass through. A definition
  # of no declared option, or of the wrong type, fails as in NixOS.
  fill = where: decls: defs:
    let
      unknown = filter (n: !(decls ? ${n})) (attrNames defs);
    in
    if unknown != [ ] then throw "The option `${where}${head unknown}' does not exist."
    else mapAttrs (name: decl:
      let
        path = "${where}${name}";
        given = defs ? ${name};
        value = if given then defs.${name} else decl.default or (throw "The option `${path}' is used but not defined.");
      in
      if isOption decl then
        if decl.type.name == "submodule" then
          let
            own = filter (n: !(decl.type.options ? ${n})) (attrNames value);
            extra = listToAttrs (map (n: { name = n; value = value.${n}; }) own);
          in
          (if decl.type.freeformType != null then extra else fill "${path}." decl.type.options extra)
          // fill "${path}." decl.type.options (removeAttrs value own)
        else if decl.type.check value then value
        else throw "The option `${path}' is not of type `${decl.type.name}': ${toJSON value}"
      else fill "${path}." decl (if given then defs.${name} else { })
    ) decls;

  # mkIf, mkMerge and mkDefault resolved the way the module system resolves them: a false mkIf
  # removes its definition; merged definitions are combined attribute by attribute.
  absent = { _type = "absent"; };
  isAbsent = v: isAttrs v && v._type or null == "absent";
  combine = a: b:
    if isAttrs a && isAttrs b && !(a ? outPath) && !(b ? outPath) then
      a // mapAttrs (n: v: if a ? ${n} then combine a.${n} v else v) b
    else if isList a && isList b then a ++ b
    else throw "conflicting definitions: ${toJSON a} and ${toJSON b}";
  resolve = v:
    if isAttrs v && v ? _type then
      if v._type == "if" then (if v.condition then resolve v.content else absent)
      else if v._type == "merge" then foldl' combine { } (filter (x: !isAbsent x) (map resolve v.contents))
      else if v._type == "override" then resolve v.content
      else v
    else if isAttrs v && !(v ? outPath) then
      let
        resolved = mapAttrs (_: resolve) v;
      in
      removeAttrs resolved (filter (n: isAbsent resolved.${n}) (attrNames resolved))
    else v;

  # Evaluates a NixOS module (a function of { config, lib, pkgs, ... }) on the definitions `defs`
  # for its options, with `extraConfig` standing in for the rest of the system's configuration.
  evalModule = module: { defs, extraConfig ? { } }:
    let
      declared = (module { config = throw "option declarations must not read config"; inherit lib pkgs; }).options;
      values = fill "" declared defs;
      result = module { config = values // extraConfig; inherit lib pkgs; };
    in
    {
      options = declared;
      config = values;
      produced = let r = resolve result.config; in if isAbsent r then { } else r;
    };
in
{
  inherit lib pkgs evalModule resolve;
}
