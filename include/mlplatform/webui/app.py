"""The model catalog: a read-only FastAPI app of server-rendered pages over the platform's tables.

Airflow mounts it in its api-server (``airflow_glue.catalog_plugin``) with its own JWT check as the
``user_dependency``; the factory refuses to build without one, so no route is ever served
unauthenticated. Each model artifact opened here (SHAP report, beeswarm, model card) is written to
the audit table with the user's name.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the route signatures' annotations,
# and the user dependency is a local of ``create_app``, which string annotations could not resolve.
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from mlplatform.config.settings import Settings, get_settings
from mlplatform.config.specs import MODEL_NAME_PATTERN
from mlplatform.webui import pages

TEMPLATES = Path(__file__).parent / "templates"


def base_path(request: Any) -> str:
    """Where the app is mounted (``/mlplatform`` in the api-server), for the links it renders."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def create_app(
    settings: Settings | None = None,
    *,
    user_dependency: Callable[..., Any] | None = None,
    login_url: Callable[[], str] | None = None,
) -> Any:
    """The catalog app; every route depends on ``user_dependency`` (a user with ``get_name()``).

    A browser refused for want of a valid token gets a page linking to ``login_url()`` (with the
    page it asked for as ``next``), with the same 401/403 status an API client gets as JSON.
    """
    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    if user_dependency is None:
        raise ValueError("the model catalog needs an authentication dependency; it has no anonymous mode")
    User = Annotated[Any, Depends(user_dependency)]
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.globals["sparkline"] = pages.sparkline

    def config() -> Settings:
        return settings or get_settings()

    app = FastAPI(title="mlplatform model catalog", dependencies=[Depends(user_dependency)])

    @app.exception_handler(HTTPException)
    def refused(request: Request, exc: HTTPException) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code not in (401, 403) or not wants_html:
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        base, path = base_path(request), request.url.path
        target = (path if path.startswith(f"{base}/") else base + path) + (
            f"?{request.url.query}" if request.url.query else ""
        )
        html = env.get_template("refused.html.j2").render(
            base=base,
            detail=exc.detail,
            login=f"{login_url()}?{urlencode({'next': target})}" if login_url else None,
        )
        return HTMLResponse(html, exc.status_code)

    def render(request: Request, template: str, **data: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(template).render(base=base_path(request), **data))

    def listing(q: str, sort: str, page: int, per_page: int) -> dict[str, Any]:
        data = pages.model_list(config().storage_root, q=q, sort=sort, page=page, per_page=per_page)
        pages.add_spec_facts(data["models"], config().spec_dir)
        return data

    def checked(model: str) -> str:
        if not re.match(MODEL_NAME_PATTERN, model):
            raise HTTPException(404, f"no model '{model}'")
        return model

    def audited(user: Any, model: str, version: int | None, artifact: str) -> None:
        from mlplatform.governance.audit import record_read

        record_read(
            config().storage_root, actor=user.get_name(), model=model, version=version, artifact=artifact
        )

    @app.get("/", response_class=HTMLResponse)
    @app.get("/models", response_class=HTMLResponse)
    def models(
        request: Request,
        q: str = "",
        sort: str = "name",
        page: int = Query(1, ge=1),
        per_page: int = Query(50, ge=1, le=500),
    ) -> HTMLResponse:
        return render(request, "models.html.j2", **listing(q, sort, page, per_page))

    @app.get("/api/models")
    def models_json(
        q: str = "", sort: str = "name", page: int = Query(1, ge=1), per_page: int = 50
    ) -> JSONResponse:
        return JSONResponse(pages.queries._plain(listing(q, sort, page, per_page)))

    @app.get("/models/{model}", response_class=HTMLResponse)
    def model(request: Request, model: str) -> HTMLResponse:
        data = pages.model_page(config().storage_root, checked(model))
        if data is None:
            raise HTTPException(404, f"no model '{model}' in the registry")
        return render(request, "model.html.j2", **data)

    @app.get("/models/{model}/versions/{version}", response_class=HTMLResponse)
    def version(request: Request, model: str, version: int, user: User) -> HTMLResponse:
        data = pages.version_page(config().storage_root, checked(model), version)
        if data is None:
            raise HTTPException(404, f"model '{model}' has no version {version}")
        # Inlined so the page also works in the sandboxed frame of Airflow's run view.
        for artifact, shown in (("shap_beeswarm", data["beeswarm"]), ("model_card", data["card"])):
            if shown:
                audited(user, model, version, artifact)
        return render(request, "version.html.j2", **data)

    @app.get("/models/{model}/versions/{version}/shap", response_class=HTMLResponse)
    def shap(model: str, version: int, user: User) -> HTMLResponse:
        html = pages.shap_report_html(config().storage_root, checked(model), version)
        if html is None:
            raise HTTPException(404, f"no SHAP report for {model} v{version}")
        audited(user, model, version, "shap_report")
        return HTMLResponse(html)

    @app.get("/models/{model}/versions/{version}/beeswarm.png")
    def beeswarm(model: str, version: int, user: User) -> Response:
        png = pages.beeswarm_png(config().storage_root, checked(model), version)
        if png is None:
            raise HTTPException(404, f"no SHAP beeswarm for {model} v{version}")
        audited(user, model, version, "shap_beeswarm")
        return Response(png, media_type="image/png")

    @app.get("/models/{model}/versions/{version}/card", response_class=HTMLResponse)
    def card(request: Request, model: str, version: int, user: User) -> HTMLResponse:
        text = pages.model_card(config().storage_root, checked(model), version)
        if text is None:
            raise HTTPException(404, f"no model card for {model} v{version}")
        audited(user, model, version, "model_card")
        return render(request, "card.html.j2", model=model, version=version, text=text)

    @app.get("/models/{model}/lineage", response_class=HTMLResponse)
    def lineage(request: Request, model: str, version: int) -> HTMLResponse:
        try:
            graph = pages.queries.lineage_graph(config().storage_root, checked(model), version)
        except pages.queries.LineageNotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        return render(
            request, "lineage.html.j2", model=model, version=version, graph=pages.graph_layout(graph)
        )

    @app.get("/runs/{dag_id}/{run_id:path}")
    def run(request: Request, dag_id: str, run_id: str) -> RedirectResponse:
        """A DAG run's page in the catalog: the version a training run registered, or the drift
        report of a scoring run's date (Airflow's run view links here)."""
        found = pages.run_target(config().storage_root, dag_id, run_id)
        if found is None:
            raise HTTPException(404, f"run '{run_id}' of '{dag_id}' registered no version and scored no date")
        return RedirectResponse(f"{base_path(request)}{found}", status_code=307)

    @app.get("/models/{model}/drift/{score_date}", response_class=HTMLResponse)
    def drift_report(model: str, score_date: str, user: User) -> HTMLResponse:
        html = pages.drift_report_html(config().storage_root, checked(model), score_date)
        if html is None:
            raise HTTPException(404, f"no drift report for {model} on {score_date}")
        audited(user, model, None, f"drift_report:{score_date}")
        return HTMLResponse(html)

    @app.get("/features", response_class=HTMLResponse)
    def features(request: Request) -> HTMLResponse:
        return render(request, "features.html.j2", features=pages.features_page(config().storage_root))

    @app.get("/audit", response_class=HTMLResponse)
    def audit(
        request: Request, model: str = "", user: str = "", since: str = "", until: str = ""
    ) -> HTMLResponse:
        from mlplatform.governance.audit import read_audit

        rows = read_audit(
            config().storage_root,
            model=model or None,
            actor=user or None,
            since=since or None,
            until=until or None,
        )
        data = pages._records(rows.head(500))
        return render(request, "audit.html.j2", rows=data, model=model, user=user, since=since, until=until)

    return app
