"""History: daily bars per underlying, and the stored chains' volatility pictures.

Per underlying and date: the IV smile per expiry, the ATM term structure, ATM IV across
the day's slots and across sessions, put/call ratios and gamma exposure by strike. Every
figure comes from the MCP server's query functions (reads.py); this module only picks
what to ask and draws it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from collector.console import svg
from collector.console.html import e, num, select, table
from collector.console.reads import QueryError, Reads


def _try(what: str, fn: Any, *args: Any, **kw: Any) -> tuple[Any, str | None]:
    try:
        return fn(*args, **kw), None
    except QueryError as exc:
        return None, f"{what}: {exc}"


def history_model(reads: Reads, symbol: str, day: date, view: str, slot: str | None,
                  expiry: str | None, sessions: int = 10) -> dict[str, Any]:  # fmt: skip
    ds = day.isoformat()
    notes: list[str] = []
    smile, err = _try("smile", reads.smile, symbol, ds, view, slot, expiry)
    notes += [err] if err else []
    term, err = _try("term structure", reads.term, symbol, ds, view, slot)
    notes += [err] if err else []
    ratios, err = _try("put/call", reads.ratios, symbol, ds, view, slot)
    notes += [err] if err else []
    gex, err = _try("gamma exposure", reads.gex, symbol, ds, view, slot)
    notes += [err] if err else []
    day_slots = reads.written_slots(symbol, day)
    intraday_iv = [(s, reads.front_atm_iv(symbol, day, "intraday", s)) for s in day_slots]
    past = sorted(reads.recent_sessions(sessions, day))
    across = [(d.isoformat(), reads.front_atm_iv(symbol, d, "daily_clean", None)) for d in past]
    if gex and not (gex["summary"].get("total_call_oi") or gex["summary"].get("total_put_oi")):
        notes.append("gamma exposure: no open interest in this partition yet (it comes from "
                     "`opt-data enrichment` on the next session day), so it is zero")  # fmt: skip
    bars = reads.history_bars(symbol)
    return {"symbol": symbol, "date": ds, "view": view, "slot": slot, "smile": smile, "term": term,
            "ratios": ratios, "gex": gex, "intraday_iv": intraday_iv, "across_sessions": across,
            "bars": bars.to_dicts() if bars.height else [], "notes": notes}  # fmt: skip


def _charts(m: dict[str, Any]) -> list[str]:
    out = []
    bars = m["bars"]
    if bars:
        out.append(svg.line_chart(
            "chart-bars", f"{m['symbol']} daily bars", list(range(len(bars))),
            [("close", [b["close"] for b in bars]), ("high", [b["high"] for b in bars]),
             ("low", [b["low"] for b in bars])],
            xlabels=[str(b["bar_date"])[5:] for b in bars], xlabel="date", ylabel="price"))  # fmt: skip
    else:
        out.append(svg.empty("daily bars", "no history stored (run `opt-data history`)"))
    smile = m["smile"]
    if smile and smile["points"]:
        pts = smile["points"]
        out.append(svg.line_chart(
            "chart-smile", f"IV smile {smile['expiry']}", [p["strike"] for p in pts],
            [(n, [p.get(n) for p in pts]) for n in ("call_iv", "put_iv", "otm_iv") if n in pts[0]],
            xlabel="strike", ylabel="IV", vline=(smile["spot"], "spot") if smile.get("spot") else None))  # fmt: skip
    term = m["term"]
    if term and term["term_structure"]:
        ts = term["term_structure"]
        out.append(svg.line_chart("chart-term", "ATM term structure", [p["dte"] for p in ts],
                                  [("atm_iv", [p["atm_iv"] for p in ts])], xlabel="days to expiry",
                                  ylabel="ATM IV"))  # fmt: skip
    iv = m["intraday_iv"]
    out.append(svg.line_chart("chart-intraday-iv", f"front ATM IV across the slots of {m['date']}",
                              list(range(len(iv))), [("atm_iv", [v for _, v in iv])],
                              xlabels=[s for s, _ in iv], xlabel="slot", ylabel="ATM IV"))  # fmt: skip
    across = m["across_sessions"]
    out.append(svg.line_chart("chart-sessions-iv", "front ATM IV across sessions (daily_clean)",
                              list(range(len(across))), [("atm_iv", [v for _, v in across])],
                              xlabels=[d[5:] for d, _ in across], xlabel="session", ylabel="ATM IV"))  # fmt: skip
    ratios = m["ratios"]
    if ratios and ratios.get("by_expiry"):
        per = ratios["by_expiry"]
        out.append(svg.line_chart(
            "chart-pc", "put/call ratios by expiry", list(range(len(per))),
            [("volume", [p["pc_volume_ratio"] for p in per]), ("open interest", [p["pc_oi_ratio"] for p in per])],
            xlabels=[str(p["expiry"]) for p in per], xlabel="expiry", ylabel="put / call"))  # fmt: skip
    gex = m["gex"]
    if gex and gex["strikes"]:
        st = gex["strikes"]
        spot = gex.get("spot") or 0
        near = min(range(len(st)), key=lambda i: abs(st[i]["strike"] - spot)) if spot else None
        out.append(svg.bar_chart("chart-gex", "net gamma exposure by strike ($ per 1% move)",
                                 [f"{p['strike']:g}" for p in st], [p["net_gex"] for p in st],
                                 xlabel="strike", ylabel="net GEX", series_name="net GEX",
                                 vline_at=near))  # fmt: skip
    return out


def render_history(
    m: dict[str, Any], symbols: list[str], sessions: list[str], slots: list[str]
) -> str:
    expiries = (m["smile"] or {}).get("expiries") or []
    form = ('<form class="inline" method="get" action="/history">'
            f'<label>underlying{select("symbol", symbols, m["symbol"])}</label>'
            f'<label>date{select("date", sessions, m["date"])}</label>'
            f'<label>view{select("view", ["daily_clean", "close", "intraday"], m["view"])}</label>'
            f'<label>slot (intraday){select("slot", slots, m["slot"], blank="latest")}</label>'
            f'<label>expiry (smile){select("expiry", expiries, (m["smile"] or {}).get("expiry"), blank="nearest")}</label>'
            "<button>show</button></form>")  # fmt: skip
    notes = "".join(f'<p class="err">{e(n)}</p>' for n in m["notes"])
    charts = '<div class="charts">' + "".join(_charts(m)) + "</div>"
    summary = ""
    if m["gex"]:
        s = m["gex"]["summary"]
        summary = table(["total net GEX", "call OI", "put OI", "max call OI strike", "max put OI strike",
                         "gamma flip"], [[num(s.get("total_net_gex"), 0), num(s.get("total_call_oi"), 0),
                         num(s.get("total_put_oi"), 0), s.get("max_call_oi_strike"),
                         s.get("max_put_oi_strike"), s.get("gamma_flip_strike")]])  # fmt: skip
    if m["ratios"]:
        t = m["ratios"]["total"]
        summary += table(["put/call volume", "put/call OI"], [[num(t.get("pc_volume_ratio"), 3),
                                                              num(t.get("pc_oi_ratio"), 3)]])  # fmt: skip
    return form + notes + charts + "<h2>Figures</h2>" + summary
