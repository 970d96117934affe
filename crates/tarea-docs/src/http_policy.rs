//! Where a tenant's `http.request` jobs may go: its `http` setting's allow-list, and the rule
//! that keeps them off private networks (no SSRF).
//!
//! - A URL must start with an allowed prefix: `https://app.example.com/api/`, a subdomain
//!   wildcard `https://*.example.com/`, or any host `https://*/`. The scheme, host and port must
//!   match; the path must start with the prefix's.
//! - The addresses a request goes to must be public (not loopback, private, link-local,
//!   carrier-grade NAT, multicast, documentation or otherwise reserved), unless the host is
//!   written out in the allow-list (`http://127.0.0.1:8000/`, `http://app.internal/`): naming a
//!   host is the permission to reach it. A wildcard only reaches public addresses.
//! - The check is made on the addresses the name resolves to, by the resolver the connection
//!   then uses, so a name cannot resolve to a public address for the check and a private one
//!   for the connection. Redirects are not followed (they would leave the allow-list).
//!
//! The address classes are written here by hand: `IpAddr::is_global` is not stable Rust, and
//! no maintained crate covers both families with the reserved ranges this needs.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tarea_core::PayloadError;
use url::Url;

/// The name the setting is stored under.
pub const HTTP_SETTING: &str = "http";
/// Most entries of an allow-list.
const ALLOW_MAX: usize = 100;

/// A tenant's `http` setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// URL prefixes requests may go to.
    pub allow: Vec<String>,
    /// The key requests are signed with (hex); made by tarea, shown to the tenant.
    #[serde(default)]
    pub signing_secret: String,
    /// Set on a `PUT` to make a new signing secret.
    #[serde(default, skip_serializing)]
    pub rotate_secret: bool,
}

/// One allow-list entry, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    scheme: String,
    host: HostRule,
    port: u16,
    path: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostRule {
    /// `*`: any host, public addresses only.
    Any,
    /// `*.example.com`: its subdomains, public addresses only.
    Suffix(String),
    /// A host written out: it may be private.
    Exact(String),
}

fn parse_entry(field: &str, text: &str) -> Result<Entry, PayloadError> {
    let bad = |why: &str| {
        PayloadError::new(field, format!("{text:?} {why}; write a URL prefix such as https://app.example.com/api/"))
    };
    // `*` is not a valid host for the URL parser: parse with a placeholder.
    let (placeholder, rule) = if let Some(rest) = text.split_once("://").map(|(_, r)| r) {
        let host_part = rest.split(['/', ':']).next().unwrap_or("");
        if host_part == "*" {
            (text.replacen("://*", "://wildcard.invalid", 1), Some(HostRule::Any))
        } else if let Some(suffix) = host_part.strip_prefix("*.") {
            (text.replacen("://*.", "://", 1), Some(HostRule::Suffix(suffix.to_ascii_lowercase())))
        } else {
            (text.to_owned(), None)
        }
    } else {
        return Err(bad("has no scheme"));
    };
    let url = Url::parse(&placeholder).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("is not http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad("has a query, a fragment or credentials"));
    }
    let host = url.host_str().ok_or_else(|| bad("has no host"))?.to_ascii_lowercase();
    let host = rule.unwrap_or(HostRule::Exact(host.trim_start_matches('[').trim_end_matches(']').to_owned()));
    let port = url.port_or_known_default().ok_or_else(|| bad("has no port"))?;
    Ok(Entry { scheme: url.scheme().to_owned(), host, port, path: url.path().to_owned() })
}

impl HttpSettings {
    /// Reads and checks a setting; keeps `previous`'s secret unless asked to rotate it.
    pub fn parse(value: &Value, previous: Option<&Value>) -> Result<HttpSettings, PayloadError> {
        let mut s: HttpSettings =
            serde_json::from_value(value.clone()).map_err(|e| PayloadError::new("", e.to_string()))?;
        if s.allow.is_empty() || s.allow.len() > ALLOW_MAX {
            return Err(PayloadError::new("allow", format!("allow holds 1 to {ALLOW_MAX} URL prefixes")));
        }
        for (i, a) in s.allow.iter().enumerate() {
            parse_entry(&format!("allow[{i}]"), a)?;
        }
        let old = previous.and_then(|p| p.get("signing_secret")).and_then(Value::as_str).filter(|s| !s.is_empty());
        s.signing_secret = match (s.rotate_secret, old) {
            (false, Some(old)) => old.to_owned(),
            _ => {
                let bytes: [u8; 32] = rand::random();
                hex::encode(bytes)
            }
        };
        s.rotate_secret = false;
        Ok(s)
    }

    /// The policy requests of this tenant follow.
    pub fn policy(&self) -> Result<Policy, PayloadError> {
        let entries = self
            .allow
            .iter()
            .enumerate()
            .map(|(i, a)| parse_entry(&format!("allow[{i}]"), a))
            .collect::<Result<_, _>>()?;
        Ok(Policy { entries })
    }
}

/// A tenant's allow-list, ready to check URLs and addresses.
#[derive(Clone, Debug)]
pub struct Policy {
    entries: Vec<Entry>,
}

/// Why a destination is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl Policy {
    /// Checks a URL against the allow-list; answers whether its host was named outright (and
    /// so may be private).
    pub fn check_url(&self, url: &Url) -> Result<bool, Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused(format!("{url} is not http or https")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused("URLs with credentials are refused; send them in a header".into()));
        }
        let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let port = url.port_or_known_default().unwrap_or(0);
        let mut named = None;
        for e in &self.entries {
            if e.scheme != url.scheme() || e.port != port || !url.path().starts_with(&e.path) {
                continue;
            }
            match &e.host {
                HostRule::Exact(h) if *h == host => named = Some(true),
                HostRule::Suffix(s) if host.ends_with(&format!(".{s}")) => named = named.or(Some(false)),
                HostRule::Any => named = named.or(Some(false)),
                _ => {}
            }
        }
        named.ok_or_else(|| {
            Refused(format!("{url} is not in this tenant's allow-list (PUT /v1/settings/http {{\"allow\": [...]}})"))
        })
    }

    /// The hosts written out in the allow-list.
    fn named_hosts(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|e| match &e.host {
                HostRule::Exact(h) => Some(h.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] == 0x0064 && s[1] == 0xff9b)
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0))
}

/// Checks an address the request would go to: public, or its host is named outright.
pub fn check_addr(host: &str, ip: IpAddr, named: bool) -> Result<(), Refused> {
    if named || is_public(ip) {
        Ok(())
    } else {
        Err(Refused(format!(
            "{host} is at {ip}, a private, loopback or link-local address; list http(s)://{host}/ in the allow-list \
             to reach it"
        )))
    }
}

/// The resolver the tenant's connections use: it resolves, then refuses private addresses of
/// hosts not named in the allow-list.
#[derive(Clone, Debug)]
pub struct PolicyResolver {
    named: Arc<Vec<String>>,
}

impl PolicyResolver {
    /// The resolver of `policy`.
    pub fn new(policy: &Policy) -> Self {
        PolicyResolver { named: Arc::new(policy.named_hosts()) }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let named = self.named.iter().any(|h| h.eq_ignore_ascii_case(name.as_str()));
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for a in &addrs {
                check_addr(&host, a.ip(), named)
                    .map_err(|r| std::io::Error::new(std::io::ErrorKind::PermissionDenied, r.0))?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(allow: &[&str]) -> Policy {
        HttpSettings::parse(&json!({"allow": allow}), None).unwrap().policy().unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn urls_must_start_with_an_allowed_prefix() {
        let p = policy(&["https://app.example.com/api/", "https://*.clinica.example/", "http://127.0.0.1:8000/"]);
        assert_eq!(p.check_url(&url("https://app.example.com/api/protocolos/1")), Ok(true));
        assert_eq!(p.check_url(&url("https://informes.clinica.example/x")), Ok(false));
        assert_eq!(p.check_url(&url("http://127.0.0.1:8000/hooks")), Ok(true));
        for refused in [
            "https://app.example.com/admin",
            "http://app.example.com/api/",
            "https://app.example.com:444/api/",
            "https://clinica.example/",
            "http://127.0.0.1:8001/hooks",
            "https://user:pw@app.example.com/api/",
            "ftp://app.example.com/api/",
        ] {
            assert!(p.check_url(&url(refused)).is_err(), "{refused}");
        }
        let any = policy(&["https://*/"]);
        assert_eq!(any.check_url(&url("https://anything.example/x")), Ok(false));
        assert!(any.check_url(&url("http://anything.example/x")).is_err());
    }

    #[test]
    fn private_addresses_are_refused_unless_the_host_is_named() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip}");
            assert!(check_addr("h", ip, false).is_err(), "{ip}");
            assert!(check_addr("h", ip, true).is_ok(), "{ip}");
        }
        for ip in ["8.8.8.8", "200.45.1.1", "2800:810::1", "1.1.1.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn settings_keep_their_secret_unless_rotated_and_name_bad_entries() {
        let first = HttpSettings::parse(&json!({"allow": ["https://*/"]}), None).unwrap();
        assert_eq!(first.signing_secret.len(), 64);
        let stored = serde_json::to_value(&first).unwrap();
        let again = HttpSettings::parse(&json!({"allow": ["https://a.example/"]}), Some(&stored)).unwrap();
        assert_eq!(again.signing_secret, first.signing_secret);
        let rotated =
            HttpSettings::parse(&json!({"allow": ["https://*/"], "rotate_secret": true}), Some(&stored)).unwrap();
        assert_ne!(rotated.signing_secret, first.signing_secret);
        for (bad, field) in [
            (json!({"allow": []}), "allow"),
            (json!({"allow": ["https://ok.example/", "app.example.com"]}), "allow[1]"),
            (json!({"allow": ["ftp://x.example/"]}), "allow[0]"),
            (json!({"allow": ["https://x.example/?a=1"]}), "allow[0]"),
        ] {
            assert_eq!(HttpSettings::parse(&bad, None).unwrap_err().field, field, "{bad}");
        }
    }
}
