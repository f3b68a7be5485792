//! The spec parser and validator never panic, whatever the input, and every
//! problem they report points inside the file. Property-based: mutations of
//! the seed spec plus arbitrary text. Failing cases proptest finds are kept in
//! tests/it/fuzz_spec.proptest-regressions and replayed first on every run; the
//! hand-picked corpus below is replayed too.

use std::path::Path;

use gwctl::spec::{parse, SpecError};
use proptest::prelude::*;

fn seed() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.toml")).unwrap()
}

fn check(text: &str) {
    let file = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.toml"));
    match parse(file, text) {
        Ok(_) => {}
        Err(SpecError::Invalid(problems)) => {
            assert!(!problems.is_empty());
            let lines = text.split('\n').count();
            for p in problems {
                assert!(p.line >= 1 && p.line <= lines, "line {} outside 1..={lines}: {}", p.line, p.message);
                assert!(p.column >= 1, "column {}", p.column);
                assert!(!p.message.is_empty());
                let _ = p.to_string();
            }
        }
        Err(SpecError::Read { .. }) => panic!("parse never reads the spec file"),
    }
}

/// Inputs that once found, or could find, a weak spot.
const CORPUS: &[&str] = &[
    "",
    "\n\n\n",
    "[project]",
    "[project]\nname = \"x\"\nregion = \"ap-south-1\"\n[api.a.routes]\n\"GET /x\" = { auth = ",
    "[project]\nname = \"é\"\nregion = \"ap-south-1\"",
    "[project]\nname = \"x\"\nregion = \"ap-south-1\"\n[api.a]\nname = \"a\"\nbackend = \"b\"\n[api.a.routes]\n\"GET /{x+}/{y+}\" = { auth = \"none\" }",
    "[project]\nname = \"x\"\nregion = \"ap-south-1\"\n[security_group.s]\ndescription = \"d\"\ningress = [{ protocol = \"tcp\", port = -1, cidr = \"::/200\" }]",
    "[project]\nname = \"x\"\nregion = \"ap-south-1\"\n[api.a]\nname = \"a\"\nbackend = \"b\"\n[api.a.stage]\nthrottle = { rate = nan, burst = 9223372036854775807 }",
    "[project]\nname = \"x\"\nregion = \"ap-south-1\"\n[instance.i]\nami = \"ami-\"\ninstance_type = \".\"\nuser_data = \"/\"",
    "[project]\nname = \"x\"\nregion = \"ap-south-1\"\n[log_group.l]\nname = \"ü\"\nretention_days = 99999999999",
    "\u{feff}[project]\r\nname = \"x\"\r\nregion = \"ap-south-1\"\r\n[tags]\r\n\"aws:x\" = \"\"",
    "[project]\nname = \"x\"\nregion = \"ap-south-1\"\n[api.a]\nname = \"a\"\nbackend = \"b\"\n[api.a.routes]\n\"ANY /a/{}\" = { auth = \"none\" }\n\"GET /a b\" = { auth = \"none\" }\n\"GET\" = { auth = \"\" }",
];

#[test]
fn the_corpus_parses_without_panicking() {
    for input in CORPUS {
        check(input);
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    DropLine(usize),
    DuplicateLine(usize),
}

const TOKENS: &[&str] = &[
    "=", "[", "]", "{", "}", "\"", ",", "\n", "[[api]]", "nan", "-1", "0", "1e400", "\"ssm:\"", "auth", "{proxy+}", "\u{1F600}", "é", "#", "'''", "\\",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), prop::sample::select(TOKENS).prop_map(str::to_string)).prop_map(|(at, t)| Edit::Insert(at, t)),
        (any::<usize>(), "\\PC{0,12}").prop_map(|(at, t)| Edit::Insert(at, t)),
        any::<usize>().prop_map(Edit::DropLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(mut text: String, e: &Edit) -> String {
    match e {
        Edit::Delete(at, len) => {
            let a = boundary(&text, *at);
            let b = boundary(&text, (a + len).min(text.len()));
            text.replace_range(a..b.max(a), "");
        }
        Edit::Insert(at, t) => {
            let a = boundary(&text, *at);
            text.insert_str(a, t);
        }
        Edit::DropLine(n) | Edit::DuplicateLine(n) => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let i = n % lines.len();
            if matches!(e, Edit::DropLine(_)) {
                lines.remove(i);
            } else {
                lines.insert(i, lines[i]);
            }
            text = lines.join("\n");
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_seed_specs_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        let text = edits.iter().fold(seed(), apply);
        check(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text);
    }
}
