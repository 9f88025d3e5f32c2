//! `GET /api/openapi.json`: a valid OpenAPI 3 document (every `$ref`
//! resolves, every operation has a tag and responses), complete (every
//! `.route("/api/v1…")` in `crates/*/src` is in it, and it names no
//! operation the server lacks), and true to the server's real answers.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc() -> Value {
    serde_json::from_str(app::openapi::json()).expect("the document is JSON")
}

/// Every operation: (METHOD, path, operation object).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (m, op) in item.as_object().expect("path item") {
            if METHODS.contains(&m.as_str()) {
                out.push((m.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// Resolves a local `$ref` (`#/components/…`) by JSON pointer.
fn resolve<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
    let pointer = r.strip_prefix('#')?;
    if !pointer.starts_with("/components/") {
        return None;
    }
    doc.pointer(pointer)
}

fn collect_refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push((at.to_string(), x.as_str().unwrap_or("?").to_string()));
                } else {
                    collect_refs(x, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect_refs(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi_3() {
    let doc = doc();
    let version = doc["openapi"].as_str().expect("openapi field");
    assert!(version.starts_with("3."), "{version}");
    assert_eq!(doc["info"]["title"], "Lianxin 连心 API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(!doc["servers"].as_array().expect("servers").is_empty());
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");

    // Every $ref resolves to a component.
    let mut refs = Vec::new();
    collect_refs(&doc, "", &mut refs);
    assert!(refs.len() > 100, "only {} $refs", refs.len());
    let broken: Vec<_> = refs
        .iter()
        .filter(|(_, r)| resolve(&doc, r).is_none())
        .collect();
    assert!(broken.is_empty(), "unresolved $refs: {broken:#?}");

    // The one error schema.
    let error = &doc["components"]["schemas"]["ErrorBody"];
    let required: Vec<&str> = error["required"]
        .as_array()
        .expect("ErrorBody.required")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["code", "message"]);
    assert!(error["properties"]["fields"].is_object());

    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let ops = operations(&doc);
    assert!(ops.len() >= 80, "only {} operations", ops.len());
    let mut ids = BTreeSet::new();
    for (method, path, op) in &ops {
        let at = format!("{method} {path}");
        assert!(path.starts_with("/api/v1/"), "{at}: outside /api/v1");
        let op_tags = op["tags"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: no tag"));
        assert!(!op_tags.is_empty(), "{at}: no tag");
        for t in op_tags {
            assert!(
                tags.contains(t.as_str().unwrap()),
                "{at}: tag {t} not declared"
            );
        }
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{at}: no summary"
        );
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_string()), "{at}: operationId {id} twice");

        // Responses: a success, and each error is the ErrorBody.
        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{at}: no responses"));
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{at}: no success response"
        );
        for (status, r) in responses {
            let n: u16 = status.parse().unwrap_or_else(|_| panic!("{at}: {status}"));
            assert!((200..600).contains(&n), "{at}: {status}");
            let r = match r.get("$ref") {
                Some(x) => resolve(&doc, x.as_str().unwrap()).unwrap(),
                None => r,
            };
            assert!(
                r["description"].is_string(),
                "{at} {status}: no description"
            );
            if n >= 400 {
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{at} {status}"
                );
            }
        }

        // Secured operations use the bearer scheme and say 401.
        if let Some(security) = op.get("security") {
            assert_eq!(security, &json!([{"bearer": []}]), "{at}");
            assert!(responses.contains_key("401"), "{at}: secured without 401");
        }

        // Each `{name}` of the path is a required path parameter.
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| {
                        assert_eq!(p["required"], true, "{at}");
                        p["name"].as_str().unwrap()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        assert_eq!(declared, in_path, "{at}: path parameters");
    }
}

#[tokio::test]
async fn the_server_serves_the_document() {
    let app = spawn_empty_app().await;
    let r = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let served: Value = r.json().await.unwrap();
    assert_eq!(served, doc());
}

// ---------------------------------------------------------------- coverage

/// A Rust source with comments blanked and each string literal replaced by
/// `"#N"`, its contents in `literals[N]`; char literals and lifetimes are
/// told apart so a `'"'` does not open a string.
struct Lexed {
    code: String,
    literals: Vec<String>,
}

fn lex(src: &str) -> Lexed {
    let c: Vec<char> = src.chars().collect();
    let ident = |x: char| x.is_alphanumeric() || x == '_';
    let mut code = String::new();
    let mut literals = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let x = c[i];
        let next = c.get(i + 1).copied();
        if x == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if x == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            code.push(' ');
        } else if x == 'r'
            && (i == 0 || !ident(c[i - 1]) || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2]))))
            && matches!(next, Some('"') | Some('#'))
            && {
                let mut j = i + 1;
                while c.get(j) == Some(&'#') {
                    j += 1;
                }
                c.get(j) == Some(&'"')
            }
        {
            let mut hashes = 0;
            i += 1;
            while c[i] == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            let start = i;
            loop {
                if c[i] == '"' && (0..hashes).all(|h| c.get(i + 1 + h) == Some(&'#')) {
                    break;
                }
                i += 1;
            }
            literals.push(c[start..i].iter().collect());
            code.push_str(&format!("\"#{}\"", literals.len() - 1));
            i += 1 + hashes;
        } else if x == '"' {
            i += 1;
            let mut s = String::new();
            while c[i] != '"' {
                if c[i] == '\\' {
                    s.push(c[i]);
                    i += 1;
                }
                s.push(c[i]);
                i += 1;
            }
            literals.push(s);
            code.push_str(&format!("\"#{}\"", literals.len() - 1));
            i += 1;
        } else if x == '\'' {
            // 'x', '\n', '\u{..}' are chars; anything else is a lifetime.
            if next == Some('\\') {
                let mut j = i + 2;
                while c[j] != '\'' {
                    j += 1;
                }
                code.push_str("' '");
                i = j + 1;
            } else if c.get(i + 2) == Some(&'\'') {
                code.push_str("' '");
                i += 3;
            } else {
                code.push(x);
                i += 1;
            }
        } else {
            code.push(x);
            i += 1;
        }
    }
    Lexed { code, literals }
}

/// The literal a `"#N"` placeholder at the start of `s` stands for.
fn literal_at<'a>(lexed: &'a Lexed, s: &str) -> Option<&'a str> {
    let rest = s.trim_start().strip_prefix("\"#")?;
    let end = rest.find('"')?;
    let n: usize = rest[..end].parse().ok()?;
    Some(&lexed.literals[n])
}

/// The text from just after an opening parenthesis to its match.
fn balanced(s: &str) -> &str {
    let mut depth = 1;
    for (i, ch) in s.char_indices() {
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    s
}

/// The HTTP methods of a method router expression such as
/// `get(list).post(create)` or `axum::routing::post(x).layer(…)`.
fn methods_of(expr: &str) -> Vec<String> {
    const ROUTING: [&str; 9] = [
        "get", "post", "put", "patch", "delete", "head", "options", "trace", "any",
    ];
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut depth = 0;
    for (i, ch) in expr.char_indices() {
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if depth != 0 {
            continue;
        }
        for m in ROUTING {
            let before_ok = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
            if before_ok
                && expr[i..].starts_with(m)
                && expr[i + m.len()..].trim_start().starts_with('(')
            {
                out.push(m.to_uppercase());
            }
        }
    }
    out
}

/// `(METHOD, path)` of every `.route("/api/v1…", …)` in one source file;
/// `Err` for a router call whose path is not a literal (so none hides).
fn api_routes(src: &str, file: &str) -> Result<Vec<(String, String)>, String> {
    let lexed = lex(src);
    let code = &lexed.code;
    let mut out = Vec::new();
    for call in [".route(", ".nest(", ".route_service(", ".nest_service("] {
        let mut from = 0;
        while let Some(pos) = code[from..].find(call) {
            let start = from + pos + call.len();
            from = start;
            let args = balanced(&code[start..]);
            let Some(path) = literal_at(&lexed, args) else {
                return Err(format!("{file}: {call} with a path that is not a literal"));
            };
            if !path.starts_with("/api/v1") {
                continue;
            }
            if call != ".route(" {
                return Err(format!("{file}: {call}{path:?}: use .route for /api/v1"));
            }
            let handler = &args[args.find(',').ok_or(format!("{file}: {path}"))? + 1..];
            let methods = methods_of(handler.trim());
            if methods.is_empty() || methods.iter().any(|m| m == "ANY") {
                return Err(format!("{file}: {path}: methods {methods:?}"));
            }
            for m in methods {
                out.push((m, path.to_string()));
            }
        }
    }
    Ok(out)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The sources of every crate of the workspace (`crates/*/src`).
fn workspace_sources() -> Vec<(String, String)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&crates).unwrap() {
        let src = e.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let name = f.strip_prefix(&crates).unwrap_or(&f).display().to_string();
            (name, std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

#[test]
fn the_route_reader_reads_routers() {
    let src = r##"
        // .route("/api/v1/commented", get(nothing))
        pub fn routes() -> Router<Ctx> {
            Router::new()
                .route("/api/v1/a", get(list).post(create))
                .route(
                    "/api/v1/a/{id}",
                    axum::routing::put(update_a).layer(DefaultBodyLimit::max(64 * 1024)),
                )
                .route("/api/v1/b/{id}/photos", post(upload).layer(axum::extract::DefaultBodyLimit::max(
                    PHOTO_MAX_BYTES + 64 * 1024,
                )))
                .route("/api/v1/c", delete(get_rid)) /* .route("/api/v1/x", get(y)) */
                .route("/open311/v2/{file}", any(resource))
                .route("/page", get(|| async { let q = '"'; r#"x".route("/api/v1/y", get(z))"# }))
        }
    "##;
    let got = api_routes(src, "t.rs").unwrap();
    let want: Vec<(String, String)> = [
        ("GET", "/api/v1/a"),
        ("POST", "/api/v1/a"),
        ("PUT", "/api/v1/a/{id}"),
        ("POST", "/api/v1/b/{id}/photos"),
        ("DELETE", "/api/v1/c"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(got, want);
    assert!(api_routes(r#"r.route(PATH, get(x))"#, "t.rs").is_err());
    assert!(api_routes(r#"r.route("/api/v1/z", any(x))"#, "t.rs").is_err());
    assert!(api_routes(r#"r.nest("/api/v1/z", other())"#, "t.rs").is_err());
}

/// The test that fails when a route exists that the document lacks (or
/// the document describes an operation no router serves).
#[test]
fn every_api_route_is_documented_and_nothing_else() {
    let mut routed = BTreeMap::new();
    for (file, src) in workspace_sources() {
        for r in api_routes(&src, &file).unwrap_or_else(|e| panic!("{e}")) {
            if let Some(other) = routed.insert(r.clone(), file.clone()) {
                panic!("{r:?} routed in {other} and {file}");
            }
        }
    }
    assert!(routed.len() >= 80, "only {} routes found", routed.len());
    let documented: BTreeSet<(String, String)> = operations(&doc())
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let missing: Vec<String> = routed
        .iter()
        .filter(|(r, _)| !documented.contains(*r))
        .map(|((m, p), file)| format!("{m} {p}   (routed in {file})"))
        .collect();
    let unrouted: Vec<String> = documented
        .iter()
        .filter(|r| !routed.contains_key(*r))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty() && unrouted.is_empty(),
        "\nroutes the OpenAPI document lacks (add #[utoipa::path] and list the handler in \
         crates/app/src/openapi.rs):\n  {}\noperations no router serves:\n  {}\n",
        if missing.is_empty() {
            "(none)".into()
        } else {
            missing.join("\n  ")
        },
        if unrouted.is_empty() {
            "(none)".into()
        } else {
            unrouted.join("\n  ")
        },
    );
}

/// Two schemas of one name would overwrite each other in `components`.
#[test]
fn schema_names_are_unique() {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut dups = Vec::new();
    for (file, src) in workspace_sources() {
        let code = lex(&src).code;
        let mut from = 0;
        while let Some(pos) = code[from..].find("#[derive(") {
            let start = from + pos + "#[derive(".len();
            from = start;
            if !balanced(&code[start..]).contains("ToSchema") {
                continue;
            }
            // The attributes up to the item, then its name.
            let rest = &code[start..];
            let item = ["struct ", "enum "]
                .iter()
                .filter_map(|k| rest.find(k).map(|i| (i, k.len())))
                .min()
                .expect("an item after the derive");
            let attrs = &rest[..item.0];
            let name: String = rest[item.0 + item.1..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let name = match attrs.find("as = ") {
                Some(i) => attrs[i + 5..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
                None => name,
            };
            if let Some(other) = seen.insert(name.clone(), file.clone()) {
                dups.push(format!("{name}: {other} and {file}"));
            }
        }
    }
    assert!(seen.len() > 50, "{seen:?}");
    assert!(
        dups.is_empty(),
        "schema names used twice (rename one with #[schema(as = …)]):\n{}",
        dups.join("\n")
    );
}

/// Structural check of the other direction: each documented operation is
/// served — a secured one answers 401 without a token (not the router's
/// 404 or 405), a public one answers something other than 404/405.
#[tokio::test]
async fn every_documented_operation_is_served_as_declared() {
    let app = spawn_empty_app().await;
    let some_id = "00000000-0000-7000-8000-000000000000";
    for (method, path, op) in operations(&doc()) {
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { some_id } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let r = app
            .client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(&concrete),
            )
            .send()
            .await
            .unwrap();
        let status = r.status();
        let at = format!("{method} {path}");
        if op.get("security").is_some() {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{at}");
        } else {
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{at}: {status}"
            );
        }
        assert!(
            op["responses"].get(status.as_str()).is_some(),
            "{at}: {status} not documented"
        );
    }
}

// ---------------------------------------------------------------- real answers

/// A small JSON Schema check (the subset utoipa emits): `$ref`, `allOf`,
/// `oneOf`/`anyOf`, `type` (one or a list), `enum`, `required`,
/// `properties`, `items`, `additionalProperties`, `minimum`/`maximum`.
fn check(doc: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        match resolve(doc, r) {
            Some(s) => check(doc, s, v, at, errors),
            None => errors.push(format!("{at}: unresolved {r}")),
        }
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(doc, s, v, at, errors);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(any) = schema.get(key).and_then(Value::as_array) {
            let fits = any.iter().filter(|s| {
                let mut e = Vec::new();
                check(doc, s, v, at, &mut e);
                e.is_empty()
            });
            let n = fits.count();
            if n == 0 || (key == "oneOf" && n > 1) {
                errors.push(format!("{at}: {n} of {key} fit {v}"));
            }
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !fits {
            errors.push(format!("{at}: {v} is not {types:?}"));
            return;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(v) {
            errors.push(format!("{at}: {v} not in {values:?}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
            || schema
                .get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n > m)
        {
            errors.push(format!("{at}: {n} out of range"));
        }
    }
    if let Value::Object(o) = v {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap();
            if !o.contains_key(r) {
                errors.push(format!("{at}: required `{r}` missing"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(doc, s, x, &format!("{at}.{k}"), errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{at}: `{k}` not allowed"));
                    }
                    Some(s @ Value::Object(_)) => check(doc, s, x, &format!("{at}.{k}"), errors),
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(a), Some(items)) = (v, schema.get("items")) {
        for (i, x) in a.iter().enumerate() {
            check(doc, items, x, &format!("{at}[{i}]"), errors);
        }
    }
}

/// The JSON schema of one documented answer.
fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let op = &doc["paths"][path][method.to_lowercase()];
    let mut r = &op["responses"][status.to_string()];
    if let Some(x) = r.get("$ref").and_then(Value::as_str) {
        r = resolve(doc, x).unwrap();
    }
    let schema = &r["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path}: {status} has no JSON schema"
    );
    schema
}

/// Checks one real answer against the document; returns the errors.
fn conforms(
    doc: &Value,
    method: &str,
    path: &str,
    status: StatusCode,
    body: &Value,
) -> Vec<String> {
    let op = &doc["paths"][path][method.to_lowercase()];
    if op["responses"].get(status.as_str()).is_none() {
        return vec![format!("{method} {path}: status {status} not documented")];
    }
    let mut errors = Vec::new();
    let schema = response_schema(doc, method, path, status.as_u16());
    check(
        doc,
        schema,
        body,
        &format!("{method} {path} {status}"),
        &mut errors,
    );
    errors
}

fn required_of<'a>(doc: &'a Value, schema: &'a Value) -> BTreeSet<&'a str> {
    let s = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(doc, r).unwrap(),
        None => schema,
    };
    let mut out: BTreeSet<&str> = s["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for part in s["allOf"].as_array().into_iter().flatten() {
        out.extend(required_of(doc, part));
    }
    out
}

#[tokio::test]
async fn real_answers_have_what_the_document_says() {
    let app = spawn_app().await;
    let doc = doc();
    let resident = app.token("13800000001").await;

    // POST /api/v1/demands → 201 with every required field of DemandView.
    let (s, created) = app
        .post(
            "/api/v1/demands",
            &resident,
            json!({"category": "leak", "title": "楼道灯不亮", "description": "三楼楼道灯坏了一周了"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let schema = response_schema(&doc, "POST", "/api/v1/demands", 201);
    let required = required_of(&doc, schema);
    for f in ["id", "status", "category", "title", "created_at", "version"] {
        assert!(required.contains(f), "{f} not required in {required:?}");
    }
    for f in &required {
        assert!(created.get(*f).is_some(), "201 lacks `{f}`: {created}");
    }
    let e = conforms(&doc, "POST", "/api/v1/demands", s, &created);
    assert!(e.is_empty(), "{e:#?}");

    // GET /api/v1/demands → the list shape, each item a DemandView.
    let (s, list) = app.get("/api/v1/demands", &resident).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!list["items"].as_array().unwrap().is_empty());
    let e = conforms(&doc, "GET", "/api/v1/demands", s, &list);
    assert!(e.is_empty(), "{e:#?}");
    let page = required_of(&doc, response_schema(&doc, "GET", "/api/v1/demands", 200));
    assert!(
        page.contains("items") && page.contains("next_cursor"),
        "{page:?}"
    );

    // A 422 is the ErrorBody with `fields`.
    let (s, invalid) = app.post("/api/v1/demands", &resident, json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let e = conforms(&doc, "POST", "/api/v1/demands", s, &invalid);
    assert!(e.is_empty(), "{e:#?}");
    for f in required_of(&doc, response_schema(&doc, "POST", "/api/v1/demands", 422)) {
        assert!(invalid.get(f).is_some(), "422 lacks `{f}`");
    }
    assert!(invalid["fields"].is_object());

    // The detail, with its timeline.
    let id = created["id"].as_str().unwrap();
    let (s, detail) = app.get(&format!("/api/v1/demands/{id}"), &resident).await;
    let e = conforms(&doc, "GET", "/api/v1/demands/{id}", s, &detail);
    assert!(e.is_empty(), "{e:#?}");
}

/// Every documented read, as several kinds of caller, answers with a
/// documented status and a body that fits its schema. Reads with an `{id}`
/// take the first id of the list they belong to.
#[tokio::test]
async fn every_read_answers_as_documented() {
    let app = spawn_app().await;
    let doc = doc();
    let reads: Vec<(String, Value)> = operations(&doc)
        .into_iter()
        .filter(|(m, p, op)| {
            m == "GET"
                && !p.ends_with(".xlsx")
                && op["responses"]["200"]["content"]
                    .get("application/json")
                    .is_some()
        })
        .map(|(_, p, op)| (p, op))
        .collect();
    // Where a `{id}` comes from when it is not the list at the path's parent.
    let lists: BTreeMap<&str, &str> = [
        ("/api/v1/org/nodes", "/api/v1/org/tree"),
        (
            "/api/v1/org/households",
            "/api/v1/org/tree?depth=10&limit=100",
        ),
        ("/api/v1/party/members", "/api/v1/party/members"),
    ]
    .into_iter()
    .collect();
    let mut checked = BTreeSet::new();
    let mut failures = Vec::new();
    for login in [
        "13800000001",
        "butler-xc",
        "community-zq",
        "district-ls",
        "branch-fh",
        "auditor",
    ] {
        let token = app.token(login).await;
        for (path, _) in &reads {
            let concrete = if let Some(i) = path.find("/{") {
                if path[i + 2..].contains('{') {
                    continue;
                }
                let parent = &path[..i];
                let list = lists.get(parent).copied().unwrap_or(parent);
                let (s, v) = app.get(list, &token).await;
                if s != StatusCode::OK {
                    continue;
                }
                let want_household = parent.ends_with("/households");
                let Some(id) = v["items"].as_array().and_then(|items| {
                    items
                        .iter()
                        .find(|x| !want_household || x["kind"] == "household")
                        .and_then(|x| x["id"].as_str())
                }) else {
                    continue;
                };
                let rest = &path[i..];
                let after = &rest[rest.find('}').unwrap() + 1..];
                format!("{parent}/{id}{after}")
            } else {
                path.clone()
            };
            let (s, body) = app.get(&concrete, &token).await;
            let e = conforms(&doc, "GET", path, s, &body);
            if e.is_empty() {
                if s.is_success() {
                    checked.insert(path.clone());
                }
            } else {
                failures.push(format!("{login} GET {concrete}: {e:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Most reads were seen succeeding at least once.
    assert!(
        checked.len() * 4 >= reads.len() * 3,
        "only {} of {} reads answered 2xx: {checked:#?}",
        checked.len(),
        reads.len()
    );
}

/// Every POST the idempotency layer honours declares the `Idempotency-Key`
/// header (the tested creates among them); the exempt ones, whose answers
/// carry a credential, do not.
#[test]
fn every_post_declares_the_idempotency_key_it_honours() {
    let doc = doc();
    let declares = |op: &Value| {
        op["parameters"].as_array().is_some_and(|ps| {
            ps.iter().any(|p| {
                p["name"] == "Idempotency-Key"
                    && p["in"] == "header"
                    && p["required"] != true
                    && p["schema"]["maxLength"] == 255
            })
        })
    };
    let mut missing = Vec::new();
    let mut declared = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        if method != "POST" {
            assert!(!declares(&op), "{method} {path}: only POSTs honour the key");
            continue;
        }
        let exempt = kernel::idempotency::EXEMPT_PATHS.contains(&path.as_str());
        match (exempt, declares(&op)) {
            (false, false) => missing.push(path),
            (true, true) => panic!("{path}: its answer is never replayed"),
            (false, true) => {
                declared.insert(path);
            }
            (true, false) => {}
        }
    }
    assert!(
        missing.is_empty(),
        "POSTs without Idempotency-Key: {missing:?}"
    );
    for tested in [
        "/api/v1/demands",
        "/api/v1/demands/{id}/rating",
        "/api/v1/mediation/cases",
        "/api/v1/party/activities",
    ] {
        assert!(declared.contains(tested), "{tested}");
    }
    assert!(!declared.contains("/api/v1/auth/login"));
}
