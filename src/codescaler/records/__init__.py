"""The records every job reads and writes, as types (:mod:`codescaler.records.schema`), Python values through
JSON (:mod:`codescaler.records.tagged_json`), and resumable file-to-file batch jobs
(:mod:`codescaler.records.jsonl`, :mod:`codescaler.records.batch`). The bottom layer: it imports nothing of
codescaler's."""
