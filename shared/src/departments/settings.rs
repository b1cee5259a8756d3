//! The rules of a department's settings (overrides of the tenant's), as a client changes them.

use crate::error::{ApiError, ApiResult, Checks};
use crate::model::department::DepartmentSettings;
use crate::model::tenant::{Branding, ContactVisibility};
use crate::validate;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentSettingsPatch {
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub branding: Option<Option<Branding>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub ip_allowlist: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub contact_visibility: Option<Option<ContactVisibility>>,
}

impl DepartmentSettingsPatch {
    /// Validates the patch and applies it to `settings`: a value overrides, `null` inherits the
    /// tenant's again.
    pub(super) fn apply(self, checks: &mut Checks, settings: &mut DepartmentSettings) {
        if let Some(branding) = self.branding {
            settings.branding = branding.map(|b| b.validate(checks, "settings.branding"));
        }
        if let Some(list) = self.ip_allowlist {
            settings.ip_allowlist =
                list.map(|l| validate::cidrs(checks, "settings.ip_allowlist", &l));
        }
        if let Some(visibility) = self.contact_visibility {
            settings.contact_visibility = visibility;
        }
    }
}

/// A department's IP allowlist is a security setting: it takes `settings.write`, like the
/// tenant's, not only `departments.write`.
pub(super) fn settings_write_needed(allowed: bool) -> ApiResult<()> {
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "a department's IP allowlist needs the settings.write permission",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(json: serde_json::Value, settings: &mut DepartmentSettings) -> Vec<String> {
        let patch: DepartmentSettingsPatch =
            serde_json::from_value(json).expect("a settings patch");
        let mut checks = Checks::new();
        patch.apply(&mut checks, settings);
        match checks.finish() {
            Ok(()) => Vec::new(),
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("not a validation error: {other}"),
        }
    }

    #[test]
    fn a_value_overrides_null_inherits_and_absence_keeps() {
        let mut settings = DepartmentSettings::default();
        let refused = applied(
            serde_json::json!({
                "ip_allowlist": ["192.0.2.7/24"],
                "contact_visibility": "department",
                "branding": {"primary_color": "#A0B0C0"},
            }),
            &mut settings,
        );
        assert!(refused.is_empty());
        assert_eq!(
            settings.ip_allowlist,
            Some(vec!["192.0.2.0/24".to_string()])
        );
        assert_eq!(
            settings.contact_visibility,
            Some(ContactVisibility::Department)
        );
        assert_eq!(
            settings
                .branding
                .as_ref()
                .and_then(|b| b.primary_color.as_deref()),
            Some("#a0b0c0")
        );

        let refused = applied(
            serde_json::json!({"ip_allowlist": null, "contact_visibility": null}),
            &mut settings,
        );
        assert!(refused.is_empty());
        assert_eq!(settings.ip_allowlist, None);
        assert_eq!(settings.contact_visibility, None);
        // Branding was not named: it stays.
        assert!(settings.branding.is_some());
    }

    #[test]
    fn bad_entries_are_refused_by_field() {
        let mut settings = DepartmentSettings::default();
        let refused = applied(
            serde_json::json!({
                "ip_allowlist": ["10.0.0.0/8", "not a net"],
                "branding": {"secondary_color": "blue"},
            }),
            &mut settings,
        );
        assert_eq!(
            refused,
            [
                "settings.branding.secondary_color",
                "settings.ip_allowlist[1]"
            ]
        );
    }

    #[test]
    fn the_allowlist_needs_settings_write() {
        assert!(settings_write_needed(true).is_ok());
        let refused = settings_write_needed(false).unwrap_err();
        assert_eq!(refused.code(), "forbidden");
    }
}
