"""The one Jinja environment of the platform's reports, loading ``reporting/templates/*.j2``.

HTML templates (``*.html.j2``) are autoescaped; Markdown ones are not. Undefined variables raise,
so a renamed context key fails the render instead of leaving a blank in the report.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2


@cache
def environment() -> jinja2.Environment:
    """The shared environment; block tags on their own lines leave no blank lines behind."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("mlplatform", "reporting/templates"),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template_name: str, **context: Any) -> str:
    """Render one template of ``reporting/templates`` with ``context``."""
    return environment().get_template(template_name).render(**context)
