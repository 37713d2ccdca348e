"""The dbm lookup (LMDB files built by tern-dbmbuild) and newaliases:
alias lookups with search_type = dbm, ${lookup ... dbm}, local_domains =
dbm;file, dbmnz and -nozero, syntax errors, duplicates, rebuilding."""

import re

from tern_helpers import STANDARD_CONFIG, split_message

DBM_ALIASES = """\
# aliases, built into aliases.db
postmaster: @USER@
alice:   @DIR@/mail/alice
team:    alice,
         @DIR@/mail/bob
"""


def dbm_config(tern, search_type="dbm", main=""):
    """The standard config with the aliases in @DIR@/aliases.db."""
    text = STANDARD_CONFIG.replace(
        "  file = @DIR@/aliases\n  search_type = lsearch\n",
        f"  file = @DIR@/aliases.db\n  search_type = {search_type}\n")
    assert text != STANDARD_CONFIG
    tern.config(text, main=main, aliases=DBM_ALIASES)


def dbmbuild(tern, *args):
    return tern.run(list(args), prog="tern-dbmbuild", conf=False)


def test_build_and_alias_lookup(tern):
    dbm_config(tern)
    r = dbmbuild(tern, tern.path("aliases"), tern.path("aliases.db"))
    assert r.returncode == 0, r
    assert "3 entries written" in r.stdout, r
    assert not tern.path("aliases.db.tmp").exists()
    r = tern.run(["-odi", "-i", "team@test.example"],
                 input=b"Subject: dbm\n\nvia dbm\n", prog="sendmail")
    assert r.returncode == 0, r
    tern.wait_queue_empty()
    for box in ("alice", "bob"):
        (raw,) = tern.mbox(box)
        assert split_message(raw)[1] == b"via dbm\n"
    # unknown in the dbm file: on to localuser, which fails it
    r = tern.run(["-bv", "nobody-here@test.example"])
    assert r.returncode != 0 and "Unknown user" in r.stdout + r.stderr, r


def test_expansion_lookup_and_local_domains(tern):
    tern.write("domains", "# local domains\nvirt.example: yes\n"
                          "\"Other Key\": spaced value\n")
    r = dbmbuild(tern, tern.path("domains"), tern.path("domains.db"))
    assert r.returncode == 0, r
    dbm_config(tern, main="local_domains = test.example : "
                          "dbm;@DIR@/domains.db")
    dbmbuild(tern, tern.path("aliases"), tern.path("aliases.db"))
    db = tern.path("domains.db")
    r = tern.run(["-be", "${lookup{virt.example}dbm{%s}{found:$value}"
                         "{missing}}" % db,
                  "${lookup{Other Key}dbm{%s}}" % db,
                  "${lookup{VIRT.EXAMPLE}dbm{%s}{found}{missing}}" % db])
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == ["found:yes", "spaced value",
                                     "missing"], r
    # a domain in the dbm file is local: postmaster there is our alias
    r = tern.run(["-bt", "postmaster@virt.example",
                  "someone@remote.example"])
    assert re.search(re.escape(tern.user) + r"@test\.example\n"
                     r"\s+<-- postmaster@virt\.example\n", r.stdout), r
    assert "someone@remote.example is undeliverable" in r.stdout, r


def test_dbmnz_and_nozero(tern):
    tern.write("src", "key: value\n")
    for args, name in (([], "zero.db"), (["-nozero"], "nz.db")):
        r = dbmbuild(tern, *args, tern.path("src"), tern.path(name))
        assert r.returncode == 0, r
    exprs = ["${lookup{key}%s{%s}{y}{n}}" % (t, tern.path(f))
             for t in ("dbm", "dbmnz") for f in ("zero.db", "nz.db")]
    tern.config()
    r = tern.run(["-be"] + exprs)
    assert r.stdout.splitlines() == ["y", "n", "n", "y"], r


def test_syntax_error_and_duplicates(tern):
    tern.write("bad", "# comment\n  orphan?\ngood: 1\n")
    tern.write("bad2", "first: 1\n  continued\n\"open: x\n")
    tern.write("bad.db", b"old contents")
    for src, line, what in (("bad", 2, "no key"), ("bad2", 3, "quote")):
        r = dbmbuild(tern, tern.path(src), tern.path("bad.db"))
        assert r.returncode == 1, r
        assert f"{tern.path(src)}:{line}:" in r.stderr, r
        if what:
            assert what in r.stderr, r
    assert tern.path("bad.db").read_bytes() == b"old contents"
    assert not tern.path("bad.db.tmp").exists()
    tern.write("dups", "a: first\nb: 2\na: second\n")
    r = dbmbuild(tern, tern.path("dups"), tern.path("dups.db"))
    assert r.returncode == 0, r
    assert re.search(r"dups:3: warning: duplicate key \"a\"", r.stderr), r
    tern.config()
    r = tern.run(["-be", "${lookup{a}dbm{%s}}" % tern.path("dups.db")])
    assert r.stdout.strip() == "first", r
    r = dbmbuild(tern, "-noduplicates", tern.path("dups"),
                 tern.path("dups2.db"))
    assert r.returncode == 1 and "dups:3: duplicate key" in r.stderr, r
    r = dbmbuild(tern, "-lastdup", tern.path("dups"), tern.path("dups.db"))
    r = tern.run(["-be", "${lookup{a}dbm{%s}}" % tern.path("dups.db")])
    assert r.stdout.strip() == "second", r


def test_newaliases_rebuilds(tern):
    dbm_config(tern)
    r = tern.run([], prog="newaliases")
    assert r.returncode == 0, r
    assert re.search(r"rebuilding .*aliases\.db from .*aliases$",
                     r.stdout, re.M), r
    assert "3 entries written" in r.stdout, r
    r = tern.run(["-bv", "carol@test.example"])
    assert r.returncode != 0, r
    tern.aliases(DBM_ALIASES + "carol: @DIR@/mail/carol\n")
    r = tern.run(["-bi"])
    assert r.returncode == 0 and "4 entries written" in r.stdout, r
    r = tern.run(["-bv", "carol@test.example"])
    assert r.returncode == 0, r
    # a daemon's deliveries see the new file at once (it was renamed in)
    tern.start_daemon()
    assert tern.send("carol@test.example") == {}
    tern.wait_queue_empty()
    assert len(tern.mbox("carol")) == 1


def test_newaliases_without_dbm_director(tern):
    tern.config()
    r = tern.run([], prog="newaliases")
    assert r.returncode == 0, r
    assert "nothing to rebuild" in r.stdout, r
    assert not any(p.name.endswith(".db") for p in tern.dir.iterdir())


def test_missing_dbm_file_defers(tern):
    dbm_config(tern)
    assert not tern.path("aliases.db").exists()
    r = tern.run(["-bv", "alice@test.example"])
    assert r.returncode != 0, r
    out = r.stdout + r.stderr
    assert "aliases.db" in out and "Unknown user" not in out, out
