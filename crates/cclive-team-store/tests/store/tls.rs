//! TLS to PostgreSQL for real: a cluster with `ssl=on` serving a certificate from a throw-away
//! CA (made with openssl). `sslmode=require` connects encrypted; `verify-full` with that CA
//! connects, with another CA (or to a name the certificate lacks) it is refused, saying why;
//! without TLS asked for, none is used.

use std::path::Path;
use std::process::Command;

use cclive_team_store::TeamStore;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (scripts/test-setup.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA: `<name>.crt` and `<name>.key` in `dir`.
fn ca(dir: &Path, name: &str) {
    let (subject, key, cert) = (
        format!("/CN={name}"),
        format!("{name}.key"),
        format!("{name}.crt"),
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &subject,
            "-keyout",
            &key,
            "-out",
            &cert,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `server.crt` / `server.key` for the name `localhost`, signed by the CA `ca`.
fn server_cert(dir: &Path, ca: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let (ca_cert, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &ca_cert,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
}

#[test]
fn require_and_verify_full_connect_encrypted_and_a_wrong_ca_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    ca(dir, "ca");
    ca(dir, "other-ca");
    server_cert(dir, "ca");
    let cluster =
        cclive_pg_test::PrivateCluster::start_tls(&dir.join("server.crt"), &dir.join("server.key"));
    let port = cluster.tcp_port().unwrap();
    // Made over the unix socket; then reached over TCP.
    cluster.database_url("tls");
    let tcp = |host: &str, tls: &str| {
        format!("hostaddr=127.0.0.1 host={host} port={port} user=cclive dbname=t_tls {tls}")
    };
    let ca_file = dir.join("ca.crt").display().to_string();
    let wrong_ca = dir.join("other-ca.crt").display().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tls_of = |url: &str| {
        rt.block_on(async {
            let store = TeamStore::connect(url)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            store.uses_tls().await.unwrap()
        })
    };
    let refused = |url: &str| {
        rt.block_on(TeamStore::connect(url))
            .expect_err(url)
            .to_string()
    };

    assert!(tls_of(&tcp("localhost", "sslmode=require")), "encrypted");
    let full = format!("sslmode=verify-full sslrootcert={ca_file}");
    assert!(tls_of(&tcp("localhost", &full)));
    assert!(tls_of(&format!(
        "postgres://cclive@localhost:{port}/t_tls?hostaddr=127.0.0.1&sslmode=verify-full&\
         sslrootcert={ca_file}"
    )));
    // verify-ca checks the chain only: 127.0.0.1 is not a name the certificate carries.
    let chain = format!("sslmode=verify-ca sslrootcert={ca_file}");
    assert!(tls_of(&tcp("127.0.0.1", &chain)));
    let err = refused(&tcp("127.0.0.1", &full));
    assert!(err.contains("certificate"), "{err}");

    // Another CA: refused, and the message says it is the certificate.
    let err = refused(&tcp(
        "localhost",
        &format!("sslmode=verify-full sslrootcert={wrong_ca}"),
    ));
    assert!(
        err.contains("certificate") && err.contains("sslrootcert"),
        "{err}"
    );
    // require with a CA file checks the chain too (as libpq).
    let err = refused(&tcp(
        "localhost",
        &format!("sslmode=require sslrootcert={wrong_ca}"),
    ));
    assert!(err.contains("certificate"), "{err}");

    // Nothing asked: no TLS, though the server offers it.
    assert!(!tls_of(&tcp("localhost", "")));
}
