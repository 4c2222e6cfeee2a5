"""Write a study folder: data.json, spec.yaml, figures/, report.md, report.html, report.pdf.

Markdown comes from per-section Jinja partials in a sandboxed environment (user text goes through
the ``md`` escape filter). The HTML report is an autoescaped Jinja shell around the same Markdown
rendered by markdown-it with raw HTML disabled, so both formats say the same thing and user text
can never become markup. Figures are inlined, so the HTML is self-contained (no CDN).
Everything is written to a temporary folder and moved into place at the end (atomic).
"""

from __future__ import annotations

import base64
import glob
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from reportgen.errors import ReportgenError
from reportgen.paths import templates_dir
from reportgen.report import filters
from reportgen.report.figures import draw_all
from reportgen.report.figures_base import FigureFile
from reportgen.report.i18n import Translator
from reportgen.report.outline import build_outline
from reportgen.result import StudyResult, dump
from reportgen.text import msg


def _env(folder: Path, lang: str, html: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(["html", "j2"]) if html else False,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    f = filters.Formatter(lang)
    env.filters.update({
        "group": f.group, "sig": f.sig, "si": f.si, "bytes": f.bytes, "pct": f.pct,
        "signed_pct": f.signed_pct, "shape": filters.shape, "md": filters.md,
        "md_block": filters.md_block, "user_md": filters.user_md, "runs": filters.runs,
    })
    tr = env.globals["t"] = Translator(lang)
    env.globals.update(_message_globals(lang, tr))
    return env


def _message_globals(lang: str, tr: Translator) -> dict[str, Any]:
    """``msg(m, fallback)``: a generated sentence (analysis/messages.py) in the report's language,
    text parameters escaped for Markdown; ``msgs(list, sep)``: several; ``tl(key, **params)``: a
    catalog sentence with numbers formatted per locale (stage reasons); ``quote(text)``: catalog
    prose, labelled as quoted; ``u(unit)``: a unit symbol; ``pclass(id)``: a platform class;
    ``arg(v, f)``: a number shown as the ``Msg`` parameter ``Arg(v, f)`` is (ms, pct, x, ...)."""
    from reportgen.report.messages import render, render_arg, render_text
    from reportgen.text import Arg, Msg

    def arg(v: Any, f: str = "num") -> str:
        return render_arg(Arg(v=v, f=f), lang, filters.md)

    def one(m: Msg | None, fallback: Any = None) -> str:
        return render(m, lang, filters.md) if m is not None else filters.md(fallback)

    def many(ms: list[Msg], sep: str = "; ") -> str:
        return sep.join(render(m, lang, filters.md) for m in ms)

    def tl(key: str, **params: Any) -> str:
        return render_text(str(tr(key)), lang, params, filters.md) if params else str(tr(key))

    def quote(text: Any) -> str:
        """Catalog prose (English in every report) under the 'from the catalog' label."""
        return render(Msg(code="catalog_quote", params={"text": str(text)}), lang, filters.md)

    def unit(u: Any) -> str:
        return str(tr.data.get("unit", {}).get(str(u), u))

    def pclass(c: Any) -> str:
        return filters.md(tr.data.get("platform_class", {}).get(str(c), c))

    return {"msg": one, "msgs": many, "tl": tl, "quote": quote, "u": unit, "pclass": pclass,
            "arg": arg}


def render_markdown(result: StudyResult, figures: dict[str, FigureFile], template_root: Path | None = None) -> str:
    root = template_root or templates_dir()
    env = _env(root / "md", result.language, html=False)
    text = env.get_template("report.md.j2").render(r=result, figures=figures, outline=build_outline(result))
    return re.sub(r"\n{3,}", "\n\n", text)


def _markdown_to_html(text: str, study_dir: Path, appendix_heading: str | None = None,
                      printable: bool = False) -> tuple[str, list[tuple[int, str, str]]]:
    """Markdown → HTML body and the table of contents. Every table sits in a box that scrolls
    sideways (a wide table never widens the page); after ``appendix_heading`` tables are
    collapsible (``<details>``) on screen, and always open in the ``printable`` variant."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    toc: list[tuple[int, str, str]] = []
    used: set[str] = set()

    def heading_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        level = int(tokens[idx].tag[1])
        title = tokens[idx + 1].content
        slug = re.sub(r"[^\w]+", "-", title.lower(), flags=re.UNICODE).strip("-") or "section"
        base, n = slug, 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        if level <= 3:
            toc.append((level, title, slug))
        tokens[idx].attrSet("id", slug)
        if level == 2 and appendix_heading is not None and title == appendix_heading:
            env["appendix"] = True
            tokens[idx].attrSet("class", "appendix-start")
        env["heading"] = title
        return renderer.renderToken(tokens, idx, options, env)

    def table_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        box = '<div class="table-scroll" role="region" tabindex="0">'
        if env.get("appendix") and not printable:
            rows = 0
            for tok in tokens[idx:]:
                if tok.type == "table_close":
                    break
                rows += tok.type == "tr_open"
            env["details"] = True
            label = f"{env.get('heading', '')} ({max(rows - 1, 0)})"
            box = f'<details class="table"><summary>{_attr(label)}</summary>' + box
        return box + renderer.renderToken(tokens, idx, options, env)

    def table_close(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        end = "</div></details>" if env.pop("details", False) else "</div>"
        return renderer.renderToken(tokens, idx, options, env) + end

    def image(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        # Inline figures as data URIs so the HTML (and the PDF made from it) is self-contained.
        tok = tokens[idx]
        src = tok.attrGet("src") or ""
        path = (study_dir / src).resolve()
        if path.is_file() and study_dir.resolve() in path.parents:
            mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
            tok.attrSet("src", f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}")
        return f'<img src="{_attr(tok.attrGet("src") or "")}" alt="{_attr(tok.content)}">'

    md.add_render_rule("heading_open", heading_open)
    md.add_render_rule("image", image)
    md.add_render_rule("table_open", table_open)
    md.add_render_rule("table_close", table_close)
    return md.render(text, {}), toc


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;"))


def render_html(result: StudyResult, markdown_text: str, study_dir: Path, template_root: Path | None = None,
                printable: bool = False) -> str:
    """The HTML report; ``printable``: the variant WeasyPrint lays out (appendix tables open)."""
    root = template_root or templates_dir()
    body, toc = _markdown_to_html(markdown_text, study_dir, build_outline(result).first_appendix_heading(),
                                  printable)
    env = _env(root / "html", result.language, html=True)
    css = (root / "html" / "report.css").read_text(encoding="utf-8")
    from markupsafe import Markup

    return env.get_template("report.html.j2").render(
        r=result, body=Markup(body), toc=toc, css=Markup(css))


def render_pdf(html: str, path: Path, base: Path) -> None:
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    _test_slow_render()
    HTML(string=html, base_url=str(base), url_fetcher=_local_only(base)).write_pdf(str(path))


def _local_only(base: Path) -> Any:
    """A WeasyPrint fetcher for data: URIs and files inside the study folder only: a user
    template cannot pull /etc/passwd or a remote URL into the PDF."""
    from urllib.parse import unquote, urlparse

    from weasyprint import URLFetcher

    root = base.resolve()

    class LocalOnly(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            parsed = urlparse(url)
            inside = parsed.scheme == "file" and root in Path(unquote(parsed.path)).resolve().parents
            if parsed.scheme != "data" and not inside:
                raise ValueError(f"reportgen does not fetch {url[:80]!r} into a report")
            return super().fetch(url, headers)

    return LocalOnly(allowed_protocols=("data", "file"))


def _test_slow_render() -> None:
    """Test hook: REPORTGEN_TEST_SLOW_RENDER=seconds widens the PDF step so tests can interrupt
    a build mid-render reliably."""
    delay = os.environ.get("REPORTGEN_TEST_SLOW_RENDER")
    if delay:
        import time

        time.sleep(float(delay))


def check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a folder that is not a reportgen report (a spec must never be able to
    wipe an unrelated folder by naming it as its output)."""
    out_dir = Path(out_dir)
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if out_dir.is_symlink() or not out_dir.is_dir() or (
            any(out_dir.iterdir()) and not (out_dir / "data.json").is_file()):
        raise ReportgenError(
            f"{out_dir} exists and is not a reportgen report (no data.json); refusing to replace "
            "it (choose another folder with -o or `output.name`, or remove it yourself)")


def _remove_orphans(out_dir: Path) -> None:
    """Remove temp folders of earlier builds of this study whose process is gone (a build killed
    with SIGKILL cannot clean up after itself). Folders of a live build are left alone."""
    for tmp in out_dir.parent.glob(f".{glob.escape(out_dir.name)}.tmp-*"):
        parts = tmp.name.rsplit(".tmp-", 1)[-1].split("-")
        pid = int(parts[0]) if parts and parts[0].isdigit() else None
        if pid is None or not tmp.is_dir():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:
            continue  # another user's live process


def write_study(result: StudyResult, out_dir: Path, formats: list[str],
                template_root: Path | None = None,
                on_step: Callable[[str], None] | None = None) -> list[str]:
    """Render into a temp folder next to ``out_dir`` and move it into place. Returns warnings."""
    result = result.as_written()  # the per-op rows data.json keeps; figures and text read the same
    out_dir = Path(out_dir)
    check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-{os.getpid()}-", dir=out_dir.parent))
    warnings: list[str] = []
    try:
        if on_step:
            on_step("figures")
        figures, fig_errors = draw_all(result, tmp / "figures")
        warnings += fig_errors
        result.warning_msgs.extend(msg("warning.figure_failed", error=e) for e in fig_errors)
        data = dump(result)
        (tmp / "data.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "spec.yaml").write_text(
            yaml.safe_dump(result.reproduction.resolved_spec, allow_unicode=True, sort_keys=False),
            encoding="utf-8")
        if on_step:
            on_step("markdown")
        md_text = render_markdown(result, figures, template_root)
        if "md" in formats:
            (tmp / "report.md").write_text(md_text, encoding="utf-8")
        if "html" in formats or "pdf" in formats:
            if on_step:
                on_step("html")
            html = render_html(result, md_text, tmp, template_root)
            if "html" in formats:
                (tmp / "report.html").write_text(html, encoding="utf-8")
            if "pdf" in formats:
                if on_step:
                    on_step("pdf")
                render_pdf(render_html(result, md_text, tmp, template_root, printable=True),
                           tmp / "report.pdf", tmp)
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return warnings


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``tmp`` with two renames; the old report survives any failure before."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
