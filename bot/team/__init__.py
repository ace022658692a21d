"""The handoff to the study team, channel-free: cards, the outbox worker, export, charts, e-mail.

Nothing here imports ``telegram``: the Telegram side (``bot/channels/telegram/team.py``)
implements :class:`bot.team.sending.Sender` and the team chat's handlers.

Outbox kinds (``store.enqueue`` / ``turn.enqueue``; the payloads are stored encrypted):

==========================  ===================  =========================================
kind                        dedupe key           payload / what it does
==========================  ===================  =========================================
``referral_card``           ``<ref>``            ``{"ref"}``: one card in the team chat
                                                 (patient side, in the referral's turn)
``referral_email``          ``mail:<ref>``       ``{"ref"}``: the card by e-mail to
                                                 ``HANDOFF_EMAIL`` (patient side, when set)
``patient_notice``          ``ack:<ref>``        ``{"ref"}``, ``user_key`` of the person:
                                                 "the study team has your details and will
                                                 call you", in the patient's language; queued
                                                 on a referral's first acknowledgement
``referral_digest``         ``digest:<hash>``    ``{"refs"}``: one digest card for a burst
``referral_digest_csv``     ``digest-csv:<hash>`` ``{"refs"}``: the burst's CSV file
``team_reminder``           ``remind:<...>``     ``{"refs", "hours"}``: referrals nobody
                                                 acknowledged in ``HANDOFF_REMINDER_HOURS``
``card_redaction``          ``redact:<msg id>``  ``{"ref", "message_id", "reason"}``: edit a
                                                 card down to its reference code after an
                                                 erasure (``erased``) or a purge (``expired``)
``digest_redaction``        ``redact-digest:...`` ``{"message_id", "reason"}``: replace a
                                                 burst's CSV file in the team chat with one of
                                                 the referrals it still lists, after an
                                                 erasure or a purge took one of them (key:
                                                 the message id and a random part)
``wecom_card``              ``wecom:<ref>``      ``{"ref"}``: the WeCom robot's card (patient
                                                 side, when ``WECOM_ROBOT_KEY`` is set)
``wecom_digest``            ``wecom:digest:...`` ``{"refs", "part", "parts", "total"}``: one
                                                 part of a burst's digest in WeCom
``wecom_reminder``          ``wecom:remind:...`` ``{"refs", "hours"}``: a reminder in WeCom
``card_edit``               ``edit:<ref>:<...>`` ``{"ref", "by", "action", "at"}``: show a
                                                 status set in the web console on the card
                                                 already in the team chat (one per change)
==========================  ===================  =========================================
"""

from __future__ import annotations

REFERRAL_CARD = "referral_card"
REFERRAL_EMAIL = "referral_email"
PATIENT_NOTICE = "patient_notice"
REFERRAL_DIGEST = "referral_digest"
DIGEST_CSV = "referral_digest_csv"
TEAM_REMINDER = "team_reminder"
CARD_REDACTION = "card_redaction"  # = bot.storage.retention.CARD_REDACTION
DIGEST_REDACTION = "digest_redaction"  # = bot.storage.erasure.DIGEST_REDACTION
CARD_EDIT = "card_edit"

#: Kinds that go to the team chat (paced together, within Telegram's group limit).
TEAM_KINDS = (REFERRAL_CARD, REFERRAL_DIGEST, DIGEST_CSV, TEAM_REMINDER)

__all__ = [
    "CARD_EDIT",
    "CARD_REDACTION",
    "DIGEST_CSV",
    "DIGEST_REDACTION",
    "PATIENT_NOTICE",
    "REFERRAL_CARD",
    "REFERRAL_DIGEST",
    "REFERRAL_EMAIL",
    "TEAM_KINDS",
    "TEAM_REMINDER",
]
