"""E-mail for saved searches: what `watch check` found, sent through any SMTP server.

The server comes from the configuration: a TOML file (`--config FILE`, else
$TRIALSCOPE_CONFIG, else `trialscope.toml` in the working directory, if there is one) with a
`[mail]` table, and environment variables, which win over the file:

| `[mail]` key | environment variable | meaning |
| --- | --- | --- |
| `host` | `TRIALSCOPE_SMTP_HOST` | the SMTP server (required to send) |
| `port` | `TRIALSCOPE_SMTP_PORT` | default 25; 587 with `starttls`, 465 with `ssl` |
| `from` | `TRIALSCOPE_SMTP_FROM` | the sender address |
| `to` | `TRIALSCOPE_SMTP_TO` | recipients (a list, or comma separated) |
| `security` | `TRIALSCOPE_SMTP_SECURITY` | `none` (default), `starttls` or `ssl` |
| `user`, `password` | `TRIALSCOPE_SMTP_USER`, `TRIALSCOPE_SMTP_PASSWORD` | login, when the server wants one |
| `cafile` | `TRIALSCOPE_SMTP_CAFILE` | CA certificates to trust (a private server's own CA) |
| `base_url` | `TRIALSCOPE_BASE_URL` | the trialscope web app, for links in the mail |
| `send` | `TRIALSCOPE_SMTP_SEND` | `true`: `watch check` mails without `--mail` |
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tomllib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from .recent import ChangeEntry

DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
MAX_BODY_ENTRIES = 500


class MailError(RuntimeError):
    """A configuration that cannot send, or a server that refused: said in one line."""


@dataclass(slots=True)
class MailConfig:
    host: str | None = None
    port: int | None = None
    sender: str = "trialscope@localhost"
    to: list[str] = field(default_factory=list)
    security: str = "none"
    user: str | None = None
    password: str | None = None
    cafile: str | None = None
    base_url: str | None = None
    send: bool = False
    timeout: float = 30.0

    def ready(self) -> None:
        """Raise MailError unless this configuration can send."""
        if not self.host:
            raise MailError("no SMTP server configured: set [mail] host in the config file or "
                            "TRIALSCOPE_SMTP_HOST")
        if not self.to:
            raise MailError("no recipients configured: set [mail] to or TRIALSCOPE_SMTP_TO")
        if self.security not in DEFAULT_PORTS:
            raise MailError(f"unknown mail security {self.security!r}: none, starttls or ssl")
        if bool(self.user) != bool(self.password):
            raise MailError("an SMTP login needs both user and password")


_ENV = {"host": "TRIALSCOPE_SMTP_HOST", "port": "TRIALSCOPE_SMTP_PORT", "from": "TRIALSCOPE_SMTP_FROM",
        "to": "TRIALSCOPE_SMTP_TO", "security": "TRIALSCOPE_SMTP_SECURITY", "user": "TRIALSCOPE_SMTP_USER",
        "password": "TRIALSCOPE_SMTP_PASSWORD", "cafile": "TRIALSCOPE_SMTP_CAFILE",
        "base_url": "TRIALSCOPE_BASE_URL", "send": "TRIALSCOPE_SMTP_SEND"}


def load_config(path: str | None = None, environ: dict[str, str] | None = None) -> MailConfig:
    """The mail configuration: the file's [mail] table, then the environment over it."""
    env = os.environ if environ is None else environ
    values: dict = {}
    chosen = path or env.get("TRIALSCOPE_CONFIG")
    file = Path(chosen) if chosen else Path("trialscope.toml")
    if chosen or file.exists():
        try:
            values = dict(tomllib.loads(file.read_text(encoding="utf-8")).get("mail") or {})
        except OSError as exc:
            raise MailError(f"cannot read the config file {file}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise MailError(f"the config file {file} is not valid TOML: {exc}") from None
    for key, var in _ENV.items():
        if env.get(var):
            values[key] = env[var]
    to = values.get("to") or []
    if isinstance(to, str):
        to = [t.strip() for t in to.split(",") if t.strip()]
    security = str(values.get("security") or "none").lower()
    try:
        port = int(values["port"]) if values.get("port") else None
    except (TypeError, ValueError):
        raise MailError(f"mail port must be a number, got {values.get('port')!r}") from None
    send = values.get("send")
    return MailConfig(
        host=values.get("host") or None, port=port, sender=values.get("from") or MailConfig.sender,
        to=[str(t) for t in to], security=security, user=values.get("user") or None,
        password=values.get("password") or None, cafile=values.get("cafile") or None,
        base_url=(values.get("base_url") or "").rstrip("/") or None,
        send=send if isinstance(send, bool) else str(send or "").lower() in ("1", "true", "yes"),
    )


def compose(config: MailConfig, results: list) -> EmailMessage | None:
    """One message for every saved search with something new (None when there is nothing)."""
    found = [r for r in results if r.entries]
    if not found:
        return None
    total = sum(len(r.entries) for r in found)
    msg = EmailMessage()
    noun = "study" if total == 1 else "studies"
    names = ", ".join(r.watch.name for r in found)
    msg["Subject"] = " ".join(f"trialscope: {total} new or changed {noun} ({names})".split())[:200]
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="trialscope.local")
    lines: list[str] = []
    shown = 0
    for r in found:
        lines.append(f"{r.watch.name}: {_one_line(r.watch.describe())}")
        lines.append(f"{len(r.entries)} new or changed since {r.since_time}"
                     + (" (the newest shown; more in the store)" if r.more else ""))
        lines.append("")
        for e in r.entries:
            if shown >= MAX_BODY_ENTRIES:
                break
            lines += _entry_lines(e, config.base_url)
            shown += 1
        lines.append("")
    lines.append("Sent by trialscope watch check. Records may have changed since; check the official record.")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def _entry_lines(e: ChangeEntry, base: str | None) -> list[str]:
    head = {"new": "NEW", "updated": "UPDATED", "withdrawn": "GONE"}[e.kind]
    out = [f"  {head} {e.nct_id}: {_one_line(e.title)}"]
    out += [f"    - {_one_line(f)}" for f in e.facts]
    if base:
        out.append(f"    {base}/study/{e.nct_id}")
        if e.from_version is not None:
            out.append(f"    what changed: {base}/study/{e.nct_id}/history?from={e.from_version}&to={e.to_version}")
    else:
        out.append(f"    https://clinicaltrials.gov/study/{e.nct_id}")
    return out


def _one_line(text: str) -> str:
    return " ".join(text.split())


def send(config: MailConfig, msg: EmailMessage) -> None:
    """Deliver the message; MailError (one line) when the server cannot be reached or refuses."""
    config.ready()
    port = config.port or DEFAULT_PORTS[config.security]
    context = ssl.create_default_context(cafile=config.cafile) if config.security != "none" else None
    try:
        if config.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(config.host, port, timeout=config.timeout, context=context)
        else:
            smtp = smtplib.SMTP(config.host, port, timeout=config.timeout)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=context)
            if config.user:
                smtp.login(config.user, config.password or "")
            smtp.send_message(msg, from_addr=config.sender, to_addrs=config.to)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"the SMTP server {config.host}:{port} refused the login ({exc.smtp_code})") from None
    except smtplib.SMTPException as exc:
        raise MailError(f"the SMTP server {config.host}:{port} refused the mail: {_one_line(str(exc))}") from None
    except ssl.SSLError as exc:
        raise MailError(f"TLS with the SMTP server {config.host}:{port} failed: {exc.reason or exc}") from None
    except (TimeoutError, OSError) as exc:
        raise MailError(f"cannot reach the SMTP server {config.host}:{port}: {exc.strerror or exc}") from None
