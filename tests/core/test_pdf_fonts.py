"""The bundled font's common cut: what it holds, and the full font as fallback beyond it."""

from pathlib import Path

from fontTools import ttLib

from conveyor.core import pdf
from conveyor.core.font_subset import COMMON, FONTS, FULL, common_codepoints
from tests.utils.pdf import read_pdf


def test_the_common_cut_holds_every_glyph_of_its_ranges_the_full_font_has() -> None:
    wanted = common_codepoints()
    for style in COMMON:
        full = set(ttLib.TTFont(FONTS / FULL[style], lazy=True).getBestCmap())
        cut = set(ttLib.TTFont(FONTS / COMMON[style], lazy=True).getBestCmap())
        assert cut == full & wanted, style
        assert len(cut) < len(full) / 3


def test_common_text_embeds_only_the_cut_and_other_scripts_fall_back(tmp_path: Path) -> None:
    common = pdf.document("Invoice INV-1")
    pdf.lines(common, ["Ana Müller, Łódź", "Σοφία Παπαδοπούλου", "Дмитрий Шостакович"])
    pdf.table(common, [pdf.Column(60, "Qty", "R")], [["Phở ₫ 1,000.00 €"]])
    assert sorted(common.fonts) == ["dejavu", "dejavuB"]
    text = read_pdf(pdf.output(common), tmp_path, "common")
    assert "Ana Müller, Łódź" in text and "Σοφία" in text and "Шостакович" in text
    assert "Phở ₫ 1,000.00 €" in text

    other = pdf.document("Invoice INV-2")
    pdf.lines(other, ["Bill to:", "דוד לוי", "Արամ Խաչատրյան"], bold_first=True)
    assert sorted(other.fonts) == ["dejavu", "dejavuB", "dejavufull", "dejavufullB"]
    text = read_pdf(pdf.output(other), tmp_path, "other")
    assert "Արամ Խաչատրյան" in text and "Bill to:" in text
    # pdftotext writes right-to-left text in its visual order
    assert "דוד" in text or "דוד"[::-1] in text
