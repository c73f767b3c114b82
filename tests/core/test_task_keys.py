"""Key templates of tasks: filled from each call's arguments, refused when malformed."""

from __future__ import annotations

import pytest

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import Gate, GatePolicy, JobOptions, LimitRef
from chronoq.core.task import NO_KEYS, TaskDefaults, TaskRegistry, job_keys


def send(campaign_id: int, account_id: str, step: str = "search") -> None:
    """A task body for the registry."""


def make(**defaults: object) -> object:
    registry = TaskRegistry()
    return registry.add(send, "send", TaskDefaults(**defaults))  # type: ignore[arg-type]


def test_templates_are_filled_from_positional_keyword_and_default_arguments() -> None:
    task = make(
        lock="campaign:{campaign_id}:{step}",
        on_locked="skip",
        concurrency=("account:{account_id}", 3),
        account="{account_id}",
    )
    keys = job_keys(task, [42], {"account_id": "acme"})  # type: ignore[arg-type]
    assert keys.gates == (
        Gate("campaign:42:search", 1, GatePolicy.SKIP),
        Gate("account:acme", 3, GatePolicy.WAIT),
    )
    assert keys.account == "acme"


def test_a_task_without_templates_has_no_keys() -> None:
    assert job_keys(make(), [1, "a"], {}) is NO_KEYS  # type: ignore[arg-type]


def test_a_template_naming_a_missing_argument_is_refused_at_enqueue() -> None:
    task = make(lock="campaign:{campaign}")
    with pytest.raises(ConfigurationError, match=r"names argument 'campaign'"):
        job_keys(task, [1, "a"], {})  # type: ignore[arg-type]


def test_a_call_that_does_not_fit_the_signature_is_refused() -> None:
    task = make(account="{account_id}")
    with pytest.raises(ConfigurationError, match="cannot call task 'send'"):
        job_keys(task, [], {"nope": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ({"lock": "campaign:{"}, "bad key template"),
        ({"lock": "campaign:{0}"}, "use argument names in braces"),
        ({"concurrency": ("account:{account_id}", 0)}, "at least 1"),
        ({"on_locked": "later"}, "'later' is not a valid GatePolicy"),
    ],
)
def test_bad_task_options_are_refused_where_declared(
    defaults: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make(**defaults)


def test_bad_gates_and_accounts_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="gate key must be"):
        Gate("")
    with pytest.raises(ConfigurationError, match="limit of 'k' must be at least 1"):
        Gate("k", 0)
    with pytest.raises(ConfigurationError, match="same gate key twice"):
        JobOptions(gates=(Gate("k"), Gate("k", 2)))
    with pytest.raises(ConfigurationError, match="account must be"):
        JobOptions(account="")


def crawl(source: str, page: int) -> None:
    """A task body whose rate limit is chosen by its source."""


def test_a_rate_limit_name_is_filled_from_the_arguments() -> None:
    registry = TaskRegistry()
    task = registry.add(crawl, "crawl", TaskDefaults(limits=(("source:{source}", None),)))
    keys = job_keys(task, ["example.com", 1], {})
    assert keys.limits == (LimitRef("source:example.com", ""),)
    with pytest.raises(
        ConfigurationError, match=r"limit name template 'source:\{source\}'.*invalid limit name"
    ):
        job_keys(task, ["http://bad/url", 1], {})
    with pytest.raises(ConfigurationError, match="bad key template"):
        TaskDefaults(limits=(("source:{0}", None),))
