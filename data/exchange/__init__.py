"""Data in and out. The data-exchange folder: its format (``format``), spreadsheet safety for
every CSV Polaris writes (``csv_safety``), reading and validating a folder (``validation``), the
all-or-nothing import (``importer``) and the export (``exporter``). Also the CSV exports (which
rows: ``exports``; the bytes, streamed: ``export_stream``) and uploads staged for an import from
the admin page (``import_uploads``)."""
