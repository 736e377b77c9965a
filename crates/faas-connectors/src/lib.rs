//! Event connectors: sources of events that call functions by the `topic` annotation, as
//! OpenFaaS's connector-sdk does. A function subscribes with `topic: <name>` (several topics
//! separated by commas); a connector rebuilds its map of topics to functions every few
//! seconds from a [`FunctionSource`] and calls each subscriber through the gateway's
//! `/function/{name}.{namespace}` route with `X-Topic` and `X-Connector` headers, so calls are
//! counted, scaled from zero and logged like any other.
//!
//! - [`source`] — where functions come from, and who subscribes to a topic.
//! - [`caller`] — calling a function through the gateway.
//! - [`schedule`] — cron patterns and `@every <duration>`.
//! - [`cron`] — the cron connector: `topic: cron-function` plus `schedule: "*/5 * * * *"`.

pub mod caller;
pub mod cron;
pub mod schedule;
pub mod source;

pub use caller::{CallError, GatewayCaller};
pub use cron::{CronConfig, CronConnector, CronHandle};
pub use schedule::{Schedule, ScheduleError};
pub use source::{subscribes, FunctionSource, SourceError};
