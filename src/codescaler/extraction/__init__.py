"""From a model's answer to a bare program, or the reason there is none: fenced-block extraction
(:mod:`codescaler.extraction.extract`) and static checks (:mod:`codescaler.extraction.syntax`)."""

from codescaler.extraction.extract import Check, Mode, completion_program, extract_code, extract_program
from codescaler.extraction.syntax import Extraction, check_program

__all__ = ["Check", "Extraction", "Mode", "check_program", "completion_program", "extract_code", "extract_program"]
