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

    pub async fn post(&mut self, path: &str, body: &Value) -> Result<(u16, Value)> {
        self.sender.ready().await?;
        let req = Request::post(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))?;
        let res = self.sender.send_request(req).await?;
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await?.to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }
}
