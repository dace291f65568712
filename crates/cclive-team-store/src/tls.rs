//! TLS to PostgreSQL: libpq's `sslmode` and `sslrootcert`, read from the database URL, and the
//! rustls connector they ask for.
//!
//! The driver's own URL parser knows only `disable`, `prefer` and `require` and no
//! `sslrootcert`, so this module takes both out of the URL first (key-value or `postgres://`
//! form) and builds the connector itself, with libpq's meanings:
//! - `disable`, `allow`, `prefer` (the default): no TLS (cclive never tries TLS unasked);
//! - `require`: TLS; the certificate is checked only when `sslrootcert` names a CA (as libpq);
//! - `verify-ca`: TLS, the certificate must chain to `sslrootcert`'s CA;
//! - `verify-full`: that, and the certificate must name the host connected to.
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the Mozilla roots (public
//! CAs, as managed PostgreSQL services use). This module never connects and never logs.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::TeamStoreError;

/// libpq's `sslmode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// `disable`, `allow` or `prefer`: no TLS.
    Off,
    /// `require`.
    Require,
    /// `verify-ca`.
    VerifyCa,
    /// `verify-full`.
    VerifyFull,
}

/// A database URL with its TLS settings taken out.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Split {
    /// The URL for the driver (`sslmode` and `sslrootcert` removed).
    pub(crate) url: String,
    /// The mode asked for.
    pub(crate) mode: SslMode,
    /// The CA file (or `system`).
    pub(crate) root_cert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of `url`.
pub(crate) fn split(url: &str) -> Result<Split, TeamStoreError> {
    let (url, pairs) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_uri(url)
    } else {
        split_key_value(url)?
    };
    let mut mode = SslMode::Off;
    let mut root_cert = None;
    for (key, value) in pairs {
        if key == "sslrootcert" {
            root_cert = Some(value);
        } else {
            mode = match value.as_str() {
                "disable" | "allow" | "prefer" => SslMode::Off,
                "require" => SslMode::Require,
                "verify-ca" => SslMode::VerifyCa,
                "verify-full" => SslMode::VerifyFull,
                other => {
                    return Err(TeamStoreError::BadUrl(format!(
                        "sslmode={other} is not one of disable, allow, prefer, require, \
                         verify-ca, verify-full"
                    )));
                }
            };
        }
    }
    if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && root_cert.is_none() {
        return Err(TeamStoreError::BadUrl(
            "sslmode=verify-ca and verify-full need sslrootcert=<CA file in PEM> (or \
             sslrootcert=system for public CAs)"
                .into(),
        ));
    }
    Ok(Split {
        url,
        mode,
        root_cert,
    })
}

/// The TLS settings of a key-value URL (`host=… sslmode=require`), and the rest as it was.
fn split_key_value(url: &str) -> Result<(String, Vec<(String, String)>), TeamStoreError> {
    let bad = |what: &str| TeamStoreError::BadUrl(format!("the connection string {what}"));
    let mut rest = String::with_capacity(url.len());
    let mut taken = Vec::new();
    let mut chars = url.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(bad(&format!("has `{key}` without `=value`")));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(bad("has an unclosed quote")),
                    Some((_, '\'')) => break,
                    Some((_, '\\')) => {
                        value.push(chars.next().ok_or_else(|| bad("ends in a backslash"))?.1);
                    }
                    Some((_, c)) => value.push(c),
                }
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next().ok_or_else(|| bad("ends in a backslash"))?.1);
                } else {
                    value.push(c);
                }
            }
        }
        let end = chars.peek().map_or(url.len(), |&(i, _)| i);
        if key == "sslmode" || key == "sslrootcert" {
            taken.push((key, value));
        } else {
            rest.push_str(url[start..end].trim_end());
            rest.push(' ');
        }
    }
    Ok((rest.trim_end().to_owned(), taken))
}

/// The TLS settings of a `postgres://…?sslmode=require` URL, and the rest as it was.
fn split_uri(url: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "sslmode" || key == "sslrootcert" {
            taken.push((key.to_owned(), percent_decode(value)));
        } else {
            kept.push(pair);
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, taken)
}

/// `%2F` → `/` (an undecodable escape is kept as written).
fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The rustls client settings `split` asks for (`None` for [`SslMode::Off`]), with ring's
/// crypto (never the process default, so nothing else in the process has to pick one).
pub(crate) fn client_config(split: &Split) -> Result<Option<ClientConfig>, TeamStoreError> {
    if split.mode == SslMode::Off {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TeamStoreError::Connect(format!("TLS setup: {e}")))?;
    let roots = split.root_cert.as_deref().map(roots).transpose()?;
    let config = match (split.mode, roots) {
        (SslMode::VerifyFull, Some(roots)) => {
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        (_, roots) => {
            let algorithms = provider.signature_verification_algorithms;
            let chain = roots
                .map(|roots| {
                    WebPkiServerVerifier::builder_with_provider(roots.into(), provider)
                        .build()
                        .map_err(|e| TeamStoreError::Connect(format!("TLS setup: {e}")))
                })
                .transpose()?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient { chain, algorithms }))
                .with_no_client_auth()
        }
    };
    Ok(Some(config))
}

/// The CA certificates of `sslrootcert`.
fn roots(root_cert: &str) -> Result<RootCertStore, TeamStoreError> {
    let mut roots = RootCertStore::empty();
    if root_cert == "system" {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(roots);
    }
    let unreadable = |e: &dyn std::fmt::Display| {
        TeamStoreError::BadUrl(format!(
            "sslrootcert={root_cert}: cannot read CA certificates from it ({e})"
        ))
    };
    let certs = CertificateDer::pem_file_iter(root_cert)
        .map_err(|e| unreadable(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(&e))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(unreadable(&"no certificate in it"));
    }
    Ok(roots)
}

/// The checks `require` and `verify-ca` make (`verify-full` is rustls' own): with a CA, the
/// chain must lead to it but the name is not checked; without one (`require` alone: libpq's
/// meaning) the certificate is not checked at all. The handshake's signatures always are.
#[derive(Debug)]
struct Lenient {
    /// The CA's verifier, when `sslrootcert` names one.
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_ok(url: &str) -> Split {
        split(url).unwrap()
    }

    #[test]
    fn the_tls_settings_come_out_of_both_url_forms() {
        let s = split_ok(
            "host=db.internal  port=5432 sslmode=verify-full sslrootcert='/etc/my ca.pem' \
             dbname=cclive",
        );
        assert_eq!(s.url, "host=db.internal port=5432 dbname=cclive");
        assert_eq!(s.mode, SslMode::VerifyFull);
        assert_eq!(s.root_cert.as_deref(), Some("/etc/my ca.pem"));

        let s = split_ok("postgres://u:p@db/cclive?sslmode=require&application_name=x");
        assert_eq!(s.url, "postgres://u:p@db/cclive?application_name=x");
        assert_eq!(s.mode, SslMode::Require);
        let s = split_ok("postgresql://db/c?sslrootcert=%2Fetc%2Fca.pem&sslmode=verify-ca");
        assert_eq!(s.url, "postgresql://db/c");
        assert_eq!(s.root_cert.as_deref(), Some("/etc/ca.pem"));

        assert_eq!(split_ok("host=/run/postgresql").mode, SslMode::Off);
        assert_eq!(split_ok("host=h sslmode=prefer").mode, SslMode::Off);
    }

    #[test]
    fn verification_without_a_ca_and_unknown_modes_are_refused_clearly() {
        let err = split("host=h sslmode=verify-full").unwrap_err().to_string();
        assert!(err.contains("sslrootcert"), "{err}");
        let err = split("host=h sslmode=sometimes").unwrap_err().to_string();
        assert!(err.contains("sslmode=sometimes"), "{err}");
        let err = split("host=h dbname='x").unwrap_err().to_string();
        assert!(err.contains("quote"), "{err}");
        let err = split_ok("host=h sslmode=require sslrootcert=/nonexistent/ca.pem");
        let err = client_config(&err).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
