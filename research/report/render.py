"""A report as a list of blocks, rendered to Markdown and to self-contained HTML.

The document module decides what a report says; this one only how it looks,
so both formats always show the same content.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import os

import numpy as np
import pandas as pd


@dataclasses.dataclass(frozen=True)
class Heading:
  text: str
  level: int = 2


@dataclasses.dataclass(frozen=True)
class Table:
  """A table of already formatted cells; `note` is printed under it."""
  frame: pd.DataFrame
  note: str = ""


@dataclasses.dataclass(frozen=True)
class Image:
  """A PNG in the run folder, by its path relative to the folder."""
  path: str
  caption: str


@dataclasses.dataclass(frozen=True)
class Paragraph:
  """Running text."""
  text: str


Block = Heading | Table | Image | Paragraph


def number(value: float, places: int, sign: bool = False) -> str:
  """`value` with `places` decimals (and a sign), or '–' when it is not finite."""
  if not np.isfinite(value):
    return "–"
  return f"{value:+.{places}f}" if sign else f"{value:.{places}f}"


def mean_std(mean: float, std: float, places: int) -> str:
  """'0.8421 ± 0.0108'; the ± part only when the std is finite (two or more seeds)."""
  return number(mean, places) + (f" ± {number(std, places)}" if np.isfinite(std) else "")

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { border-bottom: 2px solid #ccc; padding-bottom: .2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #e2e2e2; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #d4d4d4; padding: .3em .6em; text-align: left;
         font-variant-numeric: tabular-nums; vertical-align: top; }
th { background: #f2f2f2; }
tr:nth-child(even) td { background: #fafafa; }
.note { color: #555; font-size: .88em; margin-top: -.2em; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
figcaption { color: #444; font-size: .9em; margin-top: .3em; }
"""


def _md_cell(value) -> str:
  return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
  """The blocks as GitHub-flavoured Markdown; images link to their PNG files."""
  parts = []
  for block in blocks:
    if isinstance(block, Heading):
      parts.append(f"{'#' * block.level} {block.text}")
    elif isinstance(block, Table):
      header = [_md_cell(c) for c in block.frame.columns]
      lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
      lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |"
                for row in block.frame.itertuples(index=False)]
      parts.append("\n".join(lines) + (f"\n\n{block.note}" if block.note else ""))
    elif isinstance(block, Image):
      name = os.path.splitext(os.path.basename(block.path))[0]
      parts.append(f"![{name}]({block.path})\n\n*{block.caption}*")
    elif isinstance(block, Paragraph):
      parts.append(block.text)
  return "\n\n".join(parts) + "\n"


def to_html(blocks: list[Block], title: str, folder: str) -> str:
  """The blocks as one HTML page with the images inlined as base64 data URIs,
  so the file opens anywhere on its own; `folder` holds the images' files."""
  esc = html.escape
  body = []
  for block in blocks:
    if isinstance(block, Heading):
      body.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
    elif isinstance(block, Table):
      head = "".join(f"<th>{esc(str(c))}</th>" for c in block.frame.columns)
      rows = "\n".join("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>"
                       for row in block.frame.itertuples(index=False))
      body.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n"
                  "</table>" + (f'\n<p class="note">{esc(block.note)}</p>' if block.note
                                else ""))
    elif isinstance(block, Image):
      with open(os.path.join(folder, block.path), "rb") as file:
        data = base64.b64encode(file.read()).decode("ascii")
      body.append(f'<figure>\n<img alt="{esc(block.caption)}" '
                  f'src="data:image/png;base64,{data}">\n'
                  f"<figcaption>{esc(block.caption)}</figcaption>\n</figure>")
    elif isinstance(block, Paragraph):
      body.append(f"<p>{esc(block.text)}</p>")
  return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
          + "\n".join(body) + "\n</body>\n</html>\n")
