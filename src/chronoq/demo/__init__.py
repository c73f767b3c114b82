"""The bundled demo app: `chronoq up` with no APP runs it (`chronoq up
chronoq.demo:app`). One example campaign, one scheduled post and one scraped
source, end to end against loopback platforms it starts itself (SMTP, a search
API and a news site over HTTP, a TikTok Content Posting emulator); the dashboard
shows all of it. Its keys live under the prefix `demo`."""

from chronoq import App
from chronoq.demo.tour import Demo, Ports, install

app = App("demo", prefix="demo")
demo = install(app)

__all__ = ["Demo", "Ports", "app", "demo", "install"]
