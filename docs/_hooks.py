"""MkDocs hook: the README and BENCHMARKS.md live at the repository's root and are included into the
site's pages; their links to each other point at the included pages instead."""


def on_page_markdown(markdown, page, config, files):
    return markdown.replace("../BENCHMARKS.md", "benchmarks.md").replace("../README.md", "index.md")
