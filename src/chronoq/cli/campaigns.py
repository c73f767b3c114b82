"""`chronoq campaigns list|show|add|pause|resume|cancel|forecast`: campaigns
(`chronoq.campaigns`) from a shell. Reads take `--json` (the API's JSON); `add`
takes a spec file (`--file spec.json`, or .yaml with PyYAML installed) or flags;
`forecast` prints when the last recipient is reached and the sends per day."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from chronoq.campaigns import Campaigns, CampaignSpec, CampaignState
from chronoq.campaigns.forecast_json import forecast_dict
from chronoq.cli.common import (
    AppOption,
    CliError,
    JsonOption,
    PrefixOption,
    RedisUrlOption,
    Target,
    console,
    emit_json,
    parse_json,
)

T = TypeVar("T")
campaigns = typer.Typer(
    help="Campaigns: scheduled steps (search, email, ...) per account, paced.",
    no_args_is_help=True,
)
NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="Campaign name.")]
STEP_HELP = "A step, NAME=TASK[,each][,after=DELAY]; repeat, in order."
WINDOW_HELP = "A sending window, e.g. 'mon-fri 09:00-17:00'; repeat."
DOMAIN_HELP = "Sends per recipient domain per day."


def _with(target: Target, action: Callable[[Campaigns], Awaitable[T]]) -> T:
    return target.with_client(lambda client: action(Campaigns(client)))


def _progress(view: dict[str, Any]) -> str:
    """Sends done of sends known, over every step."""
    steps = view.get("steps") or []
    done = sum(s["sent"] + s["skipped"] + s["failed"] for s in steps)
    return f"{done}/{sum(s['total'] for s in steps)}"


@campaigns.command("list")
def list_campaigns(
    state: Annotated[str | None, typer.Option("--state", help="Only in this state.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1)] = 50,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Campaigns with their state, progress and next send."""
    chosen = _state(state) if state else None
    target = Target.resolve(app, redis_url, prefix)
    found = _with(target, lambda c: c.list(state=chosen, limit=limit))
    views = [v.to_dict() for v in found]
    if json_out:
        emit_json(views)
        return
    table = Table(title="campaigns")
    for column in ("name", "state", "account", "progress", "recipients", "next send", "error"):
        table.add_column(column)
    for v in views:
        table.add_row(v["name"], v["state"], str(v["spec"].get("account", "")), _progress(v),
                      str(v["recipients"]), v["next_send"] or "-",
                      (v["last_error"] or "")[:80])  # fmt: skip
    console().print(table)


def _state(text: str) -> CampaignState:
    try:
        return CampaignState(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in CampaignState)
        raise CliError(f"--state: unknown state {text!r}: one of {names}") from None


@campaigns.command()
def show(
    name: NameArgument,
    runs: Annotated[int, typer.Option("--runs", help="Runs listed.", min=0)] = 10,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """One campaign: its state, each step's progress, next send, last error, runs."""

    async def read(c: Campaigns) -> tuple[Any, list[Any]]:
        view = await c.get(name)
        return view, (await c.history(name, limit=runs) if runs else [])

    view, history = _with(Target.resolve(app, redis_url, prefix), read)
    shown = {**view.to_dict(), "history": [r.to_dict() for r in history]}
    if json_out:
        emit_json(shown)
        return
    out = console()
    out.print(f"campaign {shown['name']}: {shown['state']}  account {shown['spec'].get('account')}"
              f"  runs {shown['runs']}  recipients {shown['recipients']}")  # fmt: skip
    out.print(f"next send: {shown['next_send'] or '-'}  current run: {shown['current_run'] or '-'}")
    if shown["last_error"]:
        out.print(f"last error: {shown['last_error']}")
    steps = Table(title="steps")
    for column in ("step", "total", "sent", "skipped", "failed", "pending", "next at"):
        steps.add_column(column)
    for s in shown["steps"]:
        steps.add_row(s["name"], *(str(s[k]) for k in ("total", "sent", "skipped", "failed",
                      "pending")), s["next_at"] or "-")  # fmt: skip
    out.print(steps)
    if shown["history"]:
        table = Table(title="runs")
        for column in ("run", "workflow", "status", "started", "ended", "error"):
            table.add_column(column)
        for r in shown["history"]:
            table.add_row(str(r["run"]), r["workflow"], r["status"], r["started"] or "-",
                          r["ended"] or "-", (r["error"] or "")[:80])  # fmt: skip
        out.print(table)


def _read_spec(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CliError(f"--file: cannot read {path!r}: {reason}") from None
    if file.suffix.lower() in (".yaml", ".yml"):
        try:
            yaml = importlib.import_module("yaml")
        except ImportError:
            raise CliError("--file: a YAML spec needs PyYAML (pip install pyyaml); "
                           "or give the spec as JSON") from None  # fmt: skip
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CliError(f"--file: {path!r} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise CliError(f"--file: {path!r} must hold a mapping, got {type(data).__name__}")
        return data
    found: dict[str, Any] = parse_json(text, f"--file {path}", dict)
    return found


def _step(text: str) -> dict[str, Any]:
    """`NAME=TASK[,each][,after=DELAY]`, e.g. `email=outreach.email,each,after=2d`."""
    name, sep, rest = text.partition("=")
    task, *options = rest.split(",")
    if not sep or not name.strip() or not task.strip():
        raise CliError(f"--step {text!r}: give NAME=TASK[,each][,after=DELAY]")
    step: dict[str, Any] = {"name": name.strip(), "task": task.strip()}
    for option in (o.strip() for o in options):
        if option == "each":
            step["each"] = True
        elif option.startswith("after="):
            step["after"] = option.removeprefix("after=")
        else:
            raise CliError(f"--step {text!r}: unknown option {option!r} (each, after=DELAY)")
    return step


def _flags(**given: Any) -> dict[str, Any]:
    """The spec the flags give (only those given), nested as a spec is."""
    top = ("name", "account", "timezone", "priority", "max_runs", "max_recipients")
    spec: dict[str, Any] = {k: v for k in top if (v := given[k]) is not None}
    if given["steps"]:
        spec["steps"] = [_step(s) for s in given["steps"]]
    schedule = {k: v for k in ("cron", "every", "once", "start", "end")
                if (v := given[k]) is not None}  # fmt: skip
    if schedule:
        spec["schedule"] = schedule
    pacing = {k: v for k in ("per_day", "per_domain_per_day") if (v := given[k]) is not None}
    if given["windows"]:
        pacing["windows"] = list(given["windows"])
    if pacing:
        spec["pacing"] = pacing
    if given["recipients"]:
        spec["recipients"] = [{"email": e} for e in given["recipients"]]
    return spec


def _merged(base: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """The file's spec with the flags over it (a nested section merges)."""
    out = dict(base)
    for key, value in flags.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _opt(flag: str, text: str) -> Any:
    return typer.Option(flag, help=text, show_default=False)


Text = Annotated[str | None, typer.Option(show_default=False)]
Texts = Annotated[list[str] | None, typer.Option(show_default=False)]
Number = Annotated[int | None, typer.Option(show_default=False)]


@campaigns.command()
def add(
    file: Annotated[str | None, _opt("--file", "A spec: JSON (or YAML).")] = None,
    name: Annotated[str | None, _opt("--name", "Its name (its id).")] = None,
    account: Annotated[str | None, _opt("--account", "Whose campaign.")] = None,
    timezone: Annotated[str | None, _opt("--timezone", "The account's zone.")] = None,
    steps: Annotated[list[str] | None, _opt("--step", STEP_HELP)] = None,
    cron: Annotated[str | None, _opt("--cron", "Runs on this cron.")] = None,
    every: Annotated[str | None, _opt("--every", "Or every: 1d, 12h.")] = None,
    once: Annotated[str | None, _opt("--once", "Or once: ISO 8601, with offset.")] = None,
    start: Annotated[str | None, _opt("--start", "No run before (ISO 8601).")] = None,
    end: Annotated[str | None, _opt("--end", "No run after (ISO 8601).")] = None,
    windows: Annotated[list[str] | None, _opt("--window", WINDOW_HELP)] = None,
    per_day: Annotated[int | None, _opt("--per-day", "Sends per day.")] = None,
    per_domain_per_day: Annotated[int | None, _opt("--per-domain-per-day", DOMAIN_HELP)] = None,
    priority: Annotated[int | None, _opt("--priority", "Its jobs' priority.")] = None,
    max_runs: Annotated[int | None, _opt("--max-runs", "At most N runs.")] = None,
    max_recipients: Annotated[int | None, _opt("--max-recipients", "At most N recipients.")] = None,
    recipients: Annotated[list[str] | None, _opt("--recipient", "An email; repeat.")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Store it, unscheduled.")] = False,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a campaign from a spec file, flags, or both (flags over the file)."""
    base = _read_spec(file) if file else {}
    flags = _flags(name=name, account=account, timezone=timezone, priority=priority,
                   max_runs=max_runs, max_recipients=max_recipients, steps=steps, cron=cron,
                   every=every, once=once, start=start, end=end, per_day=per_day,
                   per_domain_per_day=per_domain_per_day, windows=windows,
                   recipients=recipients)  # fmt: skip
    if not base and not flags:
        raise CliError("give a spec: --file spec.json, or --name, --account, --step, --cron ...")
    spec = CampaignSpec.parse(_merged(base, flags))
    view = _with(Target.resolve(app, redis_url, prefix), lambda c: c.create(spec, draft=draft))
    if json_out:
        emit_json(view.to_dict())
        return
    shown = view.to_dict()
    console().print(f"campaign {shown['name']} created: {shown['state']}; "
                    f"next send {shown['next_send'] or '-'}")  # fmt: skip


def _control(action: str) -> Callable[..., None]:
    def command(
        name: NameArgument,
        reason: Annotated[str, typer.Option("--reason", help="Why (pause).")] = "",
        app: AppOption = None,
        redis_url: RedisUrlOption = None,
        prefix: PrefixOption = None,
        json_out: JsonOption = False,
    ) -> None:
        target = Target.resolve(app, redis_url, prefix)
        args = (reason,) if action == "pause" else ()
        if reason and action != "pause":
            raise CliError(f"--reason applies to pause, not {action}")
        view = _with(target, lambda c: getattr(c, action)(name, *args)).to_dict()
        if json_out:
            emit_json(view)
        else:
            console().print(f"campaign {name}: {view['state']}")

    command.__doc__ = {
        "pause": "Pause a campaign: no send starts until resume (sends in flight end).",
        "resume": "Resume a campaign: every recipient not yet sent gets it, none twice.",
        "cancel": "Cancel a campaign for good: nothing more is sent.",
    }[action]
    return command


for _action in ("pause", "resume", "cancel"):
    campaigns.command(_action)(_control(_action))


@campaigns.command()
def forecast(
    name: NameArgument,
    now: Annotated[str | None, _opt("--now", "Simulate from (ISO 8601 with offset).")] = None,
    app: AppOption = None,
    redis_url: RedisUrlOption = None,
    prefix: PrefixOption = None,
    json_out: JsonOption = False,
) -> None:
    """When the last recipient is reached, and the sends per day (the account's
    days), simulated against the real limits, windows and sends booked."""
    moment = _aware(now) if now else None
    found = _with(Target.resolve(app, redis_url, prefix), lambda c: c.forecast(name, now=moment))
    shown = forecast_dict(found, slots=0)
    if json_out:
        emit_json(shown)
        return
    out = console()
    out.print(shown["text"])
    table = Table(title=f"sends per day ({shown['total']} in all)")
    table.add_column("day")
    table.add_column("weekday")
    table.add_column("sends", justify="right")
    for day, count in shown["by_day"].items():
        table.add_row(day, datetime.fromisoformat(day).strftime("%a"), str(count))
    out.print(table)


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--now: not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise CliError(f"--now: give an offset (e.g. {text}+02:00 or {text}Z)")
    return moment
