"""Chat-export imports: the pure parser and the importer job."""
