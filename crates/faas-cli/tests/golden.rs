//! Golden tests of what faas-cli prints, from canned gateway JSON: the `list` tables (the
//! same bytes OpenFaaS's faas-cli prints), `describe`, store and secret tables, and the
//! stack-file error a newcomer sees. Review changes with `cargo insta review`.

use std::collections::BTreeMap;
use std::path::Path;

use faas_cli::args::ListSort;
use faas_cli::output;
use faas_types::FunctionStatus;

/// Three functions as `GET /system/functions` answers.
fn functions() -> Vec<FunctionStatus> {
    serde_json::from_str(
        r#"[
        {"name":"nodeinfo","image":"ghcr.io/openfaas/nodeinfo:latest","namespace":"openfaas-fn",
         "invocationCount":3,"replicas":1,"availableReplicas":1,"createdAt":"2024-10-10T08:42:56.288543292Z"},
        {"name":"figlet","image":"figlet:latest","namespace":"openfaas-fn","envProcess":"python3 figlet.py",
         "invocationCount":1042,"replicas":2,"availableReplicas":2,"createdAt":"2024-10-09T07:00:00Z",
         "labels":{"com.openfaas.scale.min":"2","faas_function":"figlet"},"annotations":{"topic":"banners"}},
        {"name":"a-function-with-a-really-long-name-indeed","image":"registry.example.com/team/a-function-with-a-long-image:1.2.3",
         "namespace":"openfaas-fn","invocationCount":0,"replicas":0,"availableReplicas":0,"createdAt":null}
        ]"#,
    )
    .expect("canned list")
}

#[test]
fn list_table_by_name() {
    let mut list = functions();
    output::sort_functions(&mut list, ListSort::Name);
    insta::assert_snapshot!("list_by_name", output::list_table(&list, false));
}

#[test]
fn list_table_by_invocations_verbose() {
    let mut list = functions();
    output::sort_functions(&mut list, ListSort::Invocations);
    insta::assert_snapshot!(
        "list_by_invocations_verbose",
        output::list_table(&list, true)
    );
}

#[test]
fn list_table_empty() {
    insta::assert_snapshot!("list_empty", output::list_table(&[], false));
}

#[test]
fn describe_output() {
    let list = functions();
    let figlet = list.iter().find(|f| f.name == "figlet").unwrap();
    insta::assert_snapshot!(
        "describe_figlet",
        output::describe(
            figlet,
            1042,
            "http://127.0.0.1:8080/function/figlet",
            "http://127.0.0.1:8080/async-function/figlet"
        )
    );
}

#[test]
fn store_tables() {
    let catalog = faas_cli::store::Catalog::builtin();
    insta::assert_snapshot!(
        "store_list",
        output::store_table(&catalog.functions, "x86_64", false)
    );
    let figlet = catalog.find("figlet").unwrap();
    insta::assert_snapshot!(
        "store_describe_figlet",
        output::store_item(figlet, "x86_64")
    );
}

#[test]
fn secret_table() {
    insta::assert_snapshot!(
        "secret_list",
        output::secret_table(&["api-key".to_string(), "db-pass".to_string()])
    );
}

#[test]
fn stack_error_for_a_newcomer() {
    let text = "version: 1.0\nprovider:\n  name: openfaas\n  gateway: http://127.0.0.1:8080\nfunctions:\n  hello:\n    lang: python3\n    handler: ./hello\n    image: hello:latest\n    environment:\n      - DEBUG=1\n";
    let err =
        faas_cli::stack::parse(text, Path::new("hello.yml"), &BTreeMap::new(), true).unwrap_err();
    insta::assert_snapshot!("stack_error_list_for_map", err.to_string());
}

#[test]
fn generated_crd() {
    let text = "functions:\n  hello:\n    lang: python3\n    handler: ./hello\n    image: hello:latest\n    environment:\n      debug: \"true\"\n    labels:\n      com.openfaas.scale.min: \"1\"\n    secrets: [api-key]\n    requests:\n      memory: 64Mi\n    readonly_root_filesystem: true\n";
    let stack =
        faas_cli::stack::parse(text, Path::new("stack.yml"), &BTreeMap::new(), true).unwrap();
    let yaml = faas_cli::crd::generate(stack.functions.values(), "openfaas.com/v1", "openfaas-fn")
        .unwrap();
    insta::assert_snapshot!("generate_hello", yaml);
}
