"""Builders for the server -> client messages of the TWS subset (field lists, not bytes).

Field order and message versions follow tws-wire-subset.md for server version 176. Each
builder returns the fields of one frame; protocol.encode turns them into bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from collector.gateway_sim.protocol import Field

if TYPE_CHECKING:
    from collector.gateway_sim.contracts import Instrument

from collector.gateway_sim.contracts import DetailsExtras

Fields = list[Field]

# tws-wire-subset.md 3.6: live id -> delayed id (a lookup; the ids are not an offset)
DELAYED_TICK = {
    0: 69,
    1: 66,
    2: 67,
    3: 70,
    4: 68,
    5: 71,
    6: 72,
    7: 73,
    8: 74,
    9: 75,
    14: 76,
    10: 80,
    11: 81,
    12: 82,
    13: 83,
    45: 88,
    49: 90,
}

ERROR_TEXT = {
    100: "Max rate of messages per second has been exceeded:max=50 rec=51 (1)",
    101: "Max number of tickers has been reached",
    162: "Historical Market Data Service error message:Historical data request pacing violation",
    200: "No security definition has been found for the request",
    300: "Can't find EId with tickerId:",
    321: "Error validating request.-'bX' : cause - Snapshot market data subscription is not "
    "applicable to generic ticks",
    322: "Error processing request.-'bX' : cause - Duplicate ticker id",
    326: "Unable to connect as the client id is already in use. Retry with a unique client id.",
    354: "Requested market data is not subscribed. Check API status by selecting the Account "
    "menu then under Management choose Market Data Subscription Manager and/or Subscriptions",
    366: "No historical data query found for ticker id:",
    420: "Invalid Real-time Query:Historical data request pacing violation",
    503: "The TWS is out of date and must be upgraded.",
    506: "Unsupported version",
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2104: "Market data farm connection is OK:usfarm",
    2106: "HMDS data farm connection is OK:ushmds",
    2158: "Sec-def data farm connection is OK:secdefnj",
    10167: "Requested market data is not subscribed. Displaying delayed market data.",
    10197: "No market data during competing live session",
}


def tick_id(tick: int, delayed: bool) -> int:
    return DELAYED_TICK.get(tick, tick) if delayed else tick


def handshake(version: int, now: datetime) -> Fields:
    """Exactly two fields: server version and connection time."""
    return [version, now.strftime("%Y%m%d %H:%M:%S ") + (now.tzname() or "EST")]


def managed_accounts(accounts: str) -> Fields:
    return [15, 1, accounts]


def next_valid_id(order_id: int) -> Fields:
    return [9, 1, order_id]


def error(req_id: int, code: int, text: str | None = None) -> Fields:
    """error (4) with the advancedOrderRejectJson field that version >= 166 requires."""
    return [4, 2, req_id, code, text if text is not None else ERROR_TEXT.get(code, ""), ""]


def current_time(epoch: int) -> Fields:
    return [49, 1, int(epoch)]


def position_end() -> Fields:
    return [62, 1]


def account_download_end(account: str) -> Fields:
    return [54, 1, account]


def account_update_multi_end(req_id: int) -> Fields:
    return [74, 1, req_id]


def exec_details_end(req_id: int) -> Fields:
    return [55, 1, req_id]


def open_order_end() -> Fields:
    return [53, 1]


def completed_orders_end() -> Fields:
    return [102]  # no version field


def account_summary_end(req_id: int) -> Fields:
    return [64, 1, req_id]


def contract_details(req_id: int, inst: Instrument, extras: DetailsExtras | None = None) -> Fields:
    """contractDetails (10) in the v176 layout (versions.downgrade re-lays it for older
    clients); built from named fields in the order of tws-wire-subset.md 3.2, since a
    positional slip drops the row."""
    is_opt, is_stk, is_fx = inst.sec_type == "OPT", inst.sec_type == "STK", inst.sec_type == "CASH"
    extras = extras or DetailsExtras("US/Eastern", "", "", inst.exchange)
    named: list[tuple[str, Field]] = [
        ("symbol", inst.symbol),
        ("secType", inst.sec_type),
        ("lastTradeDateOrContractMonth", inst.expiry),
        ("strike", inst.strike),
        ("right", inst.right),
        ("exchange", inst.exchange),
        ("currency", "USD"),
        ("localSymbol", inst.local_symbol),
        ("marketName", inst.trading_class),
        ("tradingClass", inst.trading_class),
        ("conId", inst.con_id),
        ("minTick", 0.00005 if is_fx else 0.01),
        ("multiplier", "100" if is_opt else ""),
        ("orderTypes", "" if inst.sec_type == "IND" else "ACTIVETIM,AD,DAY,GTC,LMT,MKT"),
        ("validExchanges", extras.valid_exchanges),
        ("priceMagnifier", 1),
        ("underConId", inst.under_con_id),
        ("longName", inst.long_name),
        ("primaryExchange", inst.primary_exchange),
        ("contractMonth", inst.expiry[:6] if is_opt else ""),
        ("industry", ""),
        ("category", ""),
        ("subcategory", ""),
        ("timeZoneId", extras.time_zone),
        ("tradingHours", extras.trading_hours),
        ("liquidHours", extras.liquid_hours),
        ("evRule", ""),
        ("evMultiplier", ""),  # int or empty: "1.0" breaks the client's parser
        ("secIdListCount", 0),
        ("aggGroup", 1),
        ("underSymbol", inst.symbol if is_opt else ""),
        ("underSecType", inst.under_sec_type if is_opt else ""),
        ("marketRuleIds", "239" if is_fx else "26"),
        ("realExpirationDate", inst.expiry if is_opt else ""),
        ("stockType", "COMMON" if is_stk else ""),
        ("minSize", "1"),
        ("sizeIncrement", "1"),
        ("suggestedSizeIncrement", "1" if is_opt else "20000" if is_fx else "100"),
    ]
    return [10, req_id, *(value for _, value in named)]


def contract_details_end(req_id: int) -> Fields:
    return [52, 1, req_id]


def secdef_option_params(
    req_id: int,
    exchange: str,
    under_con_id: int,
    trading_class: str,
    expirations: Sequence[str],
    strikes: Sequence[float],
) -> Fields:
    """securityDefinitionOptionParameter (75): nothing may follow the last strike."""
    return [
        75,
        req_id,
        exchange,
        under_con_id,
        trading_class,
        "100",
        len(expirations),
        *expirations,
        len(strikes),
        *[float(s) for s in strikes],
    ]


def secdef_option_params_end(req_id: int) -> Fields:
    return [76, req_id]  # no version field


def tick_req_params(req_id: int) -> Fields:
    return [81, req_id, 0.01, "9c0001", 3]


def market_data_type(req_id: int, md_type: int) -> Fields:
    return [58, 1, req_id, md_type]


def tick_price(req_id: int, tick: int, price: float, size: float = 0, attr: int = 0) -> Fields:
    return [1, 6, req_id, tick, float(price), _size(size), attr]


def tick_size(req_id: int, tick: int, size: float) -> Fields:
    return [2, 6, req_id, tick, _size(size)]


def tick_string(req_id: int, tick: int, value: str) -> Fields:
    return [46, 6, req_id, tick, value]


def tick_generic(req_id: int, tick: int, value: float) -> Fields:
    return [45, 6, req_id, tick, float(value)]


def tick_option_computation(
    req_id: int,
    tick: int,
    iv: float,
    delta: float,
    opt_price: float,
    pv_dividend: float,
    gamma: float,
    vega: float,
    theta: float,
    und_price: float,
) -> Fields:
    """Exactly 12 fields, all numeric, no version; tickAttrib 1 = price based."""
    values = (iv, delta, opt_price, pv_dividend, gamma, vega, theta, und_price)
    return [21, req_id, tick, 1, *(float(v) for v in values)]


def greeks_not_computed(req_id: int, tick: int) -> Fields:
    """IB's 'not computed' sentinels: -1 for iv/price/pvDiv/undPrice, -2 for the greeks."""
    return tick_option_computation(req_id, tick, -1.0, -2.0, -1.0, -1.0, -2.0, -2.0, -2.0, -1.0)


def tick_snapshot_end(req_id: int) -> Fields:
    return [57, 1, req_id]


def historical_data(req_id: int, start: str, end: str, bars: Sequence[Sequence[Field]]) -> Fields:
    """historicalData (17): one message with every bar (date,o,h,l,c,volume,wap,count)."""
    out: Fields = [17, req_id, start, end, len(bars)]
    for bar in bars:
        out.extend(bar)
    return out


def _size(size: float) -> str:
    """Sizes are decimal text since version 163; whole numbers without a '.0'."""
    return str(int(size)) if float(size).is_integer() else str(size)
