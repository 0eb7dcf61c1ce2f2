//! The exec cache and digests, across separate berth processes.

mod common;

use common::{TestSession, nonce};

#[test]
fn an_identical_pipeline_run_again_starts_no_container() {
    let message = format!("cache-{}", nonce());
    let first = TestSession::new("cache-miss");
    assert_eq!(
        first.call_ok("hello", "echo", &["--msg", &message]),
        format!("{message}\n")
    );
    assert_eq!(first.containers_created(), 1, "the first run runs the step");
    assert!(
        first.images().is_empty(),
        "an output-only last step takes no snapshot"
    );

    let second = TestSession::new("cache-hit");
    assert_eq!(
        second.call_ok("hello", "echo", &["--msg", &message]),
        format!("{message}\n")
    );
    assert_eq!(
        second.containers_created(),
        0,
        "the second run is a cache hit"
    );
}

#[test]
fn a_removed_snapshot_is_run_again() {
    let text = format!("evicted-{}", nonce());
    let first = TestSession::new("cache-evict");
    assert_eq!(
        first.call_ok("pipelines", "echo-file", &["--text", &text]),
        format!("{text}\n")
    );
    let snapshots = first.images();
    assert_eq!(
        snapshots.len(),
        1,
        "reading a file needs the step's snapshot"
    );
    for image in snapshots {
        common::docker(&["rmi", "-f", &image]);
    }
    let second = TestSession::new("cache-evicted");
    assert_eq!(
        second.call_ok("pipelines", "echo-file", &["--text", &text]),
        format!("{text}\n")
    );
    assert_eq!(second.created_of_kind("step"), 1);
}

#[test]
fn a_cached_output_without_a_snapshot_runs_again_when_a_file_is_needed() {
    let text = format!("upgrade-{}", nonce());
    let session = TestSession::new("cache-upgrade");
    // The step of echo-file, first for its output only, then for the file it wrote.
    let script = "echo \"$0\" > /echo.txt";
    let args = [
        "--base", "busybox", "--args", "sh", "--args", "-c", "--args", script, "--args", &text,
    ];
    session.call_ok("pipelines", "run-in", &args);
    assert_eq!(session.containers_created(), 1);
    assert!(session.images().is_empty());
    assert_eq!(
        session.call_ok("pipelines", "echo-file", &["--text", &text]),
        format!("{text}\n")
    );
    assert_eq!(
        session.created_of_kind("step"),
        2,
        "the step ran again to keep its filesystem"
    );
    assert_eq!(session.images().len(), 1);
}

#[test]
fn digests_are_stable_across_processes() {
    let session = TestSession::new("digest-stable");
    let args = ["--args", "echo", "--args", "same"];
    let a = session.call_ok("pipelines", "digest-of", &args);
    let b = session.call_ok("pipelines", "digest-of", &args);
    assert_eq!(a, b);
    assert_eq!(a.trim().len(), 64, "a blake3 hex digest: {a}");
    assert_eq!(session.containers_created(), 0, "a digest runs nothing");
}

#[test]
fn digests_differ_for_different_pipelines() {
    let session = TestSession::new("digest-differs");
    let a = session.call_ok("pipelines", "digest-of", &["--args", "echo", "--args", "a"]);
    let b = session.call_ok("pipelines", "digest-of", &["--args", "echo", "--args", "b"]);
    let joined = session.call_ok("pipelines", "digest-of", &["--args", "echo a"]);
    assert_ne!(a, b);
    assert_ne!(a, joined);
}

/// Two processes sharing an exec cache may run one step at once; the later
/// tag wins and the other snapshot is left untagged. Session end removes it.
#[test]
fn a_snapshot_another_process_cached_first_is_removed_at_session_end() {
    use berth::pipeline::Want;
    use berth::spec::{ContainerSpec, Op};

    let guard = TestSession::uncached("lost-tag");
    let cache = tempfile::tempdir().unwrap();
    let services =
        common::in_process_services(&guard, &Default::default(), cache.path().join("exec"));
    let session = services.evaluator().session().clone();
    let spec = ContainerSpec::new("berth.local/busybox:latest").with(Op::Exec(
        vec!["sh".into(), "-c".into(), format!("echo {} > /f", nonce())].into(),
    ));
    let tokio = tokio::runtime::Runtime::new().unwrap();
    tokio.block_on(async {
        services
            .evaluate(&spec, Want::Filesystem)
            .await
            .expect("the step runs and its snapshot is kept");
        // Another process tags its own snapshot of the same step under the same name.
        let kept = common::docker(&[
            "images",
            "--filter",
            &format!("label=berth.session={}", guard.id),
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ]);
        let name = kept
            .lines()
            .next()
            .expect("the kept snapshot's name")
            .to_string();
        common::docker(&["tag", "berth.local/busybox:latest", &name]);
        assert_eq!(guard.leftovers().len(), 1, "our snapshot lost its tag");
        session.end().await.expect("session end");
        common::docker(&["rmi", &name]);
    });
    // The session guard asserts that no untagged snapshot of the session is left.
}

/// A step another process kept first, under the name this process would
/// give it, keeps that process's snapshot: retagging would leave it unnamed
/// after its session may have ended. This process uses it and removes its own.
#[test]
fn a_step_kept_first_elsewhere_keeps_the_first_snapshot() {
    use berth::pipeline::Want;
    use berth::spec::{ContainerSpec, Op};

    let first = TestSession::uncached("kept-first");
    let second = TestSession::uncached("kept-second");
    let cache = tempfile::tempdir().unwrap();
    let spec = ContainerSpec::new("berth.local/busybox:latest").with(Op::Exec(
        vec!["sh".into(), "-c".into(), format!("echo {} > /f", nonce())].into(),
    ));
    let evaluate = |guard: &TestSession| {
        // One cache folder, so one name for the step's snapshot.
        let services =
            common::in_process_services(guard, &Default::default(), cache.path().join("exec"));
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let evaluation = services
                .evaluate(&spec, Want::Filesystem)
                .await
                .expect("the step runs");
            services
                .evaluator()
                .session()
                .end()
                .await
                .expect("session end");
            evaluation.image
        })
    };
    let kept = evaluate(&first);
    // The second process finds no record (as if it raced the first), runs
    // the step, and finds the name taken.
    std::fs::remove_dir_all(cache.path().join("exec")).unwrap();
    assert_eq!(
        evaluate(&second),
        kept,
        "the first snapshot is the one kept"
    );
    assert!(
        first.leftovers().is_empty(),
        "the first snapshot keeps its name"
    );
    assert_eq!(second.created_of_kind("step"), 1);
    common::docker(&["rmi", "-f", &kept.0]);
}
