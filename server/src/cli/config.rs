//! `sightline config`: each setting's effective value and where it came from, secrets masked;
//! or, with `--markdown`, the settings reference as README.md shows it.

use sightline::config::{markdown_table, EffectiveSettings, Settings};

#[derive(clap::Args)]
pub struct ConfigArgs {
    /// Prints every setting's name, default and meaning as README.md's Markdown table instead
    /// of the effective values.
    #[arg(long)]
    markdown: bool,
}

impl ConfigArgs {
    pub fn run(self) -> anyhow::Result<()> {
        if self.markdown {
            print!("{}", markdown_table());
            return Ok(());
        }
        // The values first, so an invalid one can be seen beside the others; then the checks
        // every other command starts with: an invalid configuration exits non-zero with its line.
        print!("{}", EffectiveSettings::from_env()?);
        Settings::from_env()?;
        Ok(())
    }
}
