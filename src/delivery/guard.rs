//! The SSRF guard: which target addresses endpoints may reach.
//!
//! An endpoint URL is checked when it is created and again on every connect,
//! against the addresses its host resolves to at that moment, so a DNS record
//! that later points at an internal address (rebinding) is still refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True for addresses an endpoint may not reach unless the operator allows
/// private targets. Only globally routable unicast is allowed: for IPv4,
/// every range the IANA special-purpose registry marks as not globally
/// reachable (loopback, private, link-local with cloud metadata
/// 169.254.169.254, CGNAT, benchmarking 198.18.0.0/15, documentation
/// TEST-NETs, 192.0.0.0/24, the 6to4 relay anycast, multicast, reserved,
/// broadcast); for IPv6, only 2000::/3 (global unicast) outside its
/// documentation and IETF-protocol blocks. Forms that carry an IPv4 address
/// (mapped, translated, compatible, NAT64, 6to4) are judged by that address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, CGNAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24, IETF protocols
        || (o[0] == 192 && o[1] == 0 && o[2] == 2) // 192.0.2.0/24, TEST-NET-1
        || (o[0] == 192 && o[1] == 88 && o[2] == 99) // 192.88.99.0/24, 6to4 relays
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15, benchmarking
        || (o[0] == 198 && o[1] == 51 && o[2] == 100) // 198.51.100.0/24, TEST-NET-2
        || (o[0] == 203 && o[1] == 0 && o[2] == 113) // 203.0.113.0/24, TEST-NET-3
        || o[0] >= 240 // 240.0.0.0/4 reserved, broadcast
}

/// The IPv4 address an IPv6 address reaches through a translator or
/// gateway, if it is one of those forms.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return Some(mapped); // ::ffff:0:0/96
    }
    if s[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return Some(v4(s[6], s[7])); // ::ffff:0:0:0/96, IPv4-translated
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(v4(s[6], s[7])); // 64:ff9b::/96, NAT64
    }
    if s[0] == 0x2002 {
        return Some(v4(s[1], s[2])); // 2002::/16, 6to4
    }
    if s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(v4(s[6], s[7])); // ::/96, IPv4-compatible
    }
    None
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    (s[0] & 0xe000) != 0x2000 // outside 2000::/3: loopback, ULA, link-local, 100::/64, ...
        || (s[0] == 0x2001 && s[1] < 0x0200) // 2001::/23, IETF protocols (Teredo, ...)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // 2001:db8::/32, documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // 3fff::/20, documentation
}

/// A parsed delivery target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The `host` header value (host, plus `:port` when not the default).
    pub authority: String,
    pub path_and_query: String,
    /// Tells apart connections made with different TLS or proxy settings
    /// of the same endpoint (0: the engine's defaults), so none is reused
    /// after the settings change (`conn::key_of`).
    pub pool_tag: u64,
}

/// Why an endpoint URL is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("url is not valid: {0}")]
    Parse(String),
    #[error("url scheme must be http or https")]
    Scheme,
    #[error("url must have a host")]
    NoHost,
    #[error("url must not carry credentials")]
    Credentials,
    #[error("url resolves to a private, loopback or link-local address ({0}); refused")]
    Private(IpAddr),
    #[error("cannot resolve host {0}")]
    Resolve(String),
}

impl Target {
    /// Parses and checks the static parts of an endpoint URL.
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let u = url::Url::parse(url).map_err(|e| TargetError::Parse(e.to_string()))?;
        let tls = match u.scheme() {
            "http" => false,
            "https" => true,
            _ => return Err(TargetError::Scheme),
        };
        if !u.username().is_empty() || u.password().is_some() {
            return Err(TargetError::Credentials);
        }
        let host = match u.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(TargetError::NoHost),
        };
        let port = u.port_or_known_default().ok_or(TargetError::Scheme)?;
        let authority = match (u.port(), u.host_str()) {
            (Some(p), Some(h)) => format!("{h}:{p}"),
            (None, Some(h)) => h.to_string(),
            _ => return Err(TargetError::NoHost),
        };
        let mut path_and_query = u.path().to_string();
        if let Some(q) = u.query() {
            path_and_query.push('?');
            path_and_query.push_str(q);
        }
        Ok(Target {
            tls,
            host,
            port,
            authority,
            path_and_query,
            pool_tag: 0,
        })
    }

    /// Resolves the host (blocking: call off the shard thread) and keeps only
    /// permitted addresses; an empty answer is an error naming the first refusal.
    pub fn resolve(&self, allow_private: bool) -> Result<Vec<std::net::SocketAddr>, TargetError> {
        use std::net::ToSocketAddrs;
        let addrs: Vec<_> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|_| TargetError::Resolve(self.host.clone()))?
            .collect();
        self.permitted(addrs, allow_private)
    }

    /// Keeps only the addresses the SSRF policy permits.
    pub fn permitted(
        &self,
        addrs: Vec<std::net::SocketAddr>,
        allow_private: bool,
    ) -> Result<Vec<std::net::SocketAddr>, TargetError> {
        let mut refused = None;
        let allowed: Vec<_> = addrs
            .into_iter()
            .filter(|a| {
                let ok = allow_private || !is_private(a.ip());
                if !ok && refused.is_none() {
                    refused = Some(a.ip());
                }
                ok
            })
            .collect();
        match (allowed.is_empty(), refused) {
            (true, Some(ip)) => Err(TargetError::Private(ip)),
            (true, None) => Err(TargetError::Resolve(self.host.clone())),
            _ => Ok(allowed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "::a00:1",
            "2001:0:1::1",
            "fec0::1",
            "2001:db8::1",
            // Found by hand in the hardening review:
            "198.18.0.1",
            "198.19.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "192.88.99.1",
            "::ffff:0:7f00:1",
            "100::1",
            "3fff::1",
            "5f00::1",
            "2001:2::1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "198.20.0.1",
            "::ffff:0:808:808",
            "2a00:1450:4001::1",
            "2001:4860::8888",
        ] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn targets_parse() {
        let t = Target::parse("http://127.0.0.1:9000/hook?x=1").expect("valid");
        assert_eq!(
            (t.port, t.authority.as_str(), t.path_and_query.as_str()),
            (9000, "127.0.0.1:9000", "/hook?x=1")
        );
        assert_eq!(Target::parse("ftp://x/"), Err(TargetError::Scheme));
        assert_eq!(
            Target::parse("http://u:p@x/"),
            Err(TargetError::Credentials)
        );
        assert!(matches!(
            Target::parse("http://127.0.0.1:1/").and_then(|t| t.resolve(false)),
            Err(TargetError::Private(_))
        ));
        assert!(Target::parse("http://127.0.0.1:1/")
            .and_then(|t| t.resolve(true))
            .is_ok());
    }
}
