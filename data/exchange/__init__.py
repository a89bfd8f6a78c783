"""Data in and out: the data-exchange folder format and its all-or-nothing import (``folder``), the
CSV exports (which rows: ``exports``; the bytes, streamed: ``export_stream``), and uploads staged
for an import from the admin page (``import_uploads``)."""
