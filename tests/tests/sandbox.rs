//! The sandbox itself: start, connect by socket and TCP, stop, clean up.

use oxkit::conn::{connect, ConnectOptions};
use oxkit::server::{Flavor, Server};
use oxkit_harness::single;

#[test]
fn sandbox_starts_answers_and_cleans_up() {
    let s = single().expect("sandbox");
    let mut c = connect(&s.socket_spec(), &ConnectOptions::default()).expect("socket connect");
    let server = Server::detect(&mut c).expect("detect");
    assert_eq!(server.flavor, Flavor::MariaDB);
    assert_eq!(server.port, s.port());
    let mut t = connect(&s.tcp_spec(), &ConnectOptions::default()).expect("tcp connect");
    assert!(Server::detect(&mut t).expect("detect").log_bin);
    let dir = s.dir().to_path_buf();
    assert!(dir.join("mysqld.sock").exists());
    drop((c, t));
    drop(s);
    assert!(!dir.exists(), "sandbox dir {} left behind", dir.display());
}
