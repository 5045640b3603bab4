"""The common cut of the bundled font: the glyphs nearly every document needs, nothing else.

Each PDF embeds the part of its font it uses, and fpdf2's subsetting reads the whole font for
every document: its cost grows with the font's glyph count (DejaVu Sans has 6,253). Documents
set their text in this cut (1,425 glyphs: Latin with Vietnamese, Greek, Cyrillic, punctuation,
currency signs); the full fonts are added to a document only when its text needs another glyph
(`conveyor.core.pdf.Document`). Regenerate after changing `COMMON_RANGES` or the full fonts:

    python -m conveyor.core.font_subset
"""

import sys
from pathlib import Path

FONTS = Path(__file__).parent / "fonts"
FULL = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
COMMON = {"": "DejaVuSans-Common.ttf", "B": "DejaVuSans-Bold-Common.ttf"}
COMMON_RANGES = (
    "U+0020-007E,U+00A0-024F,U+0259,U+02B9-02DD,U+0300-036F,U+0370-03FF,U+0400-04FF,"
    "U+1E00-1EFF,U+2010-2027,U+2030-203A,U+2044,U+20A0-20C0,U+2113,U+2116,U+2122,"
    "U+2190-2193,U+2212,U+2260,U+2264,U+2265,U+FFFD"
)
# Tables fpdf2 drops when it embeds a font anyway (layout, bitmaps, colour), and the hinting.
DROPPED_TABLES = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "kern"]


def common_codepoints() -> set[int]:
    """The code points `COMMON_RANGES` names (the cut holds those the full font has)."""
    from fontTools import subset

    return set(subset.parse_unicodes(COMMON_RANGES))


def write_common(style: str) -> Path:
    """Cut the full font of `style` ("" or "B") down to the common glyphs; the file written."""
    from fontTools import subset, ttLib

    font = ttLib.TTFont(FONTS / FULL[style], recalcTimestamp=False)
    options = subset.Options()
    options.notdef_outline = True
    options.recommended_glyphs = True
    options.glyph_names = True
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.layout_features = []
    options.hinting = False
    options.drop_tables += DROPPED_TABLES
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=common_codepoints())
    subsetter.subset(font)
    target = FONTS / COMMON[style]
    font.save(target)
    return target


if __name__ == "__main__":
    for style in COMMON:
        sys.stdout.write(f"{write_common(style)}\n")
