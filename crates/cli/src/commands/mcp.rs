//! `wamcp mcp`: the read tools over stdio, on the store in the data directory.

use anyhow::Context;
use wamcp_mcp::ReadTools;
use wamcp_store::Reader;

use crate::config::Layers;

pub fn run(mut layers: Layers) -> anyhow::Result<()> {
    let dir = super::data_dir(&mut layers)?;
    let path = dir.store_path();
    let reader = Reader::open(&path).with_context(|| format!("cannot open the store {}", path.display()))?;
    if !reader.has_messages()? {
        eprintln!(
            "wamcp: the store {} has no messages yet. Import a lharries/whatsapp-mcp history with \
             `wamcp import lharries PATH`, or try `wamcp demo`.",
            path.display()
        );
    }
    serve(reader)
}

/// Serves the read tools on stdio until the client disconnects.
pub fn serve(reader: Reader) -> anyhow::Result<()> {
    super::runtime()?.block_on(wamcp_mcp::serve_stdio(ReadTools::new(reader)))?;
    Ok(())
}
