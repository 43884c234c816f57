"""The console's web app: Starlette routes over the page modules, auth, and the job API.

Pages are rendered on the server; reads run in the thread pool so a slow read never
stalls the event loop that follows running jobs. POSTs need the `X-Opt-Data` header,
which a cross-site form cannot send, so another web page cannot start jobs through the
operator's browser.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from collector.console.audit import audit_model, render_audit
from collector.console.history import history_model, render_history
from collector.console.html import e, page, select
from collector.console.jobs import OPERATIONS, JobManager, JobRefused, JobSpec
from collector.console.metrics import CONTENT_TYPE, exposition
from collector.console.overview import overview_model, render_overview, render_run
from collector.console.reads import Reads
from shared.audit_reads import AuditReader, CallFilter
from shared.calendar import parse_trade_date
from shared.config import AppConfig

STATIC = Path(__file__).parent / "static"
COOKIE = "opt_data_console"
SESSIONS_LISTED = 15


class Console:
    def __init__(self, cfg: AppConfig, *, read_only: bool, token: str | None) -> None:
        self.cfg = cfg
        self.reads = Reads.open(cfg)
        self.read_only = read_only
        self.token = token
        self.jobs = JobManager(cfg)
        assert cfg.mcp.audit_db is not None
        self.audit = AuditReader(cfg.mcp.audit_db)

    def day(self, request: Request) -> date:
        text = request.query_params.get("date")
        if text:
            try:
                return parse_trade_date(text)
            except ValueError:
                pass
        return self.reads.default_session()

    def sessions(self, day: date) -> list[str]:
        newest = max(day, self.reads.default_session())
        return [d.isoformat() for d in self.reads.recent_sessions(SESSIONS_LISTED, newest)]

    def html(self, title: str, path: str, body: str) -> HTMLResponse:
        return HTMLResponse(page(title, path, body, read_only=self.read_only))

    # --- pages -------------------------------------------------------------------------------
    async def overview(self, request: Request) -> Response:
        day = self.day(request)
        model = await run_in_threadpool(overview_model, self.reads, day)
        return self.html("Overview", "/", render_overview(model, self.sessions(day)))

    async def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        found = await run_in_threadpool(self.reads.run, run_id)
        out = self.html(f"Run {run_id}", "/", render_run(found, run_id))
        out.status_code = 200 if found else 404
        return out

    async def history(self, request: Request) -> Response:
        q = request.query_params
        day = self.day(request)
        symbols = list(self.reads.universe("close"))
        symbol = q.get("symbol") or (symbols[0] if symbols else "")
        if symbol not in symbols:
            return self.html(
                "History", "/history", f'<p class="err">unknown underlying {e(symbol)}</p>'
            )
        view = q.get("view") or "daily_clean"
        if view not in ("daily_clean", "close", "intraday"):
            view = "daily_clean"
        slot = q.get("slot") or None
        model = await run_in_threadpool(history_model, self.reads, symbol, day, view, slot,
                                        q.get("expiry") or None)  # fmt: skip
        slots = self.reads.written_slots(symbol, day)
        body = render_history(model, symbols, self.sessions(day), slots)
        return self.html("History", "/history", body)

    async def audit_page(self, request: Request) -> Response:
        q = request.query_params
        flt = CallFilter(tool=q.get("tool") or None, status=q.get("status") or None,
                         since=q.get("since") or None, until=q.get("until") or None)  # fmt: skip
        model = await run_in_threadpool(audit_model, self.audit, flt)
        return self.html("Audit", "/audit", render_audit(model, flt))

    async def operations(self, request: Request) -> Response:
        if self.read_only:
            body = '<p class="muted">This console runs with --read-only: operations are off.</p>'
            return self.html("Operations", "/operations", body)
        day = self.reads.default_session()
        pool = self.jobs.pool
        form = (
            '<form class="inline" id="job-form">'
            f"<label>operation{select('operation', list(OPERATIONS), 'snapshot')}</label>"
            f'<label>date<input name="date" id="f-date" value="{day.isoformat()}"></label>'
            f"<label>slot{select('slot', self.reads.slots(day), None, blank='(none)')}</label>"
            '<label>symbols<input name="symbols" id="f-symbols" placeholder="default: universe"></label>'
            '<button id="start-job">start</button></form><p id="job-message" class="muted"></p>'
        )
        body = (f"{form}<p class='muted'>Each job runs the collector's own CLI with a client id "
                f"from {pool[0]}-{pool[1]}; it takes the slot's lock and lands in the ledger like "
                "any other run. A locked slot is refused.</p><h2>Jobs</h2><div id='jobs'></div>")  # fmt: skip
        return self.html("Operations", "/operations", body)

    # --- API ---------------------------------------------------------------------------------
    async def list_jobs(self, request: Request) -> Response:
        return JSONResponse(self.jobs.listing())

    async def start_job(self, request: Request) -> Response:
        if self.read_only:
            return JSONResponse({"error": "operations are off (--read-only)"}, status_code=403)
        if request.headers.get("x-opt-data") != "1":
            return JSONResponse({"error": "missing X-Opt-Data header"}, status_code=403)
        try:
            form = await request.json()
            job = await self.jobs.start(JobSpec.parse(form if isinstance(form, dict) else {}))
        except JobRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except ValueError:
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        return JSONResponse(job.as_dict(), status_code=202)

    async def metrics(self, request: Request) -> Response:
        day = self.reads.default_session()
        body = await run_in_threadpool(exposition, lambda: overview_model(self.reads, day))
        return Response(body, media_type=CONTENT_TYPE)


class TokenAuth(BaseHTTPMiddleware):
    """With a token set: a bearer header, or the cookie a `?token=` visit sets, on every path."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self.token = token

    def _ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        header = request.headers.get("authorization", "")
        if self._ok(header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None) or \
                self._ok(request.cookies.get(COOKIE)):  # fmt: skip
            return await call_next(request)
        if self._ok(request.query_params.get("token")):
            out = RedirectResponse(request.url.remove_query_params("token"), status_code=303)
            out.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
            return out
        return JSONResponse({"error": "unauthorized: open the console once with ?token=<token>"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


def build_app(cfg: AppConfig, *, read_only: bool = False, token: str | None = None) -> Starlette:
    console = Console(cfg, read_only=read_only, token=token)
    routes = [
        Route("/", console.overview),
        Route("/runs/{run_id}", console.run),
        Route("/operations", console.operations),
        Route("/history", console.history),
        Route("/audit", console.audit_page),
        Route("/metrics", console.metrics),
        Route("/api/jobs", console.list_jobs, methods=["GET"]),
        Route("/api/jobs", console.start_job, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TokenAuth, token=token)] if token else []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await console.jobs.close()

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.console = console
    return app
