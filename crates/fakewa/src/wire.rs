//! Binary nodes on the wire: decoding what the client sent, encoding what fakewa answers, and
//! the small builders the handlers share (`iq` results and errors, reading attributes).

use anyhow::{Context, Result};
use wacore_binary::builder::NodeBuilder;
use wacore_binary::node::{Node, NodeContent};

/// What the world asks of a connection.
#[derive(Debug)]
pub enum Out {
    Node(Node),
    /// Close the socket (after the nodes before it).
    Close,
}

/// One decrypted frame from the client, as a node.
pub fn decode(plaintext: &[u8]) -> Result<Node> {
    let unpacked = wacore_binary::util::unpack(plaintext).context("a frame's compression")?;
    Ok(wacore_binary::marshal::unmarshal_ref(&unpacked).context("a node")?.to_owned())
}

/// One node, ready to encrypt (with its flag byte).
pub fn encode(node: &Node) -> Result<Vec<u8>> {
    Ok(wacore_binary::marshal::marshal(node)?)
}

/// An attribute as text ("" when absent).
pub fn attr(node: &Node, key: &str) -> String {
    node.attrs.get(key).map(|v| v.to_string()).unwrap_or_default()
}

/// The first child with this tag.
pub fn child<'a>(node: &'a Node, tag: &str) -> Option<&'a Node> {
    node.get_optional_child(tag)
}

/// A node's children (none for a leaf).
pub fn children(node: &Node) -> &[Node] {
    node.children().unwrap_or(&[])
}

/// A node's bytes (empty for a node without bytes).
pub fn bytes(node: &Node) -> Vec<u8> {
    match &node.content {
        Some(NodeContent::Bytes(b)) => b.clone(),
        Some(NodeContent::String(s)) => s.as_bytes().to_vec(),
        _ => Vec::new(),
    }
}

/// `<iq type="result" id=… from="s.whatsapp.net">` with these children.
pub fn iq_result(request: &Node, content: Vec<Node>) -> Node {
    let mut builder =
        NodeBuilder::new("iq").attr("id", attr(request, "id")).attr("type", "result").attr("from", reply_from(request));
    if !content.is_empty() {
        builder = builder.children(content);
    }
    builder.build()
}

/// `<iq type="error">` with `<error code text>`.
pub fn iq_error(request: &Node, code: u16, text: &str) -> Node {
    NodeBuilder::new("iq")
        .attr("id", attr(request, "id"))
        .attr("type", "error")
        .attr("from", reply_from(request))
        .children([NodeBuilder::new("error").attr("code", code.to_string()).attr("text", text).build()])
        .build()
}

fn reply_from(request: &Node) -> String {
    match attr(request, "to") {
        to if to.is_empty() => "s.whatsapp.net".to_string(),
        to => to,
    }
}

/// A short XML-like rendering for logs.
pub fn show(node: &Node) -> String {
    let mut out = format!("<{}", node.tag);
    for (key, value) in node.attrs.iter() {
        out.push_str(&format!(" {key}=\"{value}\""));
    }
    match &node.content {
        None => out.push_str("/>"),
        Some(NodeContent::Bytes(b)) => out.push_str(&format!(">[{} bytes]</{}>", b.len(), node.tag)),
        Some(NodeContent::String(s)) => out.push_str(&format!(">{s}</{}>", node.tag)),
        Some(NodeContent::Nodes(nodes)) => {
            out.push('>');
            for n in nodes {
                out.push_str(&show(n));
            }
            out.push_str(&format!("</{}>", node.tag));
        }
    }
    out
}
