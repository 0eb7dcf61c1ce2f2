//! A rival tenant of `berth serve` goes after another tenant's data. A case
//! passes only when the attempt fails with a clear error, the owner's calls
//! still succeed, and nothing is left (the served session checks on drop).

mod common;

use common::served::{ALPHA, Served, kind};
use common::{docker, nonce};
use reqwest::StatusCode;
use serde_json::json;

const RIVAL: &str = "rival-token-0123456789";
const OWNER: &str = "owner-token-0123456789";

/// A tenant whose policy allows every image and host services on
/// 127.0.0.1, so that only berth's own checks stand in its way.
const RIVAL_TENANT: &str =
    "[[tenant]]\nname = \"rival\"\ntoken = \"rival-token-0123456789\"\nconfig = \"open.toml\"\n";
/// A tenant with the same policy, whose host service the rival goes after.
const OWNER_TENANT: &str =
    "[[tenant]]\nname = \"owner\"\ntoken = \"owner-token-0123456789\"\nconfig = \"open.toml\"\n";

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
    let owner = docker(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"berth.tenant\"}}",
        id,
    ]);
    assert_eq!(owner.trim(), "alpha", "the snapshot carries its tenant");
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

/// This host's address on tenant `tenant`'s network, where its host tunnels listen.
fn host_address_on(session: &str, tenant: &str) -> String {
    let network = format!("berth-tenant-{tenant}-{session}");
    let id = docker(&["network", "inspect", "--format", "{{.Id}}", &network]);
    let bridge = format!("br-{}", &id.trim()[..12]);
    let shown = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", &bridge])
        .output()
        .expect("ip runs");
    let shown = String::from_utf8_lossy(&shown.stdout);
    shown
        .split_whitespace()
        .skip_while(|word| *word != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .unwrap_or_else(|| panic!("{bridge} has an address: {shown}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_tenant_connects_to_another_tenants_host_tunnel() {
    let extra = format!("{OWNER_TENANT}{RIVAL_TENANT}");
    let served = Served::start("hostile-tunnel", "", &extra);
    for token in [OWNER, RIVAL] {
        let (status, body) = served.upload(token, "hostile", "1.0.0").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // The owner's host service: every connection gets the owner's secret.
    let secret = format!("owner-secret-{}", nonce());
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let answer = format!("HTTP/1.0 200 OK\r\n\r\n{secret}");
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in server.incoming().map_while(Result::ok) {
            let mut request = [0u8; 1024];
            if stream.read(&mut request).is_ok_and(|n| n > 0) {
                let _ = stream.write_all(answer.as_bytes());
            }
        }
    });
    let holding = served.call(
        OWNER,
        "hostile",
        "hold-host-service",
        json!({"port": port, "seconds": 8}),
    );
    let attacking = async {
        let session = served.session.id.clone();
        let address = tokio::task::spawn_blocking(move || {
            // The tunnel listens once the owner's network and client exist.
            common::served::inspect_running_of_kind(&session, "owner", "step");
            host_address_on(&session, "owner")
        })
        .await
        .unwrap();
        let url = json!({"url": format!("http://{address}:{port}/")});
        let own = served
            .call(OWNER, "hostile", "fetch-url", url.clone())
            .await;
        let rival = served.call(RIVAL, "hostile", "fetch-url", url).await;
        (own, rival)
    };
    let ((held, held_body), ((own, own_body), (rival, rival_body))) =
        tokio::join!(holding, attacking);
    assert_eq!(held, StatusCode::OK, "{held_body}");
    assert_eq!(
        (own, own_body["result"].as_str()),
        (StatusCode::OK, Some(secret.as_str())),
        "the owner's own container reaches its tunnel: {own_body}"
    );
    assert!(!rival_body.to_string().contains(&secret), "{rival_body}");
    assert_eq!(
        (rival, kind(&rival_body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "exec-failed"),
        "{rival_body}"
    );
}
