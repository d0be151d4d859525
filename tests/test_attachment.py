"""An image attached to a Reply: refused when it is built if it is not an image or absurdly large (it
travels inside an outbox row and, on Teams, inside the activity); named on the console, which cannot
show it; left off a Teams message it would make too big for the connector. Delivery is tested end to
end in test_kpi_digest.py (Slack, Teams) and test_webchat.py."""

from __future__ import annotations

import pytest

from bot.channels import teams
from bot.channels.console import render
from handlers.i18n import t
from handlers.messages import MAX_ATTACHMENT_BYTES, Attachment, Reply
from tests.kpi_world import PNG_SIGNATURE


def test_an_absurd_attachment_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="1000001 bytes; an attachment has 1 to 1000000 bytes"):
        Attachment("huge.png", "大きすぎる", "image/png", b"\0" * (MAX_ATTACHMENT_BYTES + 1))
    with pytest.raises(ValueError, match="0 bytes"):
        Attachment("empty.png", "空", "image/png", b"")
    with pytest.raises(ValueError, match="only images can be attached, not 'application/pdf'"):
        Attachment("report.pdf", "報告書", "application/pdf", b"%PDF-1.7")


def test_the_console_names_what_it_cannot_show() -> None:
    chart = Attachment("kpi-overdue-2030-07-22.png", "KPI未報告のラボ", "image/png", PNG_SIGNATURE + b"...")
    shown, _ = render(Reply("本文", attachment=chart))
    assert shown.splitlines() == ["本文", t("console.attachment", title="KPI未報告のラボ",
                                             name="kpi-overdue-2030-07-22.png", size=len(chart.data))]
    assert "[添付: KPI未報告のラボ(kpi-overdue-2030-07-22.png、" in shown


def test_teams_leaves_out_an_image_too_big_for_the_connector() -> None:
    small = Attachment("chart.png", "グラフ", "image/png", PNG_SIGNATURE + b"\0" * 1000)
    (image,) = teams.render(Reply("本文", attachment=small)).attachments
    assert image.content_type == "image/png" and image.content_url == small.data_url()
    big = Attachment("chart.png", "グラフ", "image/png", PNG_SIGNATURE + b"\0" * (teams.INLINE_IMAGE_MAX * 3 // 4))
    message = teams.render(Reply("本文", title="見出し", attachment=big))
    assert [a.content_type for a in message.attachments] == ["application/vnd.microsoft.card.adaptive"]
    assert "グラフ」の画像はTeamsで送れる大きさを超えた" in message.summary, "the text says the image is not there"
    plain = teams.render(Reply("本文", attachment=big))
    assert plain.attachments is None or not plain.attachments
    assert plain.text.startswith("本文\n※「グラフ」の画像")
