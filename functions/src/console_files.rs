//! The web console's built files (`console/dist`), served by the local gateway beside the API:
//! every `GET`/`HEAD` outside `/v1`, `/scim` and `/.well-known` is a file of the build, or, for
//! a client route (a last segment without a dot), `index.html`. Answers carry the console's
//! Content-Security-Policy. Deployed, CloudFront serves the same files from S3 (SPEC §9.5).

use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::Body;
use std::path::{Component, Path, PathBuf};

/// The build directory and the policy its pages are served with.
#[derive(Debug, Clone)]
pub struct ConsoleFiles {
    root: PathBuf,
    csp: String,
}

/// Paths that belong to the API, never to the console.
const API_PREFIXES: [&str; 3] = ["/v1", "/scim", "/.well-known"];

impl ConsoleFiles {
    /// The console of `ROSTER_CONSOLE_DIR`, when that variable names a directory with an
    /// `index.html`. Import files are PUT straight to the bucket's presigned URL, so the
    /// emulator's origin (`AWS_ENDPOINT_URL`), when set, may be connected to as well.
    pub fn from_env() -> Option<Self> {
        let dir = std::env::var("ROSTER_CONSOLE_DIR").ok()?;
        let storage = std::env::var("AWS_ENDPOINT_URL").ok();
        let files = Self::new(PathBuf::from(dir), storage.as_deref());
        files.root.join("index.html").is_file().then_some(files)
    }

    pub fn new(root: PathBuf, storage_url: Option<&str>) -> Self {
        let storage = storage_url
            .and_then(origin)
            .map(|origin| format!(" {origin}"))
            .unwrap_or_default();
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src 'self'{storage}; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'"
        );
        Self { root, csp }
    }

    pub fn csp(&self) -> &str {
        &self.csp
    }

    /// The answer for a request the console serves, `None` for the API's paths and methods.
    pub fn answer(&self, method: &Method, path: &str) -> Option<lambda_http::Response<Body>> {
        if (method != Method::GET && method != Method::HEAD) || is_api_path(path) {
            return None;
        }
        let Some(relative) = safe_relative(path) else {
            return Some(self.not_found());
        };
        let file = match self.file_for(&relative) {
            Some(file) => file,
            None if is_client_route(&relative) => self.root.join("index.html"),
            None => return Some(self.not_found()),
        };
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(_) => return Some(self.not_found()),
        };
        let immutable = relative.starts_with("assets");
        let body = if method == Method::HEAD {
            Body::Empty
        } else {
            Body::Binary(bytes)
        };
        Some(self.respond(StatusCode::OK, content_type(&file), immutable, body))
    }

    /// A regular file of the build at `relative` (never outside the root, symlinks included).
    fn file_for(&self, relative: &Path) -> Option<PathBuf> {
        if relative.as_os_str().is_empty() {
            return None;
        }
        let candidate = self.root.join(relative).canonicalize().ok()?;
        let root = self.root.canonicalize().ok()?;
        (candidate.starts_with(&root) && candidate.is_file()).then_some(candidate)
    }

    fn not_found(&self) -> lambda_http::Response<Body> {
        self.respond(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            false,
            Body::Text("not found\n".into()),
        )
    }

    fn respond(
        &self,
        status: StatusCode,
        content_type: &'static str,
        immutable: bool,
        body: Body,
    ) -> lambda_http::Response<Body> {
        let mut response = lambda_http::Response::new(body);
        *response.status_mut() = status;
        let cache = if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if let Ok(csp) = HeaderValue::from_str(&self.csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        response
    }
}

/// `http://127.0.0.1:5000/any` → `http://127.0.0.1:5000`; `None` unless http(s) with a host.
fn origin(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str().filter(|s| *s == "http" || *s == "https")?;
    Some(format!("{scheme}://{}", uri.authority()?))
}

fn is_api_path(path: &str) -> bool {
    API_PREFIXES
        .iter()
        .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
}

/// The request path as a relative path of plain names, or `None` when any segment, once
/// percent-decoded, is `.`, `..`, empty of meaning or holds a separator or NUL.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_decode(segment)?;
        if decoded.contains(['\\', '\0', '/']) {
            return None;
        }
        let mut components = Path::new(&decoded).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(name)), None) => relative.push(name),
            _ => return None,
        }
    }
    Some(relative)
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A path the console's router handles (`/tenants/…/tasks`): its last segment has no extension.
fn is_client_route(relative: &Path) -> bool {
    relative
        .file_name()
        .and_then(|name| name.to_str())
        .is_none_or(|name| !name.contains('.'))
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build() -> (PathBuf, ConsoleFiles) {
        let root = std::env::temp_dir().join(format!("roster-console-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(root.join("assets")).unwrap();
        std::fs::write(
            root.join("index.html"),
            "<!doctype html><title>Roster</title>",
        )
        .unwrap();
        std::fs::write(root.join("assets/index-abc.js"), "console.log(1)").unwrap();
        std::fs::write(root.join("assets/index-abc.css"), "body{}").unwrap();
        std::fs::write(root.with_extension("secret"), "outside").unwrap();
        let files = ConsoleFiles::new(root.clone(), Some("http://127.0.0.1:5000/"));
        (root, files)
    }

    fn body(response: &lambda_http::Response<Body>) -> String {
        String::from_utf8(response.body().to_vec()).unwrap()
    }

    fn header<'a>(response: &'a lambda_http::Response<Body>, name: &str) -> &'a str {
        response.headers()[name].to_str().unwrap()
    }

    #[test]
    fn serves_files_with_their_types_and_the_policy() {
        let (_root, files) = build();
        let js = files.answer(&Method::GET, "/assets/index-abc.js").unwrap();
        assert_eq!(js.status(), 200);
        assert_eq!(
            header(&js, "content-type"),
            "text/javascript; charset=utf-8"
        );
        assert!(header(&js, "cache-control").contains("immutable"));
        assert_eq!(body(&js), "console.log(1)");
        let css = files.answer(&Method::GET, "/assets/index-abc.css").unwrap();
        assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");
        let page = files.answer(&Method::GET, "/").unwrap();
        assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&page, "cache-control"), "no-cache");
        let csp = header(&page, "content-security-policy");
        assert!(csp.starts_with("default-src 'self'; script-src 'self';"));
        assert!(csp.contains("connect-src 'self' http://127.0.0.1:5000;"));
        assert!(!csp.contains("unsafe"));
        assert_eq!(header(&page, "x-content-type-options"), "nosniff");
        let head = files.answer(&Method::HEAD, "/index.html").unwrap();
        assert_eq!(head.status(), 200);
        assert!(body(&head).is_empty());
    }

    #[test]
    fn the_storage_origin_is_scheme_and_host_only() {
        assert_eq!(
            origin("http://127.0.0.1:5000/x?y").as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(
            origin("https://s3.amazonaws.com").as_deref(),
            Some("https://s3.amazonaws.com")
        );
        assert_eq!(origin("ftp://host"), None);
        assert_eq!(origin("not a url"), None);
        let files = ConsoleFiles::new(PathBuf::from("/nowhere"), Some("'; script-src *"));
        assert!(files.csp().contains("connect-src 'self';"));
    }

    #[test]
    fn client_routes_fall_back_to_the_page_and_missing_files_do_not() {
        let (_root, files) = build();
        for route in ["/sign-in", "/tenants/0190/tasks", "/set-password"] {
            let page = files.answer(&Method::GET, route).unwrap();
            assert_eq!(page.status(), 200, "{route}");
            assert!(body(&page).contains("<title>Roster</title>"));
        }
        let missing = files.answer(&Method::GET, "/assets/gone.js").unwrap();
        assert_eq!(missing.status(), 404);
    }

    #[test]
    fn the_api_and_other_methods_are_not_the_consoles() {
        let (_root, files) = build();
        for path in [
            "/v1",
            "/v1/me",
            "/scim/v2/x/Users",
            "/.well-known/jwks.json",
        ] {
            assert!(files.answer(&Method::GET, path).is_none(), "{path}");
        }
        assert!(files.answer(&Method::POST, "/sign-in").is_none());
        assert!(files.answer(&Method::GET, "/v1x").is_some());
    }

    #[test]
    fn no_path_leaves_the_build() {
        let (root, files) = build();
        let outside = root.with_extension("secret");
        let name = outside.file_name().unwrap().to_str().unwrap();
        for path in [
            format!("/../{name}"),
            format!("/assets/../../{name}"),
            format!("/%2e%2e/{name}"),
            format!("/assets/%2E%2E%2F..%2F{name}"),
            "/assets/..%5c..%5cetc".to_string(),
            "/%00".to_string(),
            "/%zz".to_string(),
        ] {
            let answer = files.answer(&Method::GET, &path).unwrap();
            assert_eq!(answer.status(), 404, "{path}");
            assert!(!body(&answer).contains("outside"), "{path}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&outside, root.join("assets/link.js")).unwrap();
            let linked = files.answer(&Method::GET, "/assets/link.js").unwrap();
            assert_eq!(linked.status(), 404);
        }
    }
}
