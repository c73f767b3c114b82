"""Settings from the environment (CHRONOQ_*), overridable in code and on the CLI."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chronoq.core.limits import Limit, parse_rate, rate_limit
from chronoq.core.retention import RetentionPolicy

# s; a local enqueue's reply comes in about 40-60 us (chronoq.redis.spin)
DEFAULT_SYNC_READ_SPIN = 0.0002
API_LIMIT = "chronoq-api"  # the limit the HTTP API meters each token's requests with


def _default_data_dir() -> Path:
    return Path.home() / ".chronoq"


class Settings(BaseSettings):
    """Runtime configuration. Durations are in seconds."""

    model_config = SettingsConfigDict(env_prefix="CHRONOQ_", extra="ignore")

    redis_url: str | None = Field(
        default=None,
        description="Redis/Valkey URL (redis://, rediss://, unix://, redis+cluster://, "
        "redis+sentinel://). Unset: start the embedded server under data_dir.",
    )
    tls_ca_file: Path | None = Field(
        default=None, description="CA bundle that signs the servers' certificates (TLS)."
    )
    tls_cert_file: Path | None = Field(
        default=None, description="Client certificate, for servers that ask for one (mTLS)."
    )
    tls_key_file: Path | None = Field(default=None, description="The client certificate's key.")
    tls_check_hostname: bool = Field(
        default=True, description="Check that a server's certificate names its host."
    )
    sentinel_username: str | None = Field(
        default=None, description="ACL user for the sentinels (default: the URL's user)."
    )
    sentinel_password: str | None = Field(
        default=None, description="Password for the sentinels (default: the URL's password)."
    )
    replica_acks: int = Field(
        default=0,
        ge=0,
        description="Acknowledge enqueues, lock acquires and job outcomes only once this "
        "many replicas have them (WAIT), so they survive a failover. 0: don't wait.",
    )
    replica_ack_timeout: float = Field(
        default=2.0, gt=0, description="Longest wait for replica acknowledgements (seconds)."
    )
    sync_read_spin: float = Field(
        default=DEFAULT_SYNC_READ_SPIN,
        ge=0,
        le=0.01,
        description="Seconds the sync client polls its socket for a reply before it "
        "blocks (a blocked thread's idle CPU is slow to wake; see chronoq.redis.spin); "
        "0: block at once.",
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    prefix: str = "chronoq"
    lease: float = Field(default=10.0, gt=0.5, description="Job lease length.")
    retention: float = Field(default=7 * 86400, gt=0, description="Finished record TTL.")
    retention_by_state: str = Field(
        default="",
        description="Retention per final state by age and count, e.g. "
        "'succeeded=24h/100000,failed=7d,dead=30d' (see chronoq.core.retention); "
        "finished states it does not name keep `retention`, dead jobs are kept.",
    )
    events: bool = Field(
        default=True, description="Append every state change to the queue's event stream."
    )
    events_maxlen: int = Field(
        default=10_000,
        ge=1,
        description="About how many state changes each event stream keeps (an entry "
        "naming k jobs counts k).",
    )
    metrics: bool = Field(
        default=True,
        description="Count outcomes per queue, task and minute, with wait and run time "
        "buckets (what `chronoq metrics --hours`, `chronoq report` and the Prometheus "
        "histograms read).",
    )
    metrics_days: float = Field(
        default=90, gt=0, description="Days the daily metrics rollups are kept."
    )
    keep_result: float = Field(default=86400, ge=0, description="Result TTL.")
    workflow_sweep: float = Field(
        default=1.0,
        ge=0,
        description="Seconds between two workflow sweeps of each worker and scheduler loop "
        "(they start delayed steps when due and advance workflows a crash left behind); "
        "0: this process does not sweep.",
    )
    shutdown_timeout: float = Field(default=30.0, ge=0)
    cancel_grace: float = Field(
        default=10.0,
        ge=0,
        description="Seconds a running job may take to stop by itself after a cancel "
        "(it sees current_job().cancelled) before the worker cancels its run outright.",
    )
    max_payload_bytes: int = Field(
        default=1024 * 1024,
        ge=64,
        description="Largest job arguments (refused at enqueue) and task result (the job "
        "fails with the reason instead of storing it), in bytes of JSON.",
    )
    api_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body the HTTP API accepts (bytes); a larger one gets "
        "413 and is not read further.",
    )
    api_rate: str = Field(
        default="50/s",
        description="Requests each API token may make (N/s, N/min, N/h), with bursts of N "
        "at once; beyond it 429 with Retry-After. Enforced by chronoq's own rate "
        "limiter as the limit `chronoq-api` (live-editable like any limit); 'off': none.",
    )
    operations_batch_size: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Jobs a bulk operation acts on per script call (chronoq.bulk).",
    )
    operations_lease: float = Field(
        default=10.0,
        ge=0.1,
        description="Seconds a bulk operation's runner holds it between renewals; a killed "
        "runner's operation is resumed by another after this long.",
    )
    operations_pause: float = Field(
        default=0.0,
        ge=0,
        le=3.0,
        description="Seconds a bulk operation's runner waits between batches (gentler "
        "on a busy Redis); under a third of the lease.",
    )
    strict_server: bool = Field(
        default=False, description="Refuse to start on a server that can lose jobs."
    )

    @model_validator(mode="after")
    def _check_retention(self) -> Settings:
        self.retention_policy()  # a bad CHRONOQ_RETENTION_BY_STATE fails at start-up
        self.api_rate_limit()  # and a bad CHRONOQ_API_RATE
        return self

    def api_rate_limit(self) -> Limit | None:
        """The HTTP API's per-token limit (`api_rate`), None when off."""
        return parse_api_rate(self.api_rate)

    def retention_policy(self) -> RetentionPolicy:
        return _policy(self.retention_by_state, self.retention)

    @property
    def events_cap(self) -> int:
        """The event streams' MAXLEN, 0 when events are off (what the scripts read)."""
        return self.events_maxlen if self.events else 0


def parse_api_rate(text: str) -> Limit | None:
    """`50/s` (bursts of 50 at once, then 50 a second), or `off`: None."""
    text = text.strip().lower()
    if text in ("off", "0", "none", ""):
        return None
    count, _ = parse_rate(text)
    return rate_limit(API_LIMIT, text, burst=count)


@lru_cache(maxsize=16)
def _policy(text: str, default_age: float) -> RetentionPolicy:
    return RetentionPolicy.parse(text, default_age=default_age)
