//! Reading a QR code from the PNG `wamcp login` writes, as the phone's camera would.

use std::path::Path;

use anyhow::{Context, Result};

pub fn read_png(path: &Path) -> Result<String> {
    let image = image::open(path).with_context(|| format!("reading {}", path.display()))?.to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    let grid = grids.first().with_context(|| format!("no QR code in {}", path.display()))?;
    let (_, content) =
        grid.decode().map_err(|e| anyhow::anyhow!("the QR code in {} does not decode: {e}", path.display()))?;
    Ok(content)
}
