//! `invoke`: stdin becomes the body of a call to `/function/NAME` (or `/async-function/NAME`
//! with `--async`); the answer's body goes to stdout. `--sign HEADER --key KEY` adds the
//! body's HMAC-SHA1 as `HEADER: sha1=<hex>`, as OpenFaaS's faas-cli does (the same form as
//! GitHub's `X-Hub-Signature`), so a function holding the key can check who called it.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{bail, Context as _};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, StatusCode};

use crate::args::InvokeArgs;
use crate::commands::{parse_pairs, read_stdin};
use crate::context::Context;
use crate::gateway::encode_query_value;

/// Runs `invoke`.
pub async fn run(ctx: &Context, args: InvokeArgs) -> anyhow::Result<()> {
    let signing = match (&args.sign, &args.key) {
        (Some(header), Some(key)) => Some((
            HeaderName::from_bytes(header.as_bytes())
                .with_context(|| format!("invalid --sign header name {header:?}"))?,
            key.as_bytes(),
        )),
        (None, None) => None,
        _ => bail!("signing requires both --sign <header-name> and --key <key>"),
    };
    let method = Method::from_bytes(args.method.to_uppercase().as_bytes())
        .with_context(|| format!("invalid --method {:?}", args.method))?;
    let client = ctx.client_with_optional_stack()?;
    let namespace = ctx.namespace();
    let mut url = if args.async_call {
        client.async_function_url(&args.name, namespace)
    } else {
        client.function_url(&args.name, namespace)
    };
    let query = parse_pairs(&args.query, "--query")?;
    if !query.is_empty() {
        let pairs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode_query_value(k), encode_query_value(v)))
            .collect();
        url.push('?');
        url.push_str(&pairs.join("&"));
    }
    let body =
        if matches!(method, Method::GET | Method::HEAD) && crate::commands::stdin_is_terminal() {
            Vec::new()
        } else {
            read_stdin(true)?
        };
    let signature = signing.map(|(header, key)| (header, sign_body(key, &body)));
    let mut request = client
        .request(method, &url)
        .header(CONTENT_TYPE, &args.content_type)
        .body(body);
    if let Some((header, value)) = signature {
        request = request.header(header, value);
    }
    for (key, value) in parse_pairs(&args.header, "--header")? {
        let name = HeaderName::from_bytes(key.as_bytes())
            .with_context(|| format!("invalid header name {key:?}"))?;
        let value = HeaderValue::from_str(&value)
            .with_context(|| format!("invalid value for header {key}"))?;
        request = request.header(name, value);
    }
    if let Some(callback) = &args.callback_url {
        request = request.header("X-Callback-Url", callback);
    }
    let response = client
        .send(
            &format!("invoking {}", args.name),
            request,
            Some(Duration::from_secs(600)),
        )
        .await?;
    let status = response.status();
    let internal = response.headers().contains_key("x-openfaas-internal");
    let bytes = response
        .bytes()
        .await
        .context("cannot read the function's answer")?;
    if args.async_call && status == StatusCode::ACCEPTED {
        eprintln!("Function submitted asynchronously.");
        return Ok(());
    }
    if status.is_success() {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&bytes)?;
        stdout.flush()?;
        return Ok(());
    }
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    if status == StatusCode::NOT_FOUND && text.starts_with("no route for") {
        bail!(
            "the gateway at {} does not serve {} ({text}): it does not take {} calls",
            client.base(),
            url.split('?')
                .next()
                .unwrap_or(&url)
                .trim_start_matches(client.base()),
            if args.async_call {
                "asynchronous"
            } else {
                "function"
            }
        );
    }
    if status == StatusCode::NOT_FOUND && (internal || text.contains("not found")) {
        bail!(
            "function {} not found at {}: {text}\nsee `faas-cli list` for what is deployed, or deploy it with `faas-cli up`",
            args.name,
            client.base()
        );
    }
    bail!(
        "server returned unexpected status code: {} - {text}",
        status.as_u16()
    )
}

/// `sha1=` and the hex HMAC-SHA1 of `body` under `key`.
pub fn sign_body(key: &[u8], body: &[u8]) -> String {
    use hmac::Mac as _;
    use std::fmt::Write as _;
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    let mut out = String::from("sha1=");
    for byte in mac.finalize().into_bytes() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_openfaas_does() {
        // The body, key and header value of OpenFaaS's workshop (lab 11).
        assert_eq!(
            sign_body(b"cookie", b"The message"),
            "sha1=9239edfe20185eafd7a5513c303b03d207d22f64"
        );
        // RFC 2202's first HMAC-SHA1 test case.
        assert_eq!(
            sign_body(&[0x0b; 20], b"Hi There"),
            "sha1=b617318655057264e28bc0b6fb378c8ef146be00"
        );
    }
}
