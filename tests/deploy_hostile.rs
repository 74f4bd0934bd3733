//! Every hostile upload is refused with a clear error naming the problem, and the live site
//! stays byte-for-byte what it was. Also: ZIPs from real tools, and a deploy interrupted by
//! killing the server.

mod common;
use common::zipbuild::{self, build, Entry};
use common::*;

use std::io::Write;
use std::process::Command;
use std::sync::Arc;

fn live(srv: &Server) -> (Vec<u8>, Vec<u8>) {
    (
        srv.get("live.localhost", "/").body,
        srv.get("live.localhost", "/data.bin").body,
    )
}

#[test]
fn hostile_zips_are_refused_and_change_nothing() {
    let srv = Server::start(&[
        "--max-upload-mb",
        "2",
        "--max-zip-entries",
        "50",
        "--max-unzipped-mb",
        "8",
    ]);
    let tok = token(&srv, "deploy");
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 256) as u8).collect();
    let good = zipbuild::site(&[("index.html", b"<h1>live</h1>"), ("data.bin", &data)]);
    assert_eq!(put_zip(&srv, &tok, "live", &good).status, 200);
    let before = live(&srv);
    assert_eq!(before.0, b"<h1>live</h1>");

    let f = Entry::file;
    let mut symlink = f("link", b"/etc/passwd");
    symlink.unix_mode = Some(0o120777);
    let mut encrypted = f("secret.txt", b"x");
    encrypted.flags |= 1;
    let mut bzip = f("a.bin", b"x");
    bzip.method = 12;
    let mut mismatch = f("index.html", b"x");
    mismatch.local_name = Some(b"other.html".to_vec());
    let mut bad_crc = f("index.html", b"hello");
    bad_crc.crc = Some(1234);
    let mut not_utf8 = f("x", b"x");
    not_utf8.name = vec![b'a', 0xff, 0xfe, b'.', b'h'];
    not_utf8.flags = 0;
    let zeros = vec![0u8; 9 * 1024 * 1024];
    let many: Vec<Entry> = (0..60).map(|i| f(&format!("f{i}.txt"), b"x")).collect();

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "absolute path",
            build(&[f("/etc/passwd", b"x")], false),
            400,
            "/etc/passwd",
        ),
        ("dot-dot", build(&[f("a/../../x", b"x")], false), 400, "../"),
        (
            "backslash",
            build(&[f("a\\b.txt", b"x")], false),
            400,
            "backslash",
        ),
        (
            "drive letter",
            build(&[f("C:/x.txt", b"x")], false),
            400,
            "C:",
        ),
        ("NUL", build(&[f("a\0b", b"x")], false), 400, "a"),
        (
            "symlink",
            build(&[f("index.html", b"x"), symlink], false),
            400,
            "link",
        ),
        (
            "duplicate",
            build(&[f("Index.html", b"x"), f("index.html", b"y")], false),
            400,
            "index.html",
        ),
        ("encrypted", build(&[encrypted], false), 400, "secret.txt"),
        ("bzip2", build(&[bzip], false), 400, "a.bin"),
        (
            "name mismatch",
            build(&[mismatch], false),
            400,
            "index.html",
        ),
        ("bad crc", build(&[bad_crc], false), 400, "index.html"),
        ("not utf-8", build(&[not_utf8], false), 400, "UTF-8"),
        ("too many entries", build(&many, false), 413, "50"),
        (
            "zip bomb",
            build(&[Entry::deflated("bomb.bin", &zeros)], false),
            413,
            "bomb.bin",
        ),
        (
            "garbage",
            b"this is not a zip file at all".to_vec(),
            400,
            "",
        ),
        ("truncated", good[..good.len() / 2].to_vec(), 400, ""),
        ("empty archive", build(&[], false), 400, ""),
    ];
    for (what, zip, status, needle) in cases {
        let r = put_zip(&srv, &tok, "live", &zip);
        assert_eq!(r.status, status, "{what}: {}", r.text());
        let msg = r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(
            msg.contains(needle),
            "{what}: message {msg:?} should mention {needle:?}"
        );
        assert_eq!(live(&srv), before, "{what} changed the live site");
    }
    // Overlapping entries: two central records pointing at the same local header.
    let mut z = build(&[f("a.txt", b"aaaa"), f("b.txt", b"bbbb")], false);
    let cd = u32::from_le_bytes(z[z.len() - 6..z.len() - 2].try_into().unwrap()) as usize;
    let second_cd = cd + 46 + 5;
    z[second_cd + 42..second_cd + 46].copy_from_slice(&0u32.to_le_bytes());
    let r = put_zip(&srv, &tok, "live", &z);
    assert_eq!(r.status, 400, "overlap: {}", r.text());
    assert_eq!(live(&srv), before);

    // Over the upload cap: 413 before inflating anything.
    let big: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
        .collect();
    let zip = build(&[f("big.bin", &big)], false);
    // As curl does for large uploads: announce the body and wait (`Expect: 100-continue`);
    // fazt refuses on the declared length without reading a byte of it.
    let mut s = srv.connect();
    write!(
        s,
        "PUT /api/sites/live HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        zip.len()
    )
    .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(live(&srv), before);
    assert_eq!(srv.get("localhost", "/health").text(), "ok");
}

fn tool_site(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>tool</h1>").unwrap();
    std::fs::write(dir.join("sub/deeper/data.txt"), "nested ".repeat(500)).unwrap();
    std::fs::write(
        dir.join("sub/pic.bin"),
        (0..20_000u32).map(|i| (i % 253) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
}

fn require(tool: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{tool}` is required by this test: apt-get install -y zip python3"
    );
}

#[test]
fn zips_from_real_tools_deploy() {
    require("zip");
    require("python3");
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let work = TempDir::new("tools");
    let site = work.join("site");
    tool_site(&site);
    let nested = std::fs::read(site.join("sub/deeper/data.txt")).unwrap();
    let pic = std::fs::read(site.join("sub/pic.bin")).unwrap();
    let check = |name: &str, zip: &[u8]| {
        let r = put_zip(&srv, &tok, name, zip);
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(r.json()["data"]["file_count"], 3, "{name}");
        let host = format!("{name}.localhost");
        assert_eq!(srv.get(&host, "/").text(), "<h1>tool</h1>", "{name}");
        assert_eq!(
            srv.get(&host, "/sub/deeper/data.txt").body,
            nested,
            "{name}"
        );
        assert_eq!(srv.get(&host, "/sub/pic.bin").body, pic, "{name}");
    };
    // Info-ZIP, to a file.
    let out = Command::new("zip")
        .args(["-qr", "../infozip.zip", "."])
        .current_dir(&site)
        .status()
        .unwrap();
    assert!(out.success());
    check("infozip", &std::fs::read(work.join("infozip.zip")).unwrap());
    // Info-ZIP streamed to a pipe: data descriptors.
    let out = Command::new("sh")
        .args(["-c", "zip -qr - . | cat > ../stream.zip"])
        .current_dir(&site)
        .status()
        .unwrap();
    assert!(out.success());
    check("streamed", &std::fs::read(work.join("stream.zip")).unwrap());
    // Python's zipfile, deflated, wrapped in a top-level folder (unwrapped by fazt).
    let py = format!(
        "import zipfile,os\nz=zipfile.ZipFile('{}','w',zipfile.ZIP_DEFLATED)\nfor r,d,fs in os.walk('.'):\n  for f in fs:\n    p=os.path.join(r,f)[2:]\n    z.write(p,'dist/'+p)\nz.close()\n",
        work.join("py.zip").display()
    );
    let out = Command::new("python3")
        .args(["-c", &py])
        .current_dir(&site)
        .status()
        .unwrap();
    assert!(out.success());
    check("python", &std::fs::read(work.join("py.zip")).unwrap());
    // A streamed ZIP with data descriptors, built byte by byte.
    let desc = build(
        &[
            Entry::deflated("index.html", b"<h1>tool</h1>"),
            Entry::deflated("sub/deeper/data.txt", &nested),
            Entry::file("sub/pic.bin", &pic),
        ],
        true,
    );
    check("descriptors", &desc);
}

#[test]
fn deploy_interrupted_by_kill_leaves_old_site() {
    let dir = Arc::new(TempDir::new("kill"));
    let db = dir.join("fazt.db");
    let srv = Server::start_on(dir.clone(), db.clone(), &[]);
    let tok = token(&srv, "deploy");
    let good = zipbuild::site(&[("index.html", b"<h1>before</h1>")]);
    assert_eq!(put_zip(&srv, &tok, "live", &good).status, 200);
    // Start a 6 MB upload, send half, then kill -9 the server mid-upload.
    let payload: Vec<u8> = (0..6_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let zip = build(
        &[
            Entry::file("index.html", b"<h1>after</h1>"),
            Entry::file("big.bin", &payload),
        ],
        false,
    );
    let mut s = srv.connect();
    write!(s, "PUT /api/sites/live HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\nContent-Length: {}\r\n\r\n", zip.len()).unwrap();
    s.write_all(&zip[..zip.len() / 2]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut srv = srv;
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    drop(s);
    drop(srv);
    let c = rusqlite::Connection::open(&db).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    drop(c);
    let srv = Server::start_on(dir, db, &[]);
    assert_eq!(srv.get("live.localhost", "/").text(), "<h1>before</h1>");
    assert_eq!(srv.get("live.localhost", "/big.bin").status, 404);
}

#[test]
fn many_small_entries_over_the_archive_ratio_are_refused() {
    // 1,000 entries of 1 MiB of zeros: each one alone is under the per-entry ratio floor,
    // all together they inflate ~1,000 times the ~1.1 MB upload. Default limits.
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let good = zipbuild::site(&[("index.html", b"<h1>live</h1>")]);
    assert_eq!(put_zip(&srv, &tok, "live", &good).status, 200);

    let zeros = vec![0u8; 1 << 20];
    let deflated = miniz_oxide::deflate::compress_to_vec(&zeros, 6);
    let crc = crc32fast::hash(&zeros);
    let mut entries = vec![Entry::file("index.html", b"<h1>bomb</h1>")];
    entries.extend(
        (0..1000).map(|i| Entry::precompressed(&format!("z/{i}.bin"), &deflated, crc, 1 << 20)),
    );
    let zip = build(&entries, false);
    assert!(zip.len() < 1_200_000, "{}", zip.len());
    let r = put_zip(&srv, &tok, "live", &zip);
    assert_eq!(r.status, 413, "{}", r.text());
    let err = &r.json()["error"];
    assert_eq!(err["code"], "ZIP_LIMIT");
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains("max_ratio") && msg.contains("200 times"),
        "{msg}"
    );
    assert_eq!(srv.get("live.localhost", "/").text(), "<h1>live</h1>");
    assert_eq!(srv.get("live.localhost", "/z/0.bin").status, 404);

    // The same files in an archive that is honest about its size (stored, not deflated)
    // are over no ratio: only the total cap applies to them.
    let few: Vec<Entry> = (0..3)
        .map(|i| Entry::precompressed(&format!("z/{i}.bin"), &deflated, crc, 1 << 20))
        .chain((0..3).map(|i| Entry::file(&format!("s/{i}.bin"), &zeros)))
        .chain([Entry::file("index.html", b"<h1>ok</h1>")])
        .collect();
    let r = put_zip(&srv, &tok, "live", &build(&few, false));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("live.localhost", "/z/2.bin").body, zeros);
}

#[test]
fn dot_files_are_not_deployed() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let zip = zipbuild::site(&[
        (".env", b"SECRET=1"),
        (".git/config", b"[core]"),
        ("sub/.secret", b"hidden"),
        ("sub/page.html", b"<p>page</p>"),
        (".well-known/security.txt", b"Contact: mailto:a@b.c"),
        ("index.html", b"<h1>dots</h1>"),
    ]);
    let r = put_zip(&srv, &tok, "dots", &zip);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["file_count"], 3);
    for path in ["/.env", "/.git/config", "/sub/.secret"] {
        assert_eq!(srv.get("dots.localhost", path).status, 404, "{path}");
    }
    let r = srv.get("dots.localhost", "/.well-known/security.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Contact: mailto:a@b.c");
    assert_eq!(srv.get("dots.localhost", "/").text(), "<h1>dots</h1>");

    let files = api(&srv, &tok, "GET", "/api/sites/dots/files", b"").json();
    let mut paths: Vec<&str> = files["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [".well-known/security.txt", "index.html", "sub/page.html"]
    );

    // Inside a single top-level folder (unwrapped) the same rules apply to the site's paths.
    let zip = zipbuild::site(&[
        ("dist/.env", b"SECRET=1"),
        ("dist/.well-known/security.txt", b"Contact: x"),
        ("dist/index.html", b"<h1>dist</h1>"),
    ]);
    let r = put_zip(&srv, &tok, "dist", &zip);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["file_count"], 2);
    assert_eq!(srv.get("dist.localhost", "/").text(), "<h1>dist</h1>");
    assert_eq!(
        srv.get("dist.localhost", "/.well-known/security.txt")
            .status,
        200
    );
    assert_eq!(srv.get("dist.localhost", "/.env").status, 404);
}
