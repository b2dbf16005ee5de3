//! TLS against a real MariaDB with a test CA: PREFERRED upgrades, REQUIRED
//! and VERIFY_CA work, a wrong CA and a TLS-less server fail clearly.

use oxkit::sandbox::Sandbox;
use oxkit_harness::{probe, server_slot};
use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=oxkit test {name}"),
        ],
    );
}

#[test]
fn tls_modes() {
    let _slot = server_slot().expect("slot");
    let certs = tempfile::tempdir().expect("tmp");
    let d = certs.path();
    make_ca(d, "ca");
    make_ca(d, "otherca");
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let p = |f: &str| d.join(f).display().to_string();
    // Run as root, the sandbox runs as the sandbox user, which must read
    // its key and certificates.
    if let Some(u) = oxkit::sandbox::server_user().expect("sandbox user") {
        oxkit::sandbox::give_dir_to_server(d).expect("give dir");
        for e in std::fs::read_dir(d).expect("ls").flatten() {
            std::os::unix::fs::chown(e.path(), Some(u.uid), Some(u.gid)).expect("chown");
        }
    }

    let tls = Sandbox::builder()
        .tcp(true)
        .arg(format!("--ssl-cert={}", p("server.pem")))
        .arg(format!("--ssl-key={}", p("server.key")))
        .arg(format!("--ssl-ca={}", p("ca.pem")))
        .start()
        .expect("tls sandbox");
    let target = format!("h=127.0.0.1,P={},u=root", tls.port());

    // Default over TCP is PREFERRED: encrypted when the server offers it.
    let r = probe(&[&target]);
    r.expect_code(0);
    assert_ne!(r.json()[0]["tls_cipher"], "", "{}", r.stdout);

    let r = probe(&["--ssl-mode=REQUIRED", &target]);
    r.expect_code(0);
    assert_ne!(r.json()[0]["tls_cipher"], "");

    let r = probe(&["--ssl-mode", "VERIFY_CA", "--ssl-ca", &p("ca.pem"), &target]);
    r.expect_code(0);
    assert_ne!(r.json()[0]["tls_cipher"], "");

    let r = probe(&[
        "--ssl-mode",
        "VERIFY_IDENTITY",
        "--ssl-ca",
        &p("ca.pem"),
        &target,
    ]);
    r.expect_code(0);

    // The same through a URL.
    let url = format!(
        "mysql://root@127.0.0.1:{}/?ssl-mode=VERIFY_CA&ssl-ca={}",
        tls.port(),
        p("ca.pem")
    );
    probe(&[&url]).expect_code(0);

    // A certificate from another CA is refused.
    let r = probe(&[
        "--ssl-mode",
        "VERIFY_CA",
        "--ssl-ca",
        &p("otherca.pem"),
        &target,
    ]);
    r.expect_code(255);
    assert!(
        r.stderr.contains("TLS failure") || r.stderr.contains("certificate"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);

    let r = probe(&["--ssl-mode", "DISABLED", &target]);
    r.expect_code(0);
    assert_eq!(r.json()[0]["tls_cipher"], "");
    drop(tls);

    // A server without TLS: PREFERRED falls back, REQUIRED fails clearly.
    // (MySQL, and MariaDB since 11.4, make themselves a certificate at
    // start-up unless TLS is turned off.)
    let plain = if oxkit_harness::flavour().is_mysql() {
        Sandbox::builder().tcp(true).arg("--tls-version=")
    } else {
        Sandbox::builder().tcp(true).arg("--skip-ssl")
    }
    .start()
    .expect("plain sandbox");
    let target = format!("h=127.0.0.1,P={},u=root", plain.port());
    let r = probe(&[&target]);
    r.expect_code(0);
    assert_eq!(r.json()[0]["tls_cipher"], "");
    let r = probe(&["--ssl-mode=REQUIRED", &target]);
    r.expect_code(255);
    assert!(r.stderr.contains("TLS failure"), "{}", r.stderr);
}
