//! The portal at /ui/ in a real headless Chromium against a real faasd (auth on): it signs in
//! with the admin credentials (a session cookie the page's script cannot read), shows a
//! failing function as failing, fills a function's chart after calls, follows its logs,
//! invokes it, scales it, deploys from the store, creates a secret without ever showing its
//! value, deletes, signs out; it works at phone width, reports no console errors, and writes
//! screenshots (under `target/tmp/ui-screenshots/`, not in git) whose non-blankness is
//! checked. A second test measures the overview of 200 functions becoming interactive (goal
//! 1 s; printed, with a looser bound asserted).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::browser::Browser;
use common::Faasd;
use serde_json::{json, Value};

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots")
}

/// Sets form fields by id (values JSON-quoted into the page).
async fn fill(browser: &mut Browser, fields: &[(&str, &str)]) {
    let mut script = String::new();
    for (id, value) in fields {
        script.push_str(&format!(
            "document.getElementById({}).value = {};",
            json!(id),
            json!(value)
        ));
    }
    script.push_str("true");
    browser.eval(&script).await;
}

async fn click(browser: &mut Browser, selector: &str) {
    let found = browser
        .eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            json!(selector)
        ))
        .await;
    assert_eq!(found, Value::Bool(true), "nothing matches {selector}");
}

/// Signs in through the page's form.
async fn sign_in(browser: &mut Browser, faasd: &Faasd) {
    browser.navigate(&faasd.url("/")).await;
    browser
        .wait_for(
            "!document.getElementById('login-view').hidden",
            "the sign-in form",
        )
        .await;
    fill(
        browser,
        &[
            ("login-user", faasd.user.as_str()),
            ("login-password", faasd.password.as_str()),
        ],
    )
    .await;
    click(browser, "#login button[type=submit]").await;
    browser
        .wait_for(
            "document.body.dataset.ready === 'true'",
            "the overview after signing in",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_signs_in_watches_changes_and_debugs_functions() {
    // One attempt: a failed async call is dead-lettered at once.
    let faasd = Faasd::start_with(&[("FAASD_QUEUE_RETRY_ATTEMPTS", "1")]);
    // The page loads signed out (to show its sign-in); the API does not answer.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let root = plain.get(faasd.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 307);
    assert_eq!(root.headers()["location"], "/ui/");
    let page = plain.get(faasd.url("/ui/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let api = plain
        .get(faasd.url("/system/functions"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);

    faasd.deploy_host("existing", "cat").await;
    faasd.deploy_host("broken", "false").await;
    for _ in 0..4 {
        assert_eq!(faasd.invoke("broken", "x").await.0, 500);
    }
    let queued = faasd
        .client
        .post(faasd.url("/async-function/broken"))
        .body("late")
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);

    let mut browser = Browser::start().await;
    browser.set_viewport(1280, 900, false).await;
    // A wrong password is refused on the page.
    browser.navigate(&faasd.url("/ui/")).await;
    browser
        .wait_for(
            "!document.getElementById('login-view').hidden",
            "the sign-in form",
        )
        .await;
    fill(&mut browser, &[("login-password", "wrong")]).await;
    click(&mut browser, "#login button[type=submit]").await;
    browser
        .wait_for(
            "!document.getElementById('login-error').hidden",
            "the refusal",
        )
        .await;
    // The browser logs the refused sign-in (a 401) as a failed load: expected here.
    browser.clear_errors().await;
    sign_in(&mut browser, &faasd).await;
    assert_eq!(browser.eval("location.pathname").await, "/ui/");
    assert_eq!(
        browser
            .eval("document.cookie.includes('rustfaas_session')")
            .await,
        false,
        "the session cookie is HttpOnly"
    );
    browser
        .wait_for(
            "!!document.querySelector('tr[data-name=existing][data-state=ready]')",
            "the ready function in the overview",
        )
        .await;
    // The failing function says so (its calls answer 500).
    browser
        .wait_for(
            "!!document.querySelector('tr[data-name=broken][data-state=failing]')",
            "the failing function shown as failing",
        )
        .await;
    // Sorting by name both ways, from the keyboard's point of view a button.
    click(&mut browser, "button[data-sort=name]").await;
    assert_eq!(
        browser
            .eval("document.querySelector('#functions tbody tr').dataset.name")
            .await,
        "existing"
    );
    fill(&mut browser, &[("filter", "brok")]).await;
    browser
        .eval("document.getElementById('filter').dispatchEvent(new Event('input')); true")
        .await;
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#functions tbody tr').length")
            .await,
        1
    );
    fill(&mut browser, &[("filter", "")]).await;
    browser
        .eval("document.getElementById('filter').dispatchEvent(new Event('input')); true")
        .await;
    let overview = browser
        .screenshot(&screenshots().join("overview.png"))
        .await;
    assert!(
        overview > 8,
        "the overview screenshot is blank ({overview} colours)"
    );

    // The function's page: calls fill its chart.
    click(&mut browser, "tr[data-name=existing] a").await;
    browser
        .wait_for(
            "document.body.dataset.fnLoaded === 'existing'",
            "the function's page",
        )
        .await;
    for _ in 0..10 {
        assert_eq!(faasd.invoke("existing", "hi").await.0, 200);
    }
    browser
        .wait_for(
            "Number(document.getElementById('chart-rps').dataset.total) >= 10
             && portal.charts.rps.data[1].some((v) => v > 0)",
            "the requests chart to fill",
        )
        .await;
    let details = browser
        .eval("document.getElementById('fn-details').textContent")
        .await;
    assert!(
        details
            .as_str()
            .unwrap()
            .contains("functions/alpine:latest"),
        "{details}"
    );
    let curl = browser
        .eval("document.getElementById('fn-curl').textContent")
        .await;
    assert!(
        curl.as_str().unwrap().ends_with("/function/existing"),
        "{curl}"
    );

    // Invoke it from the panel.
    fill(
        &mut browser,
        &[
            ("invoke-body", "hello portal"),
            ("invoke-headers", "X-Test: yes"),
        ],
    )
    .await;
    click(&mut browser, "#invoke button[type=submit]").await;
    browser
        .wait_for(
            "document.getElementById('invoke-output').textContent === 'hello portal'",
            "the function's answer",
        )
        .await;
    let shown = browser
        .eval("document.getElementById('invoke-status').textContent")
        .await;
    assert!(
        shown.as_str().is_some_and(|s| s.starts_with("200")),
        "{shown}"
    );

    // Its logs follow: the watchdog's line for that call arrives without asking again.
    browser
        .wait_for(
            "document.getElementById('logs-output').textContent.includes('Wrote 12 Bytes')",
            "the call's log line in the followed logs",
        )
        .await;
    // The filter hides what does not match.
    fill(&mut browser, &[("logs-filter", "no such text anywhere")]).await;
    browser
        .eval("document.getElementById('logs-filter').dispatchEvent(new Event('input')); true")
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('logs-output').textContent")
            .await,
        ""
    );
    let page = browser
        .screenshot(&screenshots().join("function.png"))
        .await;
    assert!(
        page > 8,
        "the function page screenshot is blank ({page} colours)"
    );

    // Scale it to 2, confirmed in the dialog.
    click(&mut browser, "#fn-scale").await;
    browser
        .wait_for(
            "document.getElementById('confirm-dialog').open",
            "the scale dialog",
        )
        .await;
    fill(&mut browser, &[("confirm-input", "2")]).await;
    click(&mut browser, "#confirm-ok").await;
    faasd.wait_replicas("existing", 2).await;

    // Deploy from the store.
    browser.eval("location.hash = '#/store'; true").await;
    browser
        .wait_for(
            "!!document.querySelector('.card[data-name=env] button')",
            "the store",
        )
        .await;
    click(&mut browser, ".card[data-name=env] button").await;
    browser
        .wait_for(
            "document.body.dataset.fnLoaded === 'env'",
            "the deployed store function's page",
        )
        .await;
    let env = faasd.status("env").await.expect("deployed from the store");
    assert_eq!(env["envProcess"], "env");

    // A secret: created, listed by name, its value never shown.
    browser.eval("location.hash = '#/secrets'; true").await;
    fill(
        &mut browser,
        &[("secret-name", "db-pass"), ("secret-value", "s3cr3t-value")],
    )
    .await;
    click(&mut browser, "#secret-form button[type=submit]").await;
    browser
        .wait_for(
            "!!document.querySelector('#secrets tr[data-name=db-pass]')",
            "the new secret in the list",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.documentElement.outerHTML.includes('s3cr3t-value')")
            .await,
        false
    );
    let secrets: Value = faasd
        .api(reqwest::Method::GET, "/system/secrets")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(secrets
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "db-pass"));

    // Delete the store function, confirmed.
    browser
        .eval("location.hash = '#/fn/openfaas-fn/env'; true")
        .await;
    browser
        .wait_for("document.body.dataset.fnLoaded === 'env' && !document.getElementById('function-view').hidden", "the env page")
        .await;
    click(&mut browser, "#fn-delete").await;
    browser
        .wait_for(
            "document.getElementById('confirm-dialog').open",
            "the delete confirmation",
        )
        .await;
    click(&mut browser, "#confirm-ok").await;
    browser
        .wait_for(
            "location.hash === '#/' && !document.querySelector('tr[data-name=env]')",
            "the deleted function to leave the overview",
        )
        .await;
    assert!(faasd.status("env").await.is_none());
    assert!(faasd.status("existing").await.is_some());

    // The deploy dialog.
    click(&mut browser, "#deploy-open").await;
    fill(
        &mut browser,
        &[
            ("deploy-name", "from-dialog"),
            ("deploy-image", "functions/alpine:latest"),
            ("deploy-fprocess", "tr a-z A-Z"),
            ("deploy-env", "GREETING=hi"),
            ("deploy-labels", "team=portal"),
            ("deploy-max", "3"),
        ],
    )
    .await;
    click(&mut browser, "#deploy-submit").await;
    browser
        .wait_for(
            "!!document.querySelector('tr[data-name=from-dialog]')",
            "the function deployed from the dialog",
        )
        .await;
    let deployed = faasd.status("from-dialog").await.expect("deployed");
    assert_eq!(deployed["envProcess"], "tr a-z A-Z");
    assert_eq!(deployed["envVars"]["GREETING"], "hi");
    assert_eq!(deployed["labels"]["team"], "portal");
    assert_eq!(deployed["labels"]["com.openfaas.scale.max"], "3");

    // A namespace.
    browser.eval("location.hash = '#/namespaces'; true").await;
    fill(&mut browser, &[("namespace-name", "dev")]).await;
    click(&mut browser, "#namespace-form button[type=submit]").await;
    browser
        .wait_for(
            "!!document.querySelector('#namespaces tr[data-name=dev]')
             && [...document.getElementById('namespace').options].some((o) => o.value === 'dev')",
            "the new namespace",
        )
        .await;

    // The async call to the failing function is a dead letter; replay it.
    browser.eval("location.hash = '#/queue'; true").await;
    browser
        .wait_for(
            "!!document.querySelector('#dead-letters tbody tr button[data-replay]')",
            "the dead letter",
        )
        .await;
    let reason = browser
        .eval("document.querySelector('#dead-letters tbody tr').textContent")
        .await;
    assert!(reason.as_str().unwrap().contains("broken"), "{reason}");
    click(&mut browser, "#dead-letters button[data-replay]").await;
    browser
        .wait_for(
            "document.getElementById('notice').textContent.startsWith('Replayed')",
            "the replay",
        )
        .await;
    browser.eval("location.hash = '#/'; true").await;

    // From the keyboard: Tab from the filter reaches the first column's sort button, Enter
    // sorts; Escape closes a dialog.
    browser
        .wait_for(
            "!document.getElementById('overview-view').hidden",
            "the overview",
        )
        .await;
    browser
        .eval("document.getElementById('filter').focus(); true")
        .await;
    browser.press("Tab").await;
    assert_eq!(
        browser.eval("document.activeElement.dataset.sort").await,
        "name"
    );
    let sorted = "document.querySelector('#functions th').getAttribute('aria-sort')";
    let before = browser.eval(sorted).await;
    browser.press("Enter").await;
    let after = browser.eval(sorted).await;
    assert_ne!(before, after, "Enter on the sort button sorts");
    click(&mut browser, "#deploy-open").await;
    assert_eq!(
        browser.eval("document.activeElement.id").await,
        "deploy-name"
    );
    browser.press("Escape").await;
    browser
        .wait_for(
            "!document.getElementById('deploy-dialog').open",
            "Escape to close the dialog",
        )
        .await;

    // Phone width: nothing wider than the screen.
    browser.set_viewport(390, 844, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let wide = browser.eval("document.documentElement.scrollWidth").await;
    assert!(
        wide.as_u64().unwrap() <= 390,
        "the overview is {wide} px wide on a phone"
    );
    let phone = browser
        .screenshot(&screenshots().join("overview-phone.png"))
        .await;
    assert!(phone > 8);
    browser.set_viewport(1280, 900, false).await;

    let errors = browser.errors().await;
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");

    // Sign out: the form again, and the cookie no longer opens the API.
    click(&mut browser, "#logout").await;
    browser
        .wait_for(
            "!document.getElementById('login-view').hidden",
            "the sign-in form after signing out",
        )
        .await;
    let status = browser
        .eval("fetch('/system/functions', {headers: {'X-Requested-With': 'rustfaas-portal'}}).then((r) => r.status)")
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_of_200_functions_is_interactive_within_a_second() {
    let faasd = Faasd::start();
    // 200 functions, deployed 8 at a time, then scaled to zero (the overview shows them "at
    // zero") so the machine is not running 200 replicas while the page is measured.
    let names: Vec<String> = (0..200).map(|i| format!("fn-{i:03}")).collect();
    for chunk in names.chunks(8) {
        let deploys = chunk.iter().map(|name| {
            faasd.deploy_accepted(
                json!({"service": name, "image": "functions/alpine:latest", "envProcess": "cat"}),
            )
        });
        futures_util::future::join_all(deploys).await;
        futures_util::future::join_all(chunk.iter().map(|name| faasd.scale(name, 0))).await;
    }

    let mut browser = Browser::start().await;
    browser.set_viewport(1280, 900, false).await;
    sign_in(&mut browser, &faasd).await;
    // Measure a fresh load of the signed-in page: from navigation to the table drawn, then
    // a sort answered (interactive).
    browser.navigate(&faasd.url("/ui/")).await;
    browser
        .wait_for(
            "document.body.dataset.ready === 'true'
             && document.querySelectorAll('#functions tbody tr').length === 200",
            "the 200 functions",
        )
        .await;
    let took = browser
        .eval(
            "(() => {
               const drawn = portal.firstRender;
               const start = performance.now();
               document.querySelector('button[data-sort=name]').click();
               const sort = performance.now() - start;
               const first = document.querySelector('#functions tbody tr').dataset.name;
               return {drawn, sort, first};
             })()",
        )
        .await;
    let drawn = took["drawn"].as_f64().unwrap();
    let sort = took["sort"].as_f64().unwrap();
    assert_eq!(
        took["first"], "fn-199",
        "clicking Name sorted the other way"
    );
    // The goal is 1 s; the bound asserted is looser, so a busy CI machine (tests run in
    // parallel on two cores, faasd is a debug build) does not fail it, while a page that
    // became slow by design still does. The measurement is printed for the record.
    println!(
        "overview of 200 functions: drawn and listening {drawn:.0} ms after navigation; \
         a sort took {sort:.0} ms (goal: under 1000 ms)"
    );
    assert!(
        drawn + sort < 3000.0,
        "the overview took {drawn:.0} ms to draw and {sort:.0} ms to sort"
    );
    let errors = browser.errors().await;
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
}
