//! Condition, update and filter expressions with their placeholders: distinct types, so one cannot
//! be passed where another belongs.

use super::item::num;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// A condition split into the three optional fields the SDK builders take.
type ConditionParts = (
    Option<String>,
    Option<HashMap<String, String>>,
    Option<HashMap<String, AttributeValue>>,
);

/// The builder both expression types share: the expression and its placeholders.
macro_rules! with_placeholders {
    ($kind:ident) => {
        impl $kind {
            pub fn new(expression: impl Into<String>) -> Self {
                Self {
                    expression: expression.into(),
                    ..Self::default()
                }
            }

            pub fn name(mut self, placeholder: &str, attr: &str) -> Self {
                self.names.insert(placeholder.into(), attr.into());
                self
            }

            pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
                self.values.insert(placeholder.into(), value);
                self
            }
        }
    };
}

with_placeholders!(Condition);
with_placeholders!(Update);

/// A condition with its placeholders.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Condition {
    /// The item exists.
    pub fn exists() -> Self {
        Self::new("attribute_exists(pk)")
    }

    /// No item has this key yet.
    pub fn absent() -> Self {
        Self::new("attribute_not_exists(pk)")
    }

    /// The item exists and its `version` is still the one read.
    pub fn version_is(version: u64) -> Self {
        Self::new("attribute_exists(pk) AND #version = :version")
            .name("#version", "version")
            .value(":version", num(version))
    }

    /// Both conditions.
    pub fn and(mut self, other: Condition) -> Self {
        self.expression = match (self.expression.is_empty(), other.expression.is_empty()) {
            (_, true) => self.expression,
            (true, false) => other.expression,
            (false, false) => format!("({}) AND ({})", self.expression, other.expression),
        };
        self.names.extend(other.names);
        self.values.extend(other.values);
        self
    }

    /// Each counter holds at least what a decrement takes from it, so none goes below zero
    /// (`(attribute, delta)`; positive deltas add nothing to the condition).
    pub fn counters_cover(deltas: &[(&str, i64)]) -> Self {
        let mut condition = Self::default();
        let mut parts = Vec::new();
        for (attribute, delta) in deltas.iter().filter(|(_, d)| *d < 0) {
            let placeholder = format!(":{attribute}_taken");
            parts.push(format!("{attribute} >= {placeholder}"));
            condition.values.insert(placeholder, num(-delta));
        }
        condition.expression = parts.join(" AND ");
        condition
    }

    pub(super) fn parts(self) -> ConditionParts {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        let expression = (!self.expression.is_empty()).then_some(self.expression);
        (expression, names, values)
    }
}

/// An UpdateExpression (`SET …`, `ADD …`, `REMOVE …`) and its placeholders: a type of its own,
/// so an update cannot be passed where a condition belongs, nor the other way round.
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Update {
    /// Adds `attribute = :attribute` to the SET clause for each pair, e.g. an entity's index
    /// attributes (see [`crate::model::keys`]), so no update spells them by hand.
    pub fn set_all(mut self, attributes: &[(&str, String)]) -> Self {
        let clauses: Vec<String> = attributes
            .iter()
            .map(|(attribute, _)| format!("{attribute} = :{attribute}"))
            .collect();
        if clauses.is_empty() {
            return self;
        }
        // The SET clause ends where the next clause (ADD, REMOVE, DELETE) begins.
        let (set, rest) = match self.expression.strip_prefix("SET ") {
            Some(body) => {
                let end = [" ADD ", " REMOVE ", " DELETE "]
                    .iter()
                    .filter_map(|k| body.find(k))
                    .min()
                    .unwrap_or(body.len());
                (Some(body[..end].to_string()), body[end..].to_string())
            }
            None => (None, format!(" {}", self.expression)),
        };
        let set = match set {
            Some(existing) => format!("{existing}, {}", clauses.join(", ")),
            None => clauses.join(", "),
        };
        self.expression = format!("SET {set}{}", rest.trim_end());
        for (attribute, value) in attributes {
            self.values
                .insert(format!(":{attribute}"), AttributeValue::S(value.clone()));
        }
        self
    }
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}
