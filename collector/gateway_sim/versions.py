"""Server versions the simulator serves, and where a message's layout changes with them.

A client announces a range (`v157..178`); the gateway answers one version and from then
on both sides encode every message for that version. The thresholds are the
`MIN_SERVER_VER_*` constants of IB's own client (ibapi `server_versions.py`); only those
that change a message this simulator sends or reads are listed.
"""

from __future__ import annotations

# The oldest layout this simulator encodes. Below it, tickOptionComputation carries a
# version field (156), historicalData a version and hasGaps (124) and contractDetails a
# different field set; those layouts are not modelled, so such a client is refused.
SERVER_VERSION_MIN = 157
# The newest layout: the highest version ib_insync 0.9.86 announces. 177 and 178 only
# change order and execution messages, which the simulator does not serve.
SERVER_VERSION_MAX = 176

PRICE_BASED_VOLATILITY = 156  # tickOptionComputation: no version field, tickAttrib added
FRACTIONAL_SIZE_SUPPORT = 163  # sizes and volumes are decimal text instead of integers
SIZE_RULES = 164  # contractDetails: no version field, no mdSizeMultiplier, 3 size fields
ADVANCED_ORDER_REJECT = 166  # error: trailing advancedOrderRejectJson field
BOND_ISSUERID = 176  # reqContractDetails: trailing issuerId field (client -> server)

CONTRACT_DETAILS_VERSION = 8  # the message version sent before SIZE_RULES


def choose_version(client_min: int, client_max: int) -> int | None:
    """The version to answer: the highest both sides speak, or None when none is shared."""
    version = min(client_max, SERVER_VERSION_MAX)
    if version < max(client_min, SERVER_VERSION_MIN):
        return None
    return version


def downgrade(fields: list, version: int) -> list:
    """Re-lay a message built in the newest layout (v176) for an older agreed version.

    One place owns every layout difference, so the builders in messages.py describe one
    layout and a v157 client (ibapi 9.81) still reads every field where it expects it.
    """
    if not fields or version >= SERVER_VERSION_MAX:
        return fields
    msg_id = fields[0]
    if msg_id == 4 and version < ADVANCED_ORDER_REJECT:
        return fields[:-1]  # error: no advancedOrderRejectJson
    if msg_id == 10 and version < SIZE_RULES:
        # contractDetails: [10, reqId, symbol..minTick (12 fields), multiplier, ...]
        head, rest = fields[:2], fields[2:-3]  # drop minSize, sizeIncrement, suggested
        return [10, CONTRACT_DETAILS_VERSION, head[1], *rest[:12], 1, *rest[12:]]
    if version < FRACTIONAL_SIZE_SUPPORT:
        if msg_id == 1:  # tickPrice: [1, 6, reqId, tick, price, size, attr]
            return [*fields[:5], _whole(fields[5]), *fields[6:]]
        if msg_id == 2:  # tickSize: [2, 6, reqId, tick, size]
            return [*fields[:4], _whole(fields[4])]
        if msg_id == 17:  # historicalData: bars of 8 fields, volume 6th
            out = list(fields)
            for i in range(5 + 5, len(out), 8):
                out[i] = _whole(out[i])
            return out
    return fields


def _whole(size: object) -> int:
    """An integer size, as servers before FRACTIONAL_SIZE_SUPPORT send it."""
    try:
        return int(float(str(size)))
    except ValueError:
        return 0
