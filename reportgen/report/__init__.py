"""Rendering: StudyResult → report.md / report.html / report.pdf + figures. Computes nothing."""
