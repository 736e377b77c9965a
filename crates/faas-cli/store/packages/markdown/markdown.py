"""Markdown to HTML, for the store's `markdown` function (classic watchdog: the Markdown
arrives on stdin, the HTML is printed). A small renderer using only the standard library:
headings, paragraphs, emphasis, inline code, fenced code blocks, lists, block quotes, links,
images and rules."""
import html
import re
import sys

INLINE = [
    (re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)"), r'<img src="\2" alt="\1">'),
    (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), r'<a href="\2">\1</a>'),
    (re.compile(r"\*\*(.+?)\*\*|__(.+?)__"), lambda m: "<strong>%s</strong>" % (m.group(1) or m.group(2))),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)|(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)"),
     lambda m: "<em>%s</em>" % (m.group(1) or m.group(2))),
    (re.compile(r"~~(.+?)~~"), r"<del>\1</del>"),
]


def inline(text):
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if len(part) > 1 and part.startswith("`") and part.endswith("`"):
            out.append("<code>%s</code>" % html.escape(part[1:-1]))
            continue
        part = html.escape(part, quote=False)
        for pattern, replacement in INLINE:
            part = pattern.sub(replacement, part)
        out.append(part)
    return "".join(out)


def render(source):
    lines = source.replace("\r\n", "\n").split("\n")
    out, paragraph, i = [], [], 0
    list_kind = None

    def flush_paragraph():
        if paragraph:
            out.append("<p>%s</p>" % inline(" ".join(paragraph)))
            paragraph.clear()

    def close_list():
        nonlocal list_kind
        if list_kind:
            out.append("</%s>" % list_kind)
            list_kind = None

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush_paragraph()
            close_list()
            lang = stripped[3:].strip()
            code = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            attr = ' class="language-%s"' % html.escape(lang) if lang else ""
            out.append("<pre><code%s>%s</code></pre>" % (attr, html.escape("\n".join(code))))
        elif not stripped:
            flush_paragraph()
            close_list()
        elif re.match(r"^#{1,6}\s", stripped):
            flush_paragraph()
            close_list()
            level = len(stripped) - len(stripped.lstrip("#"))
            out.append("<h%d>%s</h%d>" % (level, inline(stripped[level:].strip().rstrip("#").strip()), level))
        elif re.match(r"^(\*\s*\*\s*\*|-\s*-\s*-|_\s*_\s*_)[\s*_-]*$", stripped):
            flush_paragraph()
            close_list()
            out.append("<hr>")
        elif stripped.startswith(">"):
            flush_paragraph()
            close_list()
            quote = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quote.append(lines[i].strip()[1:].lstrip())
                i += 1
            out.append("<blockquote>%s</blockquote>" % render("\n".join(quote)))
            continue
        elif re.match(r"^([-*+]|\d+[.)])\s+", stripped):
            flush_paragraph()
            kind = "ol" if stripped[0].isdigit() else "ul"
            if list_kind != kind:
                close_list()
                out.append("<%s>" % kind)
                list_kind = kind
            item = re.sub(r"^([-*+]|\d+[.)])\s+", "", stripped)
            out.append("<li>%s</li>" % inline(item))
        else:
            close_list()
            paragraph.append(stripped)
        i += 1
    flush_paragraph()
    close_list()
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render(sys.stdin.read()) + "\n")
