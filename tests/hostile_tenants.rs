//! A rival tenant of `berth serve` goes after another tenant's data. A case
//! passes only when the attempt fails with a clear error, the owner's calls
//! still succeed, and nothing is left (the served session checks on drop).

mod common;

use common::served::{ALPHA, Served, kind};
use common::{docker, nonce};
use reqwest::StatusCode;
use serde_json::json;

const RIVAL: &str = "rival-token-0123456789";

/// A tenant whose policy allows every image, so that only berth's own
/// checks stand between it and another tenant's snapshots.
const RIVAL_TENANT: &str =
    "[[tenant]]\nname = \"rival\"\ntoken = \"rival-token-0123456789\"\nconfig = \"open.toml\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn no_tenant_reads_another_tenants_snapshot_by_name_id_or_prefix() {
    let served = Served::start("hostile-snapshot", "", RIVAL_TENANT);
    for token in [ALPHA, RIVAL] {
        let (status, body) = served.upload(token, "hostile", "1.0.0").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let secret = format!("alpha-secret-{}", nonce());
    let stash = || served.call(ALPHA, "hostile", "stash", json!({"secret": secret}));
    let (status, body) = stash().await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some(secret.as_str())),
        "{body}"
    );

    // The snapshot alpha's exec cache kept of the step that wrote the secret.
    let label = format!("label=berth.session={}", served.session.id);
    let listed = docker(&[
        "images",
        "--no-trunc",
        "--filter",
        &label,
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]);
    let (name, id) = listed
        .lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(name, _)| name.starts_with("berth-cache/"))
        .unwrap_or_else(|| panic!("alpha's snapshot is kept: {listed}"));
    let bare = id.trim_start_matches("sha256:");
    for (address, expected) in [
        (name, "not-allowed"),
        (id, "image-not-found"),
        (bare, "image-not-found"),
        (&bare[..12], "image-not-found"),
    ] {
        let (status, body) = served
            .call(
                RIVAL,
                "hostile",
                "read-image-file",
                json!({"image": address, "path": "/stash.txt"}),
            )
            .await;
        assert!(!body.to_string().contains(&secret), "{address}: {body}");
        assert_eq!(
            (status, kind(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, expected),
            "{address}: {body}"
        );
    }
    // The owner still reads its own, from the cache.
    let (status, body) = stash().await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some(secret.as_str())),
        "{body}"
    );
}
