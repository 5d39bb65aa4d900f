//! `wamcp completions SHELL` and `wamcp man`: generated from the command-line definition itself,
//! so they never disagree with it.

use std::io::Write as _;

use clap::Args;
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

// Both are made in memory, then written: the generators panic on a failed write, and a closed
// pipe (`wamcp man | head`) must end the command quietly instead.

pub fn print(mut command: clap::Command, args: CompletionsArgs) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "wamcp", &mut script);
    std::io::stdout().write_all(&script)?;
    Ok(())
}

pub fn man(command: clap::Command) -> anyhow::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    std::io::stdout().write_all(&page)?;
    Ok(())
}
