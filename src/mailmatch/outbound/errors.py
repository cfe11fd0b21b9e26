"""The one way sending fails: a :class:`~mailmatch.errors.ConnectError` with the server's reply.

Like aiosmtplib's ``SMTPResponseException``, the error keeps the server's reply code and text
verbatim (``server_text`` of the diagnosis). Whether a retry may help follows SMTP itself when
the server replied: 4xx is temporary, 5xx is final; otherwise the diagnosis decides (a timeout
may pass, a refused password or an untrusted certificate will not).
"""

from __future__ import annotations

from mailmatch.errors import ConnectError, Diagnosis
from mailmatch.outbound.message import Refusal


class SendError(ConnectError):
    """A message was not sent; ``refused`` holds each recipient's refusal when all were."""

    def __init__(
        self,
        diagnosis: Diagnosis,
        *,
        step: str,
        reply_code: int | None = None,
        refused: tuple[Refusal, ...] = (),
    ) -> None:
        super().__init__(diagnosis)
        self.step = step
        self.reply_code = reply_code
        self.refused = refused

    @property
    def server_text(self) -> str | None:
        return self.diagnosis.server_text

    @property
    def retryable(self) -> bool:
        if self.refused:
            return all(r.retryable for r in self.refused)
        if self.reply_code is not None:
            return 400 <= self.reply_code < 500
        return self.diagnosis.retryable

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "server_text": self.server_text,
            "reply_code": self.reply_code,
            "retryable": self.retryable,
            "step": self.step,
            "refused": [r.to_json() for r in self.refused],
            "advice": self.advice,
        }
