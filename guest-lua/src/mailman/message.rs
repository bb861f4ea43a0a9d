//! Letters as Lua tables, parsed with mail-parser: header fields decoded
//! (RFC 2047 words, folded lines joined), the MIME tree as nested `parts`,
//! and attachments with their name, type, size and content. Rumble only
//! recognised a quoted `boundary="..."` and kept raw header text.

use mail_parser::{HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use mlua::{Lua, Table};

/// MIME headers structured (needed to find the parts), every other header
/// as decoded text, which is what a script wants to read.
fn parser() -> MessageParser {
    MessageParser::new().with_mime_headers().default_header_text()
}

/// `{[lower-case name] = value, ...}` for a header block; the first
/// field of a name wins (the newest Received, the one Subject).
pub fn header_fields(lua: &Lua, header: &[u8]) -> mlua::Result<Table> {
    let mut block = header.to_vec();
    block.extend_from_slice(b"\r\n\r\n");
    match parser().parse_headers(&block) {
        Some(message) => headers_table(lua, message.root_part()),
        None => lua.create_table(),
    }
}

/// The whole letter: `headers`, then `body` (one part) or `parts`, and
/// `attachments`, a flat list of every attachment in the tree.
pub fn parse(lua: &Lua, raw: &[u8]) -> mlua::Result<Table> {
    let Some(message) = parser().parse(raw) else {
        // Not a message at all: the bytes as the body, no headers.
        let t = lua.create_table()?;
        t.set("headers", lua.create_table()?)?;
        t.set("body", lua.create_string(raw)?)?;
        t.set("attachments", lua.create_table()?)?;
        return Ok(t);
    };
    let t = message_table(lua, &message)?;
    let attachments = message.attachments().map(|p| attachment_table(lua, p)).collect::<mlua::Result<Vec<_>>>()?;
    t.set("attachments", lua.create_sequence_from(attachments)?)?;
    Ok(t)
}

/// A message (the letter, or one attached as message/rfc822) as its root part.
fn message_table(lua: &Lua, message: &Message) -> mlua::Result<Table> {
    part_table(lua, message, message.root_part())
}

fn part_table(lua: &Lua, message: &Message, part: &MessagePart) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("headers", headers_table(lua, part)?)?;
    t.set("type", content_type(part))?;
    match &part.body {
        PartType::Text(text) | PartType::Html(text) => t.set("body", text.as_ref())?,
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => t.set("content", lua.create_string(bytes.as_ref())?)?,
        PartType::Message(nested) => t.set("message", message_table(lua, nested)?)?,
        PartType::Multipart(ids) => {
            let children = ids
                .iter()
                .filter_map(|&id| message.part(id))
                .map(|child| part_table(lua, message, child))
                .collect::<mlua::Result<Vec<_>>>()?;
            t.set("parts", lua.create_sequence_from(children)?)?;
        }
    }
    if let Some(name) = part.attachment_name() {
        t.set("name", name)?;
    }
    t.set("size", part.len())?;
    Ok(t)
}

fn attachment_table(lua: &Lua, part: &MessagePart) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("name", part.attachment_name().unwrap_or(""))?;
    t.set("type", content_type(part))?;
    t.set("size", part.len())?;
    t.set("content", lua.create_string(part.contents())?)?;
    Ok(t)
}

/// `type/subtype`, lower-case; text/plain when the part says nothing.
fn content_type(part: &MessagePart) -> String {
    match part.content_type() {
        Some(ct) => match &ct.c_subtype {
            Some(sub) => format!("{}/{}", ct.c_type, sub).to_ascii_lowercase(),
            None => ct.c_type.to_ascii_lowercase(),
        },
        None => "text/plain".into(),
    }
}

fn headers_table(lua: &Lua, part: &MessagePart) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for header in part.headers() {
        let name = header.name().to_ascii_lowercase();
        if t.contains_key(name.as_str())? {
            continue;
        }
        if let Some(value) = header_text(header.value()) {
            t.set(name, value)?;
        }
    }
    Ok(t)
}

/// A header value as one line of text.
fn header_text(value: &HeaderValue) -> Option<String> {
    match value {
        HeaderValue::Text(text) => Some(text.to_string()),
        HeaderValue::TextList(list) => Some(list.join(", ")),
        HeaderValue::DateTime(date) => Some(date.to_rfc822()),
        HeaderValue::ContentType(ct) => {
            let mut text = match &ct.c_subtype {
                Some(sub) => format!("{}/{}", ct.c_type, sub),
                None => ct.c_type.to_string(),
            };
            for a in ct.attributes().unwrap_or_default() {
                text.push_str(&format!("; {}=\"{}\"", a.name, a.value));
            }
            Some(text)
        }
        HeaderValue::Address(address) => Some(
            address
                .iter()
                .map(|a| match (&a.name, &a.address) {
                    (Some(name), Some(addr)) => format!("{name} <{addr}>"),
                    (None, Some(addr)) => addr.to_string(),
                    (Some(name), None) => name.to_string(),
                    (None, None) => String::new(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
        HeaderValue::Received(_) | HeaderValue::Empty => None,
    }
}
