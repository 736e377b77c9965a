//! `/system/logs` query strings and NDJSON lines.

use chrono::{TimeZone, Utc};
use faas_types::{LogMessage, LogQueryError, LogRequest};

#[test]
fn parses_faas_cli_query() {
    let r = LogRequest::from_query(
        "name=figlet&namespace=openfaas-fn&tail=10&follow=true&since=2024-03-01T10%3A20%3A30Z",
    )
    .unwrap();
    assert_eq!(
        r,
        LogRequest {
            name: "figlet".into(),
            namespace: Some("openfaas-fn".into()),
            instance: None,
            since: Some(Utc.with_ymd_and_hms(2024, 3, 1, 10, 20, 30).unwrap()),
            tail: 10,
            follow: true,
        }
    );
    assert_eq!(r.tail_lines(), Some(10));
}

#[test]
fn defaults_and_go_habits() {
    let r = LogRequest::from_query("?name=f&namespace=&tail=&follow=&unknown=%zz&x").unwrap();
    assert_eq!(
        r,
        LogRequest {
            name: "f".into(),
            ..Default::default()
        }
    );
    assert_eq!(r.tail_lines(), None);
    assert_eq!(r.namespace_or_default(), "openfaas-fn");
    // The last repeated value counts.
    let r = LogRequest::from_query("name=a&name=b&tail=-1&follow=1&instance=pod-1").unwrap();
    assert_eq!(r.name, "b");
    assert_eq!(r.tail, -1);
    assert_eq!(r.tail_lines(), None);
    assert!(r.follow);
    assert_eq!(r.instance.as_deref(), Some("pod-1"));
}

#[test]
fn since_with_offsets() {
    let expected = Utc.with_ymd_and_hms(2024, 3, 1, 8, 20, 30).unwrap();
    for query in [
        "name=f&since=2024-03-01T10:20:30%2B02:00",
        // An unencoded '+' decodes to a space; it is read back as '+'.
        "name=f&since=2024-03-01T10:20:30+02:00",
        "name=f&since=2024-03-01T08:20:30Z",
    ] {
        let r = LogRequest::from_query(query).unwrap();
        assert_eq!(r.since, Some(expected), "{query}");
    }
}

#[test]
fn errors_name_the_parameter() {
    let err = LogRequest::from_query("name=f&since=yesterday").unwrap_err();
    assert_eq!(
        err,
        LogQueryError::Invalid {
            parameter: "since",
            value: "yesterday".into(),
            expected: "must be an RFC 3339 time such as 2006-01-02T15:04:05Z",
        }
    );
    assert!(err.to_string().contains("\"since\""), "{err}");

    let err = LogRequest::from_query("name=f&tail=ten").unwrap_err();
    assert!(
        matches!(&err, LogQueryError::Invalid { parameter: "tail", value, .. } if value == "ten")
    );
    assert_eq!(
        err.to_string(),
        "invalid value \"ten\" for query parameter \"tail\": must be an integer (0 or less means all lines)"
    );

    let err = LogRequest::from_query("name=f&follow=maybe").unwrap_err();
    assert!(matches!(
        err,
        LogQueryError::Invalid {
            parameter: "follow",
            ..
        }
    ));

    let err = LogRequest::from_query("namespace=x").unwrap_err();
    assert_eq!(err, LogQueryError::Missing("name"));
    assert_eq!(err.to_string(), "missing query parameter \"name\"");
    assert_eq!(
        LogRequest::from_query("").unwrap_err(),
        LogQueryError::Missing("name")
    );

    let err = LogRequest::from_query("name=%E2%28").unwrap_err();
    assert_eq!(err, LogQueryError::Encoding { parameter: "name" });
    let err = LogRequest::from_query("name=f&instance=%4").unwrap_err();
    assert_eq!(
        err,
        LogQueryError::Encoding {
            parameter: "instance"
        }
    );

    // Converts into the crate-wide error.
    let err: faas_types::Error = LogRequest::from_query("name=f&tail=x").unwrap_err().into();
    assert!(err.to_string().contains("tail"));
}

#[test]
fn to_query_round_trips() {
    let r = LogRequest {
        name: "my fn".into(),
        namespace: Some("dev".into()),
        instance: Some("pod/1".into()),
        since: Some(Utc.with_ymd_and_hms(2024, 3, 1, 10, 20, 30).unwrap()),
        tail: 5,
        follow: true,
    };
    let query = r.to_query();
    assert_eq!(
        query,
        "name=my%20fn&namespace=dev&instance=pod%2F1&since=2024-03-01T10%3A20%3A30Z&tail=5&follow=true"
    );
    assert_eq!(LogRequest::from_query(&query).unwrap(), r);
    let minimal = LogRequest {
        name: "f".into(),
        ..Default::default()
    };
    assert_eq!(minimal.to_query(), "name=f");
}

#[test]
fn log_message_ndjson_line() {
    let line = r#"{"name":"figlet","namespace":"openfaas-fn","instance":"figlet-6c5b9d7c5-x2x9q","timestamp":"2024-03-01T10:20:30.5Z","text":"Forking fprocess."}"#;
    let m: LogMessage = serde_json::from_str(line).unwrap();
    assert_eq!(m.instance, "figlet-6c5b9d7c5-x2x9q");
    assert_eq!(m.timestamp.timestamp_subsec_millis(), 500);
    assert_eq!(serde_json::to_string(&m).unwrap(), line);
    assert!(serde_json::from_str::<LogMessage>(r#"{"name":"f","text":"x"}"#).is_err());
}

#[test]
fn log_request_json_and_validation() {
    let r: LogRequest = serde_json::from_str(
        r#"{"name":"figlet","namespace":"","instance":"","since":null,"tail":0,"follow":false}"#,
    )
    .unwrap();
    assert_eq!(r.namespace, None);
    r.validate().unwrap();
    assert!(LogRequest {
        name: "../etc".into(),
        ..Default::default()
    }
    .validate()
    .is_err());
}
