//! `wamcp`: WhatsApp bridge, MCP server and support desk in one binary.
//!
//! Layout: this file parses the command line and hands each command to its own module under
//! [`commands`]; [`bench`] measures the
//! read path end to end. The crates below do the work: `wamcp-core` (types), `wamcp-store`
//! (SQLite), `wamcp-link` (WhatsApp and the simulated network), `wamcp-bridge` (the daemon),
//! `wamcp-mcp` (the MCP tools), `wamcp-desk` (the support desk).

/// Writes a line to standard output and returns the error instead of panicking as `println!`
/// does: a reader that went away (`wamcp audit | head`) ends the command quietly (see [`fail`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
    }};
}

/// `print!` that returns the error, as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)
    }};
}

mod bench;
mod commands;
mod config;
mod logging;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use config::{Layers, Loaded};

/// WhatsApp for AI assistants: your chats over MCP, safely.
#[derive(Debug, Parser)]
#[command(name = "wamcp", version, about, long_about = None)]
struct Cli {
    /// Where wamcp keeps its store [default: $XDG_DATA_HOME/wamcp or ~/.local/share/wamcp]
    #[arg(long, env = "WAMCP_DATA_DIR", global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Settings file [default: $XDG_CONFIG_HOME/wamcp/wamcp.toml or ~/.config/wamcp/wamcp.toml]
    #[arg(long, env = "WAMCP_CONFIG", global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The key that encrypts the databases: a file (mode 0600) holding 64 hex digits or a
    /// passphrase; a systemd credential `wamcp.key` comes first [default: no encryption]
    #[arg(long, env = "WAMCP_KEY_FILE", global = true, value_name = "FILE")]
    key_file: Option<PathBuf>,

    /// Log lines as text or as JSON objects (the level comes from WAMCP_LOG, default warn)
    #[arg(long, env = "WAMCP_LOG_FORMAT", global = true, value_enum, default_value_t)]
    log_format: logging::LogFormat,

    /// Let logs show message text and whole phone numbers (by default: lengths and last 4 digits)
    #[arg(long, env = "WAMCP_LOG_CONTENT", global = true)]
    log_content: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Link this computer to a WhatsApp account (QR code, or a pairing code with --phone)
    Login(commands::login::LoginArgs),
    /// Run the daemon: keep the store current, send through the outbox, serve the REST API
    Serve(commands::serve::ServeArgs),
    /// Serve the tools over MCP on stdio (for Claude Desktop, Claude Code and other MCP clients): on
    /// the store here, or those of a service's daemon with --daemon unix:PATH
    Mcp(commands::mcp::McpArgs),
    /// Run the daemon on a simulated WhatsApp network with a sample account: offline, no phone
    Demo(commands::demo::DemoArgs),
    /// Bring history from another WhatsApp tool into the store
    #[command(subcommand)]
    Import(commands::import::ImportSource),
    /// Print (or --install) the entry Claude Desktop or Claude Code needs to use wamcp
    #[command(subcommand)]
    Config(commands::client_config::ClientConfig),
    /// Run the support desk on its own (beside a lharries bridge with --lharries-db), or manage
    /// its knowledge base (`desk kb import DIR`)
    Desk(Box<commands::desk::DeskCommand>),
    /// Show the MCP tool calls recorded in the audit log (message text appears only as a hash)
    Audit(commands::audit::AuditArgs),
    /// Check what wamcp needs: ffmpeg, the data directory, the databases, the session, the
    /// daemon, free disk; says what to do about each problem (exit code 1 if any check failed)
    Doctor(commands::doctor::DoctorArgs),
    /// Ask the running daemon whether it is alive, or with --ready connected to WhatsApp (exit
    /// code 1 if not): for container health checks and probes
    Health(commands::health::HealthArgs),
    /// Write the store, the WhatsApp session, the desk and the secrets into one archive, while
    /// the daemon runs
    Backup(commands::backup::BackupArgs),
    /// Put a backup's files back (the daemon must be stopped; the replaced files are kept aside)
    Restore(commands::backup::RestoreArgs),
    /// Encrypt the databases with the key (--key-file, WAMCP_KEY_FILE, the systemd credential, or
    /// with --keyring a new random key kept in the desktop's keyring; a key file that does not
    /// exist gets a new random key); the daemon must be stopped
    Encrypt(commands::at_rest::EncryptArgs),
    /// Make the encrypted databases (and attachments) plain again (the daemon must be stopped)
    Decrypt,
    /// Encrypt the databases with a new key instead of the current one (the daemon must be stopped)
    Rekey(commands::at_rest::RekeyArgs),
    /// Erase a person: their messages, attachment files, contact entry and desk records
    Forget(commands::forget::ForgetArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell)
    Completions(commands::completions::CompletionsArgs),
    /// Print the manual page (roff): `wamcp man > wamcp.1`
    Man,
    /// Measure import rate and MCP tool latency, startup time and memory on a generated history
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    logging::init(cli.log_format, cli.log_content);
    let command_matches = matches.subcommand().map(|(_, m)| m.clone()).unwrap_or_default();
    // The demo and the benchmark run in a sandbox of their own: the config file of the real
    // account (its data dir, webhooks) must not reach them.
    let sandboxed = matches!(cli.command, Command::Demo(_) | Command::Bench(_));
    let layers = if sandboxed { Ok(Loaded::none()) } else { config::file::load(cli.config.as_deref()) }
        .map(|loaded| Layers::new(command_matches, loaded, cli.data_dir));
    let layers = match layers {
        Ok(layers) => layers,
        Err(error) => return fail(error),
    };
    if let Command::Encrypt(args) = &cli.command
        && let Err(error) = commands::at_rest::create_key_if_missing(cli.key_file.as_deref(), args)
    {
        return fail(error);
    }
    match config::key::keying(cli.key_file.as_deref()) {
        Ok(keying) => {
            // Nothing has opened a file yet, so this is the first install and cannot be refused.
            let _ = wamcp_core::at_rest::install(keying);
            if let Some(path) = &cli.key_file {
                // The wamcp processes this one starts (the benchmark's servers) use the same key.
                let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                // SAFETY: no other thread runs yet, so none reads the environment meanwhile.
                unsafe { std::env::set_var("WAMCP_KEY_FILE", absolute) };
            }
        }
        // The doctor reports a key it cannot use among its findings, with what to do.
        Err(_) if matches!(cli.command, Command::Doctor(_)) => {}
        Err(error) => return fail(error),
    }
    let result = match cli.command {
        Command::Login(args) => return commands::login::run(layers, args),
        Command::Serve(args) => commands::serve::run(layers, args),
        Command::Mcp(args) => commands::mcp::run(layers, args),
        Command::Demo(args) => commands::demo::run(layers, args),
        Command::Import(source) => commands::import::run(layers, source),
        Command::Audit(args) => commands::audit::run(layers, args),
        Command::Desk(command) => commands::desk::run(layers, *command),
        Command::Config(which) => commands::client_config::run(layers, which),
        Command::Bench(args) => bench::run(args),
        Command::Doctor(args) => commands::doctor::run(layers, args),
        Command::Health(args) => commands::health::run(layers, args),
        Command::Backup(args) => commands::backup::backup(layers, args),
        Command::Restore(args) => commands::backup::restore(layers, args),
        Command::Encrypt(args) => commands::at_rest::encrypt(layers, args),
        Command::Decrypt => commands::at_rest::decrypt(layers),
        Command::Rekey(args) => commands::at_rest::rekey(layers, args),
        Command::Forget(args) => commands::forget::run(layers, args),
        Command::Completions(args) => commands::completions::print(Cli::command(), args),
        Command::Man => commands::completions::man(Cli::command()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error),
    }
}

/// Prints the error; exits 1, or [`commands::daemon::ConnectionEnded::exit_code`] when the
/// connection to WhatsApp ended for good (a service manager must not just restart then). Standard output closed by its
/// reader (`| head`) is not an error: the reader has what it wanted.
fn fail(error: anyhow::Error) -> ExitCode {
    if reader_went_away(&error) {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {error:#}");
    if let Some(ended) = error.downcast_ref::<commands::daemon::ConnectionEnded>() {
        return ExitCode::from(ended.exit_code());
    }
    ExitCode::FAILURE
}

/// Whether the error is a write to a pipe whose reader has closed it.
fn reader_went_away(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
