//! `faas-cli` for rustfaas: OpenFaaS's command line (same commands, flags, defaults, stack.yml
//! and `~/.openfaas/config.yml`), talking to faasd or any OpenFaaS gateway.
//!
//! For a gateway that runs containers (faasd --provider docker, Kubernetes) it builds
//! container images as OpenFaaS does ([`image_build`]: `docker build`, `docker push` with
//! Docker's and `registry-login`'s credentials); for rustfaas's process runtime it builds
//! *packages*: a template's scaffolding plus the handler, with dependencies installed, as a
//! tar.gz that `push` uploads to `PUT /system/packages/{name}:{tag}` and `deploy` names as
//! the function's `image`. `--artifact auto` asks the gateway which.
//!
//! Layout, in the order a command meets it:
//! - [`args`] — every command's flags (clap structs, no logic).
//! - [`mod@env`] — the environment, read once ([`env::CliEnv`]).
//! - [`context`] — stack file, gateway URL precedence and credentials resolved for a command.
//! - [`stack`] — stack.yml parsing, `${VAR}` substitution, merging, filters, located errors.
//! - [`auth_config`] — `config.yml` with saved credentials.
//! - [`docker_config`] — Docker's `config.json` and `registry-login`'s, for image pushes.
//! - [`gateway`] — the REST client, with errors that say what to do next.
//! - [`templates`] — built-in and on-disk templates, `template.yml`.
//! - [`template_pull`] — `template pull`: a git repository's templates into `./template/`.
//! - [`template_store`] — OpenFaaS's `templates.json`, for `template store list|describe|pull`.
//! - [`image_tag`] — `--tag=sha|branch|describe`: image tags from git metadata.
//! - [`image_build`] — images: the choice of artifact, `docker build`/`push`, `build_options`.
//! - [`package`] — building a function into `./build/<fn>/` and `./build/<fn>.tar.gz`.
//! - [`store`] — the function store catalog and its built-in packages.
//! - [`output`] — tables and log lines as pure functions (golden-tested).
//! - [`crd`] — `generate`'s Kubernetes resources.
//! - [`commands`] — one module per command group; they use `anyhow`, the library modules
//!   above use `thiserror`.

pub mod args;
pub mod auth_config;
pub mod commands;
pub mod context;
pub mod crd;
pub mod docker_config;
pub mod env;
pub mod gateway;
pub mod image_build;
pub mod image_tag;
pub mod output;
pub mod package;
pub mod private_file;
pub mod stack;
pub mod store;
pub mod template_pull;
pub mod template_store;
pub mod templates;
