//! ZIP-based files (XLSX, ODS) checked from their central directory before anything is
//! inflated: how many entries, how much they would inflate to, and by what ratio. The zip crate
//! then stops any entry that inflates past the size its directory declared, so a lying
//! directory cannot get past these limits either.
use std::io::{Read, Seek};

use crate::{ImportError, Limits};

/// The names of the archive's entries, once its sizes are within `limits`.
pub fn check_zip<R: Read + Seek>(reader: R, limits: &Limits) -> Result<Vec<String>, ImportError> {
    let archive = zip::ZipArchive::new(reader).map_err(|e| ImportError::corrupt("ZIP (XLSX/ODS)", e))?;
    let meta = archive.metadata();
    if meta.len() > limits.max_zip_entries {
        return Err(bomb(format!("it holds {} files; at most {}", meta.len(), limits.max_zip_entries)));
    }
    let mut total: u64 = 0;
    let mut names = Vec::with_capacity(meta.len());
    for i in 0..meta.len() {
        let entry = meta.entry(i).map_err(|e| ImportError::corrupt("ZIP (XLSX/ODS)", e))?;
        let (size, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        if total > limits.max_unzipped_bytes {
            return Err(bomb(format!("it would inflate to more than {} MiB", limits.max_unzipped_bytes >> 20)));
        }
        // Small entries may compress very well without harm; big ones that do are bombs.
        if size > 1 << 20 && size / packed.max(1) > limits.max_zip_ratio {
            return Err(bomb(format!(
                "one part inflates {}-fold (from {} KiB to {} MiB); at most {}-fold",
                size / packed.max(1),
                packed >> 10,
                size >> 20,
                limits.max_zip_ratio
            )));
        }
        names.push(entry.name().map(|n| n.into_owned()).unwrap_or_default());
    }
    Ok(names)
}

fn bomb(why: String) -> ImportError {
    ImportError::new("zip_bomb", format!("the file was refused as a ZIP bomb: {why}"))
}
