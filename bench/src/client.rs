//! A lean keep-alive HTTP/1.1 client (hyper's connection API): one connection, one request at
//! a time, so the figures are the server's and not a client pool's.
use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    key: String,
}

impl Conn {
    pub async fn open(addr: &str, key: &str) -> Result<Conn> {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn { sender, host: addr.to_owned(), key: key.to_owned() })
    }

    pub async fn get(&mut self, path: &str) -> Result<(u16, Value)> {
        self.sender.ready().await?;
        let req = Request::get(path).header("host", &self.host).body(Full::new(Bytes::new()))?;
        let res = self.sender.send_request(req).await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    pub async fn get_auth(&mut self, path: &str) -> Result<(u16, Value)> {
        self.sender.ready().await?;
        let req = Request::get(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.key))
            .body(Full::new(Bytes::new()))?;
        let res = self.sender.send_request(req).await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// Posts pre-serialized JSON and drains the answer without parsing it (throughput runs,
    /// where the client must not steal the server's CPU).
    pub async fn post_raw(&mut self, path: &str, body: Bytes) -> Result<u16> {
        self.sender.ready().await?;
        let req = Request::post(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", "application/json")
            .body(Full::new(body))?;
        let res = self.sender.send_request(req).await?;
        let status = res.status().as_u16();
        res.into_body().collect().await?;
        Ok(status)
    }

    /// Posts bytes with a content type; answers the status and the JSON answer.
    pub async fn post_bytes(&mut self, path: &str, body: Bytes, content_type: &str) -> Result<(u16, Value)> {
        self.sender.ready().await?;
        let req = Request::post(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", content_type)
            .body(Full::new(body))?;
        let res = self.sender.send_request(req).await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// Downloads `path`; answers the status and the number of bytes.
    pub async fn get_len(&mut self, path: &str) -> Result<(u16, usize)> {
        let (status, bytes) = self.get_bytes(path).await?;
        Ok((status, bytes.len()))
    }

    /// Downloads `path`; answers the status and the bytes.
    pub async fn get_bytes(&mut self, path: &str) -> Result<(u16, Bytes)> {
        self.sender.ready().await?;
        let req = Request::get(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.key))
            .body(Full::new(Bytes::new()))?;
        let res = self.sender.send_request(req).await?;
        let status = res.status().as_u16();
        Ok((status, res.into_body().collect().await?.to_bytes()))
    }

    /// Puts JSON; answers the status and the JSON answer.
    pub async fn put(&mut self, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.json(hyper::Method::PUT, path, body).await
    }

    /// Posts JSON; answers the status and the JSON answer.
    pub async fn post(&mut self, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.json(hyper::Method::POST, path, body).await
    }

    async fn json(&mut self, method: hyper::Method, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.sender.ready().await?;
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))?;
        let res = self.sender.send_request(req).await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }
}

/// A blocking HTTP/1.1 client on one keep-alive socket, the way an app's `requests` session
/// talks to tarea: write the request, block reading the answer. The latency figures use it,
/// because the async client above hands every request to its connection task and back, which
/// adds two thread wake-ups (about 40 µs here) that are the client's, not the server's.
pub struct SyncConn {
    stream: std::net::TcpStream,
    buf: Vec<u8>,
    host: String,
    key: String,
}

impl SyncConn {
    pub fn open(addr: &str, key: &str) -> Result<SyncConn> {
        let stream = std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(SyncConn { stream, buf: Vec::with_capacity(4096), host: addr.to_owned(), key: key.to_owned() })
    }

    /// Sends one request; answers the status and the body.
    pub fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<(u16, Vec<u8>)> {
        use std::io::{Read, Write};
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n", self.host, self.key);
        if let Some(b) = body {
            head.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\n", b.len()));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body.unwrap_or_default());
        self.stream.write_all(&out)?;
        // Read until the head is complete, then exactly content-length bytes of body.
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.stream.read(&mut chunk)?;
            anyhow::ensure!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end])?;
        let status: u16 = head.get(9..12).context("no status line")?.parse()?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
            })
            .context("the answer has no content-length")?;
        while self.buf.len() < head_end + length {
            let n = self.stream.read(&mut chunk)?;
            anyhow::ensure!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok((status, self.buf[head_end..head_end + length].to_vec()))
    }
}
