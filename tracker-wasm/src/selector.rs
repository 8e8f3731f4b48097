//! What a click captures about its element: a short CSS selector path, bounded text, and
//! `data-sightline-*` attributes as properties.
//!
//! Invariants: the selector has at most [`MAX_DEPTH`] steps and stops at the first ancestor
//! with a usable id; text is whitespace-collapsed and at most [`MAX_TEXT`] characters; text is
//! never taken from form fields ([`is_field`]), so typed values cannot leak.

/// The element a click is attributed to: the nearest of these around the target, or the
/// target itself (every click still counts for heatmaps).
pub const ACTIONABLE: &str =
    "a,button,input,select,textarea,label,summary,[role=button],[role=link],[data-sightline-event]";
/// Ancestors marked with this are never captured.
pub const IGNORE: &str = "[data-sightline-ignore]";
pub const ATTR_PREFIX: &str = "data-sightline-";
pub const MAX_DEPTH: usize = 4;
pub const MAX_CLASSES: usize = 3;
pub const MAX_TEXT: usize = 80;

/// One element on the path from the clicked element up to `<body>`.
pub struct Node {
    /// Lower-case tag name.
    pub tag: String,
    pub id: String,
    /// The `class` attribute as written.
    pub class: String,
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Class names usable in a selector, at most [`MAX_CLASSES`].
pub fn classes(class: &str) -> Vec<&str> {
    class
        .split_ascii_whitespace()
        .filter(|c| is_ident(c))
        .take(MAX_CLASSES)
        .collect()
}

/// A short selector for `path[0]` (the element), given its ancestors in order.
pub fn selector(path: &[Node]) -> String {
    let mut steps: Vec<String> = Vec::new();
    for n in path.iter().take(MAX_DEPTH) {
        if n.tag == "body" || n.tag == "html" {
            break;
        }
        let mut step = n.tag.clone();
        if is_ident(&n.id) {
            step.push('#');
            step.push_str(&n.id);
            steps.push(step);
            break;
        }
        for c in classes(&n.class) {
            step.push('.');
            step.push_str(c);
        }
        steps.push(step);
    }
    steps.reverse();
    crate::text::join(&steps, " > ")
}

/// Form fields: their text or value is never read.
pub fn is_field(tag: &str) -> bool {
    matches!(tag, "input" | "textarea" | "select" | "option")
}

/// Visible text trimmed, inner whitespace collapsed, cut to [`MAX_TEXT`] characters.
pub fn bounded_text(s: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    for word in s.split_whitespace() {
        let sep = if out.is_empty() { "" } else { " " };
        for c in sep.chars().chain(word.chars()) {
            if n == MAX_TEXT {
                return out;
            }
            out.push(c);
            n += 1;
        }
    }
    out
}

/// The property name for a `data-sightline-NAME` attribute (not the ignore marker or the
/// event-name attribute).
pub fn prop_name(attr: &str) -> Option<&str> {
    let name = attr.strip_prefix(ATTR_PREFIX)?;
    (!name.is_empty() && name != "ignore" && name != "event").then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(tag: &str, id: &str, class: &str) -> Node {
        Node {
            tag: tag.into(),
            id: id.into(),
            class: class.into(),
        }
    }

    #[test]
    fn selector_stops_at_an_id_and_keeps_a_few_classes() {
        let path = [
            n("span", "", "icon"),
            n("button", "", "cta big primary extra"),
            n("div", "hero", "x"),
            n("main", "", ""),
        ];
        assert_eq!(
            selector(&path),
            "div#hero > button.cta.big.primary > span.icon"
        );
        assert_eq!(selector(&[n("button", "signup", "cta")]), "button#signup");
    }

    #[test]
    fn selector_is_bounded_and_skips_body() {
        let deep: Vec<Node> = (0..10).map(|_| n("div", "", "")).collect();
        assert_eq!(selector(&deep), "div > div > div > div");
        assert_eq!(
            selector(&[n("a", "", ""), n("body", "", ""), n("html", "", "")]),
            "a"
        );
    }

    #[test]
    fn unusable_ids_and_classes_are_left_out() {
        assert_eq!(
            selector(&[n("a", "1st", "ok 9bad a:b"), n("nav", "", "")]),
            "nav > a.ok"
        );
        assert_eq!(classes("a  b\tc d"), vec!["a", "b", "c"]);
    }

    #[test]
    fn text_is_collapsed_and_bounded() {
        assert_eq!(bounded_text("  Start \n  free\ttrial "), "Start free trial");
        let long = "word ".repeat(50);
        let t = bounded_text(&long);
        assert_eq!(t.chars().count(), MAX_TEXT);
        assert_eq!(
            bounded_text(&"é".repeat(100)).chars().count(),
            MAX_TEXT,
            "cut on characters, not bytes"
        );
        assert_eq!(bounded_text(""), "");
    }

    #[test]
    fn data_attributes_become_props() {
        assert_eq!(prop_name("data-sightline-plan"), Some("plan"));
        assert_eq!(prop_name("data-sightline-ignore"), None);
        assert_eq!(prop_name("data-sightline-"), None);
        assert_eq!(prop_name("data-other"), None);
        assert!(is_field("input") && is_field("textarea") && !is_field("button"));
    }
}
