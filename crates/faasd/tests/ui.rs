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
    browser
        .wait_for(
            "document.documentElement.clientWidth === 390",
            "the phone's width",
        )
        .await;
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

/// Asks the API for `path` as JSON.
async fn get_json(faasd: &Faasd, path: &str) -> Value {
    faasd
        .api(reqwest::Method::GET, path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Dead letters waiting, over every queue.
async fn dead_letter_count(faasd: &Faasd) -> u64 {
    let stats = get_json(faasd, "/system/queue/stats").await;
    stats
        .as_object()
        .map(|queues| {
            queues
                .values()
                .map(|q| q["dead_letters"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

/// The controls of the page (buttons, fields, navigation) that are shown but reach past a
/// `width`-px screen, and how wide the document is: nothing should scroll sideways.
async fn overflowing_controls(browser: &mut Browser) -> Value {
    browser
        .eval(
            "(() => {
               const width = document.documentElement.clientWidth;
               const bad = [...document.querySelectorAll('button, input, select, textarea, nav a, h1')]
                 .filter((e) => e.offsetParent !== null && !e.closest('dialog:not([open])'))
                 .filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && (r.left < -0.5 || r.right > width + 0.5); })
                 .map((e) => e.id || e.textContent.trim().slice(0, 30) || e.outerHTML.slice(0, 60));
               return {scroll: document.documentElement.scrollWidth, width, bad};
             })()",
        )
        .await
}

async fn assert_fits_a_phone(browser: &mut Browser, what: &str) {
    let found = overflowing_controls(browser).await;
    assert_eq!(found["width"], 390, "{what}: {found}");
    assert!(
        found["scroll"].as_u64().unwrap() <= 390 && found["bad"] == json!([]),
        "{what} overflows a 390 px screen: {found}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_says_why_functions_fail_and_manages_secrets_and_dead_letters() {
    // One attempt: a failed async call is dead-lettered at once.
    let faasd = Faasd::start_with(&[("FAASD_QUEUE_RETRY_ATTEMPTS", "1")]);

    // A packaged function: its page shows the package and its sha256 digest.
    let archive = common::package(
        &[("handler.sh", "#!/bin/sh\ncat\n", 0o755)],
        json!({"fprocess": "./handler.sh"}),
    );
    let uploaded = faasd
        .api(reqwest::Method::PUT, "/system/packages/echo-pkg:1.0")
        .body(archive)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let digest = uploaded.json::<Value>().await.unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    faasd
        .deploy_accepted(json!({"service": "packaged", "image": "echo-pkg:1.0"}))
        .await;
    faasd.wait_replicas("packaged", 1).await;

    // Failing from readiness, not errors: it serves, then one call (answered 200) removes
    // its watchdog's lock file, so its /_/health fails and the provider takes it out of
    // service without restarting it.
    faasd
        .deploy_host("unready", r#"sh -c 'rm -f "$TMPDIR/.lock"; echo gone'"#)
        .await;
    // Failing from restarts: its watchdog refuses its configuration and exits at once, and
    // the provider restarts it again and again.
    faasd
        .deploy_accepted(json!({
            "service": "crashloop", "image": "functions/alpine:latest", "envProcess": "cat",
            "envVars": {"mode": "no-such-mode"}
        }))
        .await;
    // More dead letters than one page of the portal's (100).
    faasd.deploy_host("broken", "false").await;
    for i in 0..105 {
        let queued = faasd
            .client
            .post(faasd.url("/async-function/broken"))
            .body(format!("call-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(queued.status(), 202);
    }
    // The history saw "unready" ready before it stops being so.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let series = get_json(&faasd, "/system/metrics/history?function=unready&window=5m").await;
        if series["replicas"]["ready"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == 1)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no history of unready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        faasd.invoke("unready", "").await,
        (200, "gone\n".to_owned())
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while dead_letter_count(&faasd).await < 105 {
        assert!(
            std::time::Instant::now() < deadline,
            "the async calls were not dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut browser = Browser::start().await;
    browser.set_viewport(1280, 900, false).await;
    sign_in(&mut browser, &faasd).await;
    // Both say why they fail: not from failed calls (there were none).
    browser
        .wait_for_within(
            "document.querySelector('tr[data-name=unready] .state').title.includes('health checks')
             && !!document.querySelector('tr[data-name=unready][data-state=failing]')",
            "the function that lost its readiness shown as failing",
            Duration::from_secs(60),
        )
        .await;
    browser
        .wait_for_within(
            "document.querySelector('tr[data-name=crashloop] .state').title.includes('restarted')
             && !!document.querySelector('tr[data-name=crashloop][data-state=failing]')",
            "the restarting function shown as failing",
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('tr[data-name=packaged]').dataset.state")
            .await,
        "ready"
    );
    // Its page: failing, with its restart count.
    browser
        .eval("location.hash = '#/fn/openfaas-fn/crashloop'; true")
        .await;
    browser
        .wait_for(
            "document.body.dataset.fnLoaded === 'crashloop'
             && document.getElementById('fn-state').textContent === 'failing'
             && Number(document.getElementById('fn-restarts').textContent) >= 2",
            "the restarting function's page",
        )
        .await;

    // The package and its digest.
    browser
        .eval("location.hash = '#/fn/openfaas-fn/packaged'; true")
        .await;
    browser
        .wait_for(
            "document.body.dataset.fnLoaded === 'packaged' && !!document.getElementById('fn-digest')",
            "the packaged function's page",
        )
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('fn-image').textContent")
            .await,
        "echo-pkg:1.0"
    );
    assert_eq!(
        browser
            .eval("document.getElementById('fn-digest').textContent")
            .await,
        digest.as_str()
    );

    // The keyboard alone: from the path field, Tab through query, headers and body, type the
    // body, Tab to the Invoke button and press Enter.
    browser
        .eval("document.getElementById('invoke-path').focus(); true")
        .await;
    for expected in ["invoke-query", "invoke-headers", "invoke-body"] {
        browser.press("Tab").await;
        assert_eq!(browser.eval("document.activeElement.id").await, expected);
    }
    browser.type_text("typed, not clicked").await;
    browser.press("Tab").await;
    assert_eq!(
        browser
            .eval(
                "document.activeElement === document.querySelector('#invoke button[type=submit]')"
            )
            .await,
        true,
        "Tab from the body reaches the Invoke button"
    );
    browser.press("Enter").await;
    browser
        .wait_for(
            "document.getElementById('invoke-output').textContent === 'typed, not clicked'",
            "the answer to the call made from the keyboard",
        )
        .await;

    // A phone: the function page's controls fit the screen.
    browser.set_viewport(390, 844, true).await;
    browser
        .wait_for(
            "document.documentElement.clientWidth === 390",
            "the phone's width",
        )
        .await;
    assert_fits_a_phone(&mut browser, "the function page").await;
    let phone = browser
        .screenshot(&screenshots().join("function-phone.png"))
        .await;
    assert!(phone > 8, "the phone screenshot is blank ({phone} colours)");

    // Secrets: created, replaced and deleted from the page; the values reach the function
    // that uses it and are never shown.
    browser.eval("location.hash = '#/secrets'; true").await;
    browser
        .wait_for(
            "!document.getElementById('secrets-view').hidden",
            "the secrets page",
        )
        .await;
    fill(
        &mut browser,
        &[
            ("secret-name", "api-key"),
            ("secret-value", "first-value-1"),
        ],
    )
    .await;
    click(&mut browser, "#secret-form button[type=submit]").await;
    browser
        .wait_for(
            "!!document.querySelector('#secrets tr[data-name=api-key]')",
            "the new secret",
        )
        .await;
    assert_fits_a_phone(&mut browser, "the secrets page").await;
    faasd
        .deploy_accepted(json!({
            "service": "reader", "image": "functions/alpine:latest",
            "envProcess": r#"sh -c 'cat "$secret_mount_path/api-key"'"#, "secrets": ["api-key"]
        }))
        .await;
    faasd.wait_replicas("reader", 1).await;
    assert_eq!(
        faasd.invoke("reader", "").await,
        (200, "first-value-1".to_owned())
    );
    click(&mut browser, "#secrets button[data-replace-secret=api-key]").await;
    assert_eq!(
        browser
            .eval("[document.getElementById('secret-name').value, document.activeElement.id]")
            .await,
        json!(["api-key", "secret-value"]),
        "Replace puts the name in the form and the cursor in the value"
    );
    fill(&mut browser, &[("secret-value", "second-value-2")]).await;
    click(&mut browser, "#secret-form button[type=submit]").await;
    browser
        .wait_for(
            "document.getElementById('notice').textContent === 'Secret api-key replaced'",
            "the replaced secret",
        )
        .await;
    assert_eq!(
        faasd.invoke("reader", "").await,
        (200, "second-value-2".to_owned()),
        "the running replica reads the new value"
    );
    let html = browser.eval("document.documentElement.outerHTML").await;
    let html = html.as_str().unwrap();
    assert!(
        !html.contains("first-value-1") && !html.contains("second-value-2"),
        "a secret's value is in the page"
    );
    click(&mut browser, "#secrets button[data-delete-secret=api-key]").await;
    browser
        .wait_for(
            "document.getElementById('confirm-dialog').open",
            "the delete confirmation",
        )
        .await;
    click(&mut browser, "#confirm-ok").await;
    browser
        .wait_for(
            "!document.querySelector('#secrets tr[data-name=api-key]')",
            "the deleted secret to leave the list",
        )
        .await;
    let secrets = get_json(&faasd, "/system/secrets").await;
    assert!(
        !secrets
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "api-key"),
        "{secrets}"
    );

    // Dead letters, a page at a time: 105 are two pages.
    browser.set_viewport(1280, 900, false).await;
    browser.eval("location.hash = '#/queue'; true").await;
    browser
        .wait_for(
            "document.getElementById('dead-range').textContent === '1–100 of 105'
             && document.querySelectorAll('#dead-letters tbody tr').length === 100",
            "the first page of dead letters",
        )
        .await;
    assert_eq!(
        browser
            .eval("[document.getElementById('dead-prev').disabled, document.getElementById('dead-next').disabled]")
            .await,
        json!([true, false])
    );
    click(&mut browser, "#dead-next").await;
    browser
        .wait_for(
            "document.getElementById('dead-range').textContent === '101–105 of 105'
             && document.querySelectorAll('#dead-letters tbody tr').length === 5",
            "the second page of dead letters",
        )
        .await;
    let page_two: Vec<String> = serde_json::from_value(
        browser
            .eval(
                "[...document.querySelectorAll('#dead-letters tbody tr')].map((r) => r.dataset.id)",
            )
            .await,
    )
    .unwrap();
    let all_ids = |letters: &Value| -> Vec<String> {
        letters
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["call"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let listed = all_ids(&get_json(&faasd, "/system/queue/dead-letters?limit=1000").await);
    assert_eq!(
        listed[100..],
        page_two[..],
        "the page is the API's letters 101 to 105"
    );
    // Discard one, confirmed: gone for good.
    click(
        &mut browser,
        &format!("#dead-letters button[data-discard='{}']", page_two[0]),
    )
    .await;
    browser
        .wait_for(
            "document.getElementById('confirm-dialog').open",
            "the discard confirmation",
        )
        .await;
    click(&mut browser, "#confirm-ok").await;
    browser
        .wait_for(
            "document.getElementById('dead-range').textContent === '101–104 of 104'",
            "the discarded letter to leave the page",
        )
        .await;
    // The dead letters on a phone: their Replay and Discard buttons fit the screen.
    browser.set_viewport(390, 844, true).await;
    browser
        .wait_for(
            "document.documentElement.clientWidth === 390",
            "the phone's width",
        )
        .await;
    assert_fits_a_phone(&mut browser, "the dead letters").await;
    let phone = browser
        .screenshot(&screenshots().join("queue-phone.png"))
        .await;
    assert!(phone > 8, "the phone screenshot is blank ({phone} colours)");
    browser.set_viewport(1280, 900, false).await;
    // Replay one after the function was fixed: it runs again, succeeds and leaves the list.
    faasd
        .api(reqwest::Method::PUT, "/system/functions")
        .json(
            &json!({"service": "broken", "image": "functions/alpine:latest", "envProcess": "cat"}),
        )
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while faasd.invoke("broken", "fixed?").await != (200, "fixed?".to_owned()) {
        assert!(std::time::Instant::now() < deadline, "broken was not fixed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    click(
        &mut browser,
        &format!("#dead-letters button[data-replay='{}']", page_two[1]),
    )
    .await;
    browser
        .wait_for(
            "document.getElementById('notice').textContent.startsWith('Replayed')",
            "the replay",
        )
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let listed = all_ids(&get_json(&faasd, "/system/queue/dead-letters?limit=1000").await);
        assert!(
            !listed.contains(&page_two[0]),
            "the discarded letter is back"
        );
        if listed.len() == 103 && !listed.contains(&page_two[1]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the replayed call did not succeed: {} letters",
            listed.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser
        .wait_for(
            "document.getElementById('dead-range').textContent === '101–103 of 103'",
            "the replayed letter to leave the page",
        )
        .await;
    // Back to the first page.
    click(&mut browser, "#dead-prev").await;
    browser
        .wait_for(
            "document.getElementById('dead-range').textContent === '1–100 of 103'",
            "the first page again",
        )
        .await;

    let errors = browser.errors().await;
    assert!(errors.is_empty(), "the page reported errors: {errors:#?}");
}
