use super::Answer;
use crate::http::{ok, path_id, query_param, requester};
use lambda_http::Request;
use roster_shared::App;
use roster_shared::events::read::{self, EventFilter};

fn filter(req: &Request) -> EventFilter {
    EventFilter {
        after: query_param(req, "after"),
        types: query_param(req, "types"),
        limit: query_param(req, "limit"),
    }
}

/// GET /v1/tenants/{tenant_id}/events
pub async fn for_tenant(app: &'static App, req: Request) -> Answer {
    let tenant_id = path_id(&req, "tenant_id")?;
    ok(&read::for_tenant(app, &requester(&req), tenant_id, filter(&req)).await?)
}

/// GET /v1/events
pub async fn for_platform(app: &'static App, req: Request) -> Answer {
    ok(&read::for_platform(app, &requester(&req), filter(&req)).await?)
}
