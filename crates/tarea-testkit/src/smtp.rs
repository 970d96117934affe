//! A real SMTP server on 127.0.0.1:0 that keeps what it receives, for the e-mail tests: the
//! conversation is the one a mail relay holds (EHLO, AUTH PLAIN, MAIL, RCPT, DATA with
//! dot-stuffing, RSET, QUIT), one task per connection (lettre's pool opens several).
//!
//! Recipients steer failures: a local part containing `rechazado` is refused for good
//! (`550 5.1.1`), one containing `ocupado` for now (`451 4.7.1`).
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A message as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    /// `MAIL FROM`.
    pub from: String,
    /// `RCPT TO`, in order.
    pub to: Vec<String>,
    /// The message (headers and body), dot-unstuffed, CRLF line ends.
    pub data: Vec<u8>,
    /// Whether the client authenticated first.
    pub authenticated: bool,
}

/// The server; it stops when dropped.
pub struct SmtpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Starts a server; with `auth`, it asks for that user and password before taking mail.
    pub async fn start(auth: Option<(&str, &str)>) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let auth = auth.map(|(u, p)| (u.to_owned(), p.to_owned()));
        let sink = Arc::clone(&received);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, auth.clone(), Arc::clone(&sink)));
            }
        });
        SmtpSink { addr, received, task }
    }

    /// What it received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits (up to 20 s) until it has received `n` messages.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "the SMTP server received {} of {n} messages", got.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn address(arg: &str) -> String {
    let start = arg.find('<').map_or(0, |i| i + 1);
    let end = arg[start..].find('>').map_or(arg.len(), |i| start + i);
    arg[start..end].to_owned()
}

fn plain_credentials(b64: &str) -> Option<(String, String)> {
    let bytes = decode_base64(b64.trim())?;
    let mut parts = bytes.split(|b| *b == 0);
    let _authz = parts.next()?;
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let pass = String::from_utf8(parts.next()?.to_vec()).ok()?;
    Some((user, pass))
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

async fn session(stream: TcpStream, auth: Option<(String, String)>, sink: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let say = async |w: &mut tokio::net::tcp::OwnedWriteHalf, s: &str| w.write_all(s.as_bytes()).await.is_ok();
    if !say(&mut write, "220 sink.test ESMTP tarea test server\r\n").await {
        return;
    }
    let (mut authenticated, mut from, mut to) = (false, None::<String>, Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end();
        let upper = cmd.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            if auth.is_some() {
                "250-sink.test\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n".to_owned()
            } else {
                "250-sink.test\r\n250 8BITMIME\r\n".to_owned()
            }
        } else if upper.starts_with("HELO") {
            "250 sink.test\r\n".to_owned()
        } else if upper.starts_with("AUTH PLAIN") {
            let given = cmd[10..].trim();
            let creds = if given.is_empty() {
                if !say(&mut write, "334 \r\n").await {
                    return;
                }
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                plain_credentials(&line)
            } else {
                plain_credentials(given)
            };
            match (&auth, creds) {
                (Some((u, p)), Some((gu, gp))) if *u == gu && *p == gp => {
                    authenticated = true;
                    "235 2.7.0 Authentication successful\r\n".to_owned()
                }
                _ => "535 5.7.8 Authentication credentials invalid\r\n".to_owned(),
            }
        } else if upper.starts_with("MAIL FROM:") {
            if auth.is_some() && !authenticated {
                "530 5.7.0 Authentication required\r\n".to_owned()
            } else {
                from = Some(address(&cmd[10..]));
                to.clear();
                "250 2.1.0 Ok\r\n".to_owned()
            }
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = address(&cmd[8..]);
            if rcpt.contains("rechazado") {
                format!("550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n")
            } else if rcpt.contains("ocupado") {
                format!("451 4.7.1 <{rcpt}>: Recipient address rejected: try again later\r\n")
            } else {
                to.push(rcpt);
                "250 2.1.5 Ok\r\n".to_owned()
            }
        } else if upper == "DATA" {
            if from.is_none() || to.is_empty() {
                "503 5.5.1 Need MAIL and RCPT first\r\n".to_owned()
            } else {
                if !say(&mut write, "354 End data with <CR><LF>.<CR><LF>\r\n").await {
                    return;
                }
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let text = line.strip_prefix('.').unwrap_or(&line);
                    data.extend_from_slice(text.as_bytes());
                }
                let n = {
                    let mut all = sink.lock().expect("lock");
                    all.push(Received {
                        from: from.take().unwrap_or_default(),
                        to: std::mem::take(&mut to),
                        data,
                        authenticated,
                    });
                    all.len()
                };
                format!("250 2.0.0 Ok: queued as SINK{n}\r\n")
            }
        } else if upper == "RSET" {
            from = None;
            to.clear();
            "250 2.0.0 Ok\r\n".to_owned()
        } else if upper == "NOOP" {
            "250 2.0.0 Ok\r\n".to_owned()
        } else if upper == "QUIT" {
            let _ = say(&mut write, "221 2.0.0 Bye\r\n").await;
            return;
        } else {
            "502 5.5.2 Command not recognized\r\n".to_owned()
        };
        if !say(&mut write, &reply).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_and_plain_credentials() {
        assert_eq!(address("<lab@example.com> SIZE=100"), "lab@example.com");
        assert_eq!(address(" lab@example.com"), " lab@example.com");
        // "\0lab\0secreto"
        assert_eq!(plain_credentials("AGxhYgBzZWNyZXRv"), Some(("lab".into(), "secreto".into())));
    }
}
