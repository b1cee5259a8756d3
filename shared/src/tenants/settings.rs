//! The rules of a tenant's settings, as a client changes them (at creation and later).

use crate::error::Checks;
use crate::model::tenant::{
    Branding, ContactVisibility, JoinRules, NewMemberPassword, TenantSettings,
};
use crate::validate;
use serde::Deserialize;

impl Branding {
    pub fn validate(mut self, checks: &mut Checks, field: &str) -> Self {
        self.primary_color = self
            .primary_color
            .map(|c| validate::color(checks, &format!("{field}.primary_color"), &c));
        self.secondary_color = self
            .secondary_color
            .map(|c| validate::color(checks, &format!("{field}.secondary_color"), &c));
        self.logo_url = self
            .logo_url
            .map(|u| validate::https_url(checks, &format!("{field}.logo_url"), &u));
        self
    }
}

/// Settings a client changes: every key optional; `null` clears the nullable ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettingsPatch {
    #[serde(default)]
    pub contact_visibility: Option<ContactVisibility>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub password_expiry_days: Option<Option<i64>>,
    #[serde(default)]
    pub ip_allowlist: Option<Vec<String>>,
    #[serde(default)]
    pub recycle_bin_retention_days: Option<i64>,
    #[serde(default)]
    pub invitation_expiry_days: Option<i64>,
    #[serde(default)]
    pub default_language: Option<String>,
    #[serde(default)]
    pub new_member_password: Option<NewMemberPassword>,
    #[serde(default)]
    pub join_rules: Option<JoinRules>,
    #[serde(default)]
    pub branding: Option<Branding>,
}

impl TenantSettingsPatch {
    /// Validates the patch and applies it to `settings`.
    pub fn apply(self, checks: &mut Checks, settings: &mut TenantSettings) {
        if let Some(visibility) = self.contact_visibility {
            settings.contact_visibility = visibility;
        }
        if let Some(days) = self.password_expiry_days {
            if let Some(d) = days {
                validate::range(checks, "settings.password_expiry_days", d, 1, 3650);
            }
            settings.password_expiry_days = days.map(|d| d.clamp(1, 3650) as u32);
        }
        if let Some(list) = self.ip_allowlist {
            settings.ip_allowlist = validate::cidrs(checks, "settings.ip_allowlist", &list);
        }
        if let Some(days) = self.recycle_bin_retention_days {
            validate::range(checks, "settings.recycle_bin_retention_days", days, 1, 180);
            settings.recycle_bin_retention_days = days.clamp(1, 180) as u32;
        }
        if let Some(days) = self.invitation_expiry_days {
            validate::range(checks, "settings.invitation_expiry_days", days, 1, 30);
            settings.invitation_expiry_days = days.clamp(1, 30) as u32;
        }
        if let Some(language) = self.default_language {
            settings.default_language =
                validate::language(checks, "settings.default_language", &language);
        }
        if let Some(mode) = self.new_member_password {
            settings.new_member_password = mode;
        }
        if let Some(mut rules) = self.join_rules {
            rules.required_fields.sort();
            rules.required_fields.dedup();
            settings.join_rules = rules;
        }
        if let Some(branding) = self.branding {
            settings.branding = branding.validate(checks, "settings.branding");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use crate::model::tenant::JoinField;

    fn patch(json: serde_json::Value) -> TenantSettingsPatch {
        serde_json::from_value(json).expect("a settings patch")
    }

    /// The fields a patch was refused for; empty when it passed.
    fn applied(json: serde_json::Value, settings: &mut TenantSettings) -> Vec<String> {
        let mut checks = Checks::new();
        patch(json).apply(&mut checks, settings);
        match checks.finish() {
            Ok(()) => Vec::new(),
            Err(ApiError::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("not a validation error: {other}"),
        }
    }

    #[test]
    fn absent_keys_leave_the_settings_as_they_are() {
        let mut settings = TenantSettings {
            password_expiry_days: Some(90),
            ..TenantSettings::default()
        };
        assert!(applied(serde_json::json!({}), &mut settings).is_empty());
        assert_eq!(
            settings,
            TenantSettings {
                password_expiry_days: Some(90),
                ..TenantSettings::default()
            }
        );
    }

    #[test]
    fn null_clears_the_password_expiry_and_a_number_sets_it() {
        let mut settings = TenantSettings::default();
        assert!(
            applied(
                serde_json::json!({"password_expiry_days": 90}),
                &mut settings
            )
            .is_empty()
        );
        assert_eq!(settings.password_expiry_days, Some(90));
        assert!(
            applied(
                serde_json::json!({"password_expiry_days": null}),
                &mut settings
            )
            .is_empty()
        );
        assert_eq!(settings.password_expiry_days, None);
    }

    #[test]
    fn day_counts_out_of_bounds_are_refused_by_field() {
        let mut settings = TenantSettings::default();
        let refused = applied(
            serde_json::json!({
                "password_expiry_days": 0,
                "recycle_bin_retention_days": 181,
                "invitation_expiry_days": 31,
            }),
            &mut settings,
        );
        assert_eq!(
            refused,
            [
                "settings.password_expiry_days",
                "settings.recycle_bin_retention_days",
                "settings.invitation_expiry_days",
            ]
        );
        // The edges pass.
        let mut settings = TenantSettings::default();
        let refused = applied(
            serde_json::json!({
                "password_expiry_days": 3650,
                "recycle_bin_retention_days": 1,
                "invitation_expiry_days": 30,
            }),
            &mut settings,
        );
        assert!(refused.is_empty());
        assert_eq!(settings.recycle_bin_retention_days, 1);
        assert_eq!(settings.invitation_expiry_days, 30);
    }

    #[test]
    fn allowlist_language_and_branding_are_checked_and_cleaned() {
        let mut settings = TenantSettings::default();
        let refused = applied(
            serde_json::json!({
                "ip_allowlist": ["10.1.2.3/8", "10.0.0.0/8", "nonsense"],
                "default_language": "english!",
                "branding": {"primary_color": "#ABCDEF", "logo_url": "http://x.example"},
            }),
            &mut settings,
        );
        assert_eq!(
            refused,
            [
                "settings.ip_allowlist[2]",
                "settings.default_language",
                "settings.branding.logo_url",
            ]
        );
        assert_eq!(settings.ip_allowlist, ["10.0.0.0/8"]);
        assert_eq!(settings.branding.primary_color.as_deref(), Some("#abcdef"));
    }

    #[test]
    fn join_rules_keep_each_required_field_once_in_order() {
        let mut settings = TenantSettings::default();
        let refused = applied(
            serde_json::json!({"join_rules": {
                "members_may_invite": true,
                "required_fields": ["phone", "position", "phone"],
            }}),
            &mut settings,
        );
        assert!(refused.is_empty());
        assert!(settings.join_rules.members_may_invite);
        assert_eq!(
            settings.join_rules.required_fields,
            [JoinField::Position, JoinField::Phone]
        );
    }
}
