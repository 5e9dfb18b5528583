"""The look: Fusion with the system's light or dark palette, and a few roles styled with
palette colours so both schemes work. Item views keep their own background: a style-sheet
background on a scroll area made its scroll bars draw as black blocks."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

STYLE_SHEET = """
#topBar { border-bottom: 1px solid palette(mid); }
#sidebar { background: palette(base); }
#sectionLabel { color: palette(placeholder-text); font-weight: 600; font-size: 8.5pt;
                padding: 6px 8px 2px 8px; letter-spacing: 1px; }
#mutedText { color: palette(placeholder-text); }
#emptyLabel { color: palette(placeholder-text); font-size: 12pt; }
#welcomeTitle { font-size: 22pt; font-weight: 600; margin: 8px; }
#welcomeText { font-size: 11pt; line-height: 140%; }
#primaryButton { padding: 8px 22px; font-weight: 600; }
#modelBanner { background: rgba(255, 193, 7, 40); border-bottom: 1px solid rgba(255,160,0,120); }
QToolButton[chip="auto"], QToolButton[chip="manual"] {
    border-radius: 11px; padding: 3px 10px; border: 1px solid palette(mid);
    background: palette(button); }
QToolButton[chip="manual"] { border: 1px solid palette(highlight); }
QToolButton[chip]:hover { background: palette(midlight); }
#viewerImage { background: #1b1b1d; color: #e4e4e7; font-size: 12pt; }
#viewerNotice { background: rgba(0, 0, 0, 150); color: #ffffff; }
QToolButton:focus, QToolButton[chip]:focus { border: 2px solid palette(highlight);
                                             border-radius: 4px; padding: 2px 6px; }
QToolButton[chip]:focus { border-radius: 11px; }
#infoTitle { font-size: 12pt; font-weight: 600; }
#countLabel { font-size: 11pt; font-weight: 600; }
"""


def apply_style(app: QApplication) -> None:
    """Fusion follows the system colour scheme in Qt 6.5+; we only add shapes and spacing."""
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE_SHEET)
