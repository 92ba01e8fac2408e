//! The peers (`[http] peers`) whose views the live API gathers into a scaled-out group's whole:
//! their addresses as read, and the checks `check-config` makes of them.

use super::HttpConfig;

/// One peer of `[http] peers`, read from `http://host:port` or `https://host:port` (a path
/// after it is a prefix the peer's API is served under, e.g. behind a reverse proxy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerUrl {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// The path prefix, without a trailing `/` (`""` for none).
    pub prefix: String,
}

impl PeerUrl {
    pub fn parse(url: &str) -> Result<PeerUrl, String> {
        let bad = |why: &str| format!("http.peers: {url:?} {why}");
        let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(bad("is not an http:// or https:// address"));
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.contains('@') || prefix.contains(['?', '#']) {
            return Err(bad("has credentials, a query or a fragment (peer_username is the way to send credentials)"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                Ok(port) => (h, port),
                Err(_) => return Err(bad("has a port that is not a number")),
            },
            _ => (authority, if https { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("names no host"));
        }
        Ok(PeerUrl {
            https,
            host: host.into(),
            port,
            prefix: prefix.into(),
        })
    }
}

/// `check-config` of the peer keys: addresses that parse, a CA for `https` peers, a password
/// with a user name, a timeout above zero.
pub fn check_peers(http: &HttpConfig) -> Result<(), String> {
    let mut seen = Vec::new();
    for url in &http.peers {
        let peer = PeerUrl::parse(url)?;
        if peer.https && http.peer_ca_file.is_none() {
            return Err(format!(
                "http.peers: {url:?} is https but http.peer_ca_file (the CA of its certificate) is not set"
            ));
        }
        if seen.contains(&peer) {
            return Err(format!("http.peers: {url:?} is listed twice"));
        }
        seen.push(peer);
    }
    if http.peer_password_file.is_some() != http.peer_username.is_some() {
        return Err("http.peer_username and http.peer_password_file go together".into());
    }
    if http.peer_timeout.millis() <= 0 {
        return Err("http.peer_timeout must be above zero".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_addresses_read_scheme_host_port_and_prefix() {
        let p = PeerUrl::parse("http://10.0.0.2:9898").unwrap();
        assert_eq!(
            (p.https, p.host.as_str(), p.port, p.prefix.as_str()),
            (false, "10.0.0.2", 9898, "")
        );
        let p = PeerUrl::parse("https://callpulse-1.callpulse/monitor/").unwrap();
        assert_eq!(
            (p.https, p.host.as_str(), p.port, p.prefix.as_str()),
            (true, "callpulse-1.callpulse", 443, "/monitor")
        );
        let p = PeerUrl::parse("http://[::1]:9898").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 9898));
        for bad in [
            "10.0.0.2:9898",
            "http://:9898",
            "http://a:b",
            "http://u:p@a:1",
            "ftp://a",
        ] {
            assert!(PeerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn https_peers_need_a_ca_and_a_password_file_needs_a_user() {
        let mut http = HttpConfig {
            peers: vec!["https://a:9898".into()],
            ..HttpConfig::default()
        };
        assert!(check_peers(&http).unwrap_err().contains("peer_ca_file"));
        http.peer_ca_file = Some("ca.pem".into());
        assert_eq!(check_peers(&http), Ok(()));
        http.peer_password_file = Some("pw".into());
        assert!(check_peers(&http).unwrap_err().contains("peer_username"));
        http.peers.push("https://a:9898/".into());
        http.peer_password_file = None;
        assert!(check_peers(&http).unwrap_err().contains("twice"));
    }
}
