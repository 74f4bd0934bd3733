//! `fazt deploy`, `fazt client set-auth-token` and `fazt sites` against a running server.

mod common;
use common::*;

use std::process::{Command, Output};

fn fazt(cfg: &std::path::Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("FAZT_CLIENT_CONFIG", cfg)
        .env_remove("FAZT_SERVER")
        .env_remove("FAZT_TOKEN")
        .output()
        .unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn deploy_a_folder_and_serve_identical_bytes() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let work = TempDir::new("client");
    let cfg = work.join("cfg/client.json");
    let site = work.join("my-blog");
    std::fs::create_dir_all(site.join("posts/2026/nov")).unwrap();
    std::fs::create_dir_all(site.join("node_modules/x")).unwrap();
    std::fs::create_dir_all(site.join("build")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>my blog</h1>").unwrap();
    std::fs::write(site.join("posts/2026/nov/hello.html"), "<p>hello</p>").unwrap();
    let image: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 9) as u8)
        .collect();
    std::fs::write(site.join("photo.jpg"), &image).unwrap();
    let big: Vec<u8> = (0..20 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2246822519) >> 13) as u8)
        .collect();
    std::fs::write(site.join("video.bin"), &big).unwrap();
    std::fs::write(site.join(".env"), "SECRET=1").unwrap();
    std::fs::write(site.join("node_modules/x/i.js"), "x").unwrap();
    std::fs::write(site.join("build/out.txt"), "x").unwrap();
    std::fs::write(site.join("debug.log"), "x").unwrap();
    std::fs::write(site.join(".gitignore"), "*.log\nbuild/\n").unwrap();

    let server = format!("http://127.0.0.1:{}", srv.addr.port());
    let o = fazt(
        &cfg,
        &[
            "client",
            "set-auth-token",
            "--token",
            &tok,
            "--server",
            &server,
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // No --site: the folder's name.
    let o = fazt(&cfg, &["deploy", site.to_str().unwrap()]);
    assert!(o.status.success(), "{}", err(&o));
    let url = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(
        url,
        format!("http://my-blog.localhost:{}/", srv.addr.port())
    );
    let h = "my-blog.localhost";
    assert_eq!(srv.get(h, "/").text(), "<h1>my blog</h1>");
    assert_eq!(srv.get(h, "/posts/2026/nov/hello").text(), "<p>hello</p>");
    assert_eq!(srv.get(h, "/photo.jpg").body, image);
    assert!(srv.get(h, "/video.bin").body == big, "20 MB file differs");
    for skipped in [
        "/.env",
        "/node_modules/x/i.js",
        "/build/out.txt",
        "/debug.log",
    ] {
        assert_eq!(
            srv.get(h, skipped).status,
            404,
            "{skipped} should not be uploaded"
        );
    }
    // --include-all uploads them.
    let o = fazt(
        &cfg,
        &[
            "deploy",
            site.to_str().unwrap(),
            "--site",
            "everything",
            "--include-all",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        srv.get("everything.localhost", "/node_modules/x/i.js")
            .text(),
        "x"
    );
    assert_eq!(srv.get("everything.localhost", "/debug.log").text(), "x");
    // Dot-files are uploaded but the server never publishes them (only `.well-known/`).
    assert_eq!(srv.get("everything.localhost", "/.env").status, 404);

    let o = fazt(&cfg, &["sites"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("my-blog"));

    // Go fazt's spellings: client deploy --path --domain, client sites, client delete.
    let small = work.join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("index.html"), "go style").unwrap();
    let o = fazt(
        &cfg,
        &[
            "client",
            "deploy",
            "--path",
            small.to_str().unwrap(),
            "--domain",
            "gostyle",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(srv.get("gostyle.localhost", "/").text(), "go style");
    let o = fazt(&cfg, &["client", "sites"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("gostyle"));
    let admin = token(&srv, "admin");
    let o = fazt(&cfg, &["client", "delete", "gostyle", "--token", &admin]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(srv.get("gostyle.localhost", "/").status, 404);
    let o = fazt(
        &cfg,
        &[
            "deploy",
            small.to_str().unwrap(),
            "--path",
            small.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "DIR and --path together");
    let o = fazt(&cfg, &["deploy", "--site", "a", "--domain", "b"]);
    assert_eq!(o.status.code(), Some(2), "--site and --domain together");
}

#[test]
fn clear_client_errors() {
    let srv = Server::start(&[]);
    let work = TempDir::new("clienterr");
    let cfg = work.join("client.json");
    let site = work.join("s");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "x").unwrap();
    let server = format!("http://127.0.0.1:{}", srv.addr.port());

    // An unknown flag is reported first, before the missing token or the folder.
    for args in [
        &["deploy", site.to_str().unwrap(), "--bogus"][..],
        &["sites", "--bogus"],
        &["sites", "delete", "x", "--bogus"],
    ] {
        let o = fazt(&cfg, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            err(&o).contains("unexpected argument '--bogus'"),
            "{}",
            err(&o)
        );
    }

    let o = fazt(
        &cfg,
        &[
            "deploy",
            site.to_str().unwrap(),
            "--server",
            &server,
            "--token",
            "fazt_nope",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("401") && err(&o).contains("refused"),
        "{}",
        err(&o)
    );

    let o = fazt(
        &cfg,
        &[
            "deploy",
            site.to_str().unwrap(),
            "--server",
            "http://127.0.0.1:1",
            "--token",
            "fazt_x",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("cannot connect"), "{}", err(&o));

    let tok = token(&srv, "deploy");
    let o = fazt(
        &cfg,
        &[
            "deploy",
            site.to_str().unwrap(),
            "--site",
            "Bad_Name",
            "--server",
            &server,
            "--token",
            &tok,
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("INVALID_SITE_NAME"), "{}", err(&o));

    let o = fazt(
        &cfg,
        &[
            "deploy",
            "/nonexistent/folder",
            "--server",
            &server,
            "--token",
            &tok,
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("not a folder"), "{}", err(&o));

    let o = fazt(
        &cfg,
        &[
            "deploy",
            site.to_str().unwrap(),
            "--server",
            "ftp://x",
            "--token",
            &tok,
        ],
    );
    assert_eq!(o.status.code(), Some(2));

    let o = fazt(
        &cfg,
        &["deploy", site.to_str().unwrap(), "--server", &server],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("no token"), "{}", err(&o));

    let admin = token(&srv, "admin");
    let o = fazt(
        &cfg,
        &[
            "deploy",
            site.to_str().unwrap(),
            "--site",
            "tmp",
            "--server",
            &server,
            "--token",
            &tok,
        ],
    );
    assert!(o.status.success());
    let o = fazt(
        &cfg,
        &[
            "sites", "delete", "tmp", "--server", &server, "--token", &tok,
        ],
    );
    assert!(err(&o).contains("403"), "{}", err(&o));
    let o = fazt(
        &cfg,
        &[
            "sites", "delete", "tmp", "--server", &server, "--token", &admin,
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(srv.get("tmp.localhost", "/").status, 404);
}

fn base(srv: &Server) -> String {
    format!("http://127.0.0.1:{}", srv.addr.port())
}

/// Go fazt v0.8's `fazt servers`: names for several servers, a default, ping, and every
/// client command taking `--server NAME`.
#[test]
fn several_servers_by_name() {
    let dir = TempDir::new("servers");
    let cfg = dir.join("client.json");
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let (ta, tb) = (token(&a, "deploy"), token(&b, "deploy"));
    let out = fazt(&cfg, &["servers", "list"]);
    assert!(ok(&out).contains("no servers yet"));
    ok(&fazt(
        &cfg,
        &["servers", "add", "home", "--url", &base(&a), "--token", &ta],
    ));
    ok(&fazt(
        &cfg,
        &["servers", "add", "vps", "--url", &base(&b), "--token", &tb],
    ));
    let list = ok(&fazt(&cfg, &["servers", "list"]));
    assert!(
        list.contains(&format!("* home             {}", base(&a))),
        "{list}"
    );
    assert!(
        list.contains(&format!("  vps              {}", base(&b))),
        "{list}"
    );
    let ping = ok(&fazt(&cfg, &["servers", "ping", "vps"]));
    assert!(
        ping.starts_with(&format!("{}: ok — fazt ", base(&b))),
        "{ping}"
    );
    // The default answers without a name; `--server NAME` reaches the other.
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "on vps").unwrap();
    ok(&fazt(
        &cfg,
        &[
            "deploy",
            site.to_str().unwrap(),
            "--site",
            "hello",
            "--server",
            "vps",
        ],
    ));
    assert_eq!(b.get("hello.localhost", "/").text(), "on vps");
    assert_eq!(a.get("hello.localhost", "/").status, 404);
    ok(&fazt(&cfg, &["servers", "default", "vps"]));
    let sites = ok(&fazt(&cfg, &["sites"]));
    assert!(sites.contains("hello"), "{sites}");
    ok(&fazt(&cfg, &["servers", "remove", "vps"]));
    let list = ok(&fazt(&cfg, &["servers", "list"]));
    assert!(!list.contains("vps"), "{list}");
    // Clear errors, exit 2 for usage, 1 for an unknown name; nothing changes.
    let before = std::fs::read(&cfg).unwrap();
    for (args, code, msg) in [
        (&["servers", "add", "x"][..], 2, "--url"),
        (
            &["servers", "add", "x", "--url", "nope", "--token", "t"],
            2,
            "--url",
        ),
        (
            &["servers", "add", "a b", "--url", "http://h", "--token", "t"],
            2,
            "not a server name",
        ),
        (
            &["servers", "default", "ghost"],
            1,
            "no server named 'ghost'",
        ),
        (&["servers", "ping", "ghost"], 1, "no server named 'ghost'"),
        (&["servers", "frob"], 2, "usage"),
        (&["servers", "list", "--bogus"], 2, "--bogus"),
    ] {
        let o = fazt(&cfg, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(
            err.contains(msg) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    assert_eq!(std::fs::read(&cfg).unwrap(), before);
}
