"""A fake WeChat Official Account platform, written from the public protocol."""

from tests.fakewechat.platform import FakeWeChat, Sent

__all__ = ["FakeWeChat", "Sent"]
