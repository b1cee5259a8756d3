//! Importing the rows of a run: each row not finished by an earlier run is checked, and lands
//! as a member or an invitation with its marker in the same transaction, or is refused with a
//! marker of its own.

use super::check::{Checked, DepartmentsByPath, RowStep, first_rows, row_step};
use super::file::Row;
use super::result::{RowOutcome, reason_of, result_file, upload_result};
use crate::app::App;
use crate::auth::{Access, Caller, CallerKind, Origin};
use crate::error::{ApiError, ApiResult, Checks};
use crate::invitations::{self, Draft};
use crate::jobs::{Job, JobCounts};
use crate::mail::Mail;
use crate::members::{self, NewMember};
use crate::model::job::{ImportMode, ImportSpec};
use crate::model::keys::{Key, tenant_partition};
use crate::model::member::MemberSource;
use crate::model::roles::{Permissions, Role};
use crate::model::tenant::Tenant;
use crate::model::user::EmailGuard;
use crate::store::{Condition, Item, Query, SortRange, Transaction, from_item, to_item};
use std::collections::HashMap;

/// Rows read (accounts looked up) per batch.
const BATCH: usize = 100;

/// What a row's marker is conditioned on failing with: the row was imported by another run.
const ALREADY_IMPORTED: &str = "row already imported";

/// One run over the rows: the job, and who it acts as.
struct RowRun<'a> {
    app: &'a App,
    tenant: &'a Tenant,
    job: &'a Job,
    spec: &'a ImportSpec,
    caller: Caller,
    access: Access,
}

/// Imports the rows not done yet, writes the result CSV, and returns the counts and its key.
/// `finished` counts the rows this run finished (imported or refused), as it goes.
pub(super) async fn import_rows(
    app: &App,
    tenant: &Tenant,
    job: &Job,
    spec: &ImportSpec,
    rows: Vec<Row>,
    finished: &mut usize,
) -> ApiResult<(JobCounts, String)> {
    let mut done = read_markers(app, job).await?;
    let departments = departments_by_path(app, tenant).await?;
    let first_row = first_rows(&rows);
    let caller = acting_as(job, spec);
    let run = RowRun {
        app,
        tenant,
        job,
        spec,
        access: Access {
            caller: caller.clone(),
            tenant_id: tenant.id,
            via_reseller: false,
        },
        caller,
    };
    for batch in rows.chunks(BATCH) {
        let mut good: Vec<(&Row, Checked)> = Vec::new();
        for row in batch {
            match row_step(row, &done, spec, &departments, &first_row) {
                RowStep::Done => {}
                RowStep::Refuse(reason) => {
                    let outcome = record_failure(app, job, row, reason).await?;
                    done.insert(row.number, outcome);
                    *finished += 1;
                }
                RowStep::Import(checked) => good.push((row, *checked)),
            }
        }
        let found = look_up(app, &lookup_keys(&good, spec.mode, tenant)).await?;
        for (row, checked) in good {
            if let Some(outcome) = import_row(&run, row, checked, &found).await? {
                done.insert(row.number, outcome);
                *finished += 1;
            }
        }
    }
    let (counts, bytes) = result_file(rows.len(), &done)?;
    let key = upload_result(app, job, bytes).await?;
    Ok((counts, key))
}

/// Rows an earlier run finished (one query of the job's markers).
async fn read_markers(app: &App, job: &Job) -> ApiResult<HashMap<usize, RowOutcome>> {
    let mut done = HashMap::new();
    for item in app
        .store
        .query_all(Query::new(
            None,
            tenant_partition(job.tenant_id),
            SortRange::Prefix(Key::job_rows_prefix(job.id)),
        ))
        .await?
    {
        let outcome: RowOutcome = from_item(item)?;
        done.insert(outcome.row, outcome);
    }
    Ok(done)
}

async fn departments_by_path(app: &App, tenant: &Tenant) -> ApiResult<DepartmentsByPath> {
    Ok(crate::departments::all(app, tenant.id)
        .await?
        .into_iter()
        .map(|d| (crate::departments::relative_path(&d).to_lowercase(), d))
        .collect())
}

/// The creator, with the standing recorded when the job was created: admins' invitations join
/// directly. Audit entries name the creator.
fn acting_as(job: &Job, spec: &ImportSpec) -> Caller {
    Caller {
        user_id: job.created_by,
        kind: CallerKind::Job {
            for_admin: spec.creator_is_admin,
        },
        origin: Origin {
            source_ip: spec.source_ip.clone(),
            ..Origin::default()
        },
    }
}

/// The accounts (and, to invite, the pending invitations) the checked rows' emails may have.
fn lookup_keys(good: &[(&Row, Checked)], mode: ImportMode, tenant: &Tenant) -> Vec<Key> {
    let mut keys = Vec::new();
    for (_, c) in good {
        if !c.email.is_empty() {
            keys.push(Key::email(&c.email));
        }
        if mode == ImportMode::Invite {
            keys.push(c.guard_key(tenant.id));
        }
    }
    keys
}

/// What exists of `keys` (one batched read).
async fn look_up(app: &App, keys: &[Key]) -> ApiResult<HashMap<Key, Item>> {
    Ok(keys
        .iter()
        .zip(app.store.get_many(keys).await?)
        .filter_map(|(k, item)| item.map(|i| (k.clone(), i)))
        .collect())
}

/// How a row's write ended.
enum Written {
    /// Imported (with the welcome mail to send, if any).
    Imported(Option<Mail>),
    /// Another run imported it meanwhile: its outcome is that run's.
    AlreadyImported,
    Refused(String),
}

fn written(result: ApiResult<Option<Mail>>) -> Written {
    match result {
        Ok(mail) => Written::Imported(mail),
        Err(ApiError::Conflict(m)) if m == ALREADY_IMPORTED => Written::AlreadyImported,
        Err(err) => Written::Refused(reason_of(&err)),
    }
}

/// Imports one checked row; its outcome, unless another run imported it meanwhile.
async fn import_row(
    run: &RowRun<'_>,
    row: &Row,
    checked: Checked,
    found: &HashMap<Key, Item>,
) -> ApiResult<Option<RowOutcome>> {
    let account: Option<EmailGuard> = match checked.email.is_empty() {
        true => None,
        false => found
            .get(&Key::email(&checked.email))
            .cloned()
            .map(from_item)
            .transpose()?,
    };
    let outcome_word = match run.spec.mode {
        ImportMode::Create => "created",
        ImportMode::Invite => "invited",
    };
    let mut tx = Transaction::new();
    tx.put(
        marker(run.job, row, outcome_word, None)?,
        Some((
            Condition::absent(),
            ApiError::Conflict(ALREADY_IMPORTED.into()),
        )),
    )?;
    let result = match run.spec.mode {
        ImportMode::Create => create_member(run, &checked, account, tx).await,
        ImportMode::Invite => invite(run, &checked, account, found, tx).await,
    };
    match written(result) {
        Written::Imported(mail) => {
            if let (Some(mail), true) = (mail, run.spec.send_email)
                && let Err(err) = run.app.mail().send(mail).await
            {
                tracing::error!(error = %err, "import welcome mail failed");
            }
            Ok(Some(RowOutcome {
                row: row.number,
                email: match &checked.phone_invite {
                    Some(phone) if checked.email.is_empty() => phone.clone(),
                    _ => checked.email,
                },
                outcome: outcome_word.into(),
                reason: None,
                ttl: run.job.ttl,
            }))
        }
        Written::AlreadyImported => Ok(None),
        Written::Refused(reason) => record_failure(run.app, run.job, row, reason)
            .await
            .map(Some),
    }
}

async fn create_member(
    run: &RowRun<'_>,
    checked: &Checked,
    account: Option<EmailGuard>,
    tx: Transaction,
) -> ApiResult<Option<Mail>> {
    let mut checks = Checks::new();
    let new = NewMember::validate(&mut checks, checked.member.clone());
    checks.finish()?;
    members::insert(
        run.app,
        &run.caller,
        run.tenant,
        &checked.department,
        account,
        new,
        MemberSource::Import,
        tx,
    )
    .await
    .map(|(_, mail)| Some(mail))
}

async fn invite(
    run: &RowRun<'_>,
    checked: &Checked,
    account: Option<EmailGuard>,
    found: &HashMap<Key, Item>,
    tx: Transaction,
) -> ApiResult<Option<Mail>> {
    if let Some(phone) = &checked.phone_invite {
        let mut checks = Checks::new();
        crate::validate::mobile(&mut checks, "phone", phone, &run.app.config.sms);
        checks.finish()?;
    }
    invitations::send(
        run.app,
        &run.access,
        run.tenant,
        &checked.department,
        Draft {
            email: checked.email.clone(),
            phone: checked.phone_invite.clone(),
            name: Some(checked.member.name.clone()),
            position: checked.member.position.clone(),
            role: checked.member.role.unwrap_or(Role::Member),
            permissions: checked
                .member
                .permissions
                .clone()
                .unwrap_or(Permissions::none()),
        },
        account,
        found.get(&checked.guard_key(run.tenant.id)).cloned(),
        tx,
        run.spec.send_email,
    )
    .await
    .map(|_| None)
}

fn marker_key(job: &Job, row: usize) -> Key {
    Key::job_row(job.tenant_id, job.id, row)
}

fn marker(job: &Job, row: &Row, outcome: &str, reason: Option<String>) -> ApiResult<Item> {
    to_item(
        &RowOutcome {
            row: row.number,
            email: row.fields.get("email").cloned().unwrap_or_default(),
            outcome: outcome.into(),
            reason,
            ttl: job.ttl,
        },
        &marker_key(job, row.number),
        &[],
    )
}

/// A refused row's marker (conditioned, so a rerun does not overwrite an earlier outcome).
async fn record_failure(app: &App, job: &Job, row: &Row, reason: String) -> ApiResult<RowOutcome> {
    let mut tx = Transaction::new();
    tx.put(
        marker(job, row, "failed", Some(reason.clone()))?,
        Some((
            Condition::absent(),
            ApiError::Conflict("row already recorded".into()),
        )),
    )?;
    match app.store.transact(tx).await {
        Ok(()) | Err(ApiError::Conflict(_)) => {}
        Err(err) => return Err(err),
    }
    Ok(RowOutcome {
        row: row.number,
        email: row.fields.get("email").cloned().unwrap_or_default(),
        outcome: "failed".into(),
        reason: Some(reason),
        ttl: job.ttl,
    })
}
