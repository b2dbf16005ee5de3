//! A primary with two replicas: replication, lag and GTID positions, replica
//! discovery, drift and a stopped replica, all through the shared layer.

use mysql::prelude::Queryable;
use oxkit::server::Server;
use oxkit::topology::{discover, replica_status, source_position, Method};
use oxkit_harness::{exec, Tool, Topology};

#[test]
fn primary_and_two_replicas() {
    let t = Topology::start(2).expect("topology");
    let mut p = t.primary_conn().expect("primary");
    exec(
        &mut p,
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO app.t VALUES (1,'a'),(2,'b'),(3,'c')",
    )
    .expect("load");
    t.sync().expect("sync");

    let ps = Server::detect(&mut p).expect("detect");
    let pos = source_position(&mut p, &ps).expect("position");
    assert!(pos.file.starts_with("mysql-bin."), "{pos:?}");
    // MariaDB's domain-server-sequence, or MySQL's source UUID with the
    // three transactions applied.
    if oxkit_harness::flavour().is_mysql() {
        let uuid: Option<String> = p.query_first("SELECT @@server_uuid").expect("uuid");
        assert_eq!(pos.gtid, format!("{}:1-3", uuid.unwrap_or_default()));
    } else {
        assert!(pos.gtid.starts_with("0-1-"), "{pos:?}");
    }
    assert!(replica_status(&mut p, &ps).expect("status").is_empty());

    for i in 0..2 {
        let mut r = t.replica_conn(i).expect("replica");
        let n: Option<u64> = r.query_first("SELECT COUNT(*) FROM app.t").expect("count");
        assert_eq!(n, Some(3));
        let rs = Server::detect(&mut r).expect("detect");
        let st = replica_status(&mut r, &rs).expect("status");
        assert_eq!(st.len(), 1);
        assert!(st[0].is_running(), "{:?}", st[0]);
        // Caught up; MySQL's Seconds_Behind_Source can still read 1 for
        // an instant after the last event on a busy host (whole seconds).
        assert!(st[0].seconds_behind.is_some_and(|s| s <= 1), "{:?}", st[0]);
        assert!(st[0].using_gtid);
        assert_eq!(st[0].source_port, t.primary.port());
        assert_eq!(st[0].gtid_applied.as_deref(), Some(pos.gtid.as_str()));
        assert_eq!(rs.gtid_position(&mut r).expect("gtid"), pos.gtid);
    }

    // Discovery by SHOW SLAVE HOSTS finds both, with the right ports.
    let found = discover(
        &t.primary.tcp_spec(),
        &[Method::Hosts],
        5,
        &Default::default(),
    )
    .expect("discover");
    let mut ports: Vec<u16> = found.iter().filter_map(|r| r.spec.port).collect();
    ports.sort();
    let mut want: Vec<u16> = t.replicas.iter().map(|r| r.port()).collect();
    want.sort();
    assert_eq!(ports, want);
    assert!(found.iter().all(|r| r.depth == 1 && r.server_id >= 2));

    // The same through a tool's command line.
    let r = Tool::new("oxkit-probe")
        .args([
            "--format",
            "json",
            "--recursion-method",
            "hosts",
            &t.primary.dsn(),
        ])
        .run()
        .expect("probe");
    r.expect_code(0);
    assert_eq!(r.json()[0]["replicas"].as_array().map(Vec::len), Some(2));

    // Drift on replica 1 only.
    t.drift(1, "INSERT INTO app.t VALUES (99, 'only here')")
        .expect("drift");
    exec(&mut p, "INSERT INTO app.t VALUES (4,'d')").expect("write");
    t.sync().expect("sync");
    let counts: Vec<u64> = (0..2)
        .map(|i| {
            let mut r = t.replica_conn(i).expect("replica");
            r.query_first("SELECT COUNT(*) FROM app.t")
                .expect("count")
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(counts, [4, 5]);

    // A stopped applier shows up, and lag is unknown.
    let mut r0 = t.replica_conn(0).expect("replica");
    exec(&mut r0, "STOP SLAVE SQL_THREAD").expect("stop");
    let rs = Server::detect(&mut r0).expect("detect");
    let st = replica_status(&mut r0, &rs).expect("status");
    assert!(!st[0].sql_running && !st[0].is_running());
    assert_eq!(st[0].seconds_behind, None);

    // Issue 14: a wait for a position the stopped applier cannot reach ends
    // at once with exit 128 and the replica's state, not after the limit.
    exec(&mut p, "INSERT INTO app.t VALUES (5,'e')").expect("write");
    let want = ps.gtid_position(&mut p).expect("gtid");
    let start = std::time::Instant::now();
    let e = oxkit::topology::wait_applied(
        &mut r0,
        &rs,
        &want,
        std::time::Duration::from_secs(60),
        &oxkit::entry::Cancel::new(),
    )
    .expect_err("stopped applier");
    assert!(start.elapsed() < std::time::Duration::from_secs(15));
    let x = e
        .downcast_ref::<oxkit::entry::ExitError>()
        .expect("an exit error");
    assert_eq!(x.exit, oxkit::Exit::REPLICATION_STOPPED);
    assert!(x.message.contains("SQL thread stopped"), "{}", x.message);
    exec(&mut r0, "START SLAVE SQL_THREAD").expect("start");
    oxkit::topology::wait_applied(
        &mut r0,
        &rs,
        &want,
        std::time::Duration::from_secs(60),
        &oxkit::entry::Cancel::new(),
    )
    .expect("running again");
}
