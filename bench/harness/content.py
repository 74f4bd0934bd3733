"""The files every server serves, the Counter, and the deploy-test site.

All content is generated from a fixed seed, so every run (and every server
in a run) serves byte-identical files:

- `small.html`  — 1 KiB HTML page (scenario 1);
- `text50k.txt` — 50 KiB of English-like text, compresses ~3x (scenario 2);
- `big10m.bin`  — 10 MiB of random bytes (scenario 3);
- the Counter `main.js` for fazt and its PocketBase analogue (scenario 5);
- a pure-compute `main.js` (no KV) for fazt and its baseline binary (scenario 5c);
- a 1,000-file, 20 MiB site ZIP for the deploy test (scenario 6).
"""

from __future__ import annotations

import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

SEED = 8  # issue 8
SMALL = "small.html"
TEXT = "text50k.txt"
BIG = "big10m.bin"

# Pure compute, no KV: a little string and array work, then the answer (scenario 5c). What
# this measures is the per-request cost of running a script, not QuickJS's speed.
PURE_JS = (
    "var parts = [];\n"
    "for (var i = 0; i < 10; i++) parts.push('<li>' + (i * i) + '</li>');\n"
    "res.send('<ul>' + parts.join('') + '</ul>');\n"
)
PURE_BODY = "<ul>" + "".join(f"<li>{i * i}</li>" for i in range(10)) + "</ul>"

COUNTER_JS = "var n = (db.get('count') || 0) + 1; db.set('count', n); res.send('<h1>Count: ' + n + '</h1>');\n"

# PocketBase analogue of the Counter: one record read + one record write per
# request, through PocketBase's JS hooks (its serverless equivalent).
PB_HOOK_JS = """/// Benchmark route: the analogue of fazt's Counter (read + write per request).
routerAdd("GET", "/counter", (e) => {
  const r = $app.findRecordById("counters", "benchcounter001");
  const n = r.getInt("count") + 1;
  r.set("count", n);
  $app.save(r);
  return e.html(200, "<h1>Count: " + n + "</h1>");
});
"""

# Creates the record the hook updates, and turns PocketBase's per-request log
# (rows written to its logs database) off. fazt's analytics are not turned
# off, so this can only make PocketBase look faster, never slower.
PB_MIGRATION_JS = """/// Benchmark set-up: the counters collection and its one record.
migrate((app) => {
  const c = new Collection({
    type: "base",
    name: "counters",
    fields: [{ name: "count", type: "number" }],
  });
  app.save(c);
  const r = new Record(c);
  r.set("id", "benchcounter001");
  r.set("count", 0);
  app.save(r);
  const s = app.settings();
  s.logs.maxDays = 0;
  app.save(s);
}, (app) => {
  app.delete(app.findCollectionByNameOrId("counters"));
});
"""

_WORDS = (
    "the of and to in is it you that he was for on are with as his they be at one have this from "
    "or had by hot word but what some we can out other were all there when up use your how said an "
    "each she which do their time if will way about many then them write would like so these her long "
    "make thing see him two has look more day could go come did number sound no most people my over "
    "know water than call first who may down side been now find any new work part take get place made "
    "live where after back little only round man year came show every good me give our under name very "
    "through just form sentence great think say help low line differ turn cause much mean before move "
    "right boy old too same tell does set three want air well also play small end put home read hand "
    "port large spell add even land here must big high such follow act why ask men change went light"
).split()


@dataclass
class Content:
    docroot: Path  # small.html, text50k.txt, big10m.bin — served by every static server
    site_zip: Path  # the same three files as a fazt site
    counter_zip: Path  # fazt Counter site (main.js)
    pure_zip: Path  # fazt pure-compute site (main.js, no KV)
    deploy_zip: Path  # 1,000 files, 20 MiB
    deploy_files: int
    deploy_bytes: int
    pb_hooks: Path
    pb_migrations: Path

    def expected(self, name: str) -> bytes:
        return (self.docroot / name).read_bytes()

    def deploy_page(self, name: str) -> bytes:
        with zipfile.ZipFile(self.deploy_zip) as z:
            return z.read(name)


def _text(rng: random.Random, size: int) -> bytes:
    out, n = [], 0
    while n < size:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 18)))
        sentence = sentence.capitalize() + (".\n" if rng.random() < 0.2 else ". ")
        out.append(sentence)
        n += len(sentence)
    return "".join(out).encode()[:size]


def _small_html(rng: random.Random) -> bytes:
    head = b"<!doctype html>\n<html><head><meta charset=utf-8><title>fazt bench</title></head>\n<body><p>"
    tail = b"</p></body></html>\n"
    body = _text(rng, 1024 - len(head) - len(tail)).replace(b"\n", b" ")
    page = head + body + tail
    assert len(page) == 1024
    return page


def _zip(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            # Like common zip tools: deflate text, store what does not shrink.
            method = zipfile.ZIP_STORED if name.endswith(".bin") else zipfile.ZIP_DEFLATED
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data, compress_type=method)


def _deploy_site(rng: random.Random) -> dict[str, bytes]:
    """1,000 files totalling 20 MiB: 700 text pages, 300 'images' (random)."""
    files: dict[str, bytes] = {}
    size = 20 * 1024 * 1024 // 1000
    for i in range(1000):
        if i % 10 < 7:
            files[f"pages/{i // 100}/page{i:04}.html"] = _text(rng, size)
        else:
            files[f"img/{i // 100}/img{i:04}.bin"] = rng.randbytes(size)
    return files


def generate(out: Path) -> Content:
    """Writes all content under `out` (created if missing)."""
    rng = random.Random(SEED)
    docroot = out / "docroot"
    docroot.mkdir(parents=True, exist_ok=True)
    files = {SMALL: _small_html(rng), TEXT: _text(rng, 50 * 1024), BIG: rng.randbytes(10 * 1024 * 1024)}
    for name, data in files.items():
        (docroot / name).write_bytes(data)
    site_zip, counter_zip, deploy_zip = out / "site.zip", out / "counter.zip", out / "deploy.zip"
    _zip(site_zip, files)
    _zip(counter_zip, {"main.js": COUNTER_JS.encode()})
    pure_zip = out / "pure.zip"
    _zip(pure_zip, {"main.js": PURE_JS.encode()})
    deploy = _deploy_site(rng)
    _zip(deploy_zip, deploy)
    pb_hooks, pb_migrations = out / "pb_hooks", out / "pb_migrations"
    pb_hooks.mkdir(exist_ok=True)
    pb_migrations.mkdir(exist_ok=True)
    (pb_hooks / "counter.pb.js").write_text(PB_HOOK_JS)
    (pb_migrations / "1700000000_bench_counters.js").write_text(PB_MIGRATION_JS)
    return Content(
        docroot=docroot,
        site_zip=site_zip,
        counter_zip=counter_zip,
        pure_zip=pure_zip,
        deploy_zip=deploy_zip,
        deploy_files=len(deploy),
        deploy_bytes=sum(len(d) for d in deploy.values()),
        pb_hooks=pb_hooks,
        pb_migrations=pb_migrations,
    )
