//! Table tests of the validation rules and their messages.

use std::collections::BTreeMap;

use faas_types::validate::{
    validate_function_name, validate_image, validate_label_key, validate_namespace,
    validate_secret_name, MAX_ENTRIES, MAX_METADATA_BYTES, MAX_SECRET_BYTES,
};
use faas_types::{FunctionDeployment, FunctionResources, Secret, ValidationError};

const GOOD_NAMES: &[&str] = &[
    "a",
    "figlet",
    "node-info",
    "f1",
    "1f",
    "0",
    "a-b-c",
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0", // 63
];

const BAD_NAMES: &[&str] = &[
    "",
    "Foo_bar",
    "Figlet",
    "-figlet",
    "figlet-",
    "fig.let",
    "fig let",
    "fig/let",
    "../x",
    ".",
    "..",
    "fig\0let",
    "fig\nlet",
    "café",
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01", // 64
];

#[test]
fn function_names_and_namespaces() {
    for name in GOOD_NAMES {
        assert_eq!(validate_function_name(name), Ok(()), "{name:?}");
        assert_eq!(validate_namespace(name), Ok(()), "{name:?}");
    }
    for name in BAD_NAMES {
        assert_eq!(
            validate_function_name(name),
            Err(ValidationError::FunctionName(name.to_string())),
            "{name:?}"
        );
        assert!(validate_namespace(name).is_err(), "{name:?}");
    }
}

#[test]
fn messages_say_what_is_wrong() {
    assert_eq!(
        validate_function_name("Foo_bar").unwrap_err().to_string(),
        "invalid function name \"Foo_bar\": must be a DNS-1123 label (lowercase letters, digits \
         and '-', start and end with a letter or digit, at most 63 characters)"
    );
    assert!(validate_namespace("NS")
        .unwrap_err()
        .to_string()
        .starts_with("invalid namespace \"NS\": must be a DNS-1123 label"));
    // Control characters are escaped, not printed raw.
    assert!(validate_function_name("a\x1b[31m")
        .unwrap_err()
        .to_string()
        .contains(r"\u{1b}"));
}

#[test]
fn secret_names() {
    let long_ok = format!("{}.{}", "a".repeat(63), "b".repeat(63));
    for name in [
        "api-key",
        "db.password",
        "a",
        "a.b.c",
        "tls-cert.example.com",
        long_ok.as_str(),
    ] {
        assert_eq!(validate_secret_name(name), Ok(()), "{name:?}");
    }
    let too_long = ["a"; 127].join(".");
    assert_eq!(too_long.len(), 253);
    validate_secret_name(&too_long).unwrap();
    let too_long = format!("{too_long}.b");
    for name in [
        "",
        ".",
        "..",
        "../x",
        "../../etc/passwd",
        "a/b",
        "/abs",
        "a..b",
        ".hidden",
        "trailing.",
        "API_KEY",
        "Secret",
        "a b",
        "a\\b",
        "a\0",
        too_long.as_str(),
    ] {
        let err = validate_secret_name(name).unwrap_err();
        assert_eq!(err, ValidationError::SecretName(name.to_string()));
        assert!(err.to_string().contains("DNS-1123 subdomain"));
    }
}

#[test]
fn label_keys() {
    for key in [
        "com.openfaas.scale.min",
        "faas_function",
        "app",
        "example.com/tier",
        "prometheus.io.scrape",
        "A_b-c.D",
    ] {
        assert_eq!(validate_label_key(key), Ok(()), "{key:?}");
    }
    for key in [
        "",
        "/",
        "a/",
        "/a",
        "-a",
        "a-",
        "Example.com/tier",
        "a/b/c",
        "has space",
        "x=y",
    ] {
        assert!(validate_label_key(key).is_err(), "{key:?}");
    }
}

#[test]
fn images() {
    for image in [
        "figlet",
        "ghcr.io/openfaas/figlet:latest",
        "localhost:5000/fn@sha256:0123456789abcdef",
    ] {
        validate_image(image).unwrap();
    }
    assert_eq!(validate_image(""), Err(ValidationError::EmptyImage));
    assert!(matches!(
        validate_image(&"a".repeat(513)),
        Err(ValidationError::ImageTooLong { len: 513 })
    ));
    validate_image(&"a".repeat(512)).unwrap();
    for image in ["a b", "a\tb", "a\nb", "a\0b", "image\u{7f}"] {
        assert_eq!(
            validate_image(image),
            Err(ValidationError::Image(image.to_string()))
        );
    }
}

fn deployment() -> FunctionDeployment {
    FunctionDeployment {
        service: "figlet".into(),
        image: "functions/figlet:latest".into(),
        ..Default::default()
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn deployment_rules() {
    deployment().validate().unwrap();

    type Case = (&'static str, fn(&mut FunctionDeployment), &'static str);
    let cases: &[Case] = &[
        (
            "bad name",
            |d| d.service = "Fig_let".into(),
            "invalid function name \"Fig_let\"",
        ),
        (
            "empty name",
            |d| d.service.clear(),
            "invalid function name \"\"",
        ),
        (
            "bad namespace",
            |d| d.namespace = Some("../x".into()),
            "invalid namespace \"../x\"",
        ),
        (
            "empty image",
            |d| d.image.clear(),
            "image must not be empty",
        ),
        (
            "image with space",
            |d| d.image = "a b".into(),
            "invalid image \"a b\"",
        ),
        (
            "secret traversal",
            |d| d.secrets = Some(vec!["ok".into(), "../etc".into()]),
            "invalid secret name \"../etc\"",
        ),
        (
            "env name with =",
            |d| d.env_vars = Some(map(&[("A=B", "1")])),
            "invalid environment variable name \"A=B\": must not contain '='",
        ),
        (
            "empty env name",
            |d| d.env_vars = Some(map(&[("", "1")])),
            "invalid environment variable name \"\": must not be empty",
        ),
        (
            "env name with NUL",
            |d| d.env_vars = Some(map(&[("A\0", "1")])),
            "invalid environment variable name \"A\\0\": must not contain a NUL character",
        ),
        (
            "env value with NUL",
            |d| d.env_vars = Some(map(&[("A", "x\0y")])),
            "invalid value for environment variable \"A\": must not contain a NUL character",
        ),
        (
            "envProcess with NUL",
            |d| d.env_process = Some("cat\0".into()),
            "envProcess must not contain a NUL character",
        ),
        (
            "empty label key",
            |d| d.labels = Some(map(&[("", "1")])),
            "invalid label name \"\": must not be empty",
        ),
        (
            "label key with space",
            |d| d.labels = Some(map(&[("a b", "1")])),
            "invalid label name \"a b\": must not contain whitespace or control characters",
        ),
        (
            "long annotation key",
            |d| d.annotations = Some(map(&[(&"k".repeat(318), "1")])),
            "invalid annotation name",
        ),
        (
            "annotation value with NUL",
            |d| d.annotations = Some(map(&[("topic", "a\0")])),
            "invalid value for annotation \"topic\"",
        ),
        (
            "constraint with newline",
            |d| d.constraints = Some(vec!["a\nb".into()]),
            "invalid constraint \"a\\nb\"",
        ),
        (
            "memory with space",
            |d| {
                d.limits = Some(FunctionResources {
                    memory: Some("128 Mi".into()),
                    ..Default::default()
                })
            },
            "invalid value for limits \"memory\"",
        ),
        (
            "resource key empty",
            |d| {
                d.requests = Some(FunctionResources {
                    other: map(&[("", "1")]),
                    ..Default::default()
                })
            },
            "invalid requests name \"\"",
        ),
    ];
    for (what, change, message) in cases {
        let mut d = deployment();
        change(&mut d);
        let err = d.validate().expect_err(what);
        assert!(
            err.to_string().starts_with(message),
            "{what}: got {err:?} / {err}"
        );
    }
}

#[test]
fn deployment_metadata_that_is_fine() {
    let mut d = deployment();
    d.namespace = Some("openfaas-fn".into());
    d.env_process = Some("node index.js".into());
    d.env_vars = Some(map(&[
        ("write_debug", "true"),
        ("PATH", "/usr/bin:/bin"),
        ("EMPTY", ""),
    ]));
    d.labels = Some(map(&[
        ("com.openfaas.scale.min", "1"),
        ("example.com/tier", ""),
    ]));
    d.annotations = Some(map(&[("topic", "a,b"), ("schedule", "*/5 * * * *")]));
    d.constraints = Some(vec!["node.platform.os == linux".into(), String::new()]);
    d.secrets = Some(vec!["api-key".into(), "db.password".into()]);
    d.limits = Some(FunctionResources {
        memory: Some("128Mi".into()),
        cpu: Some("0.5".into()),
        other: map(&[("nvidia.com/gpu", "1")]),
    });
    d.validate().unwrap();
}

#[test]
fn deployment_size_limits() {
    let mut d = deployment();
    let many: BTreeMap<String, String> = (0..=MAX_ENTRIES)
        .map(|i| (format!("V{i}"), String::new()))
        .collect();
    d.env_vars = Some(many.clone());
    assert_eq!(
        d.validate(),
        Err(ValidationError::TooMany {
            kind: "environment variables",
            count: MAX_ENTRIES + 1,
            max: MAX_ENTRIES
        })
    );
    assert!(d
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("too many environment variables: 1025, at most 1024"));

    let mut d = deployment();
    d.labels = Some(many);
    assert!(matches!(
        d.validate(),
        Err(ValidationError::TooMany { kind: "labels", .. })
    ));

    let mut d = deployment();
    d.secrets = Some(vec!["s".into(); MAX_ENTRIES + 1]);
    assert!(matches!(
        d.validate(),
        Err(ValidationError::TooMany {
            kind: "secrets",
            ..
        })
    ));

    let mut d = deployment();
    d.env_vars = Some(map(&[("BIG", &"x".repeat(MAX_METADATA_BYTES))]));
    assert!(matches!(
        d.validate(),
        Err(ValidationError::MetadataTooLarge { .. })
    ));
    d.env_vars = Some(map(&[("BIG", &"x".repeat(MAX_METADATA_BYTES - 3))]));
    d.validate().unwrap();
}

#[test]
fn secrets() {
    let s = Secret {
        name: "api-key".into(),
        value: Some("v".into()),
        ..Default::default()
    };
    s.validate().unwrap();
    let named = |name: &str| Secret {
        name: name.into(),
        ..s.clone()
    };
    for bad in ["../x", "a/b", ".", "..", "", "UPPER"] {
        assert_eq!(
            named(bad).validate(),
            Err(ValidationError::SecretName(bad.into()))
        );
    }
    let in_ns = Secret {
        namespace: Some("bad/ns".into()),
        ..s.clone()
    };
    assert!(matches!(
        in_ns.validate(),
        Err(ValidationError::Namespace(_))
    ));
    let big = Secret {
        raw_value: Some(vec![0; MAX_SECRET_BYTES + 1]),
        value: None,
        ..s.clone()
    };
    assert_eq!(
        big.validate(),
        Err(ValidationError::SecretTooLarge {
            size: MAX_SECRET_BYTES + 1
        })
    );
    // A delete body carries only the name.
    Secret {
        name: "api-key".into(),
        ..Default::default()
    }
    .validate()
    .unwrap();
}

#[test]
fn validation_error_converts_into_crate_error() {
    let err: faas_types::Error = deployment_with_bad_name().validate().unwrap_err().into();
    assert!(matches!(err, faas_types::Error::Validation(_)));
}

fn deployment_with_bad_name() -> FunctionDeployment {
    FunctionDeployment {
        service: "Bad".into(),
        ..deployment()
    }
}
