//! The SSRF guard: a webhook may only reach public addresses unless the
//! deployment sets `webhook_allow_private = true`. Checked when an endpoint
//! is registered and again at every delivery — on the addresses the
//! connection actually uses (the HTTP client resolves names through
//! [`GuardedResolver`]), so a name that later resolves inward is refused too.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Loopback, private, link-local, shared (CGNAT), unspecified, multicast,
/// documentation and other special-purpose ranges.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_internal(v4),
        IpAddr::V6(v6) => v6_internal(v6),
    }
}

fn v4_internal(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_unspecified()
        || o[0] == 0 // 0.0.0.0/8 "this network"
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16 (cloud metadata lives here)
        || (o[0] == 100 && (o[1] & 0xC0) == 64) // 100.64/10 shared address space
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 IETF protocol assignments
        || (o[0] == 192 && o[1] == 0 && o[2] == 2) // documentation
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
        || (o[0] == 198 && (o[1] & 0xFE) == 18) // 198.18/15 benchmarking
        || ip.is_multicast() // 224/4
        || o[0] >= 240 // 240/4 reserved, and the broadcast address
}

fn v6_internal(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_internal(v4);
    }
    // NAT64 (64:ff9b::/96) embeds an IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return v4_internal(v4);
    }
    ip.is_unspecified() // ::
        || ip.is_loopback() // ::1
        || (s[0] & 0xFE00) == 0xFC00 // fc00::/7 unique local
        || (s[0] & 0xFFC0) == 0xFE80 // fe80::/10 link local
        || (s[0] & 0xFFC0) == 0xFEC0 // fec0::/10 old site local
        || ip.is_multicast() // ff00::/8
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[0..6].iter().all(|x| *x == 0) // ::/96 IPv4-compatible (deprecated)
}

/// Why a URL may not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not an http(s) URL with a host, or carrying credentials.
    Malformed,
    /// The host could not be resolved.
    Unresolvable,
    /// It is (or resolves to) a loopback / private / special address.
    Internal,
}

impl Refusal {
    pub fn message(&self) -> &'static str {
        match self {
            Refusal::Malformed => "地址应为 http:// 或 https:// 开头的完整网址",
            Refusal::Unresolvable => "无法解析该地址的域名",
            Refusal::Internal => "不允许指向本机或内网地址",
        }
    }
}

/// Parses and shape-checks a webhook URL.
pub fn parse_url(url: &str) -> Result<reqwest::Url, Refusal> {
    let u = reqwest::Url::parse(url.trim()).map_err(|_| Refusal::Malformed)?;
    if !matches!(u.scheme(), "http" | "https")
        || u.host_str().is_none_or(str::is_empty)
        || !u.username().is_empty()
        || u.password().is_some()
        || url.len() > 1000
    {
        return Err(Refusal::Malformed);
    }
    Ok(u)
}

/// Checks a URL against the guard, resolving its host name.
pub async fn check(url: &str, allow_private: bool) -> Result<reqwest::Url, Refusal> {
    let u = parse_url(url)?;
    if allow_private {
        return Ok(u);
    }
    let port = u.port_or_known_default().unwrap_or(80);
    let addrs: Vec<IpAddr> = match host_of(&u) {
        Some(Host::Ip(ip)) => vec![ip],
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") {
                return Err(Refusal::Internal);
            }
            let found = tokio::net::lookup_host((d.as_str(), port))
                .await
                .map_err(|_| Refusal::Unresolvable)?;
            found.map(|a| a.ip()).collect()
        }
        None => return Err(Refusal::Malformed),
    };
    if addrs.is_empty() {
        return Err(Refusal::Unresolvable);
    }
    if addrs.iter().any(|ip| is_internal(*ip)) {
        return Err(Refusal::Internal);
    }
    Ok(u)
}

/// The host of a parsed URL.
enum Host<'a> {
    Domain(&'a str),
    Ip(IpAddr),
}

fn host_of(u: &reqwest::Url) -> Option<Host<'_>> {
    let h = u.host_str()?;
    if let Some(inner) = h.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| Host::Ip(IpAddr::V6(ip)));
    }
    if let Ok(v4) = h.parse::<Ipv4Addr>() {
        return Some(Host::Ip(IpAddr::V4(v4)));
    }
    Some(Host::Domain(h))
}

/// The HTTP client's resolver: drops internal addresses (unless allowed),
/// failing the connection when nothing public is left.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow || !is_internal(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "webhook host resolves only to internal addresses",
                ))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges() {
        for a in [
            "127.0.0.1",
            "127.8.8.8",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(is_internal(a.parse().unwrap()), "{a} is internal");
        }
        for a in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "101.6.6.6",
            "2400:3200::1",
        ] {
            assert!(!is_internal(a.parse().unwrap()), "{a} is public");
        }
    }

    #[tokio::test]
    async fn urls_are_checked() {
        for u in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]/x",
            "http://10.0.0.5/hook",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/",
        ] {
            assert_eq!(check(u, false).await.unwrap_err(), Refusal::Internal, "{u}");
        }
        assert!(check("http://127.0.0.1:9/x", true).await.is_ok());
        for u in [
            "ftp://a/b",
            "http://user:pw@8.8.8.8/",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert_eq!(check(u, true).await.unwrap_err(), Refusal::Malformed, "{u}");
        }
        assert!(check("https://8.8.8.8/robot", false).await.is_ok());
    }
}
