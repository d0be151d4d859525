"""Optional rewording of reviewed answers with an OpenAI-compatible model (OPENAI_API_KEY set).

The model never answers on its own: it only rewords the retrieved entry for the user's question,
and handlers.faq.is_faithful checks the result before it is shown.
"""

from __future__ import annotations

import logging

from openai import AsyncOpenAI, OpenAIError

from bot.config import Settings
from handlers.i18n import t

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 8.0


class OpenAIRephraser:
    def __init__(self, settings: Settings):
        self.model = settings.openai_model
        self.client = AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url or None,
                                  timeout=TIMEOUT_SECONDS, max_retries=1)

    async def rephrase(self, question: str, answer: str) -> str | None:
        try:
            response = await self.client.chat.completions.create(
                model=self.model,
                temperature=0,
                messages=[
                    {"role": "system", "content": t("llm.system")},
                    {"role": "user", "content": t("llm.user", question=question, answer=answer)},
                ],
            )
        except OpenAIError as exc:  # any failure keeps the reviewed wording
            log.warning("rephrasing failed, using the reviewed answer: %s", exc)
            return None
        choices = response.choices
        return choices[0].message.content if choices and choices[0].message.content else None
