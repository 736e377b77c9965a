//! The portal at /ui/ in a real headless Chromium against a real faasd (basic auth on): it
//! lists functions, deploys one from its form, invokes it and shows the answer, shows its
//! logs, and deletes it; `/` redirects to it and it needs the credentials.

mod common;

use base64::Engine as _;
use common::browser::Browser;
use common::Faasd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_lists_deploys_invokes_shows_logs_and_deletes() {
    let faasd = Faasd::start();
    // Without credentials: 401; `/` points at the portal.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = plain.get(faasd.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 307);
    assert_eq!(root.headers()["location"], "/ui/");
    // The page loads signed out (to show its sign-in); the API does not answer.
    let page = plain.get(faasd.url("/ui/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let api = plain
        .get(faasd.url("/system/functions"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);

    faasd.deploy_host("existing", "cat").await;

    let mut browser = Browser::start().await;
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", faasd.user, faasd.password));
    browser
        .set_header("Authorization", &format!("Basic {token}"))
        .await;
    browser.navigate(&faasd.url("/")).await;
    browser
        .wait_for(
            "document.body.dataset.ready === 'true' && !!document.querySelector('tr[data-name=existing]')",
            "the function list",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('error').hidden")
            .await,
        true
    );
    assert_eq!(
        browser.eval("location.pathname").await,
        "/ui/",
        "/ redirected to the portal"
    );

    // Deploy from the form.
    browser
        .eval(
            "document.getElementById('deploy-name').value = 'from-ui';
             document.getElementById('deploy-image').value = 'functions/alpine:latest';
             document.getElementById('deploy-fprocess').value = 'tr a-z A-Z';
             document.querySelector('#deploy button').click(); true",
        )
        .await;
    browser
        .wait_for(
            "!!document.querySelector('tr[data-name=from-ui]')",
            "the deployed function in the list",
        )
        .await;
    let status = faasd
        .status("from-ui")
        .await
        .expect("deployed through the UI");
    assert_eq!(status["envProcess"], "tr a-z A-Z");
    faasd.wait_replicas("from-ui", 1).await;

    // Invoke it and see its answer.
    browser
        .eval(
            "document.getElementById('invoke-name').value = 'from-ui';
             document.getElementById('invoke-body').value = 'hello portal';
             document.querySelector('#invoke button').click(); true",
        )
        .await;
    browser
        .wait_for(
            "document.getElementById('invoke-output').textContent === 'HELLO PORTAL'",
            "the function's answer",
        )
        .await;
    let shown = browser
        .eval("document.getElementById('invoke-status').textContent")
        .await;
    assert!(
        shown.as_str().is_some_and(|s| s.starts_with("200 OK")),
        "{shown}"
    );

    // Its logs: the watchdog's line for the call just made.
    browser
        .eval(
            "document.getElementById('logs-name').value = 'from-ui';
             document.querySelector('#logs button').click(); true",
        )
        .await;
    // The line reaches the log store a moment after the answer: ask again until it is there.
    browser
        .wait_for(
            "document.getElementById('logs-output').textContent.includes('Wrote 12 Bytes')
             || (document.querySelector('#logs button').click(), false)",
            "the call's log line",
        )
        .await;

    // Delete it (the page asks first; say yes).
    browser
        .eval(
            "window.confirm = () => true;
             document.querySelector('tr[data-name=from-ui] button.delete').click(); true",
        )
        .await;
    browser
        .wait_for(
            "!document.querySelector('tr[data-name=from-ui]')",
            "the deleted function to leave the list",
        )
        .await;
    assert!(faasd.status("from-ui").await.is_none());
    assert!(faasd.status("existing").await.is_some());
}
