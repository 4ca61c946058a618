//! Reading URDF/MJCF XML with `roxmltree`: typed attributes whose errors name the file, line,
//! column and element, as every other input error in the program does.

use std::path::Path;

use rapier3d::glamx::{DQuat, DVec3};
use roxmltree::{Document, Node};

use crate::format::FileError;

/// Robot description files are small; a larger one is a wrong path.
const MAX_XML_BYTES: u64 = 16 << 20;
/// Elements in one file (Menagerie's largest robots have a few thousand).
const MAX_XML_NODES: u32 = 200_000;
/// Lengths, in metres, beyond which a value is taken for a unit or typing error.
pub const MAX_LENGTH: f64 = 100.0;

/// The text of an XML file, read with the same guards as scenes.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    let io = |message: String| FileError { file: path.to_path_buf(), line: None, column: None, field: None, message };
    let size = std::fs::metadata(path).map_err(|e| io(format!("cannot read the file: {e}")))?.len();
    if size > MAX_XML_BYTES {
        return Err(io(format!("file is {size} bytes; robot files are at most {MAX_XML_BYTES} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| io(format!("cannot read the file: {e}")))?;
    String::from_utf8(bytes).map_err(|e| io(format!("not UTF-8 text: {e}")))
}

/// Parses XML text; a syntax error names its line and column.
pub fn parse<'t>(text: &'t str, path: &Path) -> Result<Document<'t>, FileError> {
    let options = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: MAX_XML_NODES, ..Default::default() };
    Document::parse_with_options(text, options).map_err(|e| {
        let at = e.pos();
        FileError {
            file: path.to_path_buf(),
            line: Some(at.row as usize),
            column: Some(at.col as usize),
            field: None,
            message: format!("not a well-formed XML file: {e}"),
        }
    })
}

/// An element of a parsed file, with what is needed to place errors about it.
#[derive(Clone, Copy)]
pub struct Element<'a, 'input> {
    pub node: Node<'a, 'input>,
    pub file: &'a Path,
}

impl<'a, 'input> Element<'a, 'input> {
    pub fn new(node: Node<'a, 'input>, file: &'a Path) -> Self {
        Element { node, file }
    }

    pub fn tag(&self) -> &'a str {
        self.node.tag_name().name()
    }

    /// `<joint name="knee">`, or `<geom>` for an unnamed element: how errors name it.
    pub fn describe(&self) -> String {
        match self.node.attribute("name") {
            Some(name) => format!("<{} name=\"{name}\">", self.tag()),
            None => format!("<{}>", self.tag()),
        }
    }

    /// An error about this element, at its start tag.
    pub fn error(&self, message: impl Into<String>) -> FileError {
        let at = self.node.document().text_pos_at(self.node.range().start);
        FileError {
            file: self.file.to_path_buf(),
            line: Some(at.row as usize),
            column: Some(at.col as usize),
            field: Some(self.describe()),
            message: message.into(),
        }
    }

    /// An error about one attribute of this element, at that attribute.
    pub fn attribute_error(&self, name: &str, message: impl Into<String>) -> FileError {
        let start = self.node.attribute_node(name).map_or(self.node.range().start, |a| a.range().start);
        let at = self.node.document().text_pos_at(start);
        FileError {
            file: self.file.to_path_buf(),
            line: Some(at.row as usize),
            column: Some(at.col as usize),
            field: Some(format!("{} attribute `{name}`", self.describe())),
            message: message.into(),
        }
    }

    /// Child elements, in file order.
    pub fn children(&self) -> impl Iterator<Item = Element<'a, 'input>> + 'a {
        let file = self.file;
        self.node.children().filter(|n| n.is_element()).map(move |node| Element { node, file })
    }

    /// Child elements with a tag.
    pub fn children_named(&self, tag: &'a str) -> impl Iterator<Item = Element<'a, 'input>> + 'a {
        self.children().filter(move |e| e.tag() == tag)
    }

    /// The one child with a tag, if any; two are an error.
    pub fn child(&self, tag: &'a str) -> Result<Option<Element<'a, 'input>>, FileError> {
        let mut found = self.children_named(tag);
        let first = found.next();
        if let Some(second) = found.next() {
            return Err(second.error(format!("{} has more than one <{tag}>", self.describe())));
        }
        Ok(first)
    }

    pub fn attribute(&self, name: &str) -> Option<&'a str> {
        self.node.attribute(name)
    }

    /// A required attribute.
    pub fn required(&self, name: &str) -> Result<&'a str, FileError> {
        self.attribute(name).ok_or_else(|| self.error(format!("missing attribute `{name}`")))
    }

    /// An attribute with where it was written, for typed reading.
    pub fn attr(&self, name: &str) -> Option<Attr> {
        self.attribute(name).map(|value| Attr { value: value.to_string(), at: self.attribute_error(name, "") })
    }

    pub fn numbers(&self, name: &str, count: Option<usize>) -> Result<Option<Vec<f64>>, FileError> {
        self.attr(name).map(|a| a.numbers(count)).transpose()
    }

    pub fn number(&self, name: &str) -> Result<Option<f64>, FileError> {
        self.attr(name).map(|a| a.number()).transpose()
    }

    pub fn vector(&self, name: &str) -> Result<Option<DVec3>, FileError> {
        self.attr(name).map(|a| a.vector()).transpose()
    }

    pub fn position(&self, name: &str) -> Result<Option<DVec3>, FileError> {
        self.attr(name).map(|a| a.position()).transpose()
    }

    pub fn non_negative(&self, name: &str, max: f64) -> Result<Option<f64>, FileError> {
        self.attr(name).map(|a| a.non_negative(max)).transpose()
    }
}

/// An attribute's text and where it was written (an element's own, or inherited from an MJCF
/// default class): every value error points at the text that holds the value.
#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    pub value: String,
    pub at: FileError,
}

impl Attr {
    pub fn error(&self, message: impl Into<String>) -> FileError {
        FileError { message: message.into(), ..self.at.clone() }
    }

    /// Finite numbers separated by white space, `count` of them when given.
    pub fn numbers(&self, count: Option<usize>) -> Result<Vec<f64>, FileError> {
        let mut values = Vec::new();
        for word in self.value.split_whitespace() {
            let value: f64 = word.parse().map_err(|_| self.error(format!("\"{word}\" is not a number")))?;
            if !value.is_finite() {
                return Err(self.error(format!("expected finite numbers, found {word}")));
            }
            values.push(value);
        }
        if let Some(count) = count
            && values.len() != count
        {
            return Err(self.error(format!("expected {count} numbers, found {}", values.len())));
        }
        Ok(values)
    }

    pub fn number(&self) -> Result<f64, FileError> {
        Ok(self.numbers(Some(1))?[0])
    }

    pub fn vector(&self) -> Result<DVec3, FileError> {
        let v = self.numbers(Some(3))?;
        Ok(DVec3::new(v[0], v[1], v[2]))
    }

    /// A position in metres, within the plausible range.
    pub fn position(&self) -> Result<DVec3, FileError> {
        let v = self.vector()?;
        if v.abs().max_element() > MAX_LENGTH {
            return Err(self.error(format!("expected coordinates within ±{MAX_LENGTH} m, found {v}")));
        }
        Ok(v)
    }

    /// A non-negative physical quantity (mass, gain, damping) no larger than `max`.
    pub fn non_negative(&self, max: f64) -> Result<f64, FileError> {
        let v = self.number()?;
        if !(0.0..=max).contains(&v) {
            return Err(self.error(format!("expected a value in [0, {max}], found {v}")));
        }
        Ok(v)
    }

    /// An ordered pair `lo hi`.
    pub fn range(&self) -> Result<(f64, f64), FileError> {
        let v = self.numbers(Some(2))?;
        if v[0] > v[1] {
            return Err(self.error(format!("expected `lo hi` with lo <= hi, found {} {}", v[0], v[1])));
        }
        Ok((v[0], v[1]))
    }

    /// A unit quaternion from `w x y z` (normalised, as MuJoCo does).
    pub fn quaternion(&self) -> Result<DQuat, FileError> {
        let q = self.numbers(Some(4))?;
        let quat = DQuat::from_xyzw(q[1], q[2], q[3], q[0]);
        if quat.length() < 1e-9 {
            return Err(self.error("a quaternion of zero length has no rotation"));
        }
        Ok(quat.normalize())
    }
}
