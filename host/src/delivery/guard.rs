//! Refusing private destinations (SSRF): which addresses a delivery may connect to, and a DNS resolver for
//! the HTTP client that only hands it addresses the guard accepts.
//!
//! The check happens on the addresses the connector will actually dial, after resolution, so a hostname
//! that resolves to a public address when configured and to `127.0.0.1` when delivered (DNS rebinding)
//! is still refused. The connector skips the resolver for IP-literal hosts; the client checks those itself.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Decides whether a delivery may connect to an address.
#[derive(Clone, Debug, Default)]
pub struct DestinationGuard {
    /// Nets the operator has opened on purpose (`allowed_destinations`), e.g. a receiver on the same host in
    /// development or an internal service; they win over every refused range.
    allowed: Vec<IpNet>,
}

/// A destination the guard refused. Its message is for the tenant, who sees it on a delivery or a
/// connection: it names the destination as the tenant wrote it and says why in general terms, never the
/// address a name resolved to or its range (that would map the operator's network for anyone who can
/// point a webhook at a name). [`GuardError::detail`] has both, for the operator's log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "destination {} was refused: it is not a public address; Gancho does not deliver to private, loopback, \
     link-local, metadata or reserved addresses unless the operator allows them (allowed_destinations)",
    .host.clone().unwrap_or_else(|| .ip.to_string())
)]
pub struct GuardError {
    /// The hostname that resolved to `ip`, when there was one; it is what the user configured.
    pub host: Option<String>,
    /// The refused address, as it would have been connected to.
    pub ip: IpAddr,
    /// What kind of range it is in, with its article: "a private", "the cloud metadata".
    pub range: &'static str,
    /// The refused net that contains the address (for an IPv6 form of an IPv4 address, the IPv4 net).
    pub net: IpNet,
}

impl GuardError {
    fn for_host(self, host: &str) -> Self {
        Self { host: Some(host.to_string()), ..self }
    }

    /// The refusal with its address and range, for the operator: `destination mixed.test (127.0.0.1) is in
    /// a loopback range (127.0.0.0/8)`.
    pub fn detail(&self) -> String {
        let destination = match &self.host {
            Some(host) if *host != self.ip.to_string() => format!("{host} ({})", self.ip),
            _ => self.ip.to_string(),
        };
        format!("destination {destination} is in {} range ({})", self.range, self.net)
    }

    /// Puts the refusal, address and range included, in the operator's log; the tenant gets the message.
    pub fn log(&self) {
        tracing::warn!(
            host = self.host.as_deref().unwrap_or(""),
            ip = %self.ip,
            net = %self.net,
            "{}; add it to allowed_destinations if deliveries should reach it",
            self.detail()
        );
    }
}

/// IPv4 ranges a delivery may not reach, most specific first so the error names the narrowest reason.
const REFUSED_V4: &[(&str, [u8; 4], u8)] = &[
    ("the cloud metadata", [169, 254, 169, 254], 32),
    ("the cloud metadata", [100, 100, 100, 200], 32),
    ("the broadcast", [255, 255, 255, 255], 32),
    ("an unspecified", [0, 0, 0, 0], 8),
    ("a private", [10, 0, 0, 0], 8),
    ("a carrier-grade NAT", [100, 64, 0, 0], 10),
    ("a loopback", [127, 0, 0, 0], 8),
    ("a link-local", [169, 254, 0, 0], 16),
    ("a private", [172, 16, 0, 0], 12),
    ("a reserved", [192, 0, 0, 0], 24),
    ("a documentation", [192, 0, 2, 0], 24),
    ("a private", [192, 168, 0, 0], 16),
    ("a benchmarking", [198, 18, 0, 0], 15),
    ("a documentation", [198, 51, 100, 0], 24),
    ("a documentation", [203, 0, 113, 0], 24),
    ("a multicast", [224, 0, 0, 0], 4),
    ("a reserved", [240, 0, 0, 0], 4),
];

/// IPv6 ranges a delivery may not reach. Forms that embed an IPv4 address are judged by it instead.
const REFUSED_V6: &[(&str, [u16; 8], u8)] = &[
    ("the cloud metadata", [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254], 128),
    ("an unspecified", [0, 0, 0, 0, 0, 0, 0, 0], 128),
    ("a loopback", [0, 0, 0, 0, 0, 0, 0, 1], 128),
    ("a link-local", [0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
    ("a site-local", [0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
    ("a unique-local", [0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
    ("a multicast", [0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
    ("a documentation", [0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32),
    // RFC 8215: translated by the operator's own NAT64 to IPv4 addresses of its network.
    ("a local-use NAT64", [0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
];

impl DestinationGuard {
    /// A guard that refuses the private ranges except inside `allowed`.
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// Accepts `ip` if it is public or inside an allowed net.
    pub fn check(&self, ip: IpAddr) -> Result<(), GuardError> {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let allowed = |addr: IpAddr| self.allowed.iter().any(|net| net.contains(&addr));
        if allowed(ip) || embedded.is_some_and(allowed) {
            return Ok(());
        }
        match refused_range(embedded.unwrap_or(ip)) {
            Some((range, net)) => Err(GuardError { host: None, ip, range, net }),
            None => Ok(()),
        }
    }

    /// Resolves `host` and keeps the addresses the guard accepts; if it accepts none, the error is the
    /// refusal of the first address.
    async fn resolve(&self, host: &str) -> io::Result<Vec<SocketAddr>> {
        let mut accepted = Vec::new();
        let mut first_refusal = None;
        for addr in tokio::net::lookup_host((host, 0)).await? {
            match self.check(addr.ip()) {
                Ok(()) => accepted.push(addr),
                Err(err) => {
                    first_refusal.get_or_insert(err);
                }
            }
        }
        match first_refusal {
            Some(err) if accepted.is_empty() => {
                let err = err.for_host(host);
                err.log();
                Err(io::Error::new(io::ErrorKind::PermissionDenied, err))
            }
            None if accepted.is_empty() => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host} has no IP addresses; check the endpoint URL's hostname"),
            )),
            _ => Ok(accepted),
        }
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`, and `64:ff9b:1::a.b.c.d` with the local-use
/// prefix at its /96 length) or 6to4 (`2002:aabb:ccdd::`) address: each reaches, or is routed towards, that
/// IPv4 host, so it is judged as that host. The rest of the local-use NAT64 prefix (the network chooses a
/// /48 to /96 inside it, which places the IPv4 address elsewhere) is refused as a whole in [`REFUSED_V6`].
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // `::` and `::1` are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0xffff | 0, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0x64, 0xff9b, 0 | 1, 0, 0, 0, _, _] => Some(low),
        [0x2002, high, low16, ..] => {
            Some(Ipv4Addr::new((high >> 8) as u8, high as u8, (low16 >> 8) as u8, low16 as u8))
        }
        _ => None,
    }
}

fn refused_range(ip: IpAddr) -> Option<(&'static str, IpNet)> {
    match ip {
        IpAddr::V4(v4) => REFUSED_V4.iter().find_map(|&(range, network, prefix)| {
            let net = Ipv4Net::new(network.into(), prefix).expect("refused IPv4 prefixes are valid");
            net.contains(&v4).then_some((range, IpNet::V4(net)))
        }),
        IpAddr::V6(v6) => REFUSED_V6.iter().find_map(|&(range, network, prefix)| {
            let net = Ipv6Net::new(network.into(), prefix).expect("refused IPv6 prefixes are valid");
            net.contains(&v6).then_some((range, IpNet::V6(net)))
        }),
    }
}

/// Parses `allowed_destinations`: comma-separated CIDRs or bare IPs (`127.0.0.0/8, ::1`); blank means none.
pub fn parse_allowed(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .map(|net| net.trunc())
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "allowed_destinations entry \"{entry}\" is not an IP address or CIDR; \
                         write e.g. 10.0.0.0/8, 192.168.1.20 or ::1, separated by commas"
                    )
                })
        })
        .collect()
}

/// A resolver for hyper-util's `HttpConnector` that returns only addresses the guard accepts, so the
/// connector can only dial those.
#[derive(Clone)]
pub struct GuardedResolver {
    guard: DestinationGuard,
}

impl GuardedResolver {
    pub fn new(guard: DestinationGuard) -> Self {
        Self { guard }
    }
}

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let guard = self.guard.clone();
        Box::pin(async move { Ok(guard.resolve(name.as_str()).await?.into_iter()) })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tower::Service as _;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn refusal(s: &str) -> GuardError {
        DestinationGuard::default().check(ip(s)).unwrap_err()
    }

    #[test]
    fn refuses_every_non_public_range() {
        let refused = [
            ("127.0.0.1", "127.0.0.0/8"),
            ("127.255.0.9", "127.0.0.0/8"),
            ("::1", "::1/128"),
            ("0.0.0.0", "0.0.0.0/8"),
            ("0.1.2.3", "0.0.0.0/8"),
            ("::", "::/128"),
            ("10.0.0.5", "10.0.0.0/8"),
            ("172.16.0.1", "172.16.0.0/12"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.168.1.1", "192.168.0.0/16"),
            ("100.64.0.1", "100.64.0.0/10"),
            ("100.127.255.254", "100.64.0.0/10"),
            ("169.254.1.1", "169.254.0.0/16"),
            ("fe80::1", "fe80::/10"),
            ("fc00::1", "fc00::/7"),
            ("fd12:3456::1", "fc00::/7"),
            ("224.0.0.1", "224.0.0.0/4"),
            ("ff02::1", "ff00::/8"),
            ("255.255.255.255", "255.255.255.255/32"),
            ("198.18.0.1", "198.18.0.0/15"),
            ("198.19.255.1", "198.18.0.0/15"),
            ("192.0.0.8", "192.0.0.0/24"),
            ("192.0.2.1", "192.0.2.0/24"),
            ("198.51.100.7", "198.51.100.0/24"),
            ("203.0.113.9", "203.0.113.0/24"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("169.254.169.254", "169.254.169.254/32"),
            ("100.100.100.200", "100.100.100.200/32"),
            ("fd00:ec2::254", "fd00:ec2::254/128"),
            ("2001:db8::1", "2001:db8::/32"),
        ];
        for (addr, net) in refused {
            assert_eq!(refusal(addr).net, IpNet::from_str(net).unwrap(), "{addr}");
        }
        assert_eq!(refusal("169.254.169.254").range, "the cloud metadata");
        assert_eq!(refusal("fd00:ec2::254").range, "the cloud metadata");
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_judged_by_the_ipv4_address() {
        for addr in ["::ffff:10.0.0.1", "::10.0.0.1", "64:ff9b::10.0.0.1", "2002:0a00:0001::1"] {
            let err = refusal(addr);
            assert_eq!(err.net, IpNet::from_str("10.0.0.0/8").unwrap(), "{addr}");
            assert_eq!(err.ip, ip(addr));
        }
        assert_eq!(refusal("::ffff:169.254.169.254").range, "the cloud metadata");
        // IPv4-translated (`::ffff:0:0/96`) and the local-use NAT64 prefix (`64:ff9b:1::/48`): its /96 form
        // judged by the IPv4 address, its other forms (the IPv4 address elsewhere) refused as a whole.
        let translated = [
            ("::ffff:0:127.0.0.1", "127.0.0.0/8"),
            ("::ffff:0:10.1.2.3", "10.0.0.0/8"),
            ("64:ff9b:1::127.0.0.1", "127.0.0.0/8"),
            ("64:ff9b:1::169.254.169.254", "169.254.169.254/32"),
            ("64:ff9b:1:a9fe:a9:fe00::", "64:ff9b:1::/48"),
            ("64:ff9b:1:ab:7f:0:100:0", "64:ff9b:1::/48"),
        ];
        for (addr, net) in translated {
            let err = refusal(addr);
            assert_eq!(err.net, IpNet::from_str(net).unwrap(), "{addr}");
            assert_eq!(err.ip, ip(addr), "{addr}");
        }
        assert_eq!(refusal("::ffff:127.0.0.1").range, "a loopback");
        let guard = DestinationGuard::default();
        let public = ["::ffff:93.184.215.14", "64:ff9b::8.8.8.8", "2002:0808:0808::1", "::ffff:0:8.8.8.8"];
        for addr in public.into_iter().chain(["64:ff9b:1::8.8.8.8"]) {
            assert!(guard.check(ip(addr)).is_ok(), "{addr}");
        }
    }

    #[test]
    fn accepts_public_addresses() {
        let guard = DestinationGuard::default();
        for addr in ["8.8.8.8", "1.1.1.1", "93.184.215.14", "172.32.0.1", "100.128.0.1", "2606:4700::1111"] {
            assert!(guard.check(ip(addr)).is_ok(), "{addr}");
        }
    }

    #[test]
    fn allowed_nets_win() {
        let guard = DestinationGuard::new(parse_allowed("127.0.0.0/8, ::1").unwrap());
        assert!(guard.check(ip("127.0.0.1")).is_ok());
        assert!(guard.check(ip("::1")).is_ok());
        assert!(guard.check(ip("::ffff:127.0.0.1")).is_ok());
        assert!(guard.check(ip("10.0.0.1")).is_err());
        assert!(guard.check(ip("169.254.169.254")).is_err());
    }

    #[test]
    fn the_tenant_is_told_the_destination_and_remedy_and_the_operator_the_address() {
        assert_eq!(
            refusal("10.0.0.5").to_string(),
            "destination 10.0.0.5 was refused: it is not a public address; Gancho does not deliver to private, \
             loopback, link-local, metadata or reserved addresses unless the operator allows them \
             (allowed_destinations)"
        );
        let named = refusal("127.0.0.1").for_host("mixed.test");
        let message = named.to_string();
        assert!(message.starts_with("destination mixed.test was refused: it is not a public address"));
        assert!(!message.contains("127.0.0") && !message.contains("loopback range"), "{message}");
        assert_eq!(named.detail(), "destination mixed.test (127.0.0.1) is in a loopback range (127.0.0.0/8)");
        assert_eq!(refusal("10.0.0.5").detail(), "destination 10.0.0.5 is in a private range (10.0.0.0/8)");
    }

    #[test]
    fn parses_allowed_lists() {
        assert_eq!(parse_allowed("").unwrap(), vec![]);
        assert_eq!(parse_allowed("  ").unwrap(), vec![]);
        assert_eq!(
            parse_allowed(" 127.0.0.0/8 ,::1, 10.1.2.3/16,192.168.1.20 ").unwrap(),
            vec![
                IpNet::from_str("127.0.0.0/8").unwrap(),
                IpNet::from_str("::1/128").unwrap(),
                IpNet::from_str("10.1.0.0/16").unwrap(),
                IpNet::from_str("192.168.1.20/32").unwrap(),
            ]
        );
        let err = parse_allowed("10.0.0.0/8, intranet.local").unwrap_err();
        assert!(err.contains("\"intranet.local\""), "{err}");
        assert!(parse_allowed("10.0.0.0/33").unwrap_err().contains("\"10.0.0.0/33\""));
    }

    #[tokio::test]
    async fn the_resolver_refuses_hostnames_of_private_addresses() {
        let mut resolver = GuardedResolver::new(DestinationGuard::default());
        let err = resolver.call(Name::from_str("localhost").unwrap()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().starts_with("destination localhost was refused"), "{err}");
        assert!(!err.to_string().contains("127.0.0.1"), "{err}");
        assert!(err.get_ref().unwrap().downcast_ref::<GuardError>().is_some());
    }

    #[tokio::test]
    async fn the_resolver_returns_allowed_addresses() {
        let guard = DestinationGuard::new(parse_allowed("127.0.0.0/8").unwrap());
        let mut resolver = GuardedResolver::new(guard);
        let addrs: Vec<_> = resolver.call(Name::from_str("localhost").unwrap()).await.unwrap().collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|addr| addr.ip().is_ipv4() && addr.ip().is_loopback()), "{addrs:?}");
    }
}
