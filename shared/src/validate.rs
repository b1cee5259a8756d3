//! Field rules shared by every input: limits on every string and list, email normalisation,
//! CIDRs, colours, URLs. Each returns the cleaned value or records a field error in `Checks`.

use crate::config::SmsPolicy;
use crate::error::Checks;
use ipnet::IpNet;

pub const MAX_NAME: usize = 200;
pub const MAX_DEPARTMENT_NAME: usize = 100;
pub const MAX_EMAIL: usize = 254;
pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 256;
pub const MAX_CIDRS: usize = 100;
pub const MAX_URL: usize = 2048;
pub const MAX_SHORT_TEXT: usize = 100;

/// For PATCH bodies: absent (`None`), `null` (`Some(None)`) and a value (`Some(Some(v))`) differ.
pub fn nullable<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(de).map(Some)
}

/// Trimmed text of 1..=max characters without control characters. The limit holds for the
/// text as sent too, as the OpenAPI `maxLength` says: padding does not buy a longer value.
pub fn text(checks: &mut Checks, field: &str, value: &str, max: usize) -> String {
    let sent_len = value.chars().count();
    let value = value.trim();
    let len = value.chars().count();
    if len > max || sent_len > max {
        checks.fail(field, format!("must be at most {max} characters"));
    } else if len == 0 {
        checks.fail(field, "must not be empty");
    } else if value.chars().any(char::is_control) {
        checks.fail(field, "must not contain control characters");
    }
    value.to_string()
}

/// Optional text: `None` stays `None`, an empty string clears the field.
pub fn optional_text(
    checks: &mut Checks,
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Option<String> {
    let sent = value?;
    if sent.trim().is_empty() && sent.chars().count() <= max {
        return None;
    }
    Some(text(checks, field, sent, max))
}

/// Emails are trimmed and compared case-insensitively, so they are stored lowercase.
/// A phone number in E.164 form: `+`, a country code not starting with 0, 7 to 15 digits in all
/// (spaces, dashes and dots people type are dropped first).
pub fn e164(checks: &mut Checks, field: &str, value: &str) -> String {
    let number: String = value
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = number.strip_prefix('+').unwrap_or("");
    let valid = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !valid {
        checks.fail(
            field,
            "must be a phone number in E.164 form, such as +447700900123",
        );
    }
    number
}

/// A number texts may go to, in E.164: a valid mobile number of its country (libphonenumber's
/// metadata; in countries such as the US, where mobile and fixed numbers share ranges, either),
/// in a country the deployment texts (`sms`).
pub fn mobile(checks: &mut Checks, field: &str, value: &str, sms: &SmsPolicy) -> String {
    let number = e164(checks, field, value);
    if checks.has_failed(field) {
        return number;
    }
    let parsed = phonenumber::parse(None, &number).ok();
    let kind = parsed
        .as_ref()
        .filter(|n| n.is_valid())
        .map(|n| n.number_type(&phonenumber::metadata::DATABASE));
    if !matches!(
        kind,
        Some(phonenumber::Type::Mobile | phonenumber::Type::FixedLineOrMobile)
    ) {
        checks.fail(
            field,
            "must be a mobile number that can receive text messages",
        );
        return number;
    }
    let country = parsed.and_then(|n| n.country().id());
    let country = country.as_ref().map_or("", |c| c.as_ref());
    if !sms.allows_country(country) {
        checks.fail(
            field,
            format!("texts to this country ({country}) are not enabled in this deployment"),
        );
    }
    number
}

pub fn email(checks: &mut Checks, field: &str, value: &str) -> String {
    let email = value.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL
        && value.chars().count() <= MAX_EMAIL
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
                    && domain
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
    if !valid {
        checks.fail(field, "must be a valid email address");
    }
    email
}

pub fn password(checks: &mut Checks, field: &str, value: &str) {
    let len = value.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&len) {
        checks.fail(
            field,
            format!("must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        );
    }
}

pub fn department_name(checks: &mut Checks, field: &str, value: &str) -> String {
    let name = text(checks, field, value, MAX_DEPARTMENT_NAME);
    if name.contains('/') {
        // Import files name departments by path ("Sales/EMEA").
        checks.fail(field, "must not contain '/'");
    }
    name
}

pub fn range(checks: &mut Checks, field: &str, value: i64, min: i64, max: i64) {
    if !(min..=max).contains(&value) {
        checks.fail(field, format!("must be from {min} to {max}"));
    }
}

pub fn cidrs(checks: &mut Checks, field: &str, values: &[String]) -> Vec<String> {
    if values.len() > MAX_CIDRS {
        checks.fail(field, format!("must hold at most {MAX_CIDRS} entries"));
        return Vec::new();
    }
    let mut cleaned = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match value.trim().parse::<IpNet>() {
            Ok(net) => cleaned.push(net.trunc().to_string()),
            Err(_) => checks.fail(
                format!("{field}[{i}]"),
                "must be a CIDR such as 203.0.113.0/24",
            ),
        }
    }
    cleaned.sort();
    cleaned.dedup();
    cleaned
}

pub fn color(checks: &mut Checks, field: &str, value: &str) -> String {
    let valid = value.len() == 7
        && value.starts_with('#')
        && value[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !valid {
        checks.fail(field, "must be a colour such as #1a2b3c");
    }
    value.to_lowercase()
}

pub fn https_url(checks: &mut Checks, field: &str, value: &str) -> String {
    let value = value.trim();
    let valid = value.len() <= MAX_URL
        && value.starts_with("https://")
        && value.len() > "https://".len()
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        checks.fail(
            field,
            format!("must be an https URL of at most {MAX_URL} characters"),
        );
    }
    value.to_string()
}

/// A BCP 47 language tag such as `en` or `pt-BR`.
pub fn language(checks: &mut Checks, field: &str, value: &str) -> String {
    let value = value.trim();
    let valid = (2..=35).contains(&value.len())
        && value.split('-').all(|part| {
            !part.is_empty() && part.len() <= 8 && part.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if !valid {
        checks.fail(field, "must be a language tag such as en or pt-BR");
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        let mut checks = Checks::new();
        assert_eq!(
            email(&mut checks, "email", "  Ada@Example.COM "),
            "ada@example.com"
        );
        assert!(checks.finish().is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@ex..com",
        ] {
            let mut checks = Checks::new();
            email(&mut checks, "email", bad);
            assert!(checks.finish().is_err(), "{bad} passed");
        }
    }

    #[test]
    fn padding_does_not_stretch_the_limit_on_text() {
        let padded = format!("{}{}", " ".repeat(5), "x".repeat(200));
        let mut checks = Checks::new();
        assert_eq!(text(&mut checks, "label", " Okta ", 200), "Okta");
        assert!(checks.finish().is_ok());
        for (value, max) in [(padded.as_str(), 200), ("      ", 3)] {
            let mut checks = Checks::new();
            optional_text(&mut checks, "label", Some(value), max);
            assert!(checks.finish().is_err(), "{value:?} passed");
        }
        let mut checks = Checks::new();
        assert_eq!(optional_text(&mut checks, "label", Some("  "), 200), None);
        assert!(checks.finish().is_ok());
    }

    #[test]
    fn department_names_refuse_slashes_and_blank() {
        for bad in ["", "   ", "Sales/EMEA", &"x".repeat(101)] {
            let mut checks = Checks::new();
            department_name(&mut checks, "name", bad);
            assert!(checks.finish().is_err(), "{bad} passed");
        }
    }

    #[test]
    fn cidrs_are_normalised() {
        let mut checks = Checks::new();
        let nets = cidrs(
            &mut checks,
            "ip",
            &["10.1.2.3/8".into(), "2001:db8::/32".into()],
        );
        assert!(checks.finish().is_ok());
        assert_eq!(nets, vec!["10.0.0.0/8", "2001:db8::/32"]);
        let mut checks = Checks::new();
        cidrs(&mut checks, "ip", &["10.0.0.300/8".into()]);
        assert!(checks.finish().is_err());
    }

    #[test]
    fn colours_urls_languages() {
        let mut checks = Checks::new();
        color(&mut checks, "c", "#A0b1C2");
        https_url(&mut checks, "u", "https://cdn.example.com/logo.png");
        language(&mut checks, "l", "pt-BR");
        assert!(checks.finish().is_ok());
        let mut checks = Checks::new();
        color(&mut checks, "c", "red");
        https_url(&mut checks, "u", "http://example.com");
        language(&mut checks, "l", "english language");
        assert!(checks.finish().is_err());
    }
}
