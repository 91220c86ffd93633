//! Logs as a log shipper reads them: JSON lines, and one request id on the
//! client's, the server's and the remotes' lines about the same work.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::procs::{Net, random_file};

/// JSON logs, with the per-request lines (debug) of the server, the remotes
/// and the client's calls.
const LOG: [(&str, &str); 2] = [("RUST_LOG", "info,pyxis_net=debug,pyxis_client=debug"), ("PYXIS_LOG_JSON", "1")];

/// Every line of `text`, each of which must be a JSON object.
fn json_lines(what: &str, text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(v) if v.is_object() => v,
            _ => panic!("a line of {what} is not a JSON object: {l}"),
        })
        .collect()
}

fn log_file(dir: &Path, name: &str) -> Vec<Value> {
    json_lines(name, &std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap())
}

/// The request ids a line carries, in its fields or its spans.
fn ids(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("request_id", Value::String(id)) => {
                        out.insert(id.clone());
                    }
                    _ => ids(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| ids(v, out)),
        _ => {}
    }
}

fn with_id<'a>(lines: &'a [Value], id: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| {
            let mut found = BTreeSet::new();
            ids(l, &mut found);
            found.contains(id)
        })
        .collect()
}

/// The route of a per-request line ("" if it has none).
fn route(line: &Value) -> &str {
    line["span"]["route"].as_str().unwrap_or("")
}

#[test]
fn json_logs_parse_and_one_request_id_is_on_the_clients_the_servers_and_a_remotes_lines() {
    let net = Net::start_with_env(3, &[], &LOG);
    net.ok(&["signup", "alice"]);
    let file = net.dir.path().join("f");
    random_file(&file, 7, 300_000);
    let out = net.command(&["put", file.to_str().unwrap(), "/f"]).envs(LOG).output().unwrap();
    assert!(out.status.success(), "put failed: {}", String::from_utf8_lossy(&out.stderr));

    // The client: its lines carry one id, the command's.
    let client = json_lines("the client's stderr", &String::from_utf8_lossy(&out.stderr));
    let mut client_ids = BTreeSet::new();
    client.iter().for_each(|l| ids(l, &mut client_ids));
    assert_eq!(client_ids.len(), 1, "one id for the command: {client_ids:?}");
    let id = client_ids.pop_first().unwrap();
    assert!(with_id(&client, &id).len() >= 2, "the client's calls are logged under its id");

    // The server: its lines about the command's calls, each with its route.
    let server = log_file(net.dir.path(), "server");
    let on_server = with_id(&server, &id);
    assert!(on_server.iter().any(|l| route(l).starts_with("/v1/")), "no server line with {id}: {on_server:?}");
    assert!(on_server.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string()));
    // And its other requests (the remotes' heartbeats) have ids of their own.
    let mut all = BTreeSet::new();
    server.iter().for_each(|l| ids(l, &mut all));
    assert!(all.len() > 1, "the server's own requests get their own ids");

    // A remote: the shard the command stored there.
    let on_remotes: Vec<Value> = (0..3)
        .flat_map(|i| log_file(net.dir.path(), &format!("remote-{i}")))
        .filter(|l| !with_id(std::slice::from_ref(l), &id).is_empty())
        .collect();
    assert!(
        on_remotes.iter().any(|l| route(l) == "/v1/shards/{hash}" && l["span"]["method"] == "PUT"),
        "no remote line with {id}: {on_remotes:?}"
    );
}
