//! SCIM Users are the tenant's members (SPEC §8.5): `userName` and `externalId` (unique in the
//! tenant, each under its guard), `name`, `displayName` (the member's name), `emails` (the
//! primary one is the account's address), `phoneNumbers` (the primary one is the member's phone),
//! `title` (position), `active` (active or disabled) and, in the enterprise extension,
//! `employeeNumber` (work number) and `department` (the department's path, read-only: membership
//! moves through Groups). Members in the recycle bin and join requests are not Users.

use super::protocol::{ENTERPRISE_SCHEMA, Endpoint, Resource, USER_SCHEMA, invalid_value, meta};
use super::{filter, patch};
use crate::app::App;
use crate::auth::{Caller, Need, Requester, authorize, authorize_with_tenant};
use crate::departments::relative_path;
use crate::error::{ApiError, ApiResult, Checks};
use crate::members::{
    self, CreateMember, MemberPatch, PersonalFields, ScimGuard, StatusInput, plan_personal_change,
    write_personal_change,
};
use crate::model::department::Department;
use crate::model::keys::Key;
use crate::model::member::{Member, MemberStatus, ScimName, ScimProfile, ScimValue};
use crate::model::roles::Permission;
use crate::model::user::EmailGuard;
use crate::store::{Batch, Item, Slot, from_item};
use crate::validate;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// `userName` and `externalId` are at most this long (their guards' keys stay far below
/// DynamoDB's sort-key limit).
pub(super) const MAX_IDENTIFIER: usize = 200;
/// At most this many `emails` and `phoneNumbers`.
const MAX_VALUES: usize = 10;

/// A User as a provider sends it (POST, PUT, or the result of a PATCH), checked.
#[derive(Debug, Clone, PartialEq)]
struct UserInput {
    profile: ScimProfile,
    email: String,
    name: String,
    phone: Option<String>,
    title: Option<String>,
    active: Option<bool>,
    employee_number: Option<String>,
}

/// A string attribute: absent or null is `None`; anything but a string is refused.
fn string(object: &Value, name: &str) -> ApiResult<Option<String>> {
    match filter::member(object, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(invalid_value(format!("{name} must be a string"))),
    }
}

fn values(object: &Value, name: &str) -> ApiResult<Vec<ScimValue>> {
    let list = match filter::member(object, name) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(invalid_value(format!("{name} must be an array"))),
    };
    if list.len() > MAX_VALUES {
        return Err(invalid_value(format!(
            "{name} holds at most {MAX_VALUES} values"
        )));
    }
    let mut out = Vec::new();
    for item in list {
        let Some(value) = string(item, "value")? else {
            continue;
        };
        let primary = match filter::member(item, "primary") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                filter::as_bool(v)
                    .ok_or_else(|| invalid_value(format!("{name}.primary must be a boolean")))?,
            ),
        };
        out.push(ScimValue {
            value,
            kind: string(item, "type")?,
            primary,
        });
    }
    if out.iter().filter(|v| v.primary == Some(true)).count() > 1 {
        return Err(invalid_value(format!(
            "{name} has more than one primary value"
        )));
    }
    Ok(out)
}

/// The primary value, else the first.
fn principal(list: &[ScimValue]) -> Option<&ScimValue> {
    list.iter()
        .find(|v| v.primary == Some(true))
        .or_else(|| list.first())
}

impl UserInput {
    /// `current_name`: the member's name, kept when the body names nobody (no `displayName`,
    /// `name.formatted` or given and family names); a new member is then named by its address.
    fn parse(body: &Value, current_name: Option<&str>) -> ApiResult<Self> {
        if !body.is_object() {
            return Err(invalid_value("a User is a JSON object"));
        }
        let (user_name, external_id) = identifiers(body)?;
        let name = scim_name(body)?;
        let display_name = string(body, "displayName")?;
        let emails = values(body, "emails")?;
        let phone_numbers = values(body, "phoneNumbers")?;
        let active = match filter::member(body, "active") {
            None | Some(Value::Null) => None,
            Some(v) => {
                Some(filter::as_bool(v).ok_or_else(|| invalid_value("active must be a boolean"))?)
            }
        };
        let enterprise = filter::member(body, ENTERPRISE_SCHEMA)
            .cloned()
            .unwrap_or(Value::Null);
        let employee_number = string(&enterprise, "employeeNumber")?;

        let mut checks = Checks::new();
        let email = account_address(&mut checks, &emails, &user_name)?;
        let full_name = full_name(display_name.as_deref(), name.as_ref(), current_name)
            .unwrap_or_else(|| email.clone());
        let name_checked =
            validate::text(&mut checks, "displayName", &full_name, validate::MAX_NAME);
        let short = |checks: &mut Checks, field: &str, text: Option<&str>| {
            validate::optional_text(checks, field, text, validate::MAX_SHORT_TEXT)
        };
        let phone = principal(&phone_numbers).map(|p| p.value.clone());
        let phone = short(&mut checks, "phoneNumbers", phone.as_deref());
        let title = string(body, "title")?;
        let title = short(&mut checks, "title", title.as_deref());
        let employee_number = short(&mut checks, "employeeNumber", employee_number.as_deref());
        for n in name
            .iter()
            .flat_map(|n| [&n.formatted, &n.family_name, &n.given_name])
            .flatten()
        {
            validate::text(&mut checks, "name", n, validate::MAX_NAME);
        }
        checks.finish()?;
        Ok(Self {
            profile: ScimProfile {
                user_name,
                external_id,
                name,
                has_display_name: display_name.is_some(),
                emails,
                phone_numbers,
            },
            email,
            name: name_checked,
            phone,
            title,
            active,
            employee_number,
        })
    }

    /// Reads, in `batch`, the account of the email, then the guards of `userName` and
    /// `externalId` in the tenant.
    fn read_guards(
        &self,
        tenant_id: Uuid,
        batch: &mut Batch,
    ) -> (Slot<EmailGuard>, Vec<Slot<Item>>) {
        let existing = batch.read(Key::email(&self.email));
        let mut guards =
            vec![batch.read_item(Key::scim_user_name(tenant_id, &self.profile.user_name))];
        guards.extend(
            self.profile
                .external_id
                .as_deref()
                .map(|e| batch.read_item(Key::scim_external_id(tenant_id, e))),
        );
        (existing, guards)
    }

    /// The member a new User becomes, in `department_id`.
    fn new_member(&self, department_id: Uuid) -> CreateMember {
        CreateMember {
            email: self.email.clone(),
            name: self.name.clone(),
            department_id,
            position: self.title.clone(),
            work_number: self.employee_number.clone(),
            location: None,
            phone: self.phone.clone(),
            directory_number: None,
            role: None,
            permissions: None,
            password: None,
            language: None,
        }
    }

    fn personal(&self) -> PersonalFields {
        PersonalFields {
            email: self.email.clone(),
            name: self.name.clone(),
            phone: self.phone.clone(),
        }
    }
}

/// `userName` (required) and `externalId`, each at most [`MAX_IDENTIFIER`] characters.
fn identifiers(body: &Value) -> ApiResult<(String, Option<String>)> {
    let user_name =
        string(body, "userName")?.ok_or_else(|| invalid_value("userName is required"))?;
    let external_id = string(body, "externalId")?;
    if user_name.chars().count() > MAX_IDENTIFIER
        || external_id
            .as_ref()
            .is_some_and(|e| e.chars().count() > MAX_IDENTIFIER)
    {
        return Err(invalid_value(format!(
            "userName and externalId are at most {MAX_IDENTIFIER} characters"
        )));
    }
    Ok((user_name, external_id))
}

/// The `name` object, when it names anything.
fn scim_name(body: &Value) -> ApiResult<Option<ScimName>> {
    match filter::member(body, "name") {
        None | Some(Value::Null) => Ok(None),
        Some(n @ Value::Object(_)) => Ok(Some(ScimName {
            formatted: string(n, "formatted")?,
            family_name: string(n, "familyName")?,
            given_name: string(n, "givenName")?,
        })
        .filter(|n| *n != ScimName::default())),
        Some(_) => Err(invalid_value("name must be an object")),
    }
}

/// The account's address: the primary email, else the first, else a userName that is one.
fn account_address(
    checks: &mut Checks,
    emails: &[ScimValue],
    user_name: &str,
) -> ApiResult<String> {
    let address = principal(emails)
        .map(|e| ("emails", e.value.clone()))
        .or_else(|| {
            user_name
                .contains('@')
                .then(|| ("userName", user_name.to_string()))
        });
    let email = match address {
        Some((field, address)) => validate::email(checks, field, &address),
        None => {
            return Err(invalid_value(
                "an address is required: in emails, or as a userName that is one",
            ));
        }
    };
    for e in emails {
        validate::email(checks, "emails", &e.value);
    }
    Ok(email)
}

/// The member's name: `displayName`, else `name.formatted`, else the given and family names,
/// else the name it has (`current_name`).
fn full_name(
    display_name: Option<&str>,
    name: Option<&ScimName>,
    current_name: Option<&str>,
) -> Option<String> {
    display_name
        .map(str::to_string)
        .or_else(|| name.and_then(|n| n.formatted.clone()))
        .or_else(|| {
            let n = name?;
            let joined = [n.given_name.as_deref(), n.family_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            Some(joined).filter(|j| !j.is_empty())
        })
        .or_else(|| current_name.map(str::to_string))
}

/// A member as a SCIM User. What the provider sent is read back as sent while it still says
/// what the member holds; where the member changed since (its holder proved a new address, say),
/// the member's own value wins.
pub(crate) fn user_json(
    member: &Member,
    department: Option<&Department>,
    endpoint: &Endpoint,
) -> Value {
    let profile = member.scim.clone().unwrap_or_default();
    let location = endpoint.location("Users", member.id);
    let mut user = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": member.id,
        "userName": if profile.user_name.is_empty() { member.email.clone() } else { profile.user_name.clone() },
        "active": member.status == MemberStatus::Active,
        "emails": listed(&emails_of(member, &profile)),
        "meta": meta("User", member.created_at, member.updated_at, member.version, &location),
    });
    if let Some(external_id) = &profile.external_id {
        user["externalId"] = json!(external_id);
    }
    // The member's name, unless its provider never sent one (then it reads back as it sent it).
    if member.scim.is_none() || profile.has_display_name {
        user["displayName"] = json!(member.name);
    }
    if let Some(n) = &profile.name {
        let mut o = Map::new();
        for (k, v) in [
            ("formatted", &n.formatted),
            ("familyName", &n.family_name),
            ("givenName", &n.given_name),
        ] {
            if let Some(v) = v {
                o.insert(k.into(), json!(v));
            }
        }
        user["name"] = Value::Object(o);
    }
    let phones = phones_of(member, &profile);
    if !phones.is_empty() {
        user["phoneNumbers"] = listed(&phones);
    }
    if let Some(title) = &member.position {
        user["title"] = json!(title);
    }
    let mut enterprise = Map::new();
    if let Some(n) = &member.work_number {
        enterprise.insert("employeeNumber".into(), json!(n));
    }
    if let Some(path) = department.map(relative_path).filter(|p| !p.is_empty()) {
        enterprise.insert("department".into(), json!(path));
    }
    if !enterprise.is_empty() {
        user[ENTERPRISE_SCHEMA] = Value::Object(enterprise);
    }
    user
}

/// The emails as the provider sent them while their principal one is the member's address;
/// otherwise the member's address alone.
fn emails_of(member: &Member, profile: &ScimProfile) -> Vec<ScimValue> {
    if principal(&profile.emails).is_some_and(|e| e.value.eq_ignore_ascii_case(&member.email)) {
        profile.emails.clone()
    } else {
        vec![ScimValue {
            value: member.email.clone(),
            kind: Some("work".into()),
            primary: Some(true),
        }]
    }
}

/// The phone numbers as the provider sent them while their principal one is the member's phone;
/// otherwise the member's phone alone, if any.
fn phones_of(member: &Member, profile: &ScimProfile) -> Vec<ScimValue> {
    match &member.phone {
        Some(phone) if principal(&profile.phone_numbers).is_some_and(|p| p.value == *phone) => {
            profile.phone_numbers.clone()
        }
        Some(phone) => vec![ScimValue {
            value: phone.clone(),
            kind: Some("work".into()),
            primary: Some(true),
        }],
        None => Vec::new(),
    }
}

/// A multi-valued attribute (emails, phone numbers) as SCIM writes it.
fn listed(list: &[ScimValue]) -> Value {
    list.iter()
        .map(|v| {
            let mut o = Map::new();
            o.insert("value".into(), json!(v.value));
            if let Some(k) = &v.kind {
                o.insert("type".into(), json!(k));
            }
            if let Some(p) = v.primary {
                o.insert("primary".into(), json!(p));
            }
            Value::Object(o)
        })
        .collect()
}

fn resource(member: &Member, department: Option<&Department>, endpoint: &Endpoint) -> Resource {
    Resource {
        json: user_json(member, department, endpoint),
        version: member.version,
        location: endpoint.location("Users", member.id),
    }
}

/// A User is a member in the directory (active or disabled).
fn user_of(item: Option<crate::store::Item>) -> ApiResult<Member> {
    let member: Member = from_item(item.ok_or(ApiError::NotFound)?)?;
    if !member.status.in_directory() {
        return Err(ApiError::NotFound);
    }
    Ok(member)
}

async fn department(app: &App, member: &Member) -> ApiResult<Option<Department>> {
    app.store
        .get(&Key::department(member.tenant_id, member.department_id))
        .await?
        .map(from_item)
        .transpose()
}

/// A member as answered after a write: read again, consistently, with its department.
async fn read_back(
    app: &App,
    tenant_id: Uuid,
    member_id: Uuid,
    endpoint: &Endpoint,
) -> ApiResult<Resource> {
    let member = user_of(app.store.get(&Key::member(tenant_id, member_id)).await?)?;
    let department = department(app, &member).await?;
    Ok(resource(&member, department.as_ref(), endpoint))
}

pub async fn get(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    member_id: Uuid,
) -> ApiResult<Resource> {
    let mut batch = Batch::new();
    let member = batch.read_item(Key::member(endpoint.tenant_id, member_id));
    let (_, mut read) = authorize(
        app,
        requester,
        endpoint.tenant_id,
        Need::Permission(Permission::MembersRead),
        batch,
    )
    .await?;
    let member = user_of(read.take_item(member))?;
    let department = department(app, &member).await?;
    Ok(resource(&member, department.as_ref(), endpoint))
}

/// POST /Users: a new member in the root department, or an existing account attached to the
/// tenant (SPEC §8.1: a proven account keeps its password; an unproven one gets a set-password
/// link). A `userName` or `externalId` another member holds answers 409 `uniqueness`.
pub async fn create(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    body: &Value,
) -> ApiResult<Resource> {
    let input = UserInput::parse(body, None)?;
    let tenant_id = endpoint.tenant_id;
    let mut batch = Batch::new();
    let (existing, guards) = input.read_guards(tenant_id, &mut batch);
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        tenant_id,
        Need::Permission(Permission::MembersWrite),
        batch,
    )
    .await?;
    let existing = read.take(existing)?;
    if guards
        .into_iter()
        .any(|guard| read.take_item(guard).is_some())
    {
        return Err(ApiError::Scim {
            scim_type: "uniqueness",
            detail: "another member of the tenant has this userName or externalId".into(),
        });
    }
    let root: Department = from_item(
        app.store
            .get(&Key::department(tenant_id, tenant.root_department_id))
            .await?
            .ok_or(ApiError::NotFound)?,
    )?;
    let member = members::provision(
        app,
        &access.caller,
        &tenant,
        &root,
        existing,
        input.new_member(root.id),
        input.profile.clone(),
    )
    .await?;
    // Created disabled: a provider may push a user it has not activated yet.
    if input.active == Some(false) {
        members::update(
            app,
            requester,
            tenant_id,
            member.id,
            MemberPatch {
                status: Some(StatusInput::Disabled),
                ..MemberPatch::default()
            },
            Some(member.version),
        )
        .await?;
        return read_back(app, tenant_id, member.id, endpoint).await;
    }
    Ok(resource(&member, Some(&root), endpoint))
}

/// PUT /Users/{id}: the member becomes what the body says (RFC 7644 §3.5.1), if still at the
/// `If-Match` version when one is sent.
pub async fn replace(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    member_id: Uuid,
    body: &Value,
    expected: Option<u64>,
) -> ApiResult<Resource> {
    let (caller, tenant, member) = current(app, requester, endpoint, member_id, expected).await?;
    let input = UserInput::parse(body, Some(&member.name))?;
    apply(app, requester, &caller, &tenant, endpoint, &member, input).await
}

/// The member to change and its tenant, for a caller who may write members and act on this one
/// (SPEC §8.2, the rule REST follows: only members whose permissions the token holds all of,
/// never owners), if still at the `If-Match` version when one is sent. Checked before anything
/// is planned, so a refused PUT or PATCH changes nothing, not even the account's name.
async fn current(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    member_id: Uuid,
    expected: Option<u64>,
) -> ApiResult<(Caller, crate::model::Tenant, Member)> {
    let mut batch = Batch::new();
    let member = batch.read_item(Key::member(endpoint.tenant_id, member_id));
    let (access, tenant, mut read) = authorize_with_tenant(
        app,
        requester,
        endpoint.tenant_id,
        Need::Permission(Permission::MembersWrite),
        batch,
    )
    .await?;
    let member = user_of(read.take_item(member))?;
    if expected.is_some_and(|v| v != member.version) {
        return Err(ApiError::PreconditionFailed);
    }
    if !members::may_manage(&access, &member) {
        return Err(members::beyond_reach());
    }
    Ok((access.caller, tenant, member))
}

/// PATCH /Users/{id}: the operations applied to the User as it reads now, then the result
/// written as a PUT of it would be.
pub async fn patch(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    member_id: Uuid,
    request: &patch::PatchRequest,
    expected: Option<u64>,
) -> ApiResult<Resource> {
    let (caller, tenant, member) = current(app, requester, endpoint, member_id, expected).await?;
    let department = department(app, &member).await?;
    let mut json = user_json(&member, department.as_ref(), endpoint);
    patch::apply(&mut json, request, &super::discovery::canonical).map_err(patch::patch_error)?;
    let input = UserInput::parse(&json, Some(&member.name))?;
    apply(app, requester, &caller, &tenant, endpoint, &member, input).await
}

/// Writes what `input` changes of `member`: everything is checked first (the account's fields
/// may be the provider's to change or not, a new `userName` or `externalId` may be taken), then
/// the member's own fields and SCIM profile are written (one transaction, conditioned on the
/// version read), then the account's name, phone or address.
async fn apply(
    app: &App,
    requester: &Requester,
    caller: &Caller,
    tenant: &crate::model::Tenant,
    endpoint: &Endpoint,
    member: &Member,
    input: UserInput,
) -> ApiResult<Resource> {
    let personal = plan_personal_change(app, tenant, member, input.personal()).await?;
    let profile_changes = member.scim.as_ref() != Some(&input.profile);
    if profile_changes {
        identifiers_free(app, member, &input.profile).await?;
    }
    let patch = MemberPatch {
        position: (input.title != member.position).then(|| input.title.clone()),
        work_number: (input.employee_number != member.work_number)
            .then(|| input.employee_number.clone()),
        status: match input.active {
            Some(true) if member.status != MemberStatus::Active => Some(StatusInput::Active),
            Some(false) if member.status != MemberStatus::Disabled => Some(StatusInput::Disabled),
            _ => None,
        },
        scim: profile_changes.then(|| input.profile.clone()),
        ..MemberPatch::default()
    };
    let changes_member = patch.position.is_some()
        || patch.work_number.is_some()
        || patch.status.is_some()
        || patch.scim.is_some();
    if changes_member {
        members::update(
            app,
            requester,
            endpoint.tenant_id,
            member.id,
            patch,
            Some(member.version),
        )
        .await?;
    }
    if let Some(change) = personal {
        write_personal_change(app, caller, tenant, member, change).await?;
    }
    read_back(app, endpoint.tenant_id, member.id, endpoint).await
}

/// Refuses a `userName` or `externalId` another member of the tenant holds (the guards' own
/// conditions still decide a race).
async fn identifiers_free(app: &App, member: &Member, profile: &ScimProfile) -> ApiResult<()> {
    let keys = profile.guard_keys(member.tenant_id);
    for item in app.store.get_many(&keys).await?.into_iter().flatten() {
        let guard: ScimGuard = from_item(item)?;
        if guard.member_id != member.id {
            return Err(ApiError::Scim {
                scim_type: "uniqueness",
                detail: "another member of the tenant has this userName or externalId".into(),
            });
        }
    }
    Ok(())
}

/// DELETE /Users/{id}: the member goes to the recycle bin (restorable until the tenant's
/// retention ends), like a DELETE of the REST API, under its rules (the targeting rule included).
pub async fn delete(
    app: &App,
    requester: &Requester,
    endpoint: &Endpoint,
    member_id: Uuid,
) -> ApiResult<()> {
    members::delete(app, requester, endpoint.tenant_id, member_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_comes_from_emails_then_user_name() {
        let input = UserInput::parse(&json!({
            "userName": "ada",
            "emails": [{"value": "home@x.io", "type": "home"}, {"value": "Ada@Work.io", "type": "work", "primary": true}],
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "active": "False"
        }), None)
        .unwrap();
        assert_eq!(input.email, "ada@work.io");
        assert_eq!(input.name, "Ada Lovelace");
        assert_eq!(input.active, Some(false));
        let input =
            UserInput::parse(&json!({"userName": "Bob@x.io", "displayName": "Bob"}), None).unwrap();
        assert_eq!(
            (input.email.as_str(), input.name.as_str()),
            ("bob@x.io", "Bob")
        );
    }

    #[test]
    fn users_without_an_address_or_with_bad_values_are_refused() {
        for bad in [
            json!({"displayName": "x"}),
            json!({"userName": "no-address"}),
            json!({"userName": "a@x.io", "emails": "a@x.io"}),
            json!({"userName": "a@x.io", "active": "maybe"}),
            json!({"userName": "a@x.io", "emails": [{"value": "not an address"}]}),
            json!({"userName": "a@x.io", "emails": [{"value": "a@x.io", "primary": true}, {"value": "b@x.io", "primary": true}]}),
            json!({"userName": "x".repeat(201) + "@x.io"}),
        ] {
            assert!(UserInput::parse(&bad, None).is_err(), "{bad} was taken");
        }
    }
}
