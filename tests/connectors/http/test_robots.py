"""robots.txt matching, with the cases of RFC 9309's own examples."""

from __future__ import annotations

from chronoq.connectors.http import Robots

# RFC 9309 §5.1 (Simple Example), verbatim.
RFC_EXAMPLE = """\
User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot

EOF
"""


def test_rfc_simple_example_groups() -> None:
    robots = Robots.parse(RFC_EXAMPLE)
    # foobot: everything disallowed but its two allows.
    assert robots.allowed("/example/page.html", "FooBot/1.0")
    assert robots.allowed("/example/allowed.gif", "foobot")
    assert not robots.allowed("/example/other.html", "foobot")
    assert not robots.allowed("/", "foobot")
    # barbot and bazbot share one group: only /example/page.html is off.
    for agent in ("barbot", "BazBot"):
        assert not robots.allowed("/example/page.html", agent)
        assert robots.allowed("/example/other.html", agent)
        assert robots.allowed("/image.gif", agent)  # the * group does not apply to them
    # quxbot's group is empty: everything allowed.
    assert robots.allowed("/example/page.html", "quxbot")
    # Anyone else: the * group.
    assert not robots.allowed("/image.gif", "otherbot")
    assert robots.allowed("/image.gif?x=1", "otherbot")  # "$" anchors the end
    assert not robots.allowed("/example/x", "otherbot")
    assert robots.allowed("/publications/1", "otherbot")
    assert robots.allowed("/robots.txt", "foobot")  # always allowed


def test_rfc_longest_match() -> None:
    # RFC 9309 §5.2.
    robots = Robots.parse(
        "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n"
    )
    assert robots.allowed("/example/page/", "foobot")
    assert robots.allowed("/example/page/other", "foobot")
    assert not robots.allowed("/example/page/disallowed.gif", "foobot")


def test_a_tie_goes_to_allow_and_empty_disallow_is_no_rule() -> None:
    robots = Robots.parse("User-agent: *\nDisallow: /page\nAllow: /page\nDisallow:\n")
    assert robots.allowed("/page", "x")
    assert Robots.parse("User-agent: *\nDisallow:\n").allowed("/anything", "x")


def test_special_characters_and_percent_encoding() -> None:
    # §2.2.3: "*" any run, "$" end; a literal "*" or "$" is written %2A / %24.
    robots = Robots.parse(
        "User-agent: *\nDisallow: /\nAllow: /this/*/exactly$\n"
        "Allow: /path/file-with-a-%2A.html\nAllow: /path/foo-%24\n"
        "Allow: /foo/bar/%62%61%7A\nAllow: /foo/bar/\u30c4\n"
    )
    assert robots.allowed("/this/any/thing/exactly", "x")
    assert not robots.allowed("/this/any/exactly/not", "x")
    assert robots.allowed("https://www.example.com/path/file-with-a-*.html", "x")
    assert robots.allowed("https://www.example.com/path/foo-$", "x")
    assert robots.allowed("/foo/bar/baz", "x")  # %62%61%7A is "baz"
    assert robots.allowed("/foo/bar/%E3%83%84", "x")  # the katakana, percent-encoded
    assert not robots.allowed("/path/file-with-a-x.html", "x")


def test_comments_case_and_crawl_delay() -> None:
    robots = Robots.parse(
        "# a comment\nUSER-AGENT: MyBot # ours\nCrawl-delay: 2.5\nDISALLOW: /Private\n"
        "user-agent: *\ncrawl-delay: 1\n"
    )
    assert not robots.allowed("/Private/x", "mybot/3.0 (+https://example.org)")
    assert robots.allowed("/private/x", "mybot")  # paths are case-sensitive
    assert robots.crawl_delay("mybot") == 2.5
    assert robots.crawl_delay("other") == 1.0


def test_verdicts_without_a_file_and_the_cache_round_trip() -> None:
    assert Robots.allow_all().allowed("/x", "a")
    assert not Robots.unreachable().allowed("/x", "a")
    assert Robots.unreachable().allowed("/robots.txt", "a")
    robots = Robots.parse(RFC_EXAMPLE)
    again = Robots.from_dict(robots.to_dict())
    assert again.allowed("/example/page.html", "foobot")
    assert not again.allowed("/image.gif", "otherbot")
