//! Maps a field path such as `robot.links[2].mass` to its line and column in a RON text.
//!
//! Serde reports positions only for syntax and type errors; range checks run after parsing, so
//! this small reader recovers where each value sits. It accepts any RON it is given and never
//! fails: on text it does not understand it stops and returns the deepest position found.

/// A line and column, both counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// One parsed value: where it starts, its leading identifier, named fields and unnamed items.
#[derive(Debug, Default)]
struct Node {
    line: usize,
    column: usize,
    ident: Option<String>,
    fields: Vec<(String, Node)>,
    items: Vec<Node>,
}

/// Finds where `path` (segments separated by `.`, indices as `[i]`) sits in `text`.
pub fn locate(text: &str, path: &str) -> Option<Position> {
    let mut reader = Reader { chars: text.chars().collect(), at: 0, line: 1, column: 1 };
    let root = reader.value(0)?;
    let mut node = &root;
    for segment in split_path(path) {
        node = match step(node, &segment) {
            Some(next) => next,
            None => break,
        };
    }
    Some(Position { line: node.line, column: node.column })
}

enum Segment {
    Field(String),
    Index(usize),
}

fn split_path(path: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                segments.push(Segment::Field(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(close) = stripped.find(']') else { break };
                if let Ok(index) = stripped[..close].parse() {
                    segments.push(Segment::Index(index));
                }
                rest = &stripped[close + 1..];
            }
        } else {
            segments.push(Segment::Field(rest.to_string()));
        }
    }
    segments
}

/// One path step; looks through `Some(..)` and newtype variants, and skips enum variant names.
fn step<'a>(node: &'a Node, segment: &Segment) -> Option<&'a Node> {
    match segment {
        Segment::Field(name) => {
            if let Some((_, child)) = node.fields.iter().find(|(key, _)| key == name) {
                return Some(child);
            }
            if node.ident.as_deref() == Some(name.as_str()) {
                return Some(node);
            }
            match node.items.as_slice() {
                [only] => step(only, segment),
                _ => None,
            }
        }
        Segment::Index(index) => match node.items.get(*index) {
            Some(child) => Some(child),
            None if node.fields.is_empty() && node.items.len() == 1 => step(&node.items[0], segment),
            None => None,
        },
    }
}

struct Reader {
    chars: Vec<char>,
    at: usize,
    line: usize,
    column: usize,
}

const MAX_DEPTH: usize = 128;

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_blank(&mut self) {
        loop {
            match (self.peek(), self.chars.get(self.at + 1).copied()) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    self.bump();
                    self.bump();
                    while self.peek().is_some() {
                        if self.peek() == Some('*') && self.chars.get(self.at + 1) == Some(&'/') {
                            self.bump();
                            self.bump();
                            break;
                        }
                        self.bump();
                    }
                }
                _ => return,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_blank();
        let mut node = Node { line: self.line, column: self.column, ..Node::default() };
        match self.peek()? {
            '"' => self.string(),
            '\'' => self.char_literal(),
            '[' => self.sequence(&mut node, ']', depth),
            '{' => self.sequence(&mut node, '}', depth),
            '(' => self.sequence(&mut node, ')', depth),
            c if c.is_alphabetic() || c == '_' => {
                let ident = self.word();
                if ident == "r" && matches!(self.peek(), Some('"' | '#')) {
                    self.raw_string();
                } else {
                    self.skip_blank();
                    if self.peek() == Some('(') {
                        self.sequence(&mut node, ')', depth);
                    }
                    node.ident = Some(ident);
                }
            }
            _ => {
                // Numbers and anything else: read to the next delimiter.
                while self.peek().is_some_and(|c| !matches!(c, ',' | ')' | ']' | '}' | ':') && !c.is_whitespace()) {
                    self.bump();
                }
            }
        }
        Some(node)
    }

    fn word(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_' || *c == '#') {
            word.push(c);
            self.bump();
        }
        word
    }

    fn string(&mut self) {
        self.bump();
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '"' => return,
                _ => {}
            }
        }
    }

    fn raw_string(&mut self) {
        let mut hashes = 0;
        while self.peek() == Some('#') {
            hashes += 1;
            self.bump();
        }
        self.bump();
        while let Some(c) = self.bump() {
            if c == '"' && (0..hashes).all(|k| self.chars.get(self.at + k) == Some(&'#')) {
                for _ in 0..hashes {
                    self.bump();
                }
                return;
            }
        }
    }

    fn char_literal(&mut self) {
        self.bump();
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '\'' => return,
                _ => {}
            }
        }
    }

    /// Reads `(..)`, `[..]` or `{..}` into `node`: `name: value` entries become fields, others items.
    fn sequence(&mut self, node: &mut Node, close: char, depth: usize) {
        self.bump();
        loop {
            self.skip_blank();
            match self.peek() {
                None => return,
                Some(c) if c == close => {
                    self.bump();
                    return;
                }
                Some(',') => {
                    self.bump();
                    continue;
                }
                _ => {}
            }
            let start = self.at;
            let Some(first) = self.value(depth + 1) else { return };
            self.skip_blank();
            if self.peek() == Some(':') {
                self.bump();
                let key = first.ident.clone().unwrap_or_else(|| {
                    self.chars[start..self.at - 1].iter().collect::<String>().trim().trim_matches('"').to_string()
                });
                let Some(value) = self.value(depth + 1) else { return };
                node.fields.push((key, value));
            } else {
                node.items.push(first);
            }
            if self.at == start {
                // No progress: unknown text; stop rather than loop.
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "// comment\n(\n  name: \"x\",\n  robot: (\n    links: [\n      (name: \"a\", mass: Some(1.0)),\n      (name: \"b\", shape: Capsule(from: (0, 0, 0), radius: -1.0)),\n    ],\n  ),\n)\n";

    #[test]
    fn finds_nested_fields_and_indices() {
        assert_eq!(locate(TEXT, "name"), Some(Position { line: 3, column: 9 }));
        assert_eq!(locate(TEXT, "robot.links[1].shape.Capsule.radius"), Some(Position { line: 7, column: 59 }));
        assert_eq!(locate(TEXT, "robot.links[0].mass"), Some(Position { line: 6, column: 25 }));
    }

    #[test]
    fn missing_field_points_at_its_parent() {
        assert_eq!(locate(TEXT, "robot.links[0].density"), Some(Position { line: 6, column: 7 }));
    }
}
