//! The row-filter expression language of Filter Rows: parsing into a checked tree and evaluating it
//! on a table.
//!
//! ```text
//! expr     := and ("or" and)*
//! and      := not ("and" not)*
//! not      := "not" not | "(" expr ")" | operand ( op operand | "is" ["not"] "null" )
//! operand  := column | `quoted column` | number | 'text' | "text" | true | false
//! op       := = | == | != | <> | < | <= | > | >=
//! ```
//! Keywords are case-insensitive. A comparison with a missing cell is unknown (SQL's three-valued
//! logic): `not` keeps it unknown, and only rows whose whole expression is true are kept.

use polars::prelude::*;

use pipewright_engine::{ColumnType, NodeError};

use crate::frame::{numeric_values, text_values};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// A column, with the 1-based position where it was named.
    Column(String, usize),
    Number(f64),
    Text(String),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Operand, Op, Operand),
    IsNull(Operand, bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Number(f64),
    Text(String),
    Op(Op),
    Open,
    Close,
    End,
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("\"{w}\""),
        Token::Quoted(w) => format!("`{w}`"),
        Token::Number(n) => format!("the number {n}"),
        Token::Text(t) => format!("the text '{t}'"),
        Token::Op(_) => "a comparison operator".into(),
        Token::Open => "\"(\"".into(),
        Token::Close => "\")\"".into(),
        Token::End => "the end of the expression".into(),
    }
}

fn syntax(position: usize, message: impl std::fmt::Display) -> NodeError {
    NodeError::param("expression", format!("syntax error at position {position}: {message}"))
}

/// Tokens with their 1-based character positions.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, NodeError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = match two.as_str() {
            "==" => Some((Op::Eq, 2)),
            "!=" | "<>" => Some((Op::Ne, 2)),
            "<=" => Some((Op::Le, 2)),
            ">=" => Some((Op::Ge, 2)),
            _ => match c {
                '=' => Some((Op::Eq, 1)),
                '<' => Some((Op::Lt, 1)),
                '>' => Some((Op::Gt, 1)),
                _ => None,
            },
        };
        if let Some((op, len)) = op {
            out.push((Token::Op(op), at));
            i += len;
        } else if c == '(' || c == ')' {
            out.push((if c == '(' { Token::Open } else { Token::Close }, at));
            i += 1;
        } else if c == '\'' || c == '"' || c == '`' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or_else(|| syntax(at, format!("the quote {c} opened here is never closed")))?;
            let inner: String = chars[i + 1..i + 1 + end].iter().collect();
            out.push((if c == '`' { Token::Quoted(inner) } else { Token::Text(inner) }, at));
            i += end + 2;
        } else if c.is_ascii_digit() || (c == '-' || c == '.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
            let end = chars[i + 1..]
                .iter()
                .position(|d| !(d.is_ascii_alphanumeric() || *d == '.' || *d == '_'))
                .map_or(chars.len(), |k| i + 1 + k);
            let literal: String = chars[i..end].iter().collect();
            let value = literal.parse::<f64>().map_err(|_| syntax(at, format!("\"{literal}\" is not a number")))?;
            out.push((Token::Number(value), at));
            i = end;
        } else if c.is_alphabetic() || c == '_' {
            let end = chars[i..]
                .iter()
                .position(|d| !(d.is_alphanumeric() || *d == '_' || *d == '.'))
                .map_or(chars.len(), |k| i + k);
            out.push((Token::Word(chars[i..end].iter().collect()), at));
            i = end;
        } else {
            return Err(syntax(at, format!("unexpected character \"{c}\"")));
        }
    }
    out.push((Token::End, chars.len() + 1));
    Ok(out)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> &(Token, usize) {
        &self.tokens[self.next.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> (Token, usize) {
        let token = self.peek().clone();
        self.next += 1;
        token
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(&self.peek().0, Token::Word(w) if w.eq_ignore_ascii_case(word)) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, NodeError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, NodeError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, NodeError> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.peek().0 == Token::Open {
            let (_, at) = self.advance();
            let inner = self.or()?;
            let (token, close_at) = self.advance();
            if token != Token::Close {
                return Err(syntax(
                    close_at,
                    format!("expected \")\" to close the \"(\" at position {at}, found {}", describe(&token)),
                ));
            }
            return Ok(inner);
        }
        let left = self.operand()?;
        if self.keyword("is") {
            let negated = self.keyword("not");
            let (token, at) = self.advance();
            if !matches!(&token, Token::Word(w) if w.eq_ignore_ascii_case("null")) {
                return Err(syntax(at, format!("expected \"null\" after \"is\", found {}", describe(&token))));
            }
            return Ok(Expr::IsNull(left, !negated));
        }
        let (token, at) = self.advance();
        let Token::Op(op) = token else {
            return Err(syntax(
                at,
                format!("expected a comparison (=, !=, <, <=, >, >=) or \"is null\", found {}", describe(&token)),
            ));
        };
        let right = self.operand()?;
        Ok(Expr::Compare(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, NodeError> {
        let (token, at) = self.advance();
        Ok(match token {
            Token::Number(n) => Operand::Number(n),
            Token::Text(t) => Operand::Text(t),
            Token::Word(w) if w.eq_ignore_ascii_case("true") => Operand::Number(1.0),
            Token::Word(w) if w.eq_ignore_ascii_case("false") => Operand::Number(0.0),
            Token::Word(w) if ["and", "or", "not", "is", "null"].iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                return Err(syntax(at, format!("expected a column or a value, found the keyword \"{w}\"")));
            }
            Token::Word(name) | Token::Quoted(name) => Operand::Column(name, at),
            other => return Err(syntax(at, format!("expected a column or a value, found {}", describe(&other)))),
        })
    }
}

/// Parses an expression.
/// Most tokens a condition may have.
const MAX_TOKENS: usize = 2000;

pub(crate) fn parse(text: &str) -> Result<Expr, NodeError> {
    if text.trim().is_empty() {
        return Err(NodeError::param("expression", "write a condition such as: age >= 18 and sex = 'female'"));
    }
    let tokens = tokenize(text)?;
    // Evaluation recurses once per operator; a generated condition with thousands of them would exhaust
    // the worker's stack, so such conditions are refused with a way out.
    if tokens.len() > MAX_TOKENS {
        return Err(NodeError::param(
            "expression",
            format!(
                "the condition has {} parts, more than {MAX_TOKENS}: split it over several Filter Rows blocks, or use Join Data with a table of the wanted values",
                tokens.len()
            ),
        ));
    }
    let mut parser = Parser { tokens, next: 0 };
    let expr = parser.or()?;
    let (token, at) = parser.advance();
    if token != Token::End {
        return Err(syntax(at, format!("expected \"and\", \"or\" or the end, found {}", describe(&token))));
    }
    Ok(expr)
}

/// A column's cells as numbers or as text.
enum Cells {
    Numbers(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
}

/// A value of one cell or literal.
#[derive(Clone, Copy)]
enum Cell<'a> {
    Number(f64),
    Text(&'a str),
}

/// Evaluates `expr` on every row: `true` keeps the row.
pub(crate) fn evaluate(expr: &Expr, frame: &DataFrame) -> Result<Vec<bool>, NodeError> {
    let mut columns = std::collections::HashMap::new();
    collect_columns(expr, frame, &mut columns)?;
    check_types(expr, &columns)?;
    Ok((0..frame.height()).map(|row| truth(expr, &columns, row) == Some(true)).collect())
}

fn operands(expr: &Expr) -> Vec<&Operand> {
    match expr {
        Expr::Or(a, b) | Expr::And(a, b) => [operands(a), operands(b)].concat(),
        Expr::Not(a) => operands(a),
        Expr::Compare(a, _, b) => vec![a, b],
        Expr::IsNull(a, _) => vec![a],
    }
}

fn collect_columns(
    expr: &Expr,
    frame: &DataFrame,
    out: &mut std::collections::HashMap<String, Cells>,
) -> Result<(), NodeError> {
    for operand in operands(expr) {
        let Operand::Column(name, at) = operand else { continue };
        if out.contains_key(name) {
            continue;
        }
        let Ok(column) = frame.column(name) else {
            let names: Vec<String> = frame.get_column_names().iter().map(ToString::to_string).collect();
            return Err(NodeError::param(
                "expression",
                format!("unknown column \"{name}\" at position {at} (the table has: {})", names.join(", ")),
            ));
        };
        let cells = match ColumnType::of(column.dtype()) {
            ColumnType::Numeric | ColumnType::Bool => Cells::Numbers(numeric_values(frame, name)?),
            _ => Cells::Texts(text_values(frame, name)?),
        };
        out.insert(name.clone(), cells);
    }
    Ok(())
}

/// Whether an operand holds numbers (`Some(true)`), text (`Some(false)`).
fn is_number(operand: &Operand, columns: &std::collections::HashMap<String, Cells>) -> bool {
    match operand {
        Operand::Number(_) => true,
        Operand::Text(_) => false,
        Operand::Column(name, _) => matches!(columns.get(name), Some(Cells::Numbers(_))),
    }
}

fn label(operand: &Operand) -> String {
    match operand {
        Operand::Column(name, at) => format!("column \"{name}\" (position {at})"),
        Operand::Number(n) => format!("the number {n}"),
        Operand::Text(t) => format!("the text '{t}'"),
    }
}

fn check_types(expr: &Expr, columns: &std::collections::HashMap<String, Cells>) -> Result<(), NodeError> {
    match expr {
        Expr::Or(a, b) | Expr::And(a, b) => check_types(a, columns).and_then(|()| check_types(b, columns)),
        Expr::Not(a) => check_types(a, columns),
        Expr::IsNull(..) => Ok(()),
        Expr::Compare(a, _, b) => {
            if is_number(a, columns) == is_number(b, columns) {
                Ok(())
            } else {
                let (number, text) = if is_number(a, columns) { (a, b) } else { (b, a) };
                Err(NodeError::param(
                    "expression",
                    format!(
                        "{} holds numbers and {} holds text: compare numbers with numbers (write 5, not '5') and text with quoted text",
                        label(number),
                        label(text)
                    ),
                ))
            }
        }
    }
}

fn cell<'a>(
    operand: &'a Operand,
    columns: &'a std::collections::HashMap<String, Cells>,
    row: usize,
) -> Option<Cell<'a>> {
    match operand {
        Operand::Number(n) => Some(Cell::Number(*n)),
        Operand::Text(t) => Some(Cell::Text(t)),
        Operand::Column(name, _) => match columns.get(name)? {
            Cells::Numbers(v) => v[row].map(Cell::Number),
            Cells::Texts(v) => v[row].as_deref().map(Cell::Text),
        },
    }
}

/// Three-valued truth: `None` is unknown (a comparison with a missing cell).
fn truth(expr: &Expr, columns: &std::collections::HashMap<String, Cells>, row: usize) -> Option<bool> {
    match expr {
        Expr::Or(a, b) => match (truth(a, columns, row), truth(b, columns, row)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Expr::And(a, b) => match (truth(a, columns, row), truth(b, columns, row)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expr::Not(a) => truth(a, columns, row).map(|t| !t),
        Expr::IsNull(a, null) => Some(cell(a, columns, row).is_none() == *null),
        Expr::Compare(a, op, b) => {
            let ordering = match (cell(a, columns, row)?, cell(b, columns, row)?) {
                (Cell::Number(x), Cell::Number(y)) => x.partial_cmp(&y)?,
                (Cell::Text(x), Cell::Text(y)) => x.cmp(y),
                _ => return None,
            };
            Some(match op {
                Op::Eq => ordering.is_eq(),
                Op::Ne => ordering.is_ne(),
                Op::Lt => ordering.is_lt(),
                Op::Le => ordering.is_le(),
                Op::Gt => ordering.is_gt(),
                Op::Ge => ordering.is_ge(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        parse(text).expect_err("a syntax error").to_string()
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let expr = parse("a = 1 or not b > 2 and c is not null").expect("parses");
        let Expr::Or(_, right) = expr else { panic!("or at the top: {expr:?}") };
        assert!(matches!(*right, Expr::And(ref l, _) if matches!(**l, Expr::Not(_))), "{right:?}");
    }

    #[test]
    fn syntax_errors_name_their_position() {
        assert!(message("age >").contains("position 6"), "{}", message("age >"));
        assert!(message("(age > 3").contains("position 9"), "{}", message("(age > 3"));
        assert!(message("age > 3 sex = 'a'").contains("position 9"), "{}", message("age > 3 sex = 'a'"));
        assert!(message("name = 'abc").contains("position 8"), "{}", message("name = 'abc"));
        assert!(message("a ! 3").contains("position 3"), "{}", message("a ! 3"));
        assert!(message("a is nul").contains("expected \"null\""), "{}", message("a is nul"));
    }

    #[test]
    fn missing_cells_are_unknown_unless_asked_for() {
        let frame = df!("x" => [Some(1.0), None, Some(3.0)], "s" => [Some("a"), Some("b"), None]).expect("frame");
        let keep = |text: &str| evaluate(&parse(text).expect("parses"), &frame).expect("evaluates");
        assert_eq!(keep("x > 1"), [false, false, true]);
        assert_eq!(keep("not x > 1"), [true, false, false]);
        assert_eq!(keep("x is null or s = 'a'"), [true, true, false]);
        assert_eq!(keep("s != 'a'"), [false, true, false]);
        assert_eq!(keep("`x` >= -1 and (s < 'b' or s is null)"), [true, false, true]);
    }

    #[test]
    fn numbers_and_text_do_not_compare() {
        let frame = df!("x" => [1.0]).expect("frame");
        let err = evaluate(&parse("x = '1'").expect("parses"), &frame).expect_err("mismatch");
        assert!(err.to_string().contains("column \"x\" (position 1) holds numbers"), "{err}");
    }

    #[test]
    fn a_generated_condition_with_thousands_of_parts_is_refused_not_a_stack_overflow() {
        let long = (0..1000).map(|i| format!("id = {i}")).collect::<Vec<_>>().join(" or ");
        let error = parse(&long).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("split it over several Filter Rows blocks"), "{error}");
        let short = (0..100).map(|i| format!("id = {i}")).collect::<Vec<_>>().join(" or ");
        assert!(parse(&short).is_ok());
    }
}
