//! What a file is, from its bytes (never its name): a PDF renamed `.xlsx` is a PDF.
use std::io::{Read, Seek, SeekFrom};

use crate::{ImportError, Limits, zipcheck};

/// A kind of file the importer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Delimited text.
    Csv,
    /// Excel 2007+.
    Xlsx,
    /// Excel 2007+ binary.
    Xlsb,
    /// Excel 97–2003.
    Xls,
    /// OpenDocument (LibreOffice).
    Ods,
}

impl Format {
    /// Its name in the summary.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Xlsb => "xlsb",
            Format::Xls => "xls",
            Format::Ods => "ods",
        }
    }
}

/// Reads the start of `file` (and a ZIP's directory) to tell what it is; files that are not a
/// spreadsheet or text are refused naming what they are instead.
pub fn detect_format<R: Read + Seek>(file: &mut R, limits: &Limits) -> Result<Format, ImportError> {
    let mut head = [0u8; 512];
    let n = read_up_to(file, &mut head)?;
    let head = &head[..n];
    file.seek(SeekFrom::Start(0)).map_err(ImportError::io)?;
    if n == 0 {
        return Err(ImportError::new("empty_file", "the file is empty"));
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        let names = zipcheck::check_zip(&mut *file, limits)?;
        file.seek(SeekFrom::Start(0)).map_err(ImportError::io)?;
        let has = |name: &str| names.iter().any(|n| n.eq_ignore_ascii_case(name));
        return if has("xl/workbook.xml") {
            Ok(Format::Xlsx)
        } else if has("xl/workbook.bin") {
            Ok(Format::Xlsb)
        } else if has("content.xml") && head.windows(46).any(|w| w == b"application/vnd.oasis.opendocument.spreadsheet")
        {
            Ok(Format::Ods)
        } else if has("word/document.xml") {
            Err(not_a_sheet("a Word document (.docx)"))
        } else if has("content.xml") {
            Err(not_a_sheet("an OpenDocument file that is not a spreadsheet"))
        } else {
            Err(not_a_sheet("a ZIP archive"))
        };
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Ok(Format::Xls);
    }
    for (magic, what) in [
        (b"%PDF".as_slice(), "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"II*\x00", "a TIFF image"),
        (b"MM\x00*", "a TIFF image"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"Rar!", "a RAR archive"),
        (b"7z\xBC\xAF", "a 7-Zip archive"),
        (b"\x7FELF", "a program"),
        (b"MZ", "a Windows program"),
        (b"{\\rtf", "an RTF document"),
    ] {
        if head.starts_with(magic) {
            return Err(not_a_sheet(what));
        }
    }
    // Text has no zero bytes, except UTF-16 (which has them in every other place).
    let zeros = head.iter().filter(|b| **b == 0).count();
    let utf16 = crate::detect_encoding(head, None).encoding.name().starts_with("UTF-16");
    if zeros > 0 && !utf16 {
        return Err(not_a_sheet("binary data"));
    }
    Ok(Format::Csv)
}

fn not_a_sheet(what: &str) -> ImportError {
    ImportError::new(
        "unsupported_file",
        format!("the file is {what}, not a spreadsheet: upload a CSV, XLSX, XLS or ODS file"),
    )
}

pub(crate) fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, ImportError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ImportError::io(e)),
        }
    }
    Ok(n)
}
