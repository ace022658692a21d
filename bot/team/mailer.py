"""E-mail of each referral to ``HANDOFF_EMAIL`` over SMTP (optional).

Standard-library ``smtplib`` in a worker thread. Port 465 speaks TLS from the start; any other
port upgrades with STARTTLS when the server offers it. A referral holds health data, so a
server that offers no TLS is only used on the loopback interface (a local relay); elsewhere
the e-mail is refused (a permanent error) rather than sent in clear text. The sender address is
``SMTP_USER`` when it is an address, else ``trialbot@<SMTP_HOST>``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from bot.config import Settings
from bot.team.sending import SendError

TIMEOUT = 20.0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpMailer:
    """Sends one e-mail per referral (``Mailer`` for the outbox worker)."""

    def __init__(
        self,
        host: str,
        port: int,
        to: str,
        *,
        user: str | None = None,
        password: str | None = None,
        sender: str | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.to = to
        self.user = user
        self.password = password
        self.sender = sender or (user if user and "@" in user else f"trialbot@{host}")
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer | None:
        """The mailer for HANDOFF_EMAIL, or None when e-mail is not configured."""
        if not settings.handoff_email or not settings.smtp_host:
            return None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.handoff_email,
            user=settings.smtp_user,
            password=password,
        )

    def message(self, subject: str, body: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = self.to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1])
        msg.set_content(body, charset="utf-8")
        return msg

    async def send(self, subject: str, body: str) -> None:
        """Send one e-mail; raise SendError (permanent for a refusal) on failure."""
        await asyncio.to_thread(self._send, self.message(subject, body))

    def _send(self, msg: EmailMessage) -> None:
        try:
            if self.port == 465:
                context = ssl.create_default_context()
                with smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                ) as smtp:
                    self._deliver(smtp, msg)
                return
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                elif not _loopback(self.host):
                    raise SendError("SMTP server offers no TLS: not sent", permanent=True)
                self._deliver(smtp, msg)
        except SendError:
            raise
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            raise SendError(f"SMTP {exc.smtp_code}", permanent=permanent) from None
        except smtplib.SMTPRecipientsRefused:
            raise SendError("SMTP recipient refused", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP {type(exc).__name__}") from None

    def _deliver(self, smtp: smtplib.SMTP, msg: EmailMessage) -> None:
        if self.user and self.password:
            smtp.login(self.user, self.password)
        smtp.send_message(msg)
