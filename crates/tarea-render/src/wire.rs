//! What the server and a renderer process say to each other over the child's stdin and
//! stdout: every message is two frames, a JSON header and a body of bytes, each a
//! little-endian u32 length followed by that many bytes.
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::{CheckReport, Output, RenderError, Request, Template};

/// The largest frame either side accepts (a PDF of thousands of labels fits many times over).
pub const MAX_FRAME: usize = 1 << 30;

/// Server → renderer.
#[derive(Debug, Serialize, Deserialize)]
pub enum Call {
    /// Answer once ready (the renderer warms up before it reads its first call); the body is empty.
    Ping,
    /// Load (or replace) a template version; the body is empty.
    Load(Template),
    /// Render; the body is the data (JSON).
    Render(Request),
    /// Check a template before it is stored; the body is sample data (JSON) or empty.
    Check(Template),
}

/// Renderer → server.
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// Ready; the body is empty.
    Pong,
    /// Loaded; the body is empty.
    Loaded,
    /// Rendered; the body is the PDF.
    Rendered(Output),
    /// Checked; the body is empty.
    Checked(CheckReport),
    /// Failed; the body is empty.
    Failed(RenderError),
}

/// One message as bytes, for either side to write.
pub fn encode<T: Serialize>(header: &T, body: &[u8]) -> io::Result<Vec<u8>> {
    let header = serde_json::to_vec(header).map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(8 + header.len() + body.len());
    out.extend_from_slice(&len(header.len())?.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&len(body.len())?.to_le_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// Writes one message.
pub fn write_message<W: Write, T: Serialize>(w: &mut W, header: &T, body: &[u8]) -> io::Result<()> {
    w.write_all(&encode(header, body)?)?;
    w.flush()
}

/// Reads one message; None at a clean end of input.
pub fn read_message<R: Read, T: for<'de> Deserialize<'de>>(r: &mut R) -> io::Result<Option<(T, Vec<u8>)>> {
    let Some(header) = read_frame(r, true)? else { return Ok(None) };
    let header = serde_json::from_slice(&header).map_err(io::Error::other)?;
    let body = read_frame(r, false)?.unwrap_or_default();
    Ok(Some((header, body)))
}

fn len(n: usize) -> io::Result<u32> {
    if n > MAX_FRAME {
        return Err(io::Error::other(format!("a frame of {n} bytes is over the {MAX_FRAME}-byte limit")));
    }
    Ok(n as u32)
}

fn read_frame<R: Read>(r: &mut R, eof_ok: bool) -> io::Result<Option<Vec<u8>>> {
    let mut n = [0u8; 4];
    match r.read_exact(&mut n) {
        Ok(()) => {}
        Err(e) if eof_ok && e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = u32::from_le_bytes(n) as usize;
    if n > MAX_FRAME {
        return Err(io::Error::other(format!("a frame of {n} bytes is over the {MAX_FRAME}-byte limit")));
    }
    let mut buf = vec![0; n];
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}
