"""Configuration: TOML file -> frozen pydantic models, with IB_* environment overrides.

Every key the operations runbook names lives here with its default. Unknown keys are
rejected (a typo must not silently fall back to a default), and any problem is raised as
ConfigError carrying one line that names the key and the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

ENV_OVERRIDES = {
    "IB_HOST": ("ib", "host"),
    "IB_PORT": ("ib", "port"),
    "IB_CLIENT_ID": ("ib", "client_id"),
    "IB_MARKET_DATA_TYPE": ("ib", "market_data_type"),
    "OPT_DATA_MCP_TOKEN": ("mcp", "http_token"),
    "OPT_DATA_CONSOLE_TOKEN": ("console", "token"),
}
LEDGER_URL_ENV = "OPT_DATA_LEDGER_URL"  # a secret: not in ENV_OVERRIDES' plain values
CLIENT_ID_POOLS: dict[str, tuple[int, int]] = {
    "prod": (0, 99),
    "remote": (100, 199),
    # The runbook gives the web console 200-250; the test suite has its own range so a
    # test run never takes an id a console job on the same gateway is using.
    "console": (200, 250),
    "test": (251, 299),
}
DEFAULT_GENERIC_TICKS = "100,101,104,105,106,165,221,225,233,293,294,295"


class ConfigError(Exception):
    """A configuration problem, already phrased as one line for the operator."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IBConfig(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(4001, ge=1, le=65535)
    client_id: int | None = Field(None, ge=0)
    client_id_pool: Literal["prod", "remote", "console", "test"] = "prod"
    market_data_type: int = Field(1, ge=1, le=4)
    readonly: bool = True
    account: SecretStr | None = None
    connect_timeout_sec: float = Field(10.0, gt=0)
    request_timeout_sec: float = Field(30.0, gt=0)
    max_messages_per_sec: float = Field(49.0, gt=0, lt=50)
    reconnect_attempts: int = Field(5, ge=0)

    def pool_range(self) -> tuple[int, int]:
        return CLIENT_ID_POOLS[self.client_id_pool]


class PathsConfig(_Frozen):
    """Where files go. `data`, `raw` and `clean` (the Parquet tree) may be an object-store
    URI such as "s3://bucket/prefix", kept as the checked string (shared.datafs); the rest
    is state that needs a local filesystem (flock, SQLite, os.replace)."""

    root: Path = Path(".")
    data: Path | str = Path("data")
    raw: Path | str | None = None
    clean: Path | str | None = None
    state: Path = Path("state")
    contracts_cache: Path | None = None
    run_logs: Path | None = None

    @field_validator("data", "raw", "clean", mode="before")
    @classmethod
    def _path_or_uri(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        from shared.datafs import check_uri, looks_like_uri

        return check_uri(value) if looks_like_uri(value) else Path(value)

    @field_validator("root", "state", "contracts_cache", "run_logs", mode="before")
    @classmethod
    def _local_only(cls, value: object) -> object:
        from shared.datafs import looks_like_uri

        if isinstance(value, str) and looks_like_uri(value):
            raise ValueError(
                f"{value!r} must be a local path: locks, the SQLite ledger and run logs need a "
                "local filesystem (only data, raw and clean may be an object-store URI)"
            )
        return value


class UniverseConfig(_Frozen):
    file: Path = Path("config/universe.csv")
    intraday_file: Path | None = None
    close_file: Path | None = None


class AcquisitionConfig(_Frozen):
    mode: Literal["snapshot", "streaming"] = "snapshot"
    market_data_type: int = Field(1, ge=1, le=4)
    allow_fallback_to_delayed: bool = True
    slot_grace_seconds: int = Field(120, ge=0)
    pacing_backoff_sec: tuple[float, ...] = (30.0, 60.0, 120.0, 240.0)


class DiscoveryConfig(_Frozen):
    # The day's contracts are frozen before the open; midday_refresh_enabled only adds.
    policy: Literal["session_freeze"] = "session_freeze"
    pre_open_time: str = "09:25"
    midday_refresh_enabled: bool = False
    strikes_per_side: int = Field(3, ge=1)
    max_strikes_per_expiry: int = Field(10, ge=1)
    moneyness: float = Field(0.20, gt=0, le=1)
    # One extra strike nearest reference x (1 -+ w) per w: reaches the 25-delta wings
    # (collector/pipeline/selection.py explains the numbers). Off in code, on in the
    # shipped config/opt-data*.toml ([0.05, 0.10, 0.20]).
    wing_moneyness: tuple[float, ...] = ()
    near_weeklies: int = Field(2, ge=0)
    monthlies: int = Field(3, ge=0)
    quarterlies: int = Field(2, ge=0)
    max_days_to_expiry: int = Field(400, gt=0)
    qualify_batch_size: int = Field(40, ge=1, le=50)

    @field_validator("pre_open_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        return _check_hhmm(value)

    @field_validator("wing_moneyness")
    @classmethod
    def _wings(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < w < 1 for w in value):
            raise ValueError("each wing must be a fraction between 0 and 1, e.g. 0.10")
        return value


class SnapshotConfig(_Frozen):
    exchange: str = "SMART"
    fallback_exchanges: tuple[str, ...] = ("CBOE", "CBOEOPT")
    generic_ticks: str = DEFAULT_GENERIC_TICKS
    strikes_per_side: int | None = Field(None, ge=1)
    subscription_timeout_sec: float = Field(12.0, gt=0)
    subscription_poll_interval: float = Field(0.25, gt=0)
    require_greeks: bool = True
    max_lines: int = Field(100, ge=1)


class RollupConfig(_Frozen):
    fallback_slot: str = "15:30"
    allow_intraday_fallback: bool = True

    @field_validator("fallback_slot")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        return _check_hhmm(value)


class EnrichmentConfig(_Frozen):
    fields: tuple[str, ...] = ("open_interest",)
    timeout_sec: float = Field(15.0, gt=0)
    max_consecutive_failures: int = Field(3, ge=1)


class ScheduleConfig(_Frozen):
    slot_interval_minutes: int = Field(30, ge=5)
    extra_slots: tuple[str, ...] = ()
    close_snapshot_time: str = "17:30"
    enrichment_time: str = "04:30"
    continuous_init_time: str = "09:20"
    timezone: Literal["America/New_York"] = "America/New_York"  # XNYS wall time, always

    @field_validator("close_snapshot_time", "enrichment_time", "continuous_init_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        return _check_hhmm(value)

    @field_validator("extra_slots")
    @classmethod
    def _hhmm_all(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_hhmm(v) for v in value)


class StorageConfig(_Frozen):
    compression: Literal["zstd", "snappy", "none"] = "zstd"
    compression_level: int = Field(3, ge=1, le=22)
    intraday_retain_days: int = Field(60, ge=1)  # default of `retention --view intraday/close`
    errors_retain_days: int = Field(30, ge=1)  # default of `retention --view errors`
    weekly_compaction_enabled: bool = True
    same_day_compaction_enabled: bool = False
    # merge the day's intraday slot files right after its rollup (the scheduler's
    # `compact` task): ~38 instead of ~75 bytes per row, one file per underlying to read
    daily_compaction_enabled: bool = False


class QAConfig(_Frozen):
    slot_coverage_min: float = Field(0.90, ge=0, le=1)
    rollup_fallback_max: float = Field(0.05, ge=0, le=1)
    oi_fill_min: float = Field(0.95, ge=0, le=1)
    delayed_ratio_max: float = Field(0.10, ge=0, le=1)


class LogscanConfig(_Frozen):
    keywords: tuple[str, ...] = ("ERROR", "CRITICAL", "PACING")
    max_total: int = Field(0, ge=0)


class StreamingConfig(_Frozen):
    underlyings: tuple[str, ...] = ()
    strikes_per_side: int = Field(2, ge=1)
    expiries: int = Field(2, ge=1)
    generic_ticks: str = "100,101,106"
    flush_interval_sec: float = Field(60.0, gt=0)
    start_time: str = "09:35"


class HistoryConfig(_Frozen):
    bar_size: str = "8 hours"
    what_to_show: str = "TRADES"
    use_rth: bool = False
    max_days_per_request: int = Field(30, ge=1)


class LedgerConfig(_Frozen):
    """The run ledger: no url = the SQLite file under state/; a postgresql:// URL = a ledger
    several collectors share. The URL may carry a password, so it is a SecretStr, and
    OPT_DATA_LEDGER_URL (the environment) overrides it to keep the secret out of the TOML."""

    url: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value().strip() if value else ""
        if text and not text.startswith(("postgresql://", "postgres://")):
            scheme = text.split("://", 1)[0] if "://" in text else "(none)"
            raise ValueError(f"ledger url scheme {scheme!r} unsupported: expected postgresql://")
        return value


class ShardConfig(_Frozen):
    """This collector's share of the universe: shard `index` of `count` (1-based), split by a
    stable hash of the symbol (shared.universe.Shard). `--shard i/N` overrides it."""

    index: int = Field(1, ge=1)
    count: int = Field(1, ge=1, le=64)

    @model_validator(mode="after")
    def _index_in_count(self) -> ShardConfig:
        if self.index > self.count:
            raise ValueError(f"shard index {self.index} is past count {self.count}")
        return self


class MCPConfig(_Frozen):
    allow_raw: bool = False
    allow_clean: bool = True
    audit_db: Path | None = None
    default_limit: int = Field(200, ge=1)
    max_limit: int = Field(2000, ge=1)
    query_timeout_sec: float = Field(10.0, gt=0)
    # Bearer token of streamable HTTP (env OPT_DATA_MCP_TOKEN wins); required off loopback.
    http_token: SecretStr | None = None


class AlertsConfig(_Frozen):
    """Where notifications go: apprise URLs (slack://, mailto://, tgram://, json://...).

    URLs carry tokens and passwords, so they are SecretStr: never shown by repr or logs.
    OPT_DATA_ALERT_URLS (space or comma separated) adds URLs from the environment.
    """

    urls: tuple[SecretStr, ...] = ()


class ConsoleConfig(_Frozen):
    """The operator web console (`opt-data console`)."""

    host: str = "127.0.0.1"
    port: int = Field(8501, ge=1, le=65535)
    # Required to bind anything but loopback (env OPT_DATA_CONSOLE_TOKEN wins).
    token: SecretStr | None = None
    read_only: bool = False
    # Client ids of the jobs the console starts (IB_CLIENT_ID of each subprocess).
    client_id_pool: Literal["prod", "remote", "console", "test"] = "console"


class AppConfig(_Frozen):
    ib: IBConfig = IBConfig()
    paths: PathsConfig = PathsConfig()
    universe: UniverseConfig = UniverseConfig()
    acquisition: AcquisitionConfig = AcquisitionConfig()
    discovery: DiscoveryConfig = DiscoveryConfig()
    snapshot: SnapshotConfig = SnapshotConfig()
    rollup: RollupConfig = RollupConfig()
    enrichment: EnrichmentConfig = EnrichmentConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    storage: StorageConfig = StorageConfig()
    qa: QAConfig = QAConfig()
    logscan: LogscanConfig = LogscanConfig()
    streaming: StreamingConfig = StreamingConfig()
    history: HistoryConfig = HistoryConfig()
    ledger: LedgerConfig = LedgerConfig()
    shard: ShardConfig = ShardConfig()
    mcp: MCPConfig = MCPConfig()
    alerts: AlertsConfig = AlertsConfig()
    console: ConsoleConfig = ConsoleConfig()
    source_file: Path | None = None


# Keys the runbook once named that nothing reads any more: each is rejected with one line
# naming what replaces it, so an operator never tunes a knob that does nothing.
RETIRED_KEYS: dict[tuple[str, ...], str] = {
    ("rate_limits", "snapshot", "per_minute"): (
        "ib.max_messages_per_sec (every request and cancel to IB, per second)"
    ),
    ("rate_limits", "snapshot", "max_concurrent_snapshots"): (
        "snapshot.max_lines (market-data lines open at once)"
    ),
    ("snapshot", "batch_size"): "snapshot.max_lines (contracts in flight are bounded by lines)",
    ("rate_limits",): "ib.max_messages_per_sec and snapshot.max_lines",
    ("rollup", "close_slot"): "nothing: the close is the session's real last slot",
    ("enrichment", "run_time"): "schedule.enrichment_time",
    ("streaming", "stop_time"): "nothing: streaming stops 15 min after the session's close",
}

# Object-store credentials never live in the TOML (a config file gets copied, committed,
# attached to tickets): they come from the client's standard chain (environment, profile).
_CREDENTIAL_WORDS = ("key", "secret", "token", "password", "credential")
_CREDENTIAL_SECTIONS = ("paths", "storage", "s3", "aws", "object_store")


def _credential_key(raw: dict[str, Any]) -> str | None:
    for section in _CREDENTIAL_SECTIONS:
        node = raw.get(section)
        if isinstance(node, dict):
            for key in node:
                if any(word in key.lower() for word in _CREDENTIAL_WORDS):
                    return f"{section}.{key}"
    return None


REQUIRED_KEYS = (("ib", "host"), ("ib", "port"), ("paths", "data"), ("universe", "file"))


def _check_hhmm(value: str) -> str:
    parts = value.split(":")
    ok = len(parts) == 2 and all(p.isdigit() and len(p) == 2 for p in parts)
    if not ok or int(parts[0]) > 23 or int(parts[1]) > 59:
        raise ValueError(f"expected HH:MM, got {value!r}")
    return value


def _project_root(config_file: Path, env: dict[str, str]) -> Path:
    """Relative paths resolve against the project root: OPT_DATA_ROOT, else the folder above config/."""
    env_root = env.get("OPT_DATA_ROOT")
    if env_root:
        return Path(env_root).resolve()
    parent = config_file.resolve().parent
    return parent.parent if parent.name == "config" else parent


def load_dotenv_file(root: Path) -> Path | None:
    """The runbook's `.env` in the project root -> the process environment.

    Variables already set in the environment win (a unit file or shell beats the file), so
    IB_* overrides, TZ and OPT_DATA_ALERT_URLS can live in one file kept out of the repo.
    """
    from dotenv import load_dotenv

    path = root / ".env"
    if not path.is_file():
        return None
    load_dotenv(path, override=False)
    return path


def _apply_env(raw: dict[str, Any], env: dict[str, str]) -> None:
    for var, (section, key) in ENV_OVERRIDES.items():
        value = env.get(var, "").strip()
        if value:
            raw.setdefault(section, {})[key] = value
    ledger_url = env.get(LEDGER_URL_ENV, "").strip()
    if ledger_url:
        raw.setdefault("ledger", {})["url"] = ledger_url


def under_root(base: Path, value: Path) -> Path:
    return value if value.is_absolute() else base / value


def _resolve_paths(cfg: AppConfig, root: Path) -> AppConfig:
    def abs_(p: Path) -> Path:
        return p if p.is_absolute() else (root / p)

    p = cfg.paths
    base = abs_(p.root) if p.root != Path(".") else root
    data = p.data if isinstance(p.data, str) else under_root(base, p.data)
    state = p.state if p.state.is_absolute() else base / p.state

    def under(value: Path | None, default: Path) -> Path:
        if value is None:
            return default
        return value if value.is_absolute() else base / value

    def data_child(value: Path | str | None, name: str) -> Path | str:
        if isinstance(value, str):  # a URI
            return value
        if value is None:
            return f"{data}/{name}" if isinstance(data, str) else data / name
        return under_root(base, value)

    paths = PathsConfig(
        root=base,
        data=data,
        raw=data_child(p.raw, "raw"),
        clean=data_child(p.clean, "clean"),
        state=state,
        contracts_cache=under(p.contracts_cache, state / "contracts_cache"),
        run_logs=under(p.run_logs, state / "run_logs"),
    )
    u = cfg.universe
    universe = UniverseConfig(
        file=under(u.file, base / u.file),
        intraday_file=under(u.intraday_file, under(u.file, base / u.file)),
        close_file=under(u.close_file, under(u.file, base / u.file)),
    )
    mcp = cfg.mcp.model_copy(
        update={"audit_db": under(cfg.mcp.audit_db, paths.run_logs / "mcp_audit.db")}  # type: ignore[operator]
    )
    return cfg.model_copy(update={"paths": paths, "universe": universe, "mcp": mcp})


def _retired_key(raw: dict[str, Any]) -> tuple[str, str] | None:
    for path, use in RETIRED_KEYS.items():
        node: Any = raw
        for part in path:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return ".".join(path), use
    return None


def _acquisition_conflict(raw: dict[str, Any]) -> str | None:
    """The runbook's `[acquisition] mode` and `market_data_type` only restate what the
    collector does: the scheduler collects snapshots (streaming is `opt-data streaming`), and
    the intraday data type is `ib.market_data_type` (IB_MARKET_DATA_TYPE). A file that sets
    them otherwise would be silently ignored, so it is refused naming the key that works."""
    acq = raw.get("acquisition")
    if not isinstance(acq, dict):
        return None
    if "mode" in acq and acq["mode"] != "snapshot":
        return (
            f"acquisition.mode = {acq['mode']!r} is not read: the scheduler collects "
            "snapshots; streaming runs as its own command (opt-data streaming)"
        )
    ib: Any = raw.get("ib")
    ib = ib if isinstance(ib, dict) else {}
    ib_type = ib.get("market_data_type", IBConfig.model_fields["market_data_type"].default)
    if "market_data_type" in acq and acq["market_data_type"] != ib_type:
        return (
            f"acquisition.market_data_type = {acq['market_data_type']!r} differs from "
            f"ib.market_data_type = {ib_type!r}: snapshots use ib.market_data_type "
            "(or IB_MARKET_DATA_TYPE); set that one"
        )
    return None


def _format_error(err: ValidationError, file: Path, env: dict[str, str] | None = None) -> str:
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"unknown config key '{key}' in {file}"
    # a value the environment set names its variable: the file may be fine (IB_PORT=abc)
    for var, (section, name) in ENV_OVERRIDES.items():
        value = (env or {}).get(var, "").strip()
        if key == f"{section}.{name}" and value:
            return f"bad {var}={value!r} (overrides '{key}' of {file}): {first['msg']}"
    return f"bad config key '{key}' in {file}: {first['msg']}"


def load_config(path: str | Path, env: dict[str, str] | None = None) -> AppConfig:
    """Load and validate a config file; relative paths become absolute under the project root."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file not found: {file}")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
    for section, key in REQUIRED_KEYS:
        if not isinstance(raw.get(section), dict) or key not in raw[section]:
            raise ConfigError(f"missing config key '{section}.{key}' in {file}")
    retired = _retired_key(raw)
    if retired:
        key, use = retired
        raise ConfigError(f"config key '{key}' in {file} is no longer read: use {use}")
    conflict = _acquisition_conflict(raw)
    if conflict:
        raise ConfigError(f"{conflict} (in {file})")
    cred = _credential_key(raw)
    if cred:
        raise ConfigError(
            f"config key '{cred}' in {file}: object-store credentials never go in the config; "
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE in the environment"
        )
    if env is None:
        load_dotenv_file(_project_root(file, dict(os.environ)))
    environ = dict(os.environ) if env is None else env
    _apply_env(raw, environ)
    try:
        cfg = AppConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, file, environ)) from None
    cfg = _resolve_paths(cfg, _project_root(file, environ))
    return cfg.model_copy(update={"source_file": file.resolve()})
