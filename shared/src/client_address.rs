//! Which address a request came from, for the per-address limits, the IP allowlists and the
//! sign-in log. Called directly, API Gateway's source address is the caller's. Through the
//! console's CloudFront distribution (template.yaml) it is an edge server's, shared by everyone
//! that edge serves, so one stranger's failures would throttle them all; CloudFront appends the
//! viewer's address to `X-Forwarded-For`. Anyone can write that header, so it is believed only on
//! a request that carries the edge secret CloudFront adds as an origin header (the deployment's
//! `ROSTER_EDGE_SECRET`), which no viewer sees.

use crate::crypto::constant_time_eq;
use std::net::IpAddr;

/// The origin header CloudFront adds to every request it passes to the API.
pub const EDGE_SECRET_HEADER: &str = "x-roster-edge";

/// What a request says about where it came from.
#[derive(Debug, Default, Clone, Copy)]
pub struct Hops<'a> {
    /// The address that connected to API Gateway.
    pub source_ip: Option<&'a str>,
    /// The `X-Forwarded-For` header, if any.
    pub forwarded_for: Option<&'a str>,
    /// The `X-Roster-Edge` header, if any.
    pub edge_secret: Option<&'a str>,
}

/// The caller's address: the viewer's as CloudFront recorded it when the request proves it came
/// through the distribution, else the address that connected.
pub fn client_address(hops: Hops<'_>, edge_secret: Option<&str>) -> Option<String> {
    let through_edge = match (hops.edge_secret, edge_secret) {
        (Some(sent), Some(known)) => constant_time_eq(sent.as_bytes(), known.as_bytes()),
        _ => false,
    };
    let viewer = through_edge
        .then(|| viewer_address(hops.forwarded_for?, hops.source_ip))
        .flatten();
    viewer.or_else(|| hops.source_ip.map(str::to_string))
}

/// The last address in `forwarded_for` that is not the edge's own (API Gateway may append the
/// connecting address after CloudFront's entry); entries before it are the viewer's to write.
fn viewer_address(forwarded_for: &str, edge: Option<&str>) -> Option<String> {
    forwarded_for
        .rsplit(',')
        .map(str::trim)
        .find(|entry| Some(*entry) != edge)
        .and_then(|entry| entry.parse::<IpAddr>().ok())
        .map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "edge-secret-0123456789abcdef0123456789";

    fn hops<'a>(source: &'a str, xff: Option<&'a str>, sent: Option<&'a str>) -> Hops<'a> {
        Hops {
            source_ip: Some(source),
            forwarded_for: xff,
            edge_secret: sent,
        }
    }

    #[test]
    fn a_direct_caller_is_its_connecting_address_whatever_it_forwards() {
        let forged = hops("203.0.113.9", Some("198.51.100.1"), None);
        assert_eq!(
            client_address(forged, Some(SECRET)).as_deref(),
            Some("203.0.113.9")
        );
        let wrong_secret = hops("203.0.113.9", Some("198.51.100.1"), Some("guess"));
        assert_eq!(
            client_address(wrong_secret, Some(SECRET)).as_deref(),
            Some("203.0.113.9")
        );
    }

    #[test]
    fn through_the_edge_the_viewer_is_the_entry_cloudfront_appended() {
        let edge = "130.176.0.1";
        let plain = hops(edge, Some("192.0.2.7"), Some(SECRET));
        assert_eq!(
            client_address(plain, Some(SECRET)).as_deref(),
            Some("192.0.2.7")
        );
        // A viewer's own X-Forwarded-For comes first; API Gateway may append the edge after.
        let chained = hops(edge, Some("10.0.0.1, 192.0.2.7, 130.176.0.1"), Some(SECRET));
        assert_eq!(
            client_address(chained, Some(SECRET)).as_deref(),
            Some("192.0.2.7")
        );
        let v6 = hops(edge, Some("2001:db8::7"), Some(SECRET));
        assert_eq!(
            client_address(v6, Some(SECRET)).as_deref(),
            Some("2001:db8::7")
        );
    }

    #[test]
    fn without_a_configured_secret_or_a_readable_entry_the_connecting_address_stands() {
        let sent = hops("130.176.0.1", Some("192.0.2.7"), Some(SECRET));
        assert_eq!(client_address(sent, None).as_deref(), Some("130.176.0.1"));
        let garbage = hops("130.176.0.1", Some("not-an-address"), Some(SECRET));
        assert_eq!(
            client_address(garbage, Some(SECRET)).as_deref(),
            Some("130.176.0.1")
        );
        let missing = hops("130.176.0.1", None, Some(SECRET));
        assert_eq!(
            client_address(missing, Some(SECRET)).as_deref(),
            Some("130.176.0.1")
        );
    }
}
