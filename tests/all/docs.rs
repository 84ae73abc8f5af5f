//! The documentation cannot drift from the code: docs/guide.md's command reference is exactly
//! what `saex --help` and `saex <command> --help` print, for every command the binary has, and
//! every Markdown link in README.md and docs/*.md points at a file that exists and, with
//! `#anchor`, at a heading in it. Nothing here touches the network.
//!
//! After changing a command's help, regenerate the reference with `scripts/update-guide.sh`
//! (it runs `guide_reference_is_the_help` with `SAEX_BLESS=1`, which rewrites the reference
//! instead of comparing).

use crate::common::saex;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const BEGIN: &str = "<!-- reference: generated from `saex <command> --help` by scripts/update-guide.sh; do not edit by hand -->";
const END: &str = "<!-- reference: end -->";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What `saex ARGS --help` prints, plain (no colours), as a string.
fn help(args: &[&str]) -> String {
    let out = saex()
        .args(args)
        .arg("--help")
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "saex {} --help failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The commands that `saex --help` lists, in its order, without `help`.
fn commands(top: &str) -> Vec<String> {
    let mut lines = top.lines().skip_while(|l| l.trim() != "Commands:").skip(1);
    let mut names = Vec::new();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        let name = line.split_whitespace().next().unwrap().to_string();
        if name != "help" {
            names.push(name);
        }
    }
    assert!(
        !names.is_empty(),
        "no commands found in `saex --help`:\n{top}"
    );
    names
}

/// The reference section as it must stand in docs/guide.md: one heading and one fenced block
/// per command, `saex` itself first.
fn reference() -> String {
    let top = help(&[]);
    let mut text = format!("{BEGIN}\n");
    let mut add = |title: &str, body: &str| {
        assert!(
            !body.lines().any(|l| l.trim_start().starts_with("```")),
            "{title}: the help has a line starting with ``` that would end the fenced block"
        );
        text.push_str(&format!(
            "\n### {title}\n\n```text\n{}\n```\n",
            body.trim_end()
        ));
    };
    add("saex", &top);
    for name in commands(&top) {
        add(&format!("saex {name}"), &help(&[&name]));
    }
    text.push('\n');
    text.push_str(END);
    text
}

#[test]
fn guide_reference_is_the_help() {
    let path = repo().join("docs/guide.md");
    let guide = std::fs::read_to_string(&path).unwrap();
    let start = guide
        .find(BEGIN)
        .unwrap_or_else(|| panic!("docs/guide.md: no line `{BEGIN}`"));
    let end = guide[start..]
        .find(END)
        .map(|i| start + i + END.len())
        .unwrap_or_else(|| panic!("docs/guide.md: no line `{END}` after the reference's start"));
    let expected = reference();
    let found = &guide[start..end];
    if found == expected {
        return;
    }
    if std::env::var_os("SAEX_BLESS").is_some_and(|v| v == "1") {
        let updated = format!("{}{expected}{}", &guide[..start], &guide[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    let line = found
        .lines()
        .zip(expected.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| found.lines().count().min(expected.lines().count()));
    let at = |text: &str| {
        text.lines()
            .nth(line)
            .unwrap_or("(end of the reference)")
            .to_string()
    };
    panic!(
        "docs/guide.md's command reference differs from the binary's --help, first at line {} \
         of the reference:\n  guide: {}\n  help:  {}\nRun scripts/update-guide.sh to regenerate it.",
        line + 1,
        at(found),
        at(&expected)
    );
}

#[test]
fn the_commands_are_parsed_from_the_top_level_help() {
    let names = commands(&help(&[]));
    for expected in ["extract", "batch", "train", "eval", "serve", "live"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n == "help"));
}

/// README.md and every Markdown page under docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The lines of a Markdown text outside fenced code blocks, with their line numbers (from 1).
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            lines.push((i + 1, line));
        }
    }
    lines
}

/// A line without its inline code spans (`...`), which hold no links.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// The targets of the inline links and images (`[text](target)`, `![alt](target)`) and of the
/// reference definitions (`[name]: target`) in one line.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code(line);
    let mut targets = Vec::new();
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed.strip_prefix('[') {
        if let Some(close) = rest.find("]:") {
            if let Some(target) = rest[close + 2..].split_whitespace().next() {
                targets.push(target.to_string());
            }
        }
    }
    let mut rest = line.as_str();
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let mut depth = 0;
        let mut end = None;
        for (j, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = Some(j);
                    break;
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        let Some(end) = end else { break };
        let target = after[..end].split_whitespace().next().unwrap_or("");
        let target = target.trim_start_matches('<').trim_end_matches('>');
        targets.push(target.to_string());
        rest = &after[end..];
    }
    targets
}

/// GitHub's anchor for a heading's text: inline code and link syntax dropped, lower case,
/// everything but letters, digits, spaces, `-` and `_` removed, spaces turned into `-`.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    // [text](target) -> text
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](") else {
            break;
        };
        let Some(close) = rest[open + mid..].find(')') else {
            break;
        };
        text.push_str(&rest[..open]);
        text.push_str(&rest[open + 1..open + mid]);
        rest = &rest[open + mid + close + 1..];
    }
    text.push_str(rest);
    text.chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown page's headings, with GitHub's `-1`, `-2`, ... for repeats.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(line[hashes..].trim());
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_link_in_the_docs_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (number, line) in prose_lines(&text) {
            for target in link_targets(line) {
                if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (file, anchor) = match target.split_once('#') {
                    Some((file, anchor)) => (file, Some(anchor)),
                    None => (target.as_str(), None),
                };
                let resolved = if file.is_empty() {
                    page.clone()
                } else {
                    page.parent().unwrap().join(file)
                };
                let place = format!("{}:{number}: {target}", relative(&page));
                if !resolved.exists() {
                    broken.push(format!("{place}: no such file"));
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                if resolved.extension().is_none_or(|e| e != "md") {
                    broken.push(format!(
                        "{place}: an anchor into a file that is not Markdown"
                    ));
                    continue;
                }
                let target_text = std::fs::read_to_string(&resolved).unwrap();
                if !anchors(&target_text).contains(anchor) {
                    broken.push(format!(
                        "{place}: no heading with the anchor #{anchor} in {}",
                        relative(&resolved)
                    ));
                }
            }
        }
    }
    assert!(checked > 0, "no links found: the parser is broken");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_parser_finds_links_and_anchors() {
    assert_eq!(
        link_targets("see [the guide](docs/guide.md#saex-extract) and ![x](a.png), `[no](b.md)`"),
        vec!["docs/guide.md#saex-extract", "a.png"]
    );
    assert_eq!(
        link_targets("[ref]: docs/results.md"),
        vec!["docs/results.md"]
    );
    assert_eq!(
        slug("The web page: `saex serve`"),
        "the-web-page-saex-serve"
    );
    assert_eq!(
        slug("Batches, job arrays and clusters"),
        "batches-job-arrays-and-clusters"
    );
    assert_eq!(slug("See [results](results.md) (v2)"), "see-results-v2");
    let page = "# A\n## B c\n```\n# not a heading\n```\n## B c\n";
    let found = anchors(page);
    for anchor in ["a", "b-c", "b-c-1"] {
        assert!(found.contains(anchor), "{anchor} missing from {found:?}");
    }
    assert!(!found.contains("not-a-heading"));
}

#[test]
fn every_page_says_what_it_is_for() {
    // A title, then a paragraph of prose before anything else (a table, code or a subheading).
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let title = lines.next().unwrap_or("");
        assert!(
            title.starts_with("# "),
            "{}: no title first",
            relative(&page)
        );
        let first = lines.next().unwrap_or("");
        assert!(
            !first.starts_with('#')
                && !first.starts_with('|')
                && !first.starts_with("```")
                && !first.starts_with('!'),
            "{}: the title is not followed by a sentence on what the page is for",
            relative(&page)
        );
    }
}
