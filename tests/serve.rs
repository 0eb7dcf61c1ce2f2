//! `berth serve` as a process, through its HTTP API: tokens, each tenant's
//! own plugins, JSON calls and structured errors, quotas, hostile plugins,
//! isolation between tenants' services, fifty calls from five tenants, and
//! a shutdown that leaves nothing (TestSession checks on drop).

mod common;

use common::engine_proxy::{EngineProxy, Fault, Misbehaviour};
use common::served::{
    ALPHA, BETA, GAMMA, Served, answer, assert_api_error, inspect_service_of, kind, service_of,
};
use common::{docker, nonce, plugin};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Sends `head` (a request's line and headers) on a connection of its own
/// and returns the status line of the answer, which must come within 10 s
/// though the request's body never does.
async fn status_line_without_body(served: &Served, head: &str) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let address = served.url.trim_start_matches("http://");
    let mut connection = tokio::net::TcpStream::connect(address).await.unwrap();
    connection.write_all(head.as_bytes()).await.unwrap();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(connection);
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        reader.read_line(&mut line),
    )
    .await
    .expect("an answer before the body")
    .unwrap();
    line.trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_decide_who_is_calling_and_the_api_is_described() {
    let served = Served::start("serve-auth", "", "");
    let (status, body) = served.get("/v1/plugins", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(kind(&body), "unauthorized");
    let (status, _) = served
        .get("/v1/plugins", Some("not-a-token-of-anyone"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = served.get("/v1/plugins", Some(ALPHA)).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));

    let (status, openapi) = served.get("/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(openapi["openapi"], "3.0.3");
    for path in [
        "/v1/plugins",
        "/v1/plugins/{plugin}",
        "/v1/plugins/{plugin}/functions/{function}",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is described");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_uploads_lists_and_calls_its_own_plugins_and_no_one_elses() {
    let served = Served::start("serve-plugins", "", "");
    let (status, manifest) = served.upload(ALPHA, "hello", "1.0.0").await;
    assert_eq!(status, StatusCode::CREATED, "{manifest}");
    let bytes = std::fs::read(plugin("hello")).unwrap();
    assert_eq!(
        manifest["digest"],
        format!("blake3:{}", blake3::hash(&bytes).to_hex())
    );
    assert_eq!(
        manifest["functions"][0]["wit"],
        "hello: func(name: string) -> string"
    );
    assert_eq!(manifest["needs"]["images"], json!(["busybox"]));

    let (_, listed) = served.get("/v1/plugins", Some(ALPHA)).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let (_, others) = served.get("/v1/plugins", Some(BETA)).await;
    assert_eq!(others, json!([]));
    let (status, body) = served.get("/v1/plugins/hello", Some(BETA)).await;
    assert_eq!((status, kind(&body)), (StatusCode::NOT_FOUND, "not-found"));
    assert_eq!(
        body["error"]["message"],
        "no plugin hello is installed; GET /v1/plugins lists them"
    );
    let (status, _) = served
        .call(BETA, "hello", "hello", json!({"name": "b"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = served
        .call(ALPHA, "hello", "hello", json!({"name": "web"}))
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"result": "Hello, web!"}))
    );
    let (status, body) = served
        .call(
            ALPHA,
            "hello@1.0.0",
            "echo",
            json!({"msg": "from a container"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"result": "from a container\n"}))
    );

    let (status, body) = served.call(ALPHA, "hello", "nope", json!({})).await;
    assert_eq!((status, kind(&body)), (StatusCode::NOT_FOUND, "not-found"));
    let (status, body) = served.call(ALPHA, "hello", "hello", json!({})).await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::BAD_REQUEST, "invalid-argument")
    );
    assert_eq!(
        body["error"]["message"],
        "`hello` needs the argument `name` (string)"
    );
    let (status, body) = served
        .call(ALPHA, "hello", "hello", json!({"name": 3}))
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::BAD_REQUEST, "invalid-argument")
    );
    // Malformed requests get the API's JSON errors, not the framework's text.
    let (status, body) = answer(served.request(
        reqwest::Method::POST,
        "/v1/plugins?name=x&version=1.2",
        Some(ALPHA),
    ))
    .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::BAD_REQUEST, "invalid-argument"),
        "{body}"
    );
    let (status, body) = answer(
        served
            .request(
                reqwest::Method::POST,
                "/v1/plugins/hello/functions/hello",
                Some(ALPHA),
            )
            .body(vec![b' '; (1 << 20) + 1]),
    )
    .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
        "{body}"
    );
    let (status, body) = served.upload(ALPHA, "foreign-import", "1.0.0").await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::BAD_REQUEST, "invalid-plugin"),
        "{body}"
    );

    // Every kind of parameter from JSON, as the CLI gives it from flags.
    served.upload(ALPHA, "pipelines", "1.0.0").await;
    let args = json!({"text": "hi there", "flag": true, "count": 3, "ratio": 0.5, "shade": "green",
                      "maybe": 7, "items": ["a", "b"], "at": {"x": 1, "y": -2}});
    let (status, body) = served.call(ALPHA, "pipelines", "describe", args).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"],
        "text=hi there flag=true count=3 ratio=0.5 shade=Color::Green maybe=Some(7) items=[\"a\", \"b\"] at=(1,-2)"
    );
    // A berth error the function returns is structured, with the command's output.
    let steps_before = served.session.created_of_kind("step");
    let (status, body) = served
        .call(ALPHA, "pipelines", "failing-stdout", json!({"code": 4}))
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "exec-failed"),
        "{body}"
    );
    assert_eq!(body["error"]["exit_code"], 4);
    // A failure is not replayed to the tenant's next call: the step runs again.
    let (again, _) = served
        .call(ALPHA, "pipelines", "failing-stdout", json!({"code": 4}))
        .await;
    assert_eq!(again, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(served.session.created_of_kind("step"), steps_before + 2);

    let (status, removed) =
        answer(served.request(reqwest::Method::DELETE, "/v1/plugins/hello", Some(ALPHA))).await;
    assert_eq!(
        (status, &removed["name"]),
        (StatusCode::OK, &json!("hello"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn quotas_bound_storage_calls_and_running_containers() {
    // hello (45 KB) fits in 80 KiB; greet-rust (47 KB) beside it does not.
    let served = Served::start("serve-quotas", "storage = \"80KiB\"\ncalls = 1", "");
    // Uploaded at once, the two pass the quota together: exactly one is stored.
    let (first, second) = tokio::join!(
        served.upload(BETA, "hello", "1.0.0"),
        served.upload(BETA, "greet-rust", "1.0.0")
    );
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::PAYLOAD_TOO_LARGE],
        "{first:?} {second:?}"
    );
    let stored = if first.0 == StatusCode::CREATED {
        "hello"
    } else {
        "greet-rust"
    };
    served
        .request(
            reqwest::Method::DELETE,
            &format!("/v1/plugins/{stored}"),
            Some(BETA),
        )
        .send()
        .await
        .unwrap();

    // An upload that says it is larger than the whole quota is refused unread.
    let head = format!(
        "POST /v1/plugins?name=big&version=1.0.0 HTTP/1.1\r\nHost: berth\r\n\
         Authorization: Bearer {BETA}\r\nContent-Length: 10485760\r\n\r\n"
    );
    assert_eq!(
        status_line_without_body(&served, &head).await,
        "HTTP/1.1 413 Payload Too Large"
    );

    let (status, _) = served.upload(BETA, "hello", "1.0.0").await;
    assert_eq!(status, StatusCode::CREATED);
    let answer = served.upload(BETA, "greet-rust", "1.0.0").await;
    assert_api_error(
        &answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota",
        "plugin storage quota",
    );
    // The same component as another version is stored once, and counted once.
    let (status, body) = served.upload(BETA, "hello", "2.0.0").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, listed) = served.get("/v1/plugins", Some(BETA)).await;
    let versions: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["version"])
        .collect();
    assert_eq!(versions, [&json!("1.0.0"), &json!("2.0.0")]);

    // One call at a time for beta: a second while the first runs is refused.
    let slow = served.call(BETA, "hello", "echo", json!({"msg": nonce()}));
    let quick = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        served
            .call(BETA, "hello", "hello", json!({"name": "again"}))
            .await
    };
    let ((slow_status, _), (status, body)) = tokio::join!(slow, quick);
    assert_eq!(slow_status, StatusCode::OK);
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "quota"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn containers_running_at_once_are_bounded_per_tenant() {
    let served = Served::start(
        "serve-running",
        "",
        "[[tenant]]\nname = \"delta\"\ntoken = \"delta-token-0123456789\"\n[tenant.quota]\ncontainers = 2\n",
    );
    served
        .upload("delta-token-0123456789", "hostile", "1.0.0")
        .await;
    let answer = served
        .call(
            "delta-token-0123456789",
            "hostile",
            "many-services",
            json!({"tag": nonce(), "count": 3}),
        )
        .await;
    assert_api_error(
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit-exceeded",
        "2 containers are running at once already",
    );
    assert_eq!(served.session.created_of_kind("service"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_functions_end_in_clear_errors_and_the_server_serves_on() {
    let served = Served::start("serve-hostile", "", "");
    served.upload(GAMMA, "hostile", "1.0.0").await;
    // A plugin declaring an image the tenant's policy refuses is refused at upload.
    let answer = served
        .upload_needing(GAMMA, "hostile", "2.0.0", "busybox,alpine")
        .await;
    assert_api_error(
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not-allowed",
        "hostile@2.0.0 needs an image tenant `gamma` may not use: image `alpine` is not allowed",
    );
    let (_, listed) = served.get("/v1/plugins", Some(GAMMA)).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    served.upload(ALPHA, "hello", "1.0.0").await;
    let cases = [
        (
            "spin",
            json!({}),
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "did not finish within 10s",
        ),
        (
            "grow-memory",
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit-exceeded",
            "past 32 MiB",
        ),
        (
            "run-image",
            json!({"image": "alpine"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-allowed",
            "image `alpine` is not allowed",
        ),
        (
            "image-container",
            json!({"image": "alpine"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-allowed",
            "image `alpine` is not allowed",
        ),
        (
            "many-containers",
            json!({"tag": nonce(), "count": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit-exceeded",
            "at most 3 containers",
        ),
        (
            "reach-host",
            json!({"host": "10.0.0.1", "port": 80}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-allowed",
            "may not reach `10.0.0.1`",
        ),
        // The server's own loopback is no tenant's unless its berth.toml names it.
        (
            "reach-host",
            json!({"host": "127.0.0.1", "port": 80}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-allowed",
            "may not reach `127.0.0.1`: berth.toml [host] services allows none",
        ),
        (
            "open-host-directory",
            json!({"path": "/etc"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-allowed",
            "not under a root granted",
        ),
        (
            "bind-then-trap",
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "trap",
            "unreachable",
        ),
    ];
    for (function, args, status, expected_kind, message) in cases {
        let answer = served.call(GAMMA, "hostile", function, args).await;
        assert_api_error(&answer, status, expected_kind, message);
    }
    let (_, read) = served
        .call(
            GAMMA,
            "hostile",
            "read-host-file",
            json!({"path": "/etc/passwd"}),
        )
        .await;
    assert_eq!(
        read,
        json!({"result": {"err": "No such file or directory (os error 44)"}})
    );
    let (_, environment) = served
        .call(GAMMA, "hostile", "environment", json!({}))
        .await;
    assert_eq!(environment, json!({"result": []}));
    // A host service given as an argument is held to the same policy.
    served.upload(GAMMA, "service-probes", "1.0.0").await;
    let (status, body) = served
        .call(
            GAMMA,
            "service-probes",
            "checksum",
            json!({"svc": "tcp://10.0.0.1:80", "path": "/"}),
        )
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::BAD_REQUEST, "invalid-argument"),
        "{body}"
    );
    // Everyone else is unaffected.
    let (status, body) = served
        .call(ALPHA, "hello", "hello", json!({"name": "still here"}))
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"result": "Hello, still here!"}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_tenants_containers_are_held_to_its_own_limits_on_one_shared_engine() {
    let served = Served::start("serve-limits", "", "");
    for token in [ALPHA, GAMMA] {
        served.upload(token, "service-probes", "1.0.0").await;
    }
    // Held long enough to be inspected, and well inside gamma's 10 s call deadline.
    let hold = |token| {
        served.call(
            token,
            "service-probes",
            "long-client",
            json!({"tag": nonce(), "seconds": 3}),
        )
    };
    let inspecting = async {
        let session = served.session.id.clone();
        tokio::task::spawn_blocking(move || {
            ["alpha", "gamma"].map(|tenant| inspect_service_of(&session, tenant).0)
        })
        .await
        .unwrap()
    };
    let ((alpha_held, alpha_body), (gamma_held, gamma_body), [alpha, gamma]) =
        tokio::join!(hold(ALPHA), hold(GAMMA), inspecting);
    assert_eq!(alpha_held, StatusCode::OK, "{alpha_body}");
    assert_eq!(gamma_held, StatusCode::OK, "{gamma_body}");
    // alpha has the server's berth.toml (berth's defaults); gamma strict.toml.
    let limits = |inspected: &Value| {
        let host = &inspected["HostConfig"];
        (
            host["Memory"].as_u64(),
            host["NanoCpus"].as_u64(),
            host["PidsLimit"].as_u64(),
        )
    };
    assert_eq!(
        limits(&alpha),
        (Some(512 << 20), Some(1_000_000_000), Some(256)),
        "alpha's service"
    );
    assert_eq!(
        limits(&gamma),
        (Some(64 << 20), Some(500_000_000), Some(64)),
        "gamma's service"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenants_containers_reach_its_own_services_and_no_one_elses() {
    let served = Served::start("serve-isolation", "", "");
    for token in [ALPHA, BETA] {
        served.upload(token, "service-probes", "1.0.0").await;
        served.upload(token, "hostile", "1.0.0").await;
    }
    // beta holds a service for a while.
    let holding = served.call(
        BETA,
        "service-probes",
        "long-client",
        json!({"tag": nonce(), "seconds": 12}),
    );
    let probing = async {
        let session = served.session.id.clone();
        let (ip, hostname) = tokio::task::spawn_blocking(move || service_of(&session, "beta"))
            .await
            .unwrap();
        let by_ip = json!({"url": format!("http://{ip}:8080/")});
        let (own, own_body) = served
            .call(BETA, "hostile", "fetch-url", by_ip.clone())
            .await;
        let (other, other_body) = served.call(ALPHA, "hostile", "fetch-url", by_ip).await;
        let by_name = json!({"url": format!("http://{hostname}:8080/")});
        let (named, named_body) = served.call(ALPHA, "hostile", "fetch-url", by_name).await;
        (own, own_body, other, other_body, named, named_body)
    };
    let ((held, _), (own, own_body, other, other_body, named, named_body)) =
        tokio::join!(holding, probing);
    assert_eq!(held, StatusCode::OK);
    assert_eq!(
        own,
        StatusCode::OK,
        "beta reaches its own service: {own_body}"
    );
    assert_eq!(
        (other, kind(&other_body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "exec-failed"),
        "{other_body}"
    );
    assert_eq!(
        (named, kind(&named_body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "exec-failed"),
        "{named_body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_calls_from_five_tenants_share_one_service_per_tenant() {
    let extra: String = (1..=5)
        .map(|n| format!("[[tenant]]\nname = \"t{n}\"\ntoken = \"tenant-{n}-token-0123456789\"\n[tenant.quota]\ncalls = 10\n"))
        .collect();
    let served = Served::start("serve-fifty", "", &extra);
    let tokens: Vec<String> = (1..=5)
        .map(|n| format!("tenant-{n}-token-0123456789"))
        .collect();
    for token in &tokens {
        let (status, body) = served.upload(token, "service-probes", "1.0.0").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Every tenant binds the same service: one per tenant, shared by its ten calls.
    let tag = nonce();
    let served = &served;
    let calls = tokens.iter().flat_map(|token| {
        let tag = tag.clone();
        (0..10).map(move |n| {
            let args = json!({"tag": tag.clone(), "n": n});
            async move {
                served
                    .call(token, "service-probes", "fetch-nth", args)
                    .await
            }
        })
    });
    let answers = futures_util::future::join_all(calls).await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    assert_eq!(served.session.created_of_kind("service"), 5);
    assert_eq!(served.session.created_of_kind("step"), 50);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_past_its_deadline_leaves_no_step_running() {
    let served = Served::start("serve-deadline", "", "");
    served.upload(GAMMA, "pipelines", "1.0.0").await;
    let (status, body) = served
        .call(
            GAMMA,
            "pipelines",
            "run-in",
            json!({"base": "busybox", "args": ["sleep", "300"]}),
        )
        .await;
    assert_eq!(
        (status, kind(&body)),
        (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        "{body}"
    );
    assert_eq!(served.session.created_of_kind("step"), 1);
    // The server runs on, so no session end removes the step: only the
    // abandoned call itself can.
    let session = format!("label=berth.session={}", served.session.id);
    let steps = || {
        docker(&[
            "ps",
            "-aq",
            "--filter",
            &session,
            "--filter",
            "label=berth.kind=step",
        ])
    };
    let mut left = steps();
    for _ in 0..300 {
        if left.trim().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = steps();
    }
    assert_eq!(left.trim(), "", "the abandoned step still exists");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_upload_does_not_keep_the_server_from_stopping() {
    use tokio::io::AsyncWriteExt;
    let served = Served::start("serve-stalled", "", "");
    let address = served.url.trim_start_matches("http://").to_string();
    let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
    // An upload's headers, and then never its body.
    let headers = format!(
        "POST /v1/plugins?name=stalled&version=1.0.0 HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {ALPHA}\r\nContent-Length: 100000\r\n\r\n"
    );
    stalled.write_all(headers.as_bytes()).await.unwrap();
    stalled.write_all(&[0; 10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // Dropping the server sends SIGTERM and requires a clean exit in time.
    tokio::task::spawn_blocking(move || drop(served))
        .await
        .unwrap();
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_network_the_engine_keeps_for_a_stale_endpoint_is_told_not_failed() {
    // The engine refuses every network removal as Docker 20.10 does when it
    // keeps the endpoint of a container it already removed.
    let engine = EngineProxy::start(vec![Fault {
        method: "DELETE",
        path: "/networks/",
        misbehaviour: Misbehaviour::Answer(
            403,
            "error while removing network: network berth-tenant id 0 has active endpoints",
        ),
        times: usize::MAX,
    }]);
    let served = Served::start_on("serve-stale", "", "", Some(&engine));
    served.upload(ALPHA, "hello", "1.0.0").await;
    let (status, _) = served
        .call(ALPHA, "hello", "echo", json!({"msg": nonce()}))
        .await;
    assert_eq!(status, StatusCode::OK);
    // SIGTERM: every container goes, and the server exits 0, telling of the network.
    let served = tokio::task::spawn_blocking(move || {
        let mut served = served;
        served.stop();
        served
    })
    .await
    .unwrap();
    assert!(engine.fired(0) > 0);
    let filter = format!("label=berth.session={}", served.session.id);
    assert_eq!(docker(&["ps", "-aq", "--filter", &filter]), "");
    let networks = docker(&["network", "ls", "-q", "--filter", &filter]);
    assert_eq!(
        networks.lines().count(),
        1,
        "the tenant network the engine kept"
    );
    docker(&["network", "rm", networks.trim()]);
}
