"""HTML pages. Templates only lay out what the API returns; they compute nothing."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from app.glossary import TERMS
from app.inputs.samples import SAMPLES, sample_tensor
from app.paths import STATIC, TEMPLATES
from app.weights import PRESETS

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.globals["GLOSSARY"] = TERMS  # for the term() macro of templates/_glossary.html


def _page(request: Request, name: str, **extra):
    context = {"samples": list(SAMPLES.values()), "presets": list(PRESETS.values()), **extra}
    return templates.TemplateResponse(request, name, context)


@router.get("/", response_class=HTMLResponse)
def index(request: Request):
    return _page(request, "index.html",
                 sample_shapes=[(s, list(sample_tensor(s.name).shape)) for s in SAMPLES.values()])


@router.get("/learn", response_class=HTMLResponse)
def learn_page(request: Request):  # issue 12: the guided answer to "what is a 1×1 convolution?"
    return _page(request, "learn.html")


@router.get("/conv", response_class=HTMLResponse)
def conv_page(request: Request):
    return _page(request, "conv.html", default_random=[3, 16, 16])


@router.get("/pointwise", response_class=HTMLResponse)
def pointwise_page(request: Request):
    return _page(request, "pointwise.html", default_random=[64, 16, 16])


@router.get("/cost", response_class=HTMLResponse)
def cost_page(request: Request):
    return _page(request, "cost.html")


@router.get("/transposed", response_class=HTMLResponse)
def transposed_page(request: Request):  # issue 15
    return _page(request, "transposed.html", default_random=[2, 8, 8])


@router.get("/receptive", response_class=HTMLResponse)
def receptive_page(request: Request):  # issue 15
    return _page(request, "receptive.html", default_random=[3, 64, 64])


@router.get("/network", response_class=HTMLResponse)
def network_page(request: Request):  # issue 13
    return _page(request, "network.html")


@router.get("/glossary", response_class=HTMLResponse)
def glossary_page(request: Request):
    return _page(request, "glossary.html", terms=list(TERMS.values()))


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request):
    """Swagger UI, served from static/vendor/swagger-ui and started by static/js/docs.js."""
    return _page(request, "docs.html", openapi_url=request.app.openapi_url)


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request):
    """ReDoc, served from static/vendor/redoc."""
    return _page(request, "redoc.html", openapi_url=request.app.openapi_url)


@router.get("/favicon.ico")
def favicon():
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")
