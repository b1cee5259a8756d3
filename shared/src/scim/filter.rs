//! SCIM filters and attribute paths (RFC 7644 §3.4.2.2 and §3.5.2): parsed once, evaluated against
//! a resource's JSON. Precedence is `not` over `and` over `or`; attribute names are
//! case-insensitive; string comparisons are case-insensitive except on case-exact attributes
//! (`id`, `externalId`, `value` of a group's members). Identity providers also send a sub-attribute
//! after a value filter (`emails[type eq "work"].value eq "…"`), which RFC 7644's ABNF does not
//! allow but its examples do: it is accepted.

use serde_json::Value;
use std::cmp::Ordering;

/// `[urn:…:]attr[.sub]`, optionally with a value filter on a multi-valued attribute:
/// `emails[type eq "work"].value`, `members[value eq "…"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URI the attribute was qualified with, if any (lowercase).
    pub schema: Option<String>,
    /// The attribute's name, lowercase.
    pub attr: String,
    pub filter: Option<Box<Filter>>,
    /// The sub-attribute, lowercase.
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare(AttrPath, CompareOp, Value),
    Present(AttrPath),
    /// `attr[filter]` on its own: some value of `attr` matches `filter`.
    Has(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// Why a filter or path could not be read (SCIM's `invalidFilter` / `invalidPath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub String);

/// Filters nest at most this deep, so a hostile one cannot exhaust the stack.
const MAX_DEPTH: usize = 32;
/// Longer filters are refused before parsing.
pub const MAX_FILTER_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Word(String),
}

fn tokens(text: &str) -> Result<Vec<Token>, SyntaxError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(SyntaxError("the filter is too long".into()));
    }
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: find its closing quote, honouring escapes, and let serde decode it.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or_else(|| SyntaxError("a string is not closed".into()))?;
                let value: String = serde_json::from_str(&text[start..=end])
                    .map_err(|_| SyntaxError("a string is malformed".into()))?;
                out.push(Token::Str(value));
            }
            _ => {
                let mut end = text.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                out.push(Token::Word(text[start..end].to_string()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError("the filter nests too deeply".into()));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, SyntaxError> {
        self.enter()?;
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.next();
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, SyntaxError> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.next();
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, SyntaxError> {
        if self.peek_word("not") {
            self.next();
            if self.peek() != Some(&Token::Open) {
                return Err(SyntaxError("'not' must be followed by '('".into()));
            }
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.next();
            let inner = self.or()?;
            if self.next() != Some(Token::Close) {
                return Err(SyntaxError("a '(' is not closed".into()));
            }
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Filter, SyntaxError> {
        let path = self.path()?;
        let Some(Token::Word(op)) = self.peek().cloned() else {
            return match path.filter {
                Some(_) if path.sub.is_none() => Ok(Filter::Has(path)),
                _ => Err(SyntaxError("an operator is missing".into())),
            };
        };
        let op = op.to_ascii_lowercase();
        if op == "pr" {
            self.next();
            return Ok(Filter::Present(path));
        }
        let op = match op.as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            "and" | "or" if path.filter.is_some() && path.sub.is_none() => {
                return Ok(Filter::Has(path));
            }
            other => return Err(SyntaxError(format!("unknown operator '{other}'"))),
        };
        self.next();
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| SyntaxError(format!("'{w}' is not a value")))?,
            },
            _ => return Err(SyntaxError("a value is missing".into())),
        };
        Ok(Filter::Compare(path, op, value))
    }

    fn path(&mut self) -> Result<AttrPath, SyntaxError> {
        let Some(Token::Word(word)) = self.next() else {
            return Err(SyntaxError("an attribute name is missing".into()));
        };
        let (schema, attr, sub) = split_path(&word)?;
        let mut path = AttrPath {
            schema,
            attr,
            filter: None,
            sub,
        };
        if self.peek() == Some(&Token::OpenBracket) {
            if path.sub.is_some() {
                return Err(SyntaxError("a value filter follows the attribute".into()));
            }
            self.next();
            self.enter()?;
            let inner = self.or()?;
            self.depth -= 1;
            if self.next() != Some(Token::CloseBracket) {
                return Err(SyntaxError("a '[' is not closed".into()));
            }
            path.filter = Some(Box::new(inner));
            // `emails[type eq "work"].value`: the sub-attribute is glued to the ']' .
            if let Some(Token::Word(w)) = self.peek().cloned()
                && let Some(sub) = w.strip_prefix('.')
            {
                self.next();
                check_name(sub)?;
                path.sub = Some(sub.to_ascii_lowercase());
            }
        }
        Ok(path)
    }
}

fn check_name(name: &str) -> Result<(), SyntaxError> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'));
    if ok {
        Ok(())
    } else {
        Err(SyntaxError(format!("'{name}' is not an attribute name")))
    }
}

/// `urn:…:User:name.givenName` → (schema, `name`, `givenname`).
fn split_path(word: &str) -> Result<(Option<String>, String, Option<String>), SyntaxError> {
    let (schema, rest) = match word.rfind(':') {
        Some(i) => (Some(word[..i].to_ascii_lowercase()), &word[i + 1..]),
        None => (None, word),
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (rest, None),
    };
    check_name(attr)?;
    if let Some(sub) = sub {
        check_name(sub)?;
    }
    Ok((
        schema,
        attr.to_ascii_lowercase(),
        sub.map(str::to_ascii_lowercase),
    ))
}

/// Parses a `filter` query parameter.
pub fn parse(text: &str) -> Result<Filter, SyntaxError> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
        depth: 0,
    };
    if parser.tokens.is_empty() {
        return Err(SyntaxError("the filter is empty".into()));
    }
    let filter = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(SyntaxError("the filter has extra text at its end".into()));
    }
    Ok(filter)
}

/// Parses a PATCH operation's `path`.
pub fn parse_path(text: &str) -> Result<AttrPath, SyntaxError> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
        depth: 0,
    };
    let path = parser.path()?;
    if parser.at != parser.tokens.len() {
        return Err(SyntaxError("the path has extra text at its end".into()));
    }
    Ok(path)
}

/// A JSON object's member by case-insensitive name.
pub fn member<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The object an attribute path starts from: the resource itself, or its extension's object when
/// the path names an extension schema.
pub fn scope<'v>(resource: &'v Value, schema: Option<&str>) -> Option<&'v Value> {
    match schema {
        Some(uri) if uri.contains(":extension:") => member(resource, uri),
        _ => Some(resource),
    }
}

fn case_exact(attr: &str, sub: Option<&str>) -> bool {
    matches!(
        (attr, sub),
        ("id", None) | ("externalid", None) | ("members", Some("value")) | ("value", None)
    )
}

impl Filter {
    /// Whether `resource` (a SCIM resource's JSON) matches.
    pub fn matches(&self, resource: &Value) -> bool {
        self.matches_in(resource, None)
    }

    /// `within` names the multi-valued attribute a value filter runs inside (for case rules).
    fn matches_in(&self, resource: &Value, within: Option<&str>) -> bool {
        match self {
            Filter::And(a, b) => a.matches_in(resource, within) && b.matches_in(resource, within),
            Filter::Or(a, b) => a.matches_in(resource, within) || b.matches_in(resource, within),
            Filter::Not(f) => !f.matches_in(resource, within),
            Filter::Present(path) => values(resource, path).iter().any(|v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(items) => !items.is_empty(),
                _ => true,
            }),
            Filter::Has(path) => !values(resource, path).is_empty(),
            Filter::Compare(path, op, expected) => {
                let exact = match within {
                    Some(outer) => case_exact(outer, Some(&path.attr)),
                    None => case_exact(&path.attr, path.sub.as_deref()),
                };
                let found = values(resource, path);
                if *op == CompareOp::Ne {
                    return !found
                        .iter()
                        .any(|v| compare(v, CompareOp::Eq, expected, exact));
                }
                found.iter().any(|v| compare(v, *op, expected, exact))
            }
        }
    }
}

/// Every value an attribute path reaches in `resource` (multi-valued attributes flattened).
pub fn values<'v>(resource: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let Some(start) = scope(resource, path.schema.as_deref()) else {
        return Vec::new();
    };
    let Some(value) = member(start, &path.attr) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let items = items.into_iter().filter(|item| match &path.filter {
        Some(f) => f.matches_in(item, Some(&path.attr)),
        None => true,
    });
    match &path.sub {
        Some(sub) => items.filter_map(|item| member(item, sub)).collect(),
        None => items.collect(),
    }
}

fn compare(found: &Value, op: CompareOp, expected: &Value, exact: bool) -> bool {
    match (found, expected) {
        (Value::String(f), Value::String(e)) => {
            let (f, e) = if exact {
                (f.clone(), e.clone())
            } else {
                (f.to_lowercase(), e.to_lowercase())
            };
            match op {
                CompareOp::Eq => f == e,
                CompareOp::Ne => f != e,
                CompareOp::Co => f.contains(&e),
                CompareOp::Sw => f.starts_with(&e),
                CompareOp::Ew => f.ends_with(&e),
                CompareOp::Gt => f > e,
                CompareOp::Ge => f >= e,
                CompareOp::Lt => f < e,
                CompareOp::Le => f <= e,
            }
        }
        (Value::Number(f), Value::Number(e)) => {
            let (Some(f), Some(e)) = (f.as_f64(), e.as_f64()) else {
                return false;
            };
            let order = f.partial_cmp(&e);
            match op {
                CompareOp::Eq => order == Some(Ordering::Equal),
                CompareOp::Ne => order != Some(Ordering::Equal),
                CompareOp::Gt => order == Some(Ordering::Greater),
                CompareOp::Ge => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
                CompareOp::Lt => order == Some(Ordering::Less),
                CompareOp::Le => matches!(order, Some(Ordering::Less | Ordering::Equal)),
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
            }
        }
        // Booleans arrive as JSON booleans or, from Entra, as strings ("True").
        (Value::Bool(f), e) => match (op, as_bool(e)) {
            (CompareOp::Eq, Some(e)) => *f == e,
            (CompareOp::Ne, Some(e)) => *f != e,
            _ => false,
        },
        (_, Value::Null) => op == CompareOp::Eq && found.is_null(),
        _ => false,
    }
}

/// A SCIM boolean as JSON `true`/`false` or the strings Entra ID sends (`"True"`, `"false"`).
pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

impl Filter {
    /// The value an `attr eq "…"` filter pins (the whole filter, or one side of an `and`), so a
    /// list can read it through an index instead of every resource: `userName eq`, a work email.
    pub fn pinned(&self, attr: &str, sub: Option<&str>) -> Option<&str> {
        match self {
            Filter::Compare(path, CompareOp::Eq, Value::String(v))
                if path.attr == attr && path.sub.as_deref() == sub =>
            {
                Some(v)
            }
            Filter::And(a, b) => a.pinned(attr, sub).or_else(|| b.pinned(attr, sub)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "Abc",
            "userName": "Ada@Example.com",
            "externalId": "E-1",
            "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true},
                       {"value": "ada@home.example", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "42"},
            "meta": {"lastModified": "2026-01-02T00:00:00Z"}
        })
    }

    fn hits(filter: &str) -> bool {
        parse(filter)
            .unwrap_or_else(|e| panic!("{filter}: {e:?}"))
            .matches(&user())
    }

    #[test]
    fn the_filters_identity_providers_send() {
        assert!(hits(r#"userName eq "ada@example.com""#));
        assert!(hits(r#"USERNAME EQ "ADA@example.COM""#));
        assert!(hits(r#"externalId eq "E-1""#));
        assert!(!hits(r#"externalId eq "e-1""#), "externalId is case-exact");
        assert!(hits(r#"emails[type eq "work"].value eq "ada@example.com""#));
        assert!(!hits(
            r#"emails[type eq "home"].value eq "ada@example.com""#
        ));
        assert!(hits(r#"emails[type eq "work" and primary eq true]"#));
        assert!(hits(r#"userName eq "x" or externalId eq "E-1""#));
        assert!(!hits(r#"userName eq "x" and externalId eq "E-1""#));
        assert!(hits(r#"not (userName eq "x") and active eq true"#));
        assert!(hits(r#"active eq "True""#), "Entra's string booleans");
        assert!(hits(r#"name.familyName sw "love""#));
        assert!(hits(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName co "example""#
        ));
        assert!(hits(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42""#
        ));
        assert!(hits(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#));
        assert!(!hits("title pr"));
        assert!(hits("emails pr"));
        assert!(hits(r#"userName ne "x""#));
    }

    #[test]
    fn precedence_is_not_and_or() {
        // a or b and c == a or (b and c)
        assert!(hits(
            r#"userName eq "ada@example.com" or userName eq "x" and active eq false"#
        ));
        assert!(!hits(
            r#"(userName eq "ada@example.com" or userName eq "x") and active eq false"#
        ));
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in [
            "",
            "userName",
            r#"userName xx "a""#,
            r#"userName eq"#,
            r#"userName eq "a" and"#,
            r#"(userName eq "a""#,
            r#"userName eq "a"#,
            r#"emails[type eq "work""#,
            r#"not userName eq "a""#,
            r#"1abc eq "a""#,
            r#"userName eq "a" )"#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn paths_of_patch_operations() {
        let p = parse_path(r#"members[value eq "2819c223"]"#).unwrap();
        assert_eq!(p.attr, "members");
        assert!(p.filter.is_some());
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(
            (p.attr.as_str(), p.sub.as_deref()),
            ("emails", Some("value"))
        );
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
            .unwrap();
        assert_eq!(p.attr, "department");
        assert!(p.schema.unwrap().contains("enterprise"));
        assert!(parse_path("name.givenName").is_ok());
        assert!(parse_path("a b").is_err());
    }

    #[test]
    fn pinned_values_pick_an_index() {
        let f = parse(r#"userName eq "A@x.io" and active eq true"#).unwrap();
        assert_eq!(f.pinned("username", None), Some("A@x.io"));
        assert_eq!(
            parse(r#"userName eq "a" or userName eq "b""#)
                .unwrap()
                .pinned("username", None),
            None
        );
    }
}
