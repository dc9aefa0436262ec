//! `snapshot:plugin/http`: the plugin's only way out of the sandbox.

use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::net::{HttpRequest, HttpResponse, NetError};
use crate::runtime::bindings::PluginError;
use crate::runtime::bindings::v0_1::snapshot::plugin::http::{Host, Request, Response};
use crate::runtime::sink::HttpExchange;
use crate::runtime::state::{JobContext, PluginState};

/// The most requests one `send-all` may carry, and the most a plugin may
/// have started and not collected: the host's concurrency limits apply
/// anyway, this only bounds the memory of one call.
const MAX_BATCH: usize = 1024;

impl Host for PluginState {
    async fn send(&mut self, req: Request) -> wasmtime::Result<Result<Response, PluginError>> {
        Ok(send_observed(&self.job, req)
            .await
            .map(from_net)
            .map_err(to_plugin_error))
    }

    async fn send_all(
        &mut self,
        reqs: Vec<Request>,
    ) -> wasmtime::Result<Vec<Result<Response, PluginError>>> {
        if reqs.len() > MAX_BATCH {
            return Err(self.limit(format!(
                "send-all with {} requests exceeds the limit of {MAX_BATCH} per call",
                reqs.len()
            )));
        }
        let job = &self.job;
        let calls = reqs.into_iter().map(|r| send_observed(job, r));
        Ok(join_all(calls)
            .await
            .into_iter()
            .map(|r| r.map(from_net).map_err(to_plugin_error))
            .collect())
    }

    async fn start(&mut self, req: Request) -> wasmtime::Result<u64> {
        if self.in_flight.tasks.len() >= MAX_BATCH {
            return Err(self.limit(format!(
                "more than {MAX_BATCH} requests started and not collected with wait-any"
            )));
        }
        let handle = self.in_flight.next_handle;
        self.in_flight.next_handle += 1;
        let job = self.job.clone();
        // A task of its own: it makes progress while the guest runs, and its
        // time is not charged to the guest's CPU budget.
        self.in_flight
            .tasks
            .spawn(async move { (handle, send_observed(&job, req).await) });
        Ok(handle)
    }

    async fn wait_any(&mut self) -> wasmtime::Result<Vec<(u64, Result<Response, PluginError>)>> {
        let mut done = Vec::new();
        let Some(first) = self.in_flight.tasks.join_next().await else {
            return Ok(done);
        };
        let mut push = |joined: Result<
            (u64, Result<HttpResponse, NetError>),
            tokio::task::JoinError,
        >| {
            joined
                .map(|(handle, r)| done.push((handle, r.map(from_net).map_err(to_plugin_error))))
                .map_err(|e| wasmtime::format_err!("an HTTP task failed: {e}"))
        };
        push(first)?;
        while let Some(more) = self.in_flight.tasks.try_join_next() {
            push(more)?;
        }
        Ok(done)
    }

    async fn throttle(&mut self, url: String, retry_after_ms: Option<u32>) -> wasmtime::Result<()> {
        let wait = retry_after_ms.map(|ms| Duration::from_millis(u64::from(ms)));
        // Only a destination the plugin may reach can be paused, so one
        // plugin cannot stall another's upstream; a refused throttle is
        // logged and otherwise harmless.
        if let Err(e) = self.job.gateway.throttle_for(&self.job.egress, &url, wait) {
            tracing::debug!(plugin = %self.job.plugin_id, "throttle ignored: {e}");
        }
        Ok(())
    }
}

/// Sends one request through the gateway under the job's egress policy and
/// tells the job's sink how it went (for observers such as a trace).
async fn send_observed(job: &JobContext, req: Request) -> Result<HttpResponse, NetError> {
    let req = to_net(req);
    let (method, url) = (req.method.clone(), req.url.clone());
    let started = Instant::now();
    let result = job.gateway.send(&job.egress, req).await;
    job.sink.http(&HttpExchange {
        method: &method,
        url: &url,
        outcome: result.as_ref().map(|r| (r.status, r.body.len())),
        elapsed: started.elapsed(),
    });
    result
}

fn to_net(r: Request) -> HttpRequest {
    HttpRequest {
        method: r.method,
        url: r.url,
        headers: r.headers,
        body: r.body,
    }
}

fn from_net(r: HttpResponse) -> Response {
    Response {
        status: r.status,
        headers: r.headers,
        body: r.body,
    }
}

/// Maps a gateway failure onto the typed WIT error the plugin sees.
pub fn to_plugin_error(e: NetError) -> PluginError {
    match e {
        NetError::Denied(m) => PluginError::Denied(m),
        NetError::TooLarge(m) => PluginError::Denied(m),
        NetError::InvalidRequest(m) => PluginError::Denied(m),
        NetError::RateLimited { retry_after_ms } => PluginError::RateLimited(retry_after_ms),
        NetError::Timeout(m) => PluginError::Timeout(m),
        NetError::Upstream(m) => PluginError::Upstream(m),
    }
}
