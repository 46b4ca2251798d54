"""HTML versions of the Markdown pages (tables, run summary) for the Snakemake report.

Snakemake's HTML report shows a ``text/html`` result in a frame when it is clicked, and
``workflow/report/workflow.rst`` pulls the same files into the report's landing page (docutils'
``raw`` directive), so the numbers are in the page itself, not behind a CSV download. A file is
therefore a fragment, not a document: one ``<style>`` scoped to ``.zstvg`` (the report's
Tailwind reset strips table borders, heading sizes and list bullets) and one ``<div>``.
"""

from __future__ import annotations

STYLE = """
.zstvg { font: 14px/1.45 system-ui, sans-serif; color: #1e293b; }
.zstvg h1 { font-size: 1.5em; font-weight: 600; margin: .2em 0 .4em; }
.zstvg h2 { font-size: 1.15em; font-weight: 600; margin: 1.2em 0 .3em; }
.zstvg p { margin: .4em 0; }
.zstvg ul { list-style: disc; padding-left: 1.4em; margin: .3em 0; }
.zstvg blockquote { border-left: 3px solid #cbd5e1; padding-left: .8em; color: #475569; }
.zstvg code { font: .9em ui-monospace, monospace; background: #f1f5f9; padding: 0 .2em; }
.zstvg table { border-collapse: collapse; margin: .4em 0 1em; font-size: 13px; }
.zstvg th, .zstvg td { border: 1px solid #cbd5e1; padding: 2px 8px; }
.zstvg th { background: #f1f5f9; font-weight: 600; }
.zstvg td { font-variant-numeric: tabular-nums; white-space: nowrap; }
"""


def markdown_to_html(text: str) -> str:
    """CommonMark with pipe tables (tabulate's column alignment is kept); raw HTML in the text
    is escaped, since queries and error messages come from the data."""
    from markdown_it import MarkdownIt

    html: str = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return html


def html_fragment(markdown: str) -> str:
    """The report fragment of a Markdown page: the scoped style and the rendered page."""
    return f'<style>{STYLE}</style>\n<div class="zstvg">\n{markdown_to_html(markdown)}</div>\n'
