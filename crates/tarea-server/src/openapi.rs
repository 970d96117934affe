//! The OpenAPI document, generated from the handlers' annotations. `docs/openapi.json` is a
//! copy checked by a test, so the published document cannot drift from the code.
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use crate::routes::{
    artifacts, batches, job_actions, jobs, keys, live, ops, public, queues, schedules, settings, stats, stream,
    templates, tenants, uploads, webhooks, worker, workers,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "tarea", description = "Background jobs for web apps that produce documents. Every error is `{\"error\": {\"code\", \"message\", \"details\"}}`."),
    paths(
        jobs::enqueue, jobs::enqueue_batch,
        job_actions::act, jobs::get, jobs::attempts, jobs::list, jobs::cancel, jobs::retry,
        stream::events, live::events, public::link, public::job, public::events,
        worker::claim, worker::complete_many, worker::heartbeat, worker::progress, worker::complete, worker::fail,
        queues::list, queues::update, queues::pause, queues::resume, stats::get,
        keys::create, keys::list, keys::delete,
        tenants::list,
        crate::ui::audit::list,
        workers::list,
        artifacts::list, artifacts::get, artifacts::content, artifacts::link, artifacts::upload, artifacts::retention_get,
        artifacts::retention_put, uploads::create,
        templates::put, templates::get, templates::list, templates::delete, templates::rerender,
        schedules::put, schedules::get, schedules::list, schedules::delete, schedules::pause, schedules::resume,
        schedules::run,
        batches::create, batches::list, batches::get, batches::cancel, batches::retry,
        settings::put, settings::get, settings::delete,
        webhooks::create, webhooks::list, webhooks::get, webhooks::delete, webhooks::deliveries,
        ops::healthz, ops::readyz, ops::metrics, ops::openapi,
    ),
    modifiers(&Bearer),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The OpenAPI document as pretty JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|_| "{}".into())
}
