//! A row's own checks, what can be told without the store: its email, that it is the first row
//! of that email, its department (by path), its role, its directory number and its name. And what
//! a run does with a row, given the markers of earlier runs.

use super::file::Row;
use super::result::{RowOutcome, reason_of};
use crate::error::Checks;
use crate::members::CreateMember;
use crate::model::department::Department;
use crate::model::job::{ImportMode, ImportSpec};
use crate::model::roles::Role;
use std::collections::HashMap;

/// The departments by their path below the root, lowercase (what a row names).
pub(super) type DepartmentsByPath = HashMap<String, Department>;

/// What a run does with a row.
#[derive(Debug)]
pub(super) enum RowStep {
    /// An earlier run finished it (its marker says how): nothing.
    Done,
    /// Refused with this reason.
    Refuse(String),
    /// Checked: imported unless the store says otherwise.
    Import(Box<Checked>),
}

/// What a run does with `row`, given the rows earlier runs finished.
pub(super) fn row_step(
    row: &Row,
    done: &HashMap<usize, RowOutcome>,
    spec: &ImportSpec,
    departments: &DepartmentsByPath,
    first_row: &HashMap<String, usize>,
) -> RowStep {
    if done.contains_key(&row.number) {
        return RowStep::Done;
    }
    match check_row(row, spec, departments, first_row) {
        Ok(checked) => RowStep::Import(Box::new(checked)),
        Err(reason) => RowStep::Refuse(reason),
    }
}

/// Who a row names: its email (trimmed, lowercase), or its phone (digits and `+` only) when it
/// has no email.
fn invitee(row: &Row) -> Option<String> {
    let email = row
        .fields
        .get("email")
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    email.or_else(|| {
        row.fields
            .get("phone")
            .map(|p| {
                p.chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect::<String>()
            })
            .filter(|p| !p.is_empty())
            .map(|p| format!("phone:{p}"))
    })
}

/// The first row of each invitee (see [`invitee`]): later ones are duplicates, whichever run
/// looks.
pub(super) fn first_rows(rows: &[Row]) -> HashMap<String, usize> {
    let mut first_row: HashMap<String, usize> = HashMap::new();
    for row in rows {
        if let Some(who) = invitee(row) {
            first_row.entry(who).or_insert(row.number);
        }
    }
    first_row
}

#[derive(Debug)]
pub(super) struct Checked {
    /// Empty for an invitation by phone only.
    pub(super) email: String,
    /// Invite mode: the E.164 number the link also goes to by text message.
    pub(super) phone_invite: Option<String>,
    pub(super) department: Department,
    pub(super) member: CreateMember,
}

impl Checked {
    /// The key of the live-invitation guard of the row's invitee.
    pub(super) fn guard_key(&self, tenant_id: uuid::Uuid) -> crate::model::keys::Key {
        crate::invitations::invitee_guard(tenant_id, &self.email, self.phone_invite.as_deref())
    }
}

/// A row's own checks: what can be told without the store.
fn check_row(
    row: &Row,
    spec: &ImportSpec,
    departments: &DepartmentsByPath,
    first_row: &HashMap<String, usize>,
) -> Result<Checked, String> {
    let get = |k: &str| row.fields.get(k).cloned();
    let email = get("email").unwrap_or_default().trim().to_lowercase();
    let phone = get("phone").filter(|p| !p.trim().is_empty());
    let mut checks = Checks::new();
    // Invite mode takes a phone as well as or instead of an email: the link goes by text too.
    let inviting = spec.mode == ImportMode::Invite;
    let email = match (email.is_empty(), &phone) {
        (true, Some(_)) if inviting => String::new(),
        _ => crate::validate::email(&mut checks, "email", &email),
    };
    let phone_invite = match (&phone, inviting) {
        (Some(p), true) => Some(crate::validate::e164(&mut checks, "phone", p)),
        _ => None,
    };
    if let Err(err) = checks.finish() {
        return Err(reason_of(&err));
    }
    let who = invitee(row).unwrap_or_default();
    if first_row.get(&who) != Some(&row.number) {
        let what = if email.is_empty() { "phone" } else { "email" };
        return Err(format!(
            "duplicate: the {what} is already on row {}",
            first_row.get(&who).copied().unwrap_or_default()
        ));
    }
    let path = get("department").unwrap_or_default();
    let path = path.trim().trim_matches('/').to_lowercase();
    let Some(department) = departments.get(&path) else {
        return Err(format!(
            "department \"{}\" is not a department of this tenant",
            get("department").unwrap_or_default()
        ));
    };
    let role = role_of(get("role").as_deref(), spec)?;
    let directory_number = match get("directory_number") {
        None => None,
        Some(n) => match n.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => return Err(format!("directory_number \"{n}\" is not a number")),
        },
    };
    let name = get("name").unwrap_or_default();
    if spec.mode == ImportMode::Create && name.trim().is_empty() {
        return Err("name is required".into());
    }
    // An empty cell is no value: the column may be filled for some rows only.
    let password = get("password").filter(|p| !p.is_empty());
    if password.is_some() && spec.mode != ImportMode::Create {
        return Err("password is only for imports that create members; leave it empty".into());
    }
    Ok(Checked {
        email: email.clone(),
        phone_invite,
        department: department.clone(),
        member: CreateMember {
            email,
            name,
            department_id: department.id,
            position: get("position"),
            work_number: get("work_number"),
            location: get("location"),
            phone: get("phone"),
            directory_number,
            role: Some(role),
            permissions: None,
            password,
            language: get("language").filter(|l| !l.is_empty()),
        },
    })
}

/// The row's role: member unless it says admin, which only a creator holding every permission
/// may give.
fn role_of(role: Option<&str>, spec: &ImportSpec) -> Result<Role, String> {
    match role.map(str::to_lowercase).as_deref() {
        None | Some("member") => Ok(Role::Member),
        Some("admin") if spec.creator_holds_all => Ok(Role::Admin),
        Some("admin") => {
            Err("role admin can only be given by a creator holding every permission".into())
        }
        Some(other) => Err(format!("role \"{other}\" must be member or admin")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    fn row(number: usize, fields: &[(&str, &str)]) -> Row {
        Row {
            number,
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn spec(mode: ImportMode, creator_holds_all: bool) -> ImportSpec {
        ImportSpec {
            mode,
            send_email: false,
            upload_key: "tenants/t/jobs/j/upload.csv".into(),
            source_ip: None,
            creator_is_admin: creator_holds_all,
            creator_holds_all,
            charged: false,
            checked: None,
            stalled_runs: 0,
        }
    }

    fn departments() -> DepartmentsByPath {
        let at = datetime!(2025-03-01 12:00:00 UTC);
        let emea = Department {
            id: Uuid::now_v7(),
            tenant_id: Uuid::now_v7(),
            name: "EMEA".into(),
            parent_id: None,
            path: "Acme/Sales/EMEA".into(),
            id_path: "r/s/e".into(),
            depth: 2,
            member_count: 0,
            child_count: 0,
            settings: Default::default(),
            created_at: at,
            updated_at: at,
            version: 1,
            scim_external_id: None,
        };
        HashMap::from([("sales/emea".to_string(), emea)])
    }

    /// The step for the last of `rows`, no earlier run having finished any.
    fn step(rows: &[Row], spec: &ImportSpec) -> RowStep {
        let last = rows.last().expect("a row");
        row_step(
            last,
            &HashMap::new(),
            spec,
            &departments(),
            &first_rows(rows),
        )
    }

    fn refused(step: RowStep) -> String {
        match step {
            RowStep::Refuse(reason) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    const ADA: [(&str, &str); 3] = [
        ("email", " Ada@Example.TEST "),
        ("name", "Ada"),
        ("department", "/Sales/EMEA/"),
    ];

    #[test]
    fn a_good_row_is_imported_into_its_department_by_path() {
        let rows = [row(2, &ADA)];
        let RowStep::Import(checked) = step(&rows, &spec(ImportMode::Create, false)) else {
            panic!("the row is good");
        };
        assert_eq!(checked.email, "ada@example.test");
        assert_eq!(checked.department.name, "EMEA");
        assert_eq!(checked.member.department_id, checked.department.id);
        assert_eq!(checked.member.role, Some(Role::Member));
    }

    #[test]
    fn a_bad_email_is_refused_with_the_field_s_message() {
        let rows = [row(2, &[("email", "not-an-email"), ("name", "Ada")])];
        let reason = refused(step(&rows, &spec(ImportMode::Create, false)));
        assert!(reason.starts_with("email "), "{reason}");
    }

    #[test]
    fn an_unknown_department_is_refused_by_its_name_as_written() {
        let rows = [row(
            2,
            &[
                ("email", "ada@example.test"),
                ("name", "Ada"),
                ("department", "Sales/APAC"),
            ],
        )];
        assert_eq!(
            refused(step(&rows, &spec(ImportMode::Create, false))),
            "department \"Sales/APAC\" is not a department of this tenant"
        );
    }

    #[test]
    fn a_later_row_of_the_same_email_is_a_duplicate_of_the_first() {
        let rows = [
            row(2, &ADA),
            row(
                3,
                &[
                    ("email", "ada@example.test"),
                    ("name", "Ada Again"),
                    ("department", "Sales/EMEA"),
                ],
            ),
        ];
        let spec = spec(ImportMode::Invite, false);
        assert!(matches!(step(&rows[..1], &spec), RowStep::Import(_)));
        assert_eq!(
            refused(step(&rows, &spec)),
            "duplicate: the email is already on row 2"
        );
    }

    #[test]
    fn a_row_an_earlier_run_finished_is_left_alone() {
        let rows = [row(2, &[("email", "not-an-email")])];
        let done = HashMap::from([(
            2,
            RowOutcome {
                row: 2,
                email: "not-an-email".into(),
                outcome: "failed".into(),
                reason: Some("email is not an email".into()),
                ttl: 0,
            },
        )]);
        let spec = spec(ImportMode::Create, false);
        let step = row_step(&rows[0], &done, &spec, &departments(), &first_rows(&rows));
        assert!(matches!(step, RowStep::Done), "{step:?}");
    }

    #[test]
    fn roles_numbers_and_names_are_checked() {
        let with = |extra: (&str, &str)| {
            let mut fields = ADA.to_vec();
            fields.push(extra);
            vec![row(2, &fields)]
        };
        let member = spec(ImportMode::Create, false);
        let owner = spec(ImportMode::Create, true);
        assert_eq!(
            refused(step(&with(("role", "admin")), &member)),
            "role admin can only be given by a creator holding every permission"
        );
        let RowStep::Import(admin) = step(&with(("role", "Admin")), &owner) else {
            panic!("a creator holding every permission gives the admin role");
        };
        assert_eq!(admin.member.role, Some(Role::Admin));
        assert_eq!(
            refused(step(&with(("role", "owner")), &owner)),
            "role \"owner\" must be member or admin"
        );
        assert_eq!(
            refused(step(&with(("directory_number", "12a")), &member)),
            "directory_number \"12a\" is not a number"
        );
        let nameless = [row(
            2,
            &[("email", "ada@example.test"), ("department", "Sales/EMEA")],
        )];
        assert_eq!(refused(step(&nameless, &member)), "name is required");
        let invite = spec(ImportMode::Invite, false);
        assert!(matches!(step(&nameless, &invite), RowStep::Import(_)));
    }

    #[test]
    fn a_password_is_taken_only_by_imports_that_create() {
        let mut fields = ADA.to_vec();
        fields.extend([("password", "given-password-1"), ("language", "pt-BR")]);
        let rows = [row(2, &fields)];
        let RowStep::Import(checked) = step(&rows, &spec(ImportMode::Create, false)) else {
            panic!("the row is good");
        };
        assert_eq!(checked.member.password.as_deref(), Some("given-password-1"));
        assert_eq!(checked.member.language.as_deref(), Some("pt-BR"));
        let reason = refused(step(&rows, &spec(ImportMode::Invite, false)));
        assert!(!reason.contains("given-password-1"), "{reason}");
        assert_eq!(
            reason,
            "password is only for imports that create members; leave it empty"
        );
        let mut empty = ADA.to_vec();
        empty.extend([("password", ""), ("language", "")]);
        let RowStep::Import(checked) = step(&[row(2, &empty)], &spec(ImportMode::Invite, false))
        else {
            panic!("empty cells are no values");
        };
        assert_eq!(checked.member.password, None);
        assert_eq!(checked.member.language, None);
    }
}
