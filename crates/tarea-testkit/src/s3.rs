//! A real S3-compatible server on loopback for the artifact tests: moto's server (`moto_server`,
//! installed by `scripts/test` from PyPI), started on a free port and stopped on drop. It
//! speaks the S3 protocol, multipart uploads included; it does not check signatures.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

pub struct S3Server {
    child: Child,
    pub port: u16,
}

impl S3Server {
    /// Starts `moto_server` on 127.0.0.1; panics (the tests must not skip) if it is missing.
    ///
    /// A free port can be taken by another test's server between our probe and moto's bind; then
    /// moto exits and the port answers someone else. So the server counts as up only when it
    /// answers as S3 and our moto is still running; otherwise it is tried again on another port.
    pub fn start() -> S3Server {
        for _ in 0..5 {
            if let Some(server) = Self::try_start() {
                return server;
            }
        }
        panic!("moto_server did not start on any of five ports");
    }

    fn try_start() -> Option<S3Server> {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server ({e}); `bash scripts/test` installs it with pip install 'moto[server]'"
                )
            });
        let mut server = S3Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if server.child.try_wait().ok().flatten().is_some() {
                return None; // it could not bind: the port was taken
            }
            if answers_as_s3(port) {
                return Some(server);
            }
            assert!(Instant::now() < deadline, "moto_server did not answer on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a `tarea serve` needs to use this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "prueba".into()),
            ("AWS_SECRET_ACCESS_KEY", "prueba".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, name: &str) {
        let res = reqwest::Client::new().put(format!("{}/{name}", self.endpoint())).send().await.expect("moto");
        assert!(res.status().is_success(), "creating bucket {name}: {}", res.status());
    }

    /// The keys in a bucket (first 1,000).
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let url = format!("{}/{bucket}?list-type=2", self.endpoint());
        let xml = reqwest::Client::new().get(url).send().await.expect("moto").text().await.expect("listing");
        xml.split("<Key>").skip(1).filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned())).collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the server on `port` answers `GET /` as S3 does (a bucket listing).
fn answers_as_s3(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    if conn.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).contains("ListAllMyBucketsResult")
}
