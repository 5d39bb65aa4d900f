//! `wamcp completions SHELL` and `wamcp man`: generated from the command-line definition itself,
//! so they never disagree with it.

use clap::Args;
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

pub fn print(mut command: clap::Command, args: CompletionsArgs) -> anyhow::Result<()> {
    clap_complete::generate(args.shell, &mut command, "wamcp", &mut std::io::stdout());
    Ok(())
}

pub fn man(command: clap::Command) -> anyhow::Result<()> {
    clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
    Ok(())
}
