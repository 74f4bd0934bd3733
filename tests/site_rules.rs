//! Per-site rules, through the real binary: the SPA fallback switched on and off (deploy
//! query, the multipart field, `PATCH /api/sites/{name}`, `fazt deploy --spa`), and the
//! bundlers' fingerprinted names cached forever.

mod common;
use common::*;

use std::process::Command;

fn multipart(fields: &[(&str, &[u8])], zip: &[u8]) -> (String, Vec<u8>) {
    let b = "----faztboundarySPA";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.zip\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(zip);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

fn app_zip() -> Vec<u8> {
    zipbuild::site(&[
        ("index.html", b"<div id=app></div>"),
        ("assets/index-DiwrgTda.js", b"console.log(1)"),
    ])
}

#[test]
fn spa_fallback_is_switched_by_deploy_and_api() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let deep = |srv: &Server| srv.get("app.localhost", "/settings/profile").status;
    let r = srv.req(
        "PUT",
        "localhost",
        "/api/sites/app?spa=true",
        &[("Authorization", &format!("Bearer {tok}"))],
        &app_zip(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["spa"], true);
    let r = srv.get("app.localhost", "/settings/profile");
    assert_eq!((r.status, r.text().as_str()), (200, "<div id=app></div>"));
    // A path with an extension is a missing file, not a route.
    assert_eq!(srv.get("app.localhost", "/missing.js").status, 404);
    // A redeploy without the flag keeps it; the multipart field switches it off.
    assert_eq!(put_zip(&srv, &tok, "app", &app_zip()).status, 200);
    assert_eq!(deep(&srv), 200);
    let (ct, body) = multipart(&[("site_name", b"app"), ("spa", b"false")], &app_zip());
    let auth = format!("Bearer {tok}");
    let r = srv.req(
        "POST",
        "localhost",
        "/api/deploy",
        &[("Authorization", &auth), ("Content-Type", &ct)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(deep(&srv), 404);
    // The API switches it without a deploy, and the site's answer changes at once.
    let r = api(&srv, &tok, "PATCH", "/api/sites/app", br#"{"spa": true}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(deep(&srv), 200);
    let r = api(&srv, &tok, "GET", "/api/sites/app", b"");
    assert_eq!(r.json()["data"]["spa"], true);
    // Bad values: a clear error, nothing changed, and no upload read for a bad flag.
    for (method, path, body, status, code) in [
        (
            "PATCH",
            "/api/sites/app",
            &br#"{"spa": "yes"}"#[..],
            400,
            "BAD_REQUEST",
        ),
        (
            "PATCH",
            "/api/sites/app",
            br#"{"spa": true, "x": 1}"#,
            400,
            "BAD_REQUEST",
        ),
        ("PATCH", "/api/sites/app", b"[]", 400, "BAD_REQUEST"),
        (
            "PATCH",
            "/api/sites/nope",
            br#"{"spa": true}"#,
            404,
            "NOT_FOUND",
        ),
        ("PUT", "/api/sites/app?spa=maybe", b"PK", 400, "INVALID_SPA"),
    ] {
        let r = api(&srv, &tok, method, path, body);
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}"
        );
    }
    assert_eq!(deep(&srv), 200);

    // `fazt deploy --no-spa` / `--spa`.
    let work = TempDir::new("spa-cli");
    let dir = work.join("app");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "cli").unwrap();
    let server = format!("http://127.0.0.1:{}", srv.addr.port());
    let cli = |flag: &str| {
        Command::new(bin())
            .args([
                "deploy",
                dir.to_str().unwrap(),
                flag,
                "--server",
                &server,
                "--token",
                &tok,
            ])
            .env("FAZT_CLIENT_CONFIG", work.join("c.json"))
            .output()
            .unwrap()
    };
    ok(&cli("--no-spa"));
    assert_eq!(deep(&srv), 404);
    ok(&cli("--spa"));
    assert_eq!(deep(&srv), 200);
    let o = Command::new(bin())
        .args(["deploy", dir.to_str().unwrap(), "--spa", "--no-spa"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bundler_fingerprints_are_immutable_and_others_revalidate() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let hashed = [
        "assets/index-DiwrgTda.js",                     // Vite
        "assets/index-Bk_VxDe3.js",                     // Vite, `_` in the hash
        "assets/vendor-C-3kQx9A.css",                   // Rollup, `-` in the hash
        "static/js/787.8a4b2c1d.chunk.js",              // webpack (CRA)
        "main.3f2a1b9c4d5e6f708192.js",                 // webpack contenthash
        "out/index-5JDMFSQ2.js",                        // esbuild
        "chunk-ABCDEFGH.js",                            // esbuild, all letters
        "index.1a2b3c4d.js",                            // Parcel
        "_next/static/chunks/main-abcdef0123456789.js", // Next.js
    ];
    let plain = [
        "app.js",
        "my-homepage.js",
        "jquery-3.7.1.min.js",
        "logo-dark.svg",
    ];
    let mut files: Vec<(&str, &[u8])> = vec![("index.html", b"<p>hi</p>")];
    for p in hashed.iter().chain(plain.iter()) {
        files.push((p, b"x"));
    }
    assert_eq!(
        put_zip(&srv, &tok, "web", &zipbuild::site(&files)).status,
        200
    );
    for p in hashed {
        let r = srv.get("web.localhost", &format!("/{p}"));
        assert_eq!(r.status, 200, "{p}");
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{p}"
        );
    }
    for p in plain {
        let r = srv.get("web.localhost", &format!("/{p}"));
        let cc = r.header("cache-control").unwrap_or("");
        assert!(!cc.contains("immutable"), "{p}: {cc}");
    }
    assert_eq!(
        srv.get("web.localhost", "/").header("cache-control"),
        Some("no-cache")
    );
}

#[test]
fn redirects_and_headers_files_apply_to_their_site() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let redirects = b"# Netlify's format\n\
/old            /new.html          301\n\
/blog/*         /posts/:splat      302\n\
/news/:year/:slug  /archive/:year/:slug.html  308\n\
/go             https://example.org/landing  307\n\
/app/*          /app.html          200\n\
/shadowed       /new.html          302\n\
/forced         /new.html          302!\n\
/gone           /gone.html         410\n\
/*              /missing.html      404\n";
    let headers = b"/*\n  X-Frame-Options: DENY\n/assets/*\n  Cache-Control: public, max-age=60\n  X-Asset: yes\n";
    let zip = zipbuild::site(&[
        ("index.html", b"home"),
        ("new.html", b"new page"),
        ("app.html", b"the app"),
        ("shadowed", b"a real file"),
        ("forced", b"a real file too"),
        ("missing.html", b"custom missing page"),
        ("archive/2024/launch.html", b"launch post"),
        ("assets/site.css", b"body{}"),
        ("_redirects", redirects),
        ("_headers", headers),
    ]);
    let r = put_zip(&srv, &tok, "rules", &zip);
    assert_eq!(r.status, 200, "{}", r.text());
    let get = |p: &str| srv.get("rules.localhost", p);
    let loc = |p: &str| {
        let r = get(p);
        (r.status, r.header("location").map(str::to_string))
    };
    assert_eq!(loc("/old"), (301, Some("/new.html".into())));
    assert_eq!(
        loc("/old?ref=mail"),
        (301, Some("/new.html?ref=mail".into()))
    );
    assert_eq!(
        loc("/blog/2024/hello"),
        (302, Some("/posts/2024/hello".into()))
    );
    assert_eq!(
        loc("/news/2024/launch"),
        (308, Some("/archive/2024/launch.html".into()))
    );
    assert_eq!(
        loc("/go"),
        (307, Some("https://example.org/landing".into()))
    );
    // A rewrite serves the target under the asked URL.
    let r = get("/app/settings/profile");
    assert_eq!(
        (r.status, r.text().as_str(), r.header("location")),
        (200, "the app", None)
    );
    // A file shadows a rule; `!` forces it.
    assert_eq!(get("/shadowed").text(), "a real file");
    assert_eq!(loc("/forced"), (302, Some("/new.html".into())));
    // Error statuses: with the target's page, or a plain body when it does not exist.
    assert_eq!(get("/gone").status, 410);
    let r = get("/no/such/page");
    assert_eq!((r.status, r.text().as_str()), (404, "custom missing page"));
    // Files are served as usual, with the site's headers; the rules files themselves never.
    assert_eq!(get("/").text(), "home");
    let r = get("/assets/site.css");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-asset"), Some("yes"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    assert_eq!(get("/new.html").header("x-frame-options"), Some("DENY"));
    assert_eq!(get("/new.html").header("x-asset"), None);
    assert_eq!(get("/_redirects").text(), "custom missing page");
    assert_eq!(get("/_headers").status, 404);
    // Another site is untouched by them.
    assert_eq!(
        put_zip(
            &srv,
            &tok,
            "plain",
            &zipbuild::site(&[("index.html", b"p")])
        )
        .status,
        200
    );
    let r = srv.get("plain.localhost", "/old");
    assert_eq!((r.status, r.header("x-frame-options")), (404, None));

    // A bad line refuses the deploy, naming it; the site keeps its rules.
    for (file, text, line) in [
        (
            "_redirects",
            &b"/a /b\n/c /d 299\n"[..],
            "_redirects line 2",
        ),
        ("_redirects", b"/a https://x.org 200\n", "_redirects line 1"),
        ("_headers", b"/x\n  Content-Length: 1\n", "_headers line 2"),
        ("_headers", b"  X-A: b\n", "_headers line 1"),
        ("_redirects", b"\xff\xfe", "not UTF-8"),
    ] {
        let zip = zipbuild::site(&[("index.html", b"broken"), (file, text)]);
        let r = put_zip(&srv, &tok, "rules", &zip);
        assert_eq!(r.status, 400, "{file}: {}", r.text());
        let e = r.json();
        assert_eq!(e["error"]["code"], "INVALID_RULES");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(line),
            "{e}"
        );
    }
    assert_eq!(loc("/old"), (301, Some("/new.html".into())));
    assert_eq!(get("/").text(), "home");
}
