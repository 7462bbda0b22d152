//! SSRF guard: requests may only reach public addresses unless an address is explicitly allowed.
//!
//! IP-literal URLs are checked before connecting; hostnames are checked inside the DNS resolver
//! the HTTP client connects with, so the address that is checked is the address that is dialled
//! (a second, independent lookup could be answered differently — DNS rebinding).
//!
//! With a forward proxy (`http.proxy`) the client dials only the proxy and the proxy resolves the
//! target, so the resolver hook never sees the target's name. The fetcher then resolves the target
//! itself before each hop and refuses it if any of its addresses is blocked
//! ([`check_name_before_proxy`]). That check cannot pin the address the proxy will use: a proxy
//! with its own egress rules closes the remaining rebinding window.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Is `ip` off-limits given the allow list? Mapped IPv6 forms are judged as the IPv4 address they
/// carry, so `[::ffff:127.0.0.1]` is exactly as blocked (or allowed) as `127.0.0.1`.
pub fn is_blocked_ip(ip: IpAddr, allow: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    if allow.iter().any(|net| net.contains(&ip)) {
        return false;
    }
    match ip {
        IpAddr::V4(v4) => is_special_v4(v4),
        IpAddr::V6(v6) => is_special_v6(v6, allow),
    }
}

fn is_special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", incl. 0.0.0.0 which Linux routes to localhost
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224 // multicast, reserved, broadcast
}

fn is_special_v6(ip: Ipv6Addr, allow: &[IpNet]) -> bool {
    let seg = ip.segments();
    if ip.is_unspecified() || ip.is_loopback() {
        return true;
    }
    // Forms that embed an IPv4 address reach (or are translated to) that address, so they inherit
    // its verdict: IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16.
    let embedded = if seg[..6] == [0; 6] || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        ))
    } else if seg[0] == 0x2002 {
        Some(Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        ))
    } else {
        None
    };
    if let Some(v4) = embedded {
        return is_blocked_ip(IpAddr::V4(v4), allow);
    }
    (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // deprecated site-local
        || (seg[0] & 0xff00) == 0xff00 // multicast
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || (seg[0] == 0x2001 && seg[1] == 0) // Teredo hides the real IPv4 peer
        || (seg[0] == 0x0100 && seg[1..4] == [0, 0, 0]) // discard-only 100::/64
}

/// Carried through reqwest's error chain so the fetcher can turn it into `FetchError::Blocked`.
#[derive(Debug)]
pub(super) struct BlockedAddress {
    pub(super) host: String,
    pub(super) addr: IpAddr,
}

impl fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves only to blocked address {}",
            self.host, self.addr
        )
    }
}

impl std::error::Error for BlockedAddress {}

/// Finds a resolver block anywhere in an error's source chain.
pub(super) fn blocked_in_chain(err: &(dyn std::error::Error + 'static)) -> Option<IpAddr> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(b) = e.downcast_ref::<BlockedAddress>() {
            return Some(b.addr);
        }
        cur = e.source();
    }
    None
}

/// System resolver that drops non-public addresses; if nothing public remains the connect fails.
pub(super) struct GuardedResolver {
    pub(super) allow: Arc<Vec<IpNet>>,
    /// The configured proxy's host name, resolved without the check: the operator chose it, and
    /// proxies usually live on a private network. With a proxy it is the only name the client
    /// ever resolves (targets are resolved by the proxy, and checked by the fetcher first).
    pub(super) proxy_host: Option<String>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = Arc::clone(&self.allow);
        let host = name.as_str().to_owned();
        let trusted = self
            .proxy_host
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if trusted {
                return Ok(Box::new(resolved.into_iter()) as Addrs);
            }
            let mut first_blocked = None;
            let mut usable = Vec::with_capacity(resolved.len());
            for addr in resolved {
                if is_blocked_ip(addr.ip(), &allow) {
                    first_blocked.get_or_insert(addr.ip());
                } else {
                    usable.push(addr);
                }
            }
            if usable.is_empty() {
                if let Some(addr) = first_blocked {
                    tracing::warn!(%host, %addr, "DNS answer contains only blocked addresses");
                    return Err(Box::new(BlockedAddress { host, addr }) as _);
                }
            }
            Ok(Box::new(usable.into_iter()) as Addrs)
        })
    }
}

/// Why a target could not be cleared for sending through the proxy.
#[derive(Debug)]
pub(super) enum PreCheck {
    Blocked(IpAddr),
    /// The name did not resolve here; sending it on would let the proxy decide unchecked.
    Unresolved(String),
}

/// The proxy-mode check of a target host name: every address it resolves to must be allowed.
/// Stricter than the resolver hook (which dials the public addresses of a mixed answer) because
/// the proxy, not newsd, picks which address to connect to.
pub(super) async fn check_name_before_proxy(
    host: &str,
    port: u16,
    allow: &[IpNet],
) -> Result<(), PreCheck> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| PreCheck::Unresolved(e.to_string()))?
        .collect();
    if resolved.is_empty() {
        return Err(PreCheck::Unresolved("no addresses".to_owned()));
    }
    match resolved.iter().find(|a| is_blocked_ip(a.ip(), allow)) {
        Some(a) => {
            tracing::warn!(%host, addr = %a.ip(), "target resolves to a blocked address; not sent to the proxy");
            Err(PreCheck::Blocked(a.ip()))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(s: &str) -> bool {
        is_blocked_ip(s.parse().unwrap(), &[])
    }

    #[test]
    fn special_purpose_addresses_are_blocked() {
        for ip in [
            "127.0.0.1",
            "127.0.0.2",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(blocked(ip), "{ip} should be blocked");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "::ffff:8.8.8.8",
            "2606:4700:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(!blocked(ip), "{ip} should pass");
        }
    }

    #[test]
    fn allow_list_overrides_the_block_including_mapped_forms() {
        let allow: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        assert!(!is_blocked_ip("127.0.0.1".parse().unwrap(), &allow));
        assert!(!is_blocked_ip("::ffff:127.0.0.1".parse().unwrap(), &allow));
        assert!(is_blocked_ip("127.0.0.2".parse().unwrap(), &allow));
        assert!(is_blocked_ip("::1".parse().unwrap(), &allow));
    }
}
