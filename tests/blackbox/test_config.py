"""The configuration reader: errors name file and line and touch nothing;
macros, -D, .include, .ifdef, continuation lines; -bP and -bV."""

import os
import re

import pytest

from tern_helpers import STANDARD_CONFIG, abi_version


def snapshot(root):
    """Every file under root with its size and mtime."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[p] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


def broken(tern, old, new, needle=None):
    """Write the standard config with `old` replaced by `new`; return the
    expected "file:line:" prefix of the error, the line being the first
    one containing `needle` (default: the first line of `new`)."""
    assert old in STANDARD_CONFIG
    tern.config(STANDARD_CONFIG.replace(old, new, 1))
    needle = needle or new.strip().splitlines()[0]
    return f"{tern.conf}:{tern.config_line(tern.subst(needle))}:"


# (id, text in STANDARD_CONFIG, replacement, text of the bad line)
BAD = [
    ("main option typo", "primary_hostname = test.example",
     "primary_hostnme = test.example", None),
    ("bad size", "tern_user = @USER@",
     "tern_user = @USER@\nmessage_size_limit = lots", "message_size_limit"),
    ("bad boolean", "  delivery_date_add\n", "  delivery_date_add = perhaps\n",
     None),
    ("unknown transport option", "  maildir_format\n", "  maildir_fromat\n",
     None),
    ("unknown director option", "  search_type = lsearch\n",
     "  search_typ = lsearch\n", None),
    ("unknown section", "begin directors", "begin directorz", None),
    ("never_users names no user", "tern_user = @USER@",
     "tern_user = @USER@\nnever_users = root : nosuchuser-tern",
     "never_users"),
    ("never_users holds a list item", "tern_user = @USER@",
     "tern_user = @USER@\nnever_users = root\nnever_users = root : !daemon",
     "never_users = root : !daemon"),
    ("negative integer", "tern_user = @USER@",
     "tern_user = @USER@\nspool_reuse_max = -1", "spool_reuse_max = -1"),
    ("dns_port out of range", "tern_user = @USER@",
     "tern_user = @USER@\ndns_port = 70000", "dns_port = 70000"),
    ("log_selector name unknown", "tern_user = @USER@",
     "tern_user = @USER@\nlog_selector = +pid +subjekt", "log_selector"),
    ("log_selector item without + or -", "tern_user = @USER@",
     "tern_user = @USER@\nlog_selector = +pid subject", "log_selector"),
    # a driver's own check names the instance
    ("maildir_commit_wait out of range", "  maildir_format\n",
     "  maildir_format\n  maildir_commit_wait = 5000\n", "local_maildir:"),
    # set twice: the error names the setting in force, not the first
    ("host list set twice", "tern_user = @USER@",
     "tern_user = @USER@\nrelay_from_hosts = 127.0.0.1\n"
     "relay_from_hosts = +nosuchlist", "relay_from_hosts = +nosuchlist"),
]


@pytest.mark.parametrize("old,new,needle", [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_error_names_file_and_line(tern, old, new, needle):
    where = broken(tern, old, new, needle)
    for args in (["-bP"], ["-bt", "alice@test.example"], ["-q"], ["-bdf"],
                 ["-bV"]):
        r = tern.run(args, timeout=20)
        assert r.returncode != 0, r
        assert where in r.stderr, f"want {where!r} in stderr: {r!r}"
    r = tern.run(["alice@test.example"], input=b"Subject: x\n\nx\n",
                 prog="sendmail")
    assert r.returncode != 0, r
    assert not tern.spool.exists(), "a bad configuration created the spool"
    assert not tern.path("log", "mainlog").exists()


def test_bad_config_leaves_existing_spool_untouched(tern):
    tern.config()
    r = tern.run(["-odq", "alice@test.example"],
                 input=b"Subject: queued\n\nx\n", prog="sendmail")
    assert r.returncode == 0, r
    (msgid,) = tern.queue_ids()
    before = snapshot(tern.spool)
    good = tern.conf.read_text()
    tern.conf.write_text(good.replace("local_mbox:", "local_mbox:\n  frobnicate = yes", 1))
    for args in (["-q"], ["-bdf"], ["-Mrm", msgid], ["-bp"]):
        r = tern.run(args, timeout=20)
        assert r.returncode != 0, r
        assert "frobnicate" in r.stderr, r
    assert snapshot(tern.spool) == before
    tern.conf.write_text(good)
    assert tern.run(["-bpc"]).ok().stdout.strip() == "1"


def test_unknown_driver_names_path_tried(tern):
    where = broken(tern, "  driver = aliasfile\n", "  driver = nosuchdriver\n")
    r = tern.run(["-bP"])
    assert r.returncode != 0, r
    assert where in r.stderr, r
    assert "directors/nosuchdriver.so" in r.stderr, r
    assert not tern.spool.exists()

    where = broken(tern, "  driver = pipe\n", "  driver = nosuchtransport\n")
    r = tern.run(["-bt", "alice@test.example"])
    assert r.returncode != 0, r
    assert where in r.stderr and "transports/nosuchtransport.so" in r.stderr, r


def test_undefined_transport_is_an_error(tern):
    where = broken(tern, "  transport = local_mbox\n",
                   "  transport = no_such_transport\n")
    r = tern.run(["-bP"])
    assert r.returncode != 0, r
    assert "no_such_transport" in r.stderr and where in r.stderr, r


def test_error_in_included_file_names_that_file(tern):
    inc = tern.write("extra.conf", "# extra main options\n"
                     "qualify_domain = test.example\nno_such_option = 1\n")
    tern.config(main=f".include {inc}\n")
    r = tern.run(["-bP"])
    assert r.returncode != 0, r
    assert f"{inc}:3:" in r.stderr, r


def test_macros_include_ifdef_continuation(tern):
    tern.write("extra.conf", "received_headers_max = 17\n")
    main = ("QUALIFY = from.macro\n"
            "qualify_recipient = QUALIFY\n"
            ".include @DIR@/extra.conf\n"
            ".ifdef WANT_LIMIT\n"
            "message_size_limit = 2M\n"
            ".endif\n"
            "relay_to_domains = a.example : \\\n"
            "     b.example\n")
    tern.config(main=main)

    def show(name, *defs):
        args = []
        for d in defs:
            args += ["-D", d]
        r = tern.run(args + ["-bP", name]).ok()
        m = re.search(rf"^\s*{name}\s*=\s*(.*?)\s*$", r.stdout, re.M)
        assert m, r
        return m.group(1)

    assert show("qualify_recipient") == "from.macro"
    assert show("qualify_recipient", "QUALIFY=from.cmdline") == "from.cmdline"
    assert show("received_headers_max") == "17"
    assert show("message_size_limit") != show("message_size_limit",
                                              "WANT_LIMIT=1")
    assert re.search(r"2M|2097152", show("message_size_limit", "WANT_LIMIT=1"))
    assert re.fullmatch(r"a\.example\s*:\s*b\.example",
                        show("relay_to_domains"))


def test_bP_prints_options_and_instances(tern):
    tern.config()
    r = tern.run(["-bP"]).ok()
    assert re.search(r"^primary_hostname = test\.example$", r.stdout, re.M), r
    assert re.search(rf"^spool_directory = {re.escape(str(tern.spool))}$",
                     r.stdout, re.M), r
    assert re.search(r"^message_size_limit = ", r.stdout, re.M), r
    r = tern.run(["-bP", "qualify_domain"]).ok()
    assert r.stdout.strip() == "qualify_domain = test.example"

    r = tern.run(["-bP", "transports"]).ok()
    for text in ("local_mbox", "local_maildir", "address_pipe",
                 "address_file", "appendfile", "pipe",
                 str(tern.path("mail")) + "/$local_part"):
        assert text in r.stdout, f"{text!r} not in -bP transports:\n{r.stdout}"
    r = tern.run(["-bP", "directors"]).ok()
    names = re.findall(r"^\s*(?:\w+\s+)?(\w+):\s*$", r.stdout, re.M)
    assert names == \
        ["system_aliases", "maildir_user", "localuser"], r.stdout
    assert "aliasfile" in r.stdout and "lsearch" in r.stdout

    r = tern.run(["-bP", "no_such_option"])
    assert r.returncode != 0, r


def test_bV_lists_version_abi_and_modules(tern):
    tern.config()
    r = tern.run(["-bV"]).ok()
    major, minor = abi_version()
    assert re.search(rf"ABI\D*{major}\.{minor}\b", r.stdout), r
    m = re.search(r"[Mm]odule directory:?\s*(\S+)", r.stdout)
    assert m, r
    moddir = m.group(1)
    assert os.path.isfile(os.path.join(moddir, "transports", "appendfile.so")), r
    for kind, name in (("director", "aliasfile"), ("director", "localuser"),
                       ("transport", "appendfile"), ("transport", "pipe"),
                       ("lookup", "lsearch")):
        assert re.search(rf"^\s+{kind}s?\s+{name}\s+\S+", r.stdout, re.M), \
            f"{kind} {name} not listed:\n{r.stdout}"
