"""PDF rendering of the periodic reports (fpdf2): layout in ``report``, charts in ``charts``."""

from hub.adapters.pdf.report import render_report_pdf

__all__ = ["render_report_pdf"]
