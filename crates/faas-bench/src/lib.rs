//! Benchmark tools, run by hand from `bench/*.sh`: `rate-load` sends requests at a fixed rate
//! (open loop, so latency is measured from when each request was due, not when it was sent)
//! and prints p50/p99/max.
