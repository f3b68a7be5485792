//! IAM: the role and its instance profile, and the policy documents they share.

pub(crate) mod instance_profile;
pub(crate) mod role;

use serde_json::Value;

/// An IAM policy document in a normal form, so that documents AWS and a
/// person write differently but mean the same compare equal: one-element
/// lists and single values, statement order, and list order within a statement.
pub fn normalize_policy(doc: &Value) -> Value {
    const LISTY: &[&str] = &["Statement", "Action", "NotAction", "Resource", "NotResource"];
    fn walk(v: &Value, key: Option<&str>, in_principal: bool) -> Value {
        match v {
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for k in keys {
                    let principal = k == "Principal" || k == "NotPrincipal";
                    out.insert(k.clone(), walk(&m[k], Some(k), principal));
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut out: Vec<Value> = items.iter().map(|i| walk(i, None, false)).collect();
                out.sort_by_key(|i| i.to_string());
                out.dedup();
                if out.len() == 1 && !matches!(key, Some(k) if LISTY.contains(&k)) && !in_principal {
                    return out.remove(0);
                }
                Value::Array(out)
            }
            Value::String(s) if matches!(key, Some(k) if LISTY.contains(&k)) || in_principal => {
                Value::Array(vec![Value::String(s.clone())])
            }
            other => other.clone(),
        }
    }
    let mut v = walk(doc, None, false);
    if let Some(stmt) = v.get_mut("Statement") {
        if stmt.is_object() {
            *stmt = Value::Array(vec![stmt.clone()]);
        }
    }
    v
}

/// Parses a policy document as IAM returns it (URL-encoded JSON).
pub fn parse_policy(text: &str) -> Value {
    let decoded = urlencoding::decode(text).map(|c| c.into_owned()).unwrap_or_else(|_| text.to_string());
    serde_json::from_str(&decoded).map(|v| normalize_policy(&v)).unwrap_or(Value::String(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[test]
    fn policy_forms_aws_returns_compare_equal_to_the_spec() {
        let written = json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::b/*"]}});
        let returned = json!({"Statement":[{"Resource":"arn:aws:s3:::b/*","Action":["s3:GetObject"],"Effect":"Allow"}],"Version":"2012-10-17"});
        assert_eq!(normalize_policy(&written), normalize_policy(&returned));
        let other = json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]});
        assert_ne!(normalize_policy(&written), normalize_policy(&other));
    }

    #[test]
    fn url_encoded_policies_parse() {
        let v = parse_policy("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D");
        assert_eq!(v["Version"], "2012-10-17");
    }
}
