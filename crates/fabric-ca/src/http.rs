//! The transport: one HTTP/1.1 exchange per call over a fresh TCP (and, for `https`, TLS) connection.
//! Calls to a CA are rare, so a connection pool would buy nothing; what matters is that the request line
//! carries exactly the path and query that the token signs, which a hand-built request guarantees.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::http::uri::{Scheme, Uri};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::{CaError, Call};

/// Fabric CA's default port, used when the URL names none (as fabric-ca-client does).
pub const DEFAULT_PORT: u16 = 7054;

/// The largest answer read (a long identity list fits many times over).
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Where the CA is and how to reach it.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// `host[:port]` as the URL gives it: the `Host` header and the MSP `cacerts` file name.
    pub(crate) authority: String,
    /// The host without IPv6 brackets, to connect to.
    host: String,
    port: u16,
    /// The URL's path without a trailing `/` (`""`, or e.g. `/api/v1`).
    base_path: String,
    /// The URL as given, for messages.
    pub(crate) url: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("tls", &self.tls.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Parses `url` (`http://` or `https://`, optional port and base path). `https` needs the PEM of the
    /// CA that issued the server's TLS certificate; `tls_server_name` overrides the name checked in it.
    pub(crate) fn new(
        url: &str,
        tls_root_pem: Option<&[u8]>,
        tls_server_name: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, CaError> {
        let config = |reason: String| CaError::Config(format!("URL {url:?}: {reason}"));
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|error| config(format!("{error}")))?;
        let https = match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTPS => true,
            Some(scheme) if *scheme == Scheme::HTTP => false,
            _ => return Err(config("must start with http:// or https://".to_owned())),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| config("no host".to_owned()))?;
        if authority.as_str().contains('@') {
            return Err(config(
                "must not carry a user or secret; pass them to enroll instead".to_owned(),
            ));
        }
        if uri.query().is_some() {
            return Err(config("must not have a query string".to_owned()));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(config("no host".to_owned()));
        }
        let port = authority.port_u16().unwrap_or(DEFAULT_PORT);
        let authority_text = match authority.port_u16() {
            Some(_) => authority.as_str().to_owned(),
            None => format!("{}:{DEFAULT_PORT}", authority.host()),
        };
        let base_path = uri.path().trim_end_matches('/').to_owned();
        let tls = if https {
            let pem = tls_root_pem.ok_or_else(|| {
                config(
                    "https needs the PEM of the CA that issued the server's TLS certificate"
                        .to_owned(),
                )
            })?;
            let name = tls_server_name.unwrap_or(&host).to_owned();
            let server_name = ServerName::try_from(name.clone())
                .map_err(|error| CaError::Config(format!("TLS server name {name:?}: {error}")))?;
            Some((tls_connector(pem)?, server_name))
        } else {
            None
        };
        Ok(Self {
            authority: authority_text,
            host,
            port,
            base_path,
            url: url.trim().to_owned(),
            tls,
            timeout,
        })
    }

    /// The request target for `endpoint` (e.g. `register`, `identities/x`) with an optional encoded
    /// query: what goes on the request line and what the token signs.
    pub(crate) fn request_uri(&self, endpoint: &str, query: Option<&str>) -> String {
        let mut uri = format!("{}/{endpoint}", self.base_path);
        if let Some(query) = query {
            uri.push('?');
            uri.push_str(query);
        }
        uri
    }

    /// Sends one request and returns the status and body.
    pub(crate) async fn send(
        &self,
        call: Call,
        method: Method,
        request_uri: &str,
        body: Vec<u8>,
        authorization: Option<String>,
    ) -> Result<(u16, Bytes), CaError> {
        let transport = |reason: String| CaError::Transport {
            call,
            url: self.url.clone(),
            reason,
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(request_uri)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::ACCEPT, "application/json");
        if !body.is_empty() {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        if let Some(authorization) = authorization {
            builder = builder.header(hyper::header::AUTHORIZATION, authorization);
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| transport(format!("cannot build the request: {error}")))?;
        let exchange = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|error| format!("connect: {error}"))?;
            match &self.tls {
                Some((connector, server_name)) => {
                    let stream = connector
                        .connect(server_name.clone(), tcp)
                        .await
                        .map_err(|error| format!("TLS: {error}"))?;
                    exchange(TokioIo::new(stream), request).await
                }
                None => exchange(TokioIo::new(tcp), request).await,
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result.map_err(transport),
            Err(_) => Err(transport(format!(
                "no answer within {} s",
                self.timeout.as_secs_f32()
            ))),
        }
    }
}

async fn exchange<I>(io: I, request: Request<Full<Bytes>>) -> Result<(u16, Bytes), String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|error| format!("HTTP handshake: {error}"))?;
    let driver = tokio::spawn(connection);
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("HTTP: {error}"))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| format!("reading the answer: {error}"))?
            .to_bytes();
        Ok((status, body))
    }
    .await;
    driver.abort();
    result
}

fn tls_connector(root_pem: &[u8]) -> Result<TlsConnector, CaError> {
    let ders = fabric_sdk::identity::pem_certificates(root_pem)
        .map_err(|error| CaError::Config(format!("TLS root certificate: {error}")))?;
    let mut roots = rustls::RootCertStore::empty();
    for der in ders {
        roots
            .add(CertificateDer::from(der))
            .map_err(|error| CaError::Config(format!("TLS root certificate: {error}")))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| CaError::Config(format!("TLS: {error}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Percent-encodes a query value as Go's `url.QueryEscape` does (space as `+`).
pub(crate) fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Percent-encodes one path segment: everything but unreserved characters, so the server's
/// `RequestURI()` gives back exactly these bytes.
pub(crate) fn path_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Result<Endpoint, CaError> {
        Endpoint::new(url, None, None, Duration::from_secs(1))
    }

    #[test]
    fn urls_give_authority_base_path_and_request_uris() {
        let plain = endpoint("http://localhost:7054").unwrap();
        assert_eq!(plain.authority, "localhost:7054");
        assert_eq!(plain.request_uri("register", None), "/register");
        let prefixed = endpoint("http://ca.org1.example.com/api/v1/").unwrap();
        assert_eq!(prefixed.authority, "ca.org1.example.com:7054");
        assert_eq!(prefixed.port, DEFAULT_PORT);
        assert_eq!(
            prefixed.request_uri("identities", Some("ca=ca-org1")),
            "/api/v1/identities?ca=ca-org1"
        );
        let ipv6 = endpoint("http://[::1]:8054").unwrap();
        assert_eq!(ipv6.host, "::1");
        assert_eq!(ipv6.authority, "[::1]:8054");
    }

    #[test]
    fn unusable_urls_are_refused_with_a_reason() {
        for (url, reason) in [
            ("ftp://localhost:7054", "http:// or https://"),
            ("localhost:7054", "http:// or https://"),
            ("http://admin:pw@localhost:7054", "user or secret"),
            ("http://localhost:7054/?ca=x", "query"),
            ("https://localhost:7054", "https needs the PEM"),
        ] {
            let error = endpoint(url).unwrap_err().to_string();
            assert!(error.contains(reason), "{url}: {error}");
        }
        let error = Endpoint::new(
            "https://localhost:7054",
            Some(b"not pem"),
            None,
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("TLS root certificate"),
            "{error}"
        );
    }

    #[test]
    fn escaping_matches_go() {
        assert_eq!(query_escape("ca-org1"), "ca-org1");
        assert_eq!(query_escape("my ca/1&x"), "my+ca%2F1%26x");
        assert_eq!(path_escape("user@org1 x"), "user%40org1%20x");
    }
}
