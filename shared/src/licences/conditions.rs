//! The licence writes and the states they are conditioned on.

use crate::error::{ApiError, ApiResult};
use crate::model::licence::Licence;
use crate::store::{Condition, Update, num, s};
use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

fn licence_value(licence: &Licence) -> ApiResult<AttributeValue> {
    serde_dynamo::to_attribute_value(licence).map_err(ApiError::internal)
}

/// SET licence and its index keys.
pub(super) fn set_licence(
    licence: &Licence,
    tenant_id: Uuid,
    member_id: Uuid,
    now: &str,
) -> ApiResult<Update> {
    Ok(
        Update::new("SET licence = :licence, updated_at = :now ADD version :one")
            .value(":licence", licence_value(licence)?)
            .value(":now", s(now))
            .value(":one", num(1))
            .set_all(&licence.index_keys(tenant_id, member_id)),
    )
}

pub(super) fn remove_licence(now: &str) -> Update {
    Update::new(
        "REMOVE licence, gsi6pk, gsi6sk, gsi7pk, gsi7sk SET updated_at = :now ADD version :one",
    )
    .value(":now", s(now))
    .value(":one", num(1))
}

/// Writes `licence` (SET), or takes the member's away when it is None (REMOVE).
pub(super) fn write_licence(
    licence: Option<&Licence>,
    tenant_id: Uuid,
    member_id: Uuid,
    now: &str,
) -> ApiResult<Update> {
    match licence {
        Some(l) => set_licence(l, tenant_id, member_id, now),
        None => Ok(remove_licence(now)),
    }
}

/// The member still holds exactly the licence read (or none, when `licence` is None).
pub(super) fn holds(licence: Option<&Licence>) -> ApiResult<Condition> {
    Ok(match licence {
        None => Condition::new("attribute_exists(pk) AND attribute_not_exists(licence)"),
        Some(l) => Condition::new(if l.renewal.is_some() {
            "licence.expires_epoch = :held AND attribute_exists(licence.renewal)"
        } else {
            "licence.expires_epoch = :held AND attribute_not_exists(licence.renewal)"
        })
        .value(":held", num(l.expires_epoch)),
    })
}

/// An active member without a licence: what assigning one is conditioned on.
pub(super) fn active_without_licence() -> Condition {
    Condition::new("attribute_exists(pk) AND attribute_not_exists(licence) AND #status = :active")
        .name("#status", "status")
        .value(":active", s("active"))
}

/// The member holds exactly `licence` as written (each of its fields, and its renewal's), or
/// none when `licence` is None: what undoing a write is conditioned on.
pub(super) fn holds_exactly(licence: Option<&Licence>) -> ApiResult<Condition> {
    let Some(l) = licence else {
        return holds(None);
    };
    // The stored forms of the timestamps, as the write serialised them.
    let field = |map: &std::collections::HashMap<String, AttributeValue>, name: &str| {
        map.get(name)
            .cloned()
            .ok_or_else(|| ApiError::internal(format!("licence without {name}")))
    };
    let AttributeValue::M(stored) = licence_value(l)? else {
        return Err(ApiError::internal("a licence is stored as a map"));
    };
    let mut c = holds(Some(l))?;
    c.expression
        .push_str(" AND licence.assigned_at = :assigned");
    c = c.value(":assigned", field(&stored, "assigned_at")?);
    if let Some(AttributeValue::M(renewal)) = stored.get("renewal") {
        c.expression.push_str(
            " AND licence.renewal.expires_at = :renewal_expires \
             AND licence.renewal.queued_at = :renewal_queued",
        );
        c = c
            .value(":renewal_expires", field(renewal, "expires_at")?)
            .value(":renewal_queued", field(renewal, "queued_at")?);
    }
    Ok(c)
}
