"""A task's published definition: JSON round trip, version, and calls checked
against the published signature as against the function itself."""

from __future__ import annotations

import pytest

from chronoq import App
from chronoq.core.errors import ConfigurationError, UnknownTask
from chronoq.core.job import Gate, GatePolicy, LimitRef
from chronoq.core.registry import PublishedTask, unknown_task
from chronoq.core.retry import Backoff
from chronoq.core.task import bind_call, job_keys

app = App("registry-model")
app.quota("emails", 5)


@app.task(
    queue="mail",
    priority=3,
    max_retries=7,
    backoff=Backoff(base=2, maximum=60),
    timeout=12,
    lock="campaign:{campaign_id}",
    on_locked="skip",
    concurrency=("account:{account}", 2),
    account="{account}",
    quota="emails",
)
def send(account: str, campaign_id: int, /, step: int = 1, *rest: int, note: object = None,
         tags: list[str] | None = None, **extra: str) -> None: ...  # fmt: skip


def hidden_default(a: int, when: object = object()) -> None: ...


def published() -> PublishedTask:
    return PublishedTask.from_json(PublishedTask.of(send.definition).to_json())


def test_the_definition_round_trips_through_json() -> None:
    local = send.definition
    remote = published()
    assert remote.name == local.name
    assert remote.defaults == local.defaults
    bare = local.signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in local.signature.parameters.values()],
        return_annotation=local.signature.empty,
    )
    assert remote.signature == bare  # names, kinds and defaults; annotations are not sent
    assert remote.version == PublishedTask.of(local).version


def test_the_version_changes_with_the_definition_only() -> None:
    other = App("other")

    @other.task(name=send.name, queue="mail")
    def changed(account: str, campaign_id: int) -> None: ...

    assert PublishedTask.of(changed.definition).version != published().version
    assert PublishedTask.of(send.definition).version == published().version


def test_calls_are_bound_against_the_published_signature() -> None:
    remote = published()
    assert bind_call(remote, ["acme", 4], {})["step"] == 1
    with pytest.raises(ConfigurationError, match=r"cannot call task .*missing a required"):
        bind_call(remote, ["acme"], {})
    with pytest.raises(ConfigurationError, match="cannot call task"):
        bind_call(remote, [], {"account": "acme", "campaign_id": 4})  # positional-only


def test_key_templates_fill_from_a_published_definition_as_from_the_code() -> None:
    keys = job_keys(published(), ["acme", 4], {})
    assert keys == job_keys(send.definition, ["acme", 4], {})
    assert keys.gates == (
        Gate("campaign:4", 1, GatePolicy.SKIP),
        Gate("account:acme", 2, GatePolicy.WAIT),
    )
    assert keys.account == "acme" and keys.limits == (LimitRef("emails", "acme"),)


def test_a_default_that_is_not_json_may_be_left_out_but_not_used_by_a_template() -> None:
    other = App("other")
    task = other.task(name="h", lock="at:{when}")(hidden_default)
    remote = PublishedTask.from_json(PublishedTask.of(task.definition).to_json())
    assert "when" in bind_call(remote, [1], {})
    with pytest.raises(ConfigurationError, match="whose default is not JSON"):
        job_keys(remote, [1], {})
    assert job_keys(remote, [1], {"when": "noon"}).gates[0].key == "at:noon"


def test_a_malformed_definition_is_one_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="malformed"):
        PublishedTask.from_json('{"name": "x"}')


def test_the_refusal_is_one_line_naming_the_task_and_force() -> None:
    error = unknown_task("app.nope")
    assert isinstance(error, UnknownTask)
    assert "\n" not in str(error) and "'app.nope'" in str(error) and "--force" in str(error)
