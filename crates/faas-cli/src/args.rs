//! Every command's flags, as clap structs: names, short forms and defaults follow OpenFaaS's
//! faas-cli (see the compatibility table in README.md). No logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::image_tag::TagFormat;

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "faas-cli",
    version,
    about = "Build, deploy and call OpenFaaS functions on rustfaas (faasd) or any OpenFaaS gateway",
    after_help = "Start here:\n  faas-cli new --lang python3 hello\n  faas-cli up -f hello.yml\n  echo hi | faas-cli invoke hello\n  faas-cli list"
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags shared by every command (OpenFaaS declares them per command; they mean the same).
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Gateway URL starting with http(s)://. Precedence: this flag, a stack file's
    /// provider.gateway (when not the default), OPENFAAS_URL, http://127.0.0.1:8080.
    #[arg(short = 'g', long, global = true)]
    pub gateway: Option<String>,
    /// Stack file(s) to read (repeat to merge); default stack.yml or stack.yaml.
    #[arg(short = 'f', long = "yaml", global = true, value_name = "FILE")]
    pub yaml: Vec<PathBuf>,
    /// Only functions whose name matches this wildcard (`*` and `?`).
    #[arg(long, global = true)]
    pub filter: Option<String>,
    /// Only functions whose name matches this regular expression.
    #[arg(long, global = true)]
    pub regex: Option<String>,
    /// Namespace of the function(s).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Disable TLS certificate checks.
    #[arg(long, global = true)]
    pub tls_no_verify: bool,
    /// A bearer token to send instead of basic auth.
    #[arg(short = 'k', long, global = true)]
    pub token: Option<String>,
    /// Substitute ${VAR} and ${VAR:-default} in stack files.
    #[arg(long, global = true, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub envsubst: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new function (handler folder and stack file) from a template.
    New(NewArgs),
    /// Build functions into packages under ./build/.
    Build(BuildArgs),
    /// Upload built packages to the gateway.
    Push(PushArgs),
    /// Deploy functions from a stack file, or one image with --image/--name.
    Deploy(DeployArgs),
    /// Build, push and deploy in one step.
    Up(UpArgs),
    /// Build and push (OpenFaaS's multi-arch publish; here for this machine's platform).
    Publish(PublishArgs),
    /// Call a function with stdin as the body.
    Invoke(InvokeArgs),
    /// List deployed functions.
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show one function's details.
    Describe(DescribeArgs),
    /// Remove functions.
    #[command(visible_aliases = ["rm", "delete"])]
    Remove(RemoveArgs),
    /// Print a function's logs (follows new lines by default).
    Logs(LogsArgs),
    /// Manage secrets.
    Secret(SecretArgs),
    /// Browse and deploy functions from the store.
    Store(StoreArgs),
    /// Templates for `new`.
    Template(TemplateArgs),
    /// Save credentials for a gateway.
    Login(LoginArgs),
    /// Forget the saved credentials of a gateway.
    Logout(LogoutArgs),
    /// Save a registry's credentials to ./credentials/config.json (Docker's config.json
    /// format), which push and up use.
    RegistryLogin(RegistryLoginArgs),
    /// List namespaces.
    #[command(visible_aliases = ["namespace", "ns"])]
    Namespaces(NamespacesArgs),
    /// Print the client's and the gateway's versions.
    Version(VersionArgs),
    /// Wait until the gateway is healthy.
    Ready(ReadyArgs),
    /// Build a function and run it here with fwatchdog, without a gateway.
    LocalRun(LocalRunArgs),
    /// Print Kubernetes CRD YAML for the functions of a stack file.
    Generate(GenerateArgs),
    /// Print a shell completion script.
    Completion(CompletionArgs),
}

/// `new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The function's name (lowercase letters, digits and dashes).
    pub name: Option<String>,
    /// Language or template to use.
    #[arg(long)]
    pub lang: Option<String>,
    /// Prefix for the image name, e.g. a registry account (also OPENFAAS_PREFIX).
    #[arg(short = 'p', long)]
    pub prefix: Option<String>,
    /// Append to this existing stack file instead of writing NAME.yml.
    #[arg(short = 'a', long, value_name = "FILE")]
    pub append: Option<PathBuf>,
    /// List the available languages.
    #[arg(long)]
    pub list: bool,
    /// Folder to write the handler into (default: the function's name).
    #[arg(long)]
    pub handler: Option<PathBuf>,
    /// Skip the template's notes.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Memory limit to write into the stack file.
    #[arg(long)]
    pub memory_limit: Option<String>,
    /// CPU limit to write into the stack file.
    #[arg(long)]
    pub cpu_limit: Option<String>,
    /// Memory request to write into the stack file.
    #[arg(long)]
    pub memory_request: Option<String>,
    /// CPU request to write into the stack file.
    #[arg(long)]
    pub cpu_request: Option<String>,
}

/// `build`.
#[derive(Debug, Args, Clone, Default)]
pub struct BuildArgs {
    /// Only prepare `./build/<fn>/` (template plus handler); run no build steps.
    #[arg(long)]
    pub shrinkwrap: bool,
    /// Do not reuse cached dependency installs.
    #[arg(long)]
    pub no_cache: bool,
    /// Print the build steps' output as they run.
    #[arg(long)]
    pub verbose: bool,
    /// Extra build arguments KEY=VALUE, passed to build steps as environment.
    #[arg(short = 'b', long = "build-arg", value_name = "KEY=VALUE")]
    pub build_arg: Vec<String>,
    /// Do not pull the stack's `configuration.templates` that are missing from ./template/.
    #[arg(long)]
    pub disable_stack_pull: bool,
    /// Build this many functions at a time.
    #[arg(long, default_value_t = 1)]
    pub parallel: usize,
    /// Image tag from git: latest (as the stack says), sha, branch or describe.
    #[arg(long, value_name = "FORMAT", value_parser = parse_tag_format)]
    pub tag: Option<TagFormat>,
    /// Make container images or packages; `auto` asks the gateway what it runs.
    #[arg(long, value_enum, env = "FAAS_ARTIFACT")]
    pub artifact: Option<crate::image_build::Artifact>,
    /// Image builds: pull newer versions of the base images first.
    #[arg(long)]
    pub pull: bool,
    /// Image builds: a named build option of the template (its template.yml's
    /// `build_options`), whose packages go to the build as ADDITIONAL_PACKAGE (repeatable;
    /// added to the stack's `build_options`).
    #[arg(short = 'o', long = "build-option", value_name = "NAME")]
    pub build_option: Vec<String>,
}

/// `push`.
#[derive(Debug, Args, Clone, Default)]
pub struct PushArgs {
    /// Image tag from git: latest (as the stack says), sha, branch or describe.
    #[arg(long, value_name = "FORMAT", value_parser = parse_tag_format)]
    pub tag: Option<TagFormat>,
    /// Push container images or packages; `auto` asks the gateway what it runs.
    #[arg(long, value_enum, env = "FAAS_ARTIFACT")]
    pub artifact: Option<crate::image_build::Artifact>,
}

/// Fields of a deployment that flags may set or add to (deploy, up, store deploy).
#[derive(Debug, Args, Clone, Default)]
pub struct DeployFlags {
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Label KEY=VALUE (repeatable).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Annotation KEY=VALUE (repeatable).
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Secret the function may read (repeatable).
    #[arg(long = "secret")]
    pub secret: Vec<String>,
    /// Placement constraint (repeatable).
    #[arg(long = "constraint")]
    pub constraint: Vec<String>,
    /// Mount the root filesystem read-only.
    #[arg(long)]
    pub readonly: bool,
    /// Update the function when it exists (PUT), else create it.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub update: bool,
    /// Remove the function first, then create it.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub replace: bool,
    /// Memory limit, e.g. 128Mi.
    #[arg(long)]
    pub memory_limit: Option<String>,
    /// CPU limit, e.g. 500m.
    #[arg(long)]
    pub cpu_limit: Option<String>,
    /// Memory request.
    #[arg(long)]
    pub memory_request: Option<String>,
    /// CPU request.
    #[arg(long)]
    pub cpu_request: Option<String>,
    /// Send the image registry's credentials (from Docker's config.json or
    /// ./credentials/config.json) as the deployment's registryAuth, for the server's pull.
    #[arg(short = 'a', long)]
    pub send_registry_auth: bool,
}

/// `deploy`.
#[derive(Debug, Args, Clone, Default)]
pub struct DeployArgs {
    /// Image (or package name:tag) to deploy without a stack file.
    #[arg(long)]
    pub image: Option<String>,
    /// The function's process (fprocess) when deploying with --image.
    #[arg(long)]
    pub fprocess: Option<String>,
    /// The function's name when deploying with --image.
    #[arg(long)]
    pub name: Option<String>,
    /// Image tag from git: latest (as the stack says), sha, branch or describe.
    #[arg(long, value_name = "FORMAT", value_parser = parse_tag_format)]
    pub tag: Option<TagFormat>,
    /// Deployment flags.
    #[command(flatten)]
    pub flags: DeployFlags,
}

/// `publish`.
#[derive(Debug, Args, Clone, Default)]
pub struct PublishArgs {
    /// Platforms to build for, comma-separated (default: this machine's, e.g. linux/amd64 on
    /// x86_64); the process runtime builds for this machine's only.
    #[arg(long)]
    pub platforms: Option<String>,
    /// Build flags.
    #[command(flatten)]
    pub build: BuildArgs,
}

/// `up`.
#[derive(Debug, Args, Clone, Default)]
pub struct UpArgs {
    /// Build only; do not upload.
    #[arg(long)]
    pub skip_push: bool,
    /// Build and push only; do not deploy.
    #[arg(long)]
    pub skip_deploy: bool,
    /// Rebuild and redeploy whenever a handler file changes.
    #[arg(long)]
    pub watch: bool,
    /// Build flags.
    #[command(flatten)]
    pub build: BuildArgs,
    /// Deployment flags.
    #[command(flatten)]
    pub deploy: DeployFlags,
}

/// `invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The function, optionally `name.namespace`.
    pub name: String,
    /// Content-Type of the body.
    #[arg(long, default_value = "text/plain")]
    pub content_type: String,
    /// Header KEY=VALUE (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    pub header: Vec<String>,
    /// Query parameter KEY=VALUE (repeatable).
    #[arg(long = "query", value_name = "KEY=VALUE")]
    pub query: Vec<String>,
    /// HTTP method.
    #[arg(short = 'm', long, default_value = "POST")]
    pub method: String,
    /// Call asynchronously through /async-function/.
    #[arg(short = 'a', long = "async")]
    pub async_call: bool,
    /// Where the async result is posted (X-Callback-Url).
    #[arg(long)]
    pub callback_url: Option<String>,
    /// Name of the header that carries the body's HMAC signature (with --key).
    #[arg(long, value_name = "HEADER")]
    pub sign: Option<String>,
    /// Key the body is signed with: the header's value is `sha1=<hex HMAC-SHA1>` (with --sign).
    #[arg(long)]
    pub key: Option<String>,
}

/// How `list` sorts.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum ListSort {
    /// By name.
    #[default]
    Name,
    /// Most invocations first.
    Invocations,
    /// Oldest first.
    Creation,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Also show images and creation times.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Names only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Sort order.
    #[arg(long, value_enum, default_value_t = ListSort::Name)]
    pub sort: ListSort,
    /// Print JSON.
    #[arg(short = 'j', long)]
    pub json: bool,
}

/// `describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The function.
    pub name: String,
}

/// `remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Functions to remove (default: every function of the stack file).
    pub names: Vec<String>,
}

/// `logs -o`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `<time> <text>`.
    #[default]
    Plain,
    /// `timestamp="..." text="..."`.
    #[value(alias = "key-value")]
    Keyvalue,
    /// One JSON object per line.
    Json,
}

/// `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The function.
    pub name: String,
    /// Keep printing new lines (as `tail -f`); --tail=false prints what there is and exits.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub tail: bool,
    /// Only lines newer than this long ago (e.g. 5m, 1h30m).
    #[arg(long)]
    pub since: Option<String>,
    /// Only lines since this time (RFC3339).
    #[arg(long)]
    pub since_time: Option<String>,
    /// How many recent lines to print first (-1: all).
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub lines: i64,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = LogFormat::Plain)]
    pub output: LogFormat,
    /// Only this replica's lines.
    #[arg(long)]
    pub instance: Option<String>,
    /// strftime format for timestamps; empty prints none.
    #[arg(long, default_value = "%Y-%m-%dT%H:%M:%SZ")]
    pub time_format: String,
    /// Print the function's name on each line.
    #[arg(long = "print-name")]
    pub print_name: bool,
    /// Print the replica on each line.
    #[arg(long = "print-instance")]
    pub print_instance: bool,
}

/// `secret`.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SecretCommand,
}

/// `secret` subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Create a secret from --from-literal, --from-file or stdin.
    Create(SecretValueArgs),
    /// Replace a secret's value.
    #[command(visible_alias = "u")]
    Update(SecretValueArgs),
    /// List secret names.
    #[command(visible_alias = "ls")]
    List,
    /// Remove a secret.
    #[command(visible_alias = "rm")]
    Remove(SecretNameArgs),
}

/// A secret's name and where its value comes from.
#[derive(Debug, Args)]
pub struct SecretValueArgs {
    /// The secret's name.
    pub name: String,
    /// The value itself.
    #[arg(long, conflicts_with = "from_file")]
    pub from_literal: Option<String>,
    /// A file holding the value (bytes kept as they are).
    #[arg(long)]
    pub from_file: Option<PathBuf>,
    /// Trim surrounding whitespace from --from-literal and stdin values.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub trim: bool,
}

/// A secret's name.
#[derive(Debug, Args)]
pub struct SecretNameArgs {
    /// The secret's name.
    pub name: String,
}

/// `store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Catalog to read: an http(s) URL or a file (default: the built-in catalog; also OPENFAAS_STORE).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// Platform whose image to use.
    #[arg(long, global = true, default_value = std::env::consts::ARCH)]
    pub platform: String,
    /// What to do.
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// `store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// List the catalog.
    #[command(visible_alias = "ls")]
    List(StoreListArgs),
    /// Show one entry.
    #[command(visible_alias = "inspect")]
    Describe(StoreItemArgs),
    /// Deploy one entry.
    Deploy(Box<StoreDeployArgs>),
}

/// `store list`.
#[derive(Debug, Args)]
pub struct StoreListArgs {
    /// Show images too.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// A store entry's name.
#[derive(Debug, Args)]
pub struct StoreItemArgs {
    /// The entry's name.
    pub name: String,
}

/// `store deploy`.
#[derive(Debug, Args)]
pub struct StoreDeployArgs {
    /// The entry's name.
    pub item: String,
    /// Deploy under this name instead.
    #[arg(long)]
    pub name: Option<String>,
    /// Deployment flags.
    #[command(flatten)]
    pub flags: DeployFlags,
}

/// `template`.
#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: TemplateCommand,
}

/// `template` subcommands.
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// The template store.
    Store(TemplateStoreArgs),
    /// Download templates from a git repository into ./template/.
    Pull(TemplatePullArgs),
}

/// `template pull [REPOSITORY_URL [TEMPLATE_PATH]]` and `template pull stack`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "REPOSITORY_URL may name a branch or tag after '#': \
                  faas-cli template pull https://github.com/openfaas/templates#1.0\n\
                  Without it: $OPENFAAS_TEMPLATE_URL, else https://github.com/openfaas/templates.git"
)]
pub struct TemplatePullArgs {
    /// `stack`: pull the stack file's `configuration.templates`.
    #[command(subcommand)]
    pub command: Option<TemplatePullCommand>,
    /// The git repository (URL or local folder), optionally `#branch-or-tag`.
    pub repository: Option<String>,
    /// The folder holding the templates inside the repository (default `template`).
    pub template_path: Option<String>,
    /// Pull flags.
    #[command(flatten)]
    pub flags: TemplatePullFlags,
}

/// Flags of both `template pull` forms.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct TemplatePullFlags {
    /// Replace templates already in ./template/.
    #[arg(long)]
    pub overwrite: bool,
    /// Keep the temporary clone and say where it is.
    #[arg(long)]
    pub debug: bool,
}

/// `template pull` subcommands.
#[derive(Debug, Subcommand)]
pub enum TemplatePullCommand {
    /// Pull the templates the stack file's `configuration.templates` names.
    Stack {
        /// Pull flags.
        #[command(flatten)]
        flags: TemplatePullFlags,
    },
}

/// `template store`.
#[derive(Debug, Args)]
pub struct TemplateStoreArgs {
    /// The template store (OpenFaaS's templates.json): an http(s) URL or a file; also
    /// OPENFAAS_TEMPLATE_STORE_URL. Without one, `list` shows the templates faas-cli has and
    /// `pull` reads OpenFaaS's store.
    #[arg(short = 'u', long, global = true)]
    pub url: Option<String>,
    /// The platform whose templates to show or pull.
    #[arg(short = 'p', long, global = true, default_value = "x86_64")]
    pub platform: String,
    /// What to do.
    #[command(subcommand)]
    pub command: TemplateStoreCommand,
}

/// `template store` subcommands.
#[derive(Debug, Subcommand)]
pub enum TemplateStoreCommand {
    /// List the templates `new --lang` accepts, or a template store's (with --url).
    #[command(visible_alias = "ls")]
    List,
    /// Show one template of the store.
    #[command(visible_alias = "inspect")]
    Describe {
        /// The template's name, or `source/name`.
        name: String,
    },
    /// Pull a template of the store (its repository) into ./template/.
    Pull {
        /// The template's name, or `source/name`.
        name: String,
        /// Pull flags.
        #[command(flatten)]
        flags: TemplatePullFlags,
    },
}

/// `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// User name.
    #[arg(short = 'u', long, default_value = "admin")]
    pub username: String,
    /// Password (prefer --password-stdin).
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(short = 's', long)]
    pub password_stdin: bool,
}

/// `logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {}

/// `registry-login`.
#[derive(Debug, Args)]
pub struct RegistryLoginArgs {
    /// The registry, as image names start with it (e.g. 127.0.0.1:5000 or ghcr.io).
    #[arg(long, default_value = "https://index.docker.io/v1/")]
    pub server: String,
    /// The registry user name.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// The registry password (prefer --password-stdin).
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(short = 's', long)]
    pub password_stdin: bool,
    /// Amazon ECR (not supported here).
    #[arg(long)]
    pub ecr: bool,
    /// AWS account id, with --ecr (not supported here).
    #[arg(long)]
    pub account_id: Option<String>,
    /// AWS region, with --ecr (not supported here).
    #[arg(long)]
    pub region: Option<String>,
}

/// `namespaces`.
#[derive(Debug, Args)]
pub struct NamespacesArgs {
    /// What to do (default: list).
    #[command(subcommand)]
    pub command: Option<NamespacesCommand>,
}

/// `namespaces` subcommands.
#[derive(Debug, Subcommand)]
pub enum NamespacesCommand {
    /// List namespaces.
    #[command(visible_alias = "ls")]
    List,
    /// Create a namespace.
    Create(NamespaceChange),
    /// Show a namespace's labels and annotations.
    Get {
        /// The namespace.
        name: String,
    },
    /// Replace a namespace's labels and annotations.
    Update(NamespaceChange),
    /// Delete a namespace (it must hold no functions).
    #[command(visible_aliases = ["remove", "rm"])]
    Delete {
        /// The namespace.
        name: String,
    },
}

/// `namespace create|update NAME --label --annotation`.
#[derive(Debug, Args)]
pub struct NamespaceChange {
    /// The namespace.
    pub name: String,
    /// Label KEY=VALUE (repeatable).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Annotation KEY=VALUE (repeatable).
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
}

/// `version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Print only the client's version.
    #[arg(long)]
    pub short_version: bool,
}

/// `ready`.
#[derive(Debug, Args)]
pub struct ReadyArgs {
    /// Wait for this function to have a ready replica instead of the gateway.
    pub name: Option<String>,
    /// How many times to try.
    #[arg(long, default_value_t = 60)]
    pub attempts: u32,
    /// Time between tries (e.g. 1s, 500ms).
    #[arg(long, default_value = "1s")]
    pub interval: String,
}

/// `local-run`.
#[derive(Debug, Args)]
pub struct LocalRunArgs {
    /// The function (default: the only one in the stack file).
    pub name: Option<String>,
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Build before running.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub build: bool,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
}

/// `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// CRD API version.
    #[arg(long, default_value = "openfaas.com/v1")]
    pub api: String,
    /// Generate from a store entry instead of a stack file.
    #[arg(long)]
    pub from_store: Option<String>,
}

/// Shells `completion` can write for.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Shell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// `completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(long, value_enum)]
    pub shell: Shell,
}

/// `--tag`'s values.
fn parse_tag_format(text: &str) -> Result<TagFormat, crate::image_tag::TagError> {
    text.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn openfaas_spellings_parse() {
        let cli = Cli::try_parse_from([
            "faas-cli",
            "deploy",
            "-f",
            "a.yml",
            "-f",
            "b.yml",
            "-e",
            "A=1",
            "-l",
            "x=y",
            "--annotation",
            "k=v",
            "--secret",
            "s",
            "--update=false",
            "--replace",
            "-g",
            "http://gw:8080",
            "-n",
            "dev",
        ])
        .unwrap();
        assert_eq!(cli.global.yaml.len(), 2);
        assert_eq!(cli.global.namespace.as_deref(), Some("dev"));
        let Command::Deploy(deploy) = cli.command else {
            panic!("deploy")
        };
        assert!(!deploy.flags.update);
        assert!(deploy.flags.replace);
        let cli = Cli::try_parse_from([
            "faas-cli",
            "logs",
            "fn",
            "--tail=false",
            "--lines",
            "5",
            "-o",
            "json",
        ])
        .unwrap();
        let Command::Logs(logs) = cli.command else {
            panic!("logs")
        };
        assert!(!logs.tail);
        assert_eq!(logs.lines, 5);
        assert_eq!(logs.output, LogFormat::Json);
        let cli = Cli::try_parse_from(["faas-cli", "ls", "-v", "--sort", "invocations"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::List(ListArgs {
                verbose: true,
                sort: ListSort::Invocations,
                ..
            })
        ));
        assert!(Cli::try_parse_from(["faas-cli", "rm", "a", "b"]).is_ok());
        assert!(
            Cli::try_parse_from(["faas-cli", "invoke", "fn", "-a", "-H", "X=1", "-m", "GET"])
                .is_ok()
        );
        assert!(Cli::try_parse_from(["faas-cli", "login", "-u", "u", "-s"]).is_ok());
        assert!(
            Cli::try_parse_from(["faas-cli", "store", "deploy", "figlet", "--url", "x.json"])
                .is_ok()
        );
        assert!(
            Cli::try_parse_from(["faas-cli", "up", "--skip-push", "--watch", "-e", "A=1"]).is_ok()
        );
    }
}
