"""The King James Bible from Debian's bible-kjv packages, as training documents.

`bible` (package bible-kjv) decompresses /usr/lib/bible.data (package
bible-kjv-text).  With a very wide line it prints, per chapter, a
heading such as "Genesis 1", a blank line, and one line per verse of the
form "  N text".  Each chapter becomes one document: its verses without
numbers, one per line, each line ending in a newline.
"""

import shutil
import subprocess

FULL_RANGE = "Gen1:1-Rev22:21"


def read_chapters(bible_cmd="bible"):
    """Return [(heading, text)] for every chapter, in canonical order."""
    exe = shutil.which(bible_cmd)
    if exe is None:
        raise SystemExit("kjv_corpus: '%s' not found; install the Debian package bible-kjv" % bible_cmd)
    out = subprocess.run([exe, "-l1000000", FULL_RANGE], check=True, capture_output=True, text=True).stdout
    chapters = []
    heading, verses = None, []

    def flush():
        if heading is not None:
            if not verses:
                raise SystemExit("kjv_corpus: chapter %r has no verses" % heading)
            chapters.append((heading, "".join(v + "\n" for v in verses)))

    for line in out.splitlines():
        if not line.strip():
            continue
        if line.startswith("  "):
            number, _, text = line.strip().partition(" ")
            if not number.isdigit() or heading is None:
                raise SystemExit("kjv_corpus: unexpected line %r" % line)
            verses.append(" ".join(text.split()))
        else:
            flush()
            heading, verses = line.strip(), []
    flush()
    if len(chapters) != 1189:
        raise SystemExit("kjv_corpus: expected 1189 chapters, got %d" % len(chapters))
    return chapters
