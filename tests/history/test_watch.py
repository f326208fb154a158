"""Saved searches end to end: `watch add`, a real sync from a real `trialscope serve` that
adds a matching study, `watch check`, and the mail arriving at a real SMTP server on
loopback (aiosmtpd), in plain SMTP and with STARTTLS and a login."""

from __future__ import annotations

import email
import json
import shutil
import ssl
import subprocess
from email import policy
from pathlib import Path

import orjson
import pytest

from tests.history.conftest import (
    STATUS_AND_ENROLLMENT,
    SWITCHED,
    V1,
    V2,
    ingest_into,
    newer_version,
)
from tests.servers import free_port, running_server
from trialscope.cli import main
from trialscope.history import watch
from trialscope.history.mail import MailConfig, MailError, load_config, send
from trialscope.store import open_store

NEW = "NCT09999902"  # a depression study that appears upstream after the search is saved


class Inbox:
    """An aiosmtpd handler keeping what it receives."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.hostname, controller.port, inbox
    controller.stop()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def new_study_file(folder: Path) -> Path:
    """A new study upstream: a copy of a real depression trial under another NCT id."""
    record = json.loads((V2 / f"{SWITCHED}.json").read_bytes())

    def renumber(r: dict) -> None:
        r["protocolSection"]["identificationModule"]["nctId"] = NEW
        r["protocolSection"]["identificationModule"]["briefTitle"] = "Digital CBT for adolescent depression <b>2</b>"
        r["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"

    path = folder / f"{NEW}.json"
    path.write_bytes(newer_version(record, "2024-02-01", renumber))
    return path


def test_saved_search_reports_a_synced_study_and_mails_it(tmp_path, smtp, capsys, monkeypatch):
    host, port, inbox = smtp
    monkeypatch.delenv("TRIALSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no trialscope.toml here
    mirror = str(tmp_path / "mirror.db")
    ingest_into(mirror, V1)  # the mirror as it stood: the older versions

    code, out, _ = run(capsys, "watch", "add", "teen depression", "depression", "--db", mirror)
    assert code == 0 and "saved 'teen depression': depression" in out
    code, out, _ = run(capsys, "watch", "add", "hcc", 'cond:"liver cancer"', "--phase", "PHASE3", "--db", mirror)
    assert code == 0
    code, out, _ = run(capsys, "watch", "list", "--db", mirror, "--json")
    listed = json.loads(out)
    assert [w["name"] for w in listed] == ["hcc", "teen depression"]
    assert listed[0]["search"] == "cond:\"liver cancer\" --phase PHASE3"

    # upstream: the newer versions and a new matching study, served by a real trialscope
    up_dir = tmp_path / "upstream"
    up_dir.mkdir()
    upstream = str(up_dir / "up.db")
    ingest_into(upstream, V2, new_study_file(up_dir))
    with running_server(upstream) as base:
        code, out, err = run(capsys, "sync", "--from", f"{base}/api/v2", "--db", mirror, "--rate", "0",
                             "--no-progress", "--json")
    assert code == 0, err
    assert json.loads(out)["added"] == 1

    monkeypatch.setenv("TRIALSCOPE_SMTP_HOST", host)
    monkeypatch.setenv("TRIALSCOPE_SMTP_PORT", str(port))
    monkeypatch.setenv("TRIALSCOPE_SMTP_FROM", "watch@trialscope.test")
    monkeypatch.setenv("TRIALSCOPE_SMTP_TO", "coordinator@example.org, pi@example.org")
    monkeypatch.setenv("TRIALSCOPE_BASE_URL", "http://trials.example.org/")
    # every study now matching the search changed since it was saved (all were updated or added)
    code, out, _ = run(capsys, "search", "depression", "--db", mirror, "--json", "--limit", "100")
    matching = {s["nctId"] for s in json.loads(out)["studies"]}
    assert {NEW, SWITCHED} <= matching and len(matching) == 3
    code, out, err = run(capsys, "watch", "check", "--db", mirror, "--mail")
    assert code == 0, err
    assert "hcc: nothing new since" in out
    assert "teen depression: 3 new or changed since" in out
    assert all(nct in out for nct in matching)
    assert f"NEW      {NEW}  Digital CBT for adolescent depression <b>2</b>" in out
    assert f"UPDATED  {SWITCHED}" in out and "(v1 → v2)" in out
    assert "status Recruiting → Completed; enrollment 410 (estimated) → 227 (actual)" in " ".join(out.split())
    assert "mailed to coordinator@example.org, pi@example.org" in out

    [(sender, rcpts, msg)] = inbox.messages
    assert sender == "watch@trialscope.test"
    assert rcpts == ["coordinator@example.org", "pi@example.org"]
    assert msg["Subject"] == "trialscope: 3 new or changed studies (teen depression)"
    assert msg.get_content_type() == "text/plain"
    body = msg.get_content()
    assert "teen depression: depression" in body
    assert f"NEW {NEW}: Digital CBT for adolescent depression <b>2</b>" in body
    assert "    - Recruiting" in body
    assert f"UPDATED {SWITCHED}: A CBT-based Mobile Intervention" in body
    assert "    - status Recruiting → Completed" in body
    assert f"http://trials.example.org/study/{SWITCHED}/history?from=1&to=2" in body

    # checked: the next check has nothing new, and sends nothing
    code, out, _ = run(capsys, "watch", "check", "--db", mirror, "--mail", "--json")
    body = json.loads(out)
    assert [s["entries"] for s in body["searches"]] == [[], []] and body["mailedTo"] is None
    assert len(inbox.messages) == 1

    code, out, _ = run(capsys, "watch", "remove", "hcc", "--db", mirror)
    assert code == 0
    assert [w.name for w in watch.saved(open_store(mirror))] == ["teen depression"]


def test_a_check_that_cannot_mail_marks_nothing_as_seen(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "s.db")
    ingest_into(db, V1)
    assert run(capsys, "watch", "add", "all", "--db", db)[0] == 0
    ingest_into(db, V2)
    monkeypatch.setenv("TRIALSCOPE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TRIALSCOPE_SMTP_PORT", str(free_port()))  # nobody listens there
    monkeypatch.setenv("TRIALSCOPE_SMTP_TO", "a@example.org")
    code, out, err = run(capsys, "watch", "check", "--db", db, "--mail")
    assert code == 1 and err.startswith("error: cannot reach the SMTP server 127.0.0.1:")
    assert "nothing was marked as seen" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run(capsys, "watch", "check", "--db", db, "--json")  # no mail asked: delivered here
    assert len(json.loads(out)["searches"][0]["entries"]) == 3


@pytest.mark.parametrize("argv, message", [
    (["watch", "add", "bad\nname", "x"], "bad name"),
    (["watch", "add", "q", "cancer AND (", ], "unclosed"),
    (["watch", "add", "q", "x", "--status", "SLEEPING"], "unknown status"),
    (["watch", "remove", "nothing"], "no saved search named 'nothing'"),
    (["watch", "check", "nothing"], "no saved search named 'nothing'"),
])
def test_watch_errors_are_one_line(tmp_path, capsys, argv, message):
    db = str(tmp_path / "s.db")
    ingest_into(db, V1)
    code, out, err = run(capsys, *argv, "--db", db)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_add_twice_is_refused(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    ingest_into(db, V1)
    assert run(capsys, "watch", "add", "x", "--db", db)[0] == 0
    code, _, err = run(capsys, "watch", "add", "x", "--db", db)
    assert code == 2 and "exists already" in err


def test_config_file_and_environment(tmp_path):
    cfg = tmp_path / "trialscope.toml"
    cfg.write_text('[mail]\nhost = "smtp.example.org"\nport = 2525\nfrom = "a@example.org"\n'
                   'to = ["b@example.org"]\nsecurity = "starttls"\nuser = "u"\npassword = "p"\nsend = true\n')
    config = load_config(str(cfg), environ={})
    assert (config.host, config.port, config.sender, config.to, config.security, config.user, config.send) == (
        "smtp.example.org", 2525, "a@example.org", ["b@example.org"], "starttls", "u", True)
    env = load_config(str(cfg), environ={"TRIALSCOPE_SMTP_HOST": "other", "TRIALSCOPE_SMTP_TO": "x@y, z@w"})
    assert (env.host, env.to, env.port) == ("other", ["x@y", "z@w"], 2525)
    (tmp_path / "bad.toml").write_text("[mail\n")
    with pytest.raises(MailError, match="not valid TOML"):
        load_config(str(tmp_path / "bad.toml"), environ={})
    with pytest.raises(MailError, match="no SMTP server configured"):
        MailConfig(to=["a@b"]).ready()
    with pytest.raises(MailError, match="both user and password"):
        MailConfig(host="h", to=["a@b"], user="u").ready()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed: run make sysdeps")
def test_starttls_and_login(tmp_path):
    """STARTTLS with a server whose certificate the configured cafile trusts, then a login."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == b"watcher" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 or 535

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True, authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        base = MailConfig(host="127.0.0.1", port=controller.port, sender="w@example.org", to=["r@example.org"],
                          security="starttls", user="watcher", password="s3cret", cafile=str(tmp_path / "cert.pem"))
        msg = email.message.EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = "hello", base.sender, "r@example.org"
        msg.set_content("body")
        send(base, msg)
        assert logins == [(b"watcher", b"s3cret")]
        assert inbox.messages[0][2]["Subject"] == "hello"
        base.password = "wrong"
        with pytest.raises(MailError, match="refused the login"):
            send(base, msg)
        base.password, base.cafile = "s3cret", None  # the self-signed certificate is not trusted
        with pytest.raises(MailError, match="TLS with the SMTP server"):
            send(base, msg)
    finally:
        controller.stop()


def test_check_reports_against_the_version_current_at_the_last_check(tmp_path):
    """Two updates between checks read as one change, from the version seen last time."""
    db = str(tmp_path / "s.db")
    ingest_into(db, V1 / f"{STATUS_AND_ENROLLMENT}.xml")
    store = open_store(db)
    from trialscope.search import Searcher, SearchRequest

    w = watch.add(store, "all", SearchRequest())
    ingest_into(db, V2 / f"{STATUS_AND_ENROLLMENT}.json")
    record = orjson.loads((V2 / f"{STATUS_AND_ENROLLMENT}.json").read_bytes())
    folder = tmp_path / "v3"
    folder.mkdir()

    def terminate(r: dict) -> None:
        r["protocolSection"]["statusModule"]["overallStatus"] = "TERMINATED"

    (folder / "v3.json").write_bytes(newer_version(record, "2023-08-01", terminate))
    ingest_into(db, folder)
    from trialscope.index import catch_up

    catch_up(store)
    [result] = watch.check(store, Searcher(store), [w])
    [entry] = result.entries
    assert (entry.kind, entry.from_version, entry.to_version) == ("updated", 1, 3)
    assert entry.facts[0] == "status Recruiting → Terminated"
    store.close()
