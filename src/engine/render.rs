//! Plans for people (Terraform-style symbols) and for programs (docs/design.md §3 JSON).

use serde_json::{json, Value};

use super::plan::{Action, Change, Plan};
use crate::model::is_unknown;

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::Forget => "=",
        Action::NoOp => " ",
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::Forget => "will be kept in AWS and removed from the state",
        Action::NoOp => "is unchanged",
    }
}

/// A value as one line: JSON, except unknowns, which read as a note.
pub fn value(v: &Value) -> String {
    if is_unknown(v) {
        return "(known after apply)".into();
    }
    v.to_string()
}

/// Objects and lists too long for one line are printed as indented JSON.
const ONE_LINE: usize = 72;

fn block(v: &Value, indent: usize) -> String {
    let line = value(v);
    if line.len() <= ONE_LINE || !(v.is_object() || v.is_array()) {
        return line;
    }
    let pretty = serde_json::to_string_pretty(v).unwrap_or(line);
    pretty.replace('\n', &format!("\n{}", " ".repeat(indent)))
}

/// How plans are printed: colour only on a terminal, never with `NO_COLOR`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    pub fn for_stdout() -> Style {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Style { colour: std::io::stdout().is_terminal() && !no_color && !dumb }
    }

    fn paint(&self, action: Action, text: &str) -> String {
        if !self.colour {
            return text.to_string();
        }
        let code = match action {
            Action::Create => "32",
            Action::Update => "33",
            Action::Replace => "35",
            Action::Delete => "31",
            Action::Forget => "36",
            Action::NoOp => "0",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn bold(&self, text: &str) -> String {
        if self.colour {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
pub fn human(plan: &Plan) -> String {
    human_styled(plan, Style::default())
}

pub fn human_styled(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    let changes: Vec<&Change> = plan.changes.iter().filter(|c| c.action != Action::NoOp || c.adopt.is_some()).collect();
    if changes.is_empty() {
        out.push_str("No changes. AWS matches the spec.\n");
        return out;
    }
    out.push_str("gwctl will perform the following actions:\n");
    for c in changes {
        out.push('\n');
        let adopted_only = c.action == Action::NoOp && c.adopt.is_some();
        let verb = match (c.adopt.is_some(), c.action) {
            (true, Action::NoOp) => "will be adopted into the state".to_string(),
            (true, action) => format!("will be adopted, then {}", verb(action).trim_start_matches("will be ").trim_start_matches("must be ")),
            (false, Action::Replace) if c.create_first => "must be replaced: the new one is created first, the old one deleted last".to_string(),
            (false, action) => verb(action).to_string(),
        };
        out.push_str(&style.bold(&format!("  # {} ({}) {verb}", c.address, c.kind)));
        if let Some(reason) = &c.reason {
            out.push_str(&format!(" ({reason})"));
        }
        out.push('\n');
        let symbol = match (adopted_only, c.create_first) {
            (true, _) => style.paint(Action::Update, "<="),
            (false, true) => style.paint(c.action, "+/-"),
            (false, false) => style.paint(c.action, symbol(c.action)),
        };
        out.push_str(&format!("  {symbol} {}\n", c.address));
        let width = c.diff.iter().map(|d| d.path.len()).max().unwrap_or(0);
        let indent = 8 + width + 3;
        for d in &c.diff {
            let line = match (&d.before, &d.after) {
                (None, Some(a)) => format!("      {} {:width$} = {}", style.paint(Action::Create, "+"), d.path, block(a, indent)),
                (Some(b), None) => format!("      {} {:width$} = {}", style.paint(Action::Delete, "-"), d.path, block(b, indent)),
                (Some(b), Some(a)) => format!("      {} {:width$} = {} -> {}", style.paint(Action::Update, "~"), d.path, value(b), value(a)),
                (None, None) => continue,
            };
            out.push_str(&line);
            if d.forces_replacement {
                out.push_str(" # forces replacement");
            }
            out.push('\n');
        }
    }
    let s = plan.summary();
    let adopt = if s.adopt > 0 { format!(", {} to adopt", s.adopt) } else { String::new() };
    let keep = if s.forget > 0 { format!(", {} to keep", s.forget) } else { String::new() };
    out.push_str(&format!(
        "\nPlan: {} to add, {} to change, {} to destroy{adopt}{keep}.\n",
        s.create + s.replace,
        s.update,
        s.delete + s.replace
    ));
    out
}

pub fn json(plan: &Plan) -> Value {
    json!({
        "format_version": "1",
        "changes": plan.changes,
        "summary": plan.summary(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::AttrDiff;

    fn change(address: &str, action: Action, diff: Vec<AttrDiff>) -> Change {
        Change::new(address, crate::provider::ec2::instance::KIND, action, diff)
    }

    #[test]
    fn replacement_names_the_field_that_forces_it() {
        let plan = Plan {
            changes: vec![change(
                "instance.backend",
                Action::Replace,
                vec![AttrDiff { path: "ami".into(), before: Some(json!("ami-1")), after: Some(json!("ami-2")), forces_replacement: true }],
            )],
        };
        let text = human(&plan);
        assert!(text.contains("-/+ instance.backend"), "{text}");
        assert!(text.contains("~ ami = \"ami-1\" -> \"ami-2\" # forces replacement"), "{text}");
        assert!(text.contains("Plan: 1 to add, 0 to change, 1 to destroy."), "{text}");
    }

    #[test]
    fn long_documents_are_indented_and_colour_is_only_asked_for() {
        let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::bucket/*"]}]});
        let plan = Plan {
            changes: vec![change(
                "role.backend",
                Action::Create,
                vec![AttrDiff { path: "assume_role_policy".into(), before: None, after: Some(doc), forces_replacement: false }],
            )],
        };
        let plain = human(&plan);
        assert!(plain.contains("+ assume_role_policy = {\n"), "{plain}");
        assert!(plain.contains("\"Statement\": ["), "{plain}");
        assert!(!plain.contains('\x1b'));
        let coloured = human_styled(&plan, Style { colour: true });
        assert!(coloured.contains("\x1b[32m+\x1b[0m role.backend"), "{coloured}");
    }

    #[test]
    fn an_empty_plan_says_no_changes() {
        let plan = Plan { changes: vec![change("instance.backend", Action::NoOp, vec![])] };
        assert!(human(&plan).starts_with("No changes."));
    }

    #[test]
    fn json_has_the_documented_shape() {
        let plan = Plan {
            changes: vec![change(
                "log_group.api_access",
                Action::Update,
                vec![AttrDiff { path: "retention_days".into(), before: Some(json!(30)), after: Some(json!(60)), forces_replacement: false }],
            )],
        };
        let v = json(&plan);
        assert_eq!(v["format_version"], "1");
        assert_eq!(v["changes"][0]["action"], "update");
        assert_eq!(v["changes"][0]["diff"][0]["path"], "retention_days");
        assert_eq!(v["changes"][0]["diff"][0]["forces_replacement"], false);
        assert_eq!(v["summary"], json!({"create":0,"update":1,"replace":0,"delete":0,"no_op":0}));
        let noop = Plan { changes: vec![change("x", Action::NoOp, vec![])] };
        assert_eq!(json(&noop)["changes"][0]["action"], "no-op");
    }
}
