//! The service manager drives a real script-created service through
//! Rumble's states: running accepts, suspended keeps the socket but serves
//! nobody (clients wait in the backlog), stopped closes it, start binds again,
//! and a closed (shut down) service cannot be restarted.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumble::config::{Capability, GrantSet, ScriptLimits, ScriptSpec};
use rumble::plugins::{Runtime, Script, ScriptInfo, ServerEnv};
use rumble::services::{ServiceError, ServiceManager, ServiceState};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Connect and read the greeting line, giving up after `wait`.
fn greeting(port: u16, wait: Duration) -> std::io::Result<String> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(wait))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line)
}

async fn greeting_async(port: u16, wait: Duration) -> std::io::Result<String> {
    tokio::task::spawn_blocking(move || greeting(port, wait)).await.unwrap()
}

/// A restarted service binds again asynchronously: retry refused connects.
async fn greeting_after_start(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match greeting_async(port, Duration::from_secs(5)).await {
            Ok(line) => return line,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("restarted service does not answer: {e}"),
        }
    }
}

/// Probe until connections are refused; returns how many probes connected
/// first (the service may serve those), or None if it never refused.
async fn wait_for_refusal(port: u16) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut connected = 0;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_err() {
            return Some(connected);
        }
        connected += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_states_follow_rumble() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let script_path = dir.path().join("hello.lua");
    std::fs::write(
        &script_path,
        // createService returns nil in every instance but the first (Rumble's
        // rule), and each connection gets a freshly loaded instance: no assert.
        // Four sessions, so one address may hold three: a probe of
        // `wait_for_refusal` still being served cannot refuse the next greeting.
        format!("Rumble.createService(function(s) s:send('hi\\r\\n') end, {port}, 4)\n"),
    )
    .unwrap();
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guest-cache");
    let runtime = Runtime::new(Some(&cache)).unwrap();
    let services = ServiceManager::new([127, 0, 0, 1].into());
    let env = Arc::new(ServerEnv::new(dir.path().to_path_buf(), services.clone(), true));
    let spec = ScriptSpec {
        name: "hello".into(),
        path_written: script_path.display().to_string(),
        path: script_path.clone(),
        line: 0,
        grants: GrantSet { caps: vec![Capability::Listen { ports: vec![port] }] },
        limits: ScriptLimits::default(),
    };
    let _script = Script::load(runtime, ScriptInfo { spec, env, args: vec![], folder: rumble::plugins::FolderAccess::Readable }).await.unwrap();

    let name = format!("hello:{port}");
    let service = services.find(&name).expect("registered under <script>:<port>");
    assert_eq!(service.state(), ServiceState::Running);
    assert_eq!(greeting_async(port, Duration::from_secs(5)).await.unwrap(), "hi\r\n");

    // Suspended: the socket stays open, so the client connects and waits.
    services.suspend(&name).unwrap();
    assert_eq!(service.state(), ServiceState::Suspended);
    assert_eq!(service.state().enabled(), 2);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiting = tokio::task::spawn_blocking(move || greeting(port, Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a suspended service served a client");
    services.resume(&name).unwrap();
    assert_eq!(waiting.await.unwrap().unwrap(), "hi\r\n");

    // Resume only applies to a suspended service.
    services.resume(&name).unwrap();
    assert_eq!(service.state(), ServiceState::Running);

    // Stopped: the socket is closed.
    services.stop(&name).unwrap();
    assert_eq!(service.state().enabled(), 0);
    let probes = wait_for_refusal(port).await.expect("stopped service still accepts");
    services.start(&name).unwrap();
    assert_eq!(greeting_after_start(port).await, "hi\r\n");
    // three greetings above, plus any probe that got in before the stop
    let served = service.stats.sessions.load(std::sync::atomic::Ordering::Relaxed);
    assert!((3..=3 + probes).contains(&served), "served {served} sessions, probes {probes}");

    assert!(matches!(services.start("nope"), Err(ServiceError::Unknown(_))));
    services.shutdown(Duration::from_secs(2)).await;
    assert_eq!(service.state(), ServiceState::Closed);
    assert!(matches!(services.start(&name), Err(ServiceError::Closed(_))));
    assert!(wait_for_refusal(port).await.is_some(), "closed service still accepts");
}
